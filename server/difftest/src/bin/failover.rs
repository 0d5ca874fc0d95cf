//! `failover`: how long a 3-member ensemble takes, from the SIGKILL of its leader, to accept a
//! write again (issues 4 and 6). A benchmark, not a test: it prints one JSON line per trial
//! and a summary line, and asserts nothing about the numbers.
//!
//! ```text
//! cargo run --release -p paddock-difftest --bin failover -- --kind zookeeper --trials 5
//! ```
//!
//! Each trial starts a fresh ensemble (tickTime 2000, initLimit 10, syncLimit 5, the values of
//! ZooKeeper's sample zoo.cfg), lets a client write in a loop through a connect string naming
//! every member, kills the leader, and measures the time until the first write *sent after the
//! kill* succeeds.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use paddock_difftest::ensemble::{Ensemble, EnsembleSpec};
use paddock_difftest::{persistent, ServerConfig, ServerKind};
use zookeeper_client as zk;

/// A write that takes longer than this counts as failed and is retried.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Give up on a trial after this long without a successful write.
const TRIAL_DEADLINE: Duration = Duration::from_secs(120);

struct Args {
    kind: ServerKind,
    trials: u32,
    tick_ms: u32,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        kind: ServerKind::ZooKeeper,
        trials: 3,
        tick_ms: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--kind" => {
                args.kind = match value.as_str() {
                    "zookeeper" => ServerKind::ZooKeeper,
                    "paddock" => ServerKind::Paddock,
                    other => bail!("--kind is zookeeper or paddock, not {other}"),
                }
            }
            "--trials" => args.trials = value.parse()?,
            "--tick-ms" => args.tick_ms = value.parse()?,
            other => bail!("unknown flag {other} (--kind, --trials, --tick-ms)"),
        }
    }
    Ok(args)
}

async fn connect(connect: &str) -> Result<zk::Client> {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .with_connection_timeout(Duration::from_secs(2))
        .connect(connect)
        .await
        .map_err(|e| anyhow!("connect: {e}"))
}

/// One setData, bounded by `WRITE_TIMEOUT`; a broken client is replaced.
async fn write_once(client: &mut Option<zk::Client>, connect_string: &str) -> bool {
    if client.is_none() {
        *client = tokio::time::timeout(WRITE_TIMEOUT, connect(connect_string))
            .await
            .ok()
            .and_then(Result::ok);
    }
    let Some(c) = client.as_ref() else {
        return false;
    };
    match tokio::time::timeout(WRITE_TIMEOUT, c.set_data("/failover", b"x", None)).await {
        Ok(Ok(_)) => true,
        _ => {
            // A fresh client tries the members again at once; the old one would reconnect on
            // its own backoff, which then dominates what is measured for either server.
            *client = None;
            false
        }
    }
}

async fn trial(kind: ServerKind, tick_ms: u32) -> Result<(f64, u8, u8)> {
    let mut spec = EnsembleSpec::participants(3);
    spec.config = ServerConfig {
        tick_ms,
        ..ServerConfig::default()
    };
    let mut ensemble = Ensemble::start(kind, &spec)?;
    let connect_string = ensemble.connect_string();
    let setup = connect(&connect_string).await?;
    setup
        .create("/failover", b"", &persistent())
        .await
        .map_err(|e| anyhow!("create /failover: {e}"))?;
    let mut client = Some(setup);
    for _ in 0..100 {
        if !write_once(&mut client, &connect_string).await {
            bail!("writes fail before the kill");
        }
    }
    let old = ensemble
        .leader()
        .ok_or_else(|| anyhow!("no single leader"))?;
    let killed_at = Instant::now();
    ensemble.kill(old)?;
    loop {
        if write_once(&mut client, &connect_string).await {
            break;
        }
        if killed_at.elapsed() > TRIAL_DEADLINE {
            bail!("no successful write within {TRIAL_DEADLINE:?} of the kill");
        }
        // Retry pacing: ZooKeeper clients back off similarly between attempts.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = killed_at.elapsed().as_secs_f64();
    let new = ensemble.wait_formed(Duration::from_secs(60))?;
    Ok((seconds, old, new))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let mut times = Vec::new();
    for n in 1..=args.trials {
        let (seconds, old, new) = trial(args.kind, args.tick_ms).await?;
        println!(
            "{{\"kind\":\"{}\",\"trial\":{n},\"killed_leader\":{old},\"new_leader\":{new},\"seconds_to_first_write\":{seconds:.3}}}",
            args.kind.name()
        );
        times.push(seconds);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{{\"kind\":\"{}\",\"trials\":{},\"median_seconds\":{median:.3},\"min_seconds\":{:.3},\"max_seconds\":{:.3}}}",
        args.kind.name(),
        times.len(),
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}
