//! The `paddock` binary as an operator runs it: a stock zoo.cfg, warnings for keys it does
//! not act on, readiness through `srvr`, and a clean exit on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    paddock_testkit::free_port().expect("a free loopback port")
}

fn srvr(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn wait_ready(child: &mut Child, port: u16) -> String {
    let start = Instant::now();
    loop {
        if let Some(out) = srvr(port).filter(|o| o.starts_with("Zookeeper version:")) {
            return out;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("paddock exited early: {status}");
        }
        assert!(
            start.elapsed() < DEADLINE,
            "paddock did not answer srvr in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Debian's sample zoo.cfg (`/etc/zookeeper/conf_example/zoo.cfg`), with the port and
/// dataDir moved, starts Paddock unchanged; the quorum keys it does not act on are named.
#[test]
fn starts_on_a_stock_zoo_cfg_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("zoo.cfg");
    let data = dir.path().join("data");
    std::fs::write(
        &cfg,
        format!(
            "# The number of milliseconds of each tick\ntickTime=2000\ninitLimit=10\n\
             syncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             someFutureKey=1\n",
            data.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paddock"))
        .arg("--config")
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_ready(&mut child, port);
    assert!(out.contains("Mode: standalone"), "{out}");
    assert!(data.is_dir(), "dataDir is created as ZooKeeper creates it");

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "paddock did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("\"someFutureKey\""),
        "no warning naming someFutureKey:\n{log}"
    );
    for key in ["initLimit", "syncLimit"] {
        assert!(
            !log.contains(&format!("\"{key}\"")),
            "{key} is read (it times ensembles), not ignored:\n{log}"
        );
    }
    assert!(log.contains("shutdown complete"), "{log}");
}

/// A config that cannot work stops the binary with a message naming the problem.
#[test]
fn a_bad_zoo_cfg_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(&cfg, "tickTime=2s\ndataDir=/tmp/x\nclientPort=2181\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paddock"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tickTime") && err.contains("2s"), "{err}");
}
