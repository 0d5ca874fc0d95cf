//! Ensembles of server processes: Apache ZooKeeper 3.8 as the reference, or Paddock, with
//! ZooKeeper's `server.N` configuration, on loopback ports or one network namespace per
//! member (see `netns`), with members killed by pid and restarted on their data.
//!
//! Every member gets its own zoo.cfg (its client port and address) with the same `server.N`
//! lines, and a `myid` file, exactly as an operator sets up ZooKeeper. Data directories live
//! as long as the `Ensemble`, so a killed member restarts on what it had written.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::Topology;
use crate::server::{
    four_letter_word, free_port, log_tail_of, server_argv, spawn_guarded, ServerConfig, ServerKind,
};

/// How long an ensemble may take to elect a leader and have every member serve.
pub const FORM_DEADLINE: Duration = Duration::from_secs(60);

/// What to start.
#[derive(Clone, Debug)]
pub struct EnsembleSpec {
    /// Voting members (`server.N=...:participant`), ids `1..=participants`.
    pub participants: u8,
    /// Observers, ids after the participants.
    pub observers: u8,
    /// tickTime and extra keys; `initLimit=10` and `syncLimit=5` unless `extra` sets them.
    pub config: ServerConfig,
    /// One network namespace per member (needs root), so links between members can be cut.
    pub namespaces: bool,
    /// Each member serves Prometheus metrics on a port of its own (ZooKeeper's
    /// `PrometheusMetricsProvider` lines); see `Ensemble::metrics_addr`.
    pub prometheus: bool,
}

impl EnsembleSpec {
    /// `n` participants on loopback ports.
    pub fn participants(n: u8) -> EnsembleSpec {
        EnsembleSpec {
            participants: n,
            observers: 0,
            config: ServerConfig::default(),
            namespaces: false,
            prometheus: false,
        }
    }

    fn members(&self) -> u8 {
        self.participants + self.observers
    }
}

/// What `srvr` says a member is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
    /// Answers, but "is not currently serving requests" (looking for a leader).
    NotServing,
    /// Does not answer at all (stopped, killed, or cut off).
    Down,
}

struct Member {
    id: u8,
    client: SocketAddr,
    quorum: SocketAddr,
    election: SocketAddr,
    /// Where its `/metrics` is served, when the spec asked for it.
    metrics: Option<SocketAddr>,
    observer: bool,
    /// The member's own directory: zoo.cfg, data dir with myid, and run dirs.
    dir: PathBuf,
    running: Option<Running>,
    runs: u32,
}

struct Running {
    guard: Child,
    stdin: Option<ChildStdin>,
    run_dir: PathBuf,
}

/// A running ensemble. Dropping it stops every member and removes their data.
pub struct Ensemble {
    kind: ServerKind,
    config: ServerConfig,
    members: Vec<Member>,
    topology: Option<Topology>,
    // Declared last: dropped after the members are stopped.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ensemble")
            .field("kind", &self.kind)
            .field("members", &self.members.len())
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Ensemble {
    /// Writes the configuration, starts every member and waits until one leads and all
    /// others follow or observe.
    pub fn start(kind: ServerKind, spec: &EnsembleSpec) -> Result<Ensemble> {
        let n = spec.members();
        if n == 0 || spec.participants == 0 {
            bail!("an ensemble needs at least one participant");
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("ensemble-{}-", kind.name()))
            .tempdir()
            .context("create temp dir")?;
        let topology = spec.namespaces.then(|| Topology::create(n)).transpose()?;
        let mut members = Vec::new();
        for id in 1..=n {
            let (client, quorum, election) = match &topology {
                Some(t) => {
                    let ip = IpAddr::V4(t.addr(id));
                    (
                        SocketAddr::new(ip, 2181),
                        SocketAddr::new(ip, 2888),
                        SocketAddr::new(ip, 3888),
                    )
                }
                None => {
                    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
                    (
                        SocketAddr::new(ip, free_port()?),
                        SocketAddr::new(ip, free_port()?),
                        SocketAddr::new(ip, free_port()?),
                    )
                }
            };
            let metrics = if spec.prometheus {
                Some(SocketAddr::new(client.ip(), free_port()?))
            } else {
                None
            };
            members.push(Member {
                id,
                client,
                quorum,
                election,
                metrics,
                observer: id > spec.participants,
                dir: dir.path().join(format!("m{id}")),
                running: None,
                runs: 0,
            });
        }
        let mut ensemble = Ensemble {
            kind,
            config: spec.config.clone(),
            members,
            topology,
            dir,
        };
        ensemble.write_configs()?;
        for id in 1..=n {
            ensemble.launch(id)?;
        }
        ensemble.wait_formed(FORM_DEADLINE)?;
        Ok(ensemble)
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Member ids, `1..=n`.
    pub fn ids(&self) -> Vec<u8> {
        self.members.iter().map(|m| m.id).collect()
    }

    /// Where member `id` takes clients.
    pub fn client_addr(&self, id: u8) -> SocketAddr {
        self.member(id).client
    }

    /// `host:port,host:port,...` of every member, for clients that fail over.
    pub fn connect_string(&self) -> String {
        let addrs: Vec<String> = self.members.iter().map(|m| m.client.to_string()).collect();
        addrs.join(",")
    }

    /// The namespaces and links, when the ensemble runs in namespaces.
    pub fn topology(&self) -> Option<&Topology> {
        self.topology.as_ref()
    }

    /// What member `id` reports in `srvr`.
    pub fn mode(&self, id: u8) -> Mode {
        let Ok(reply) = four_letter_word(self.client_addr(id), "srvr") else {
            return Mode::Down;
        };
        match reply.lines().find_map(|l| l.strip_prefix("Mode: ")) {
            Some("leader") => Mode::Leader,
            Some("follower") => Mode::Follower,
            Some("observer") => Mode::Observer,
            Some("standalone") => Mode::Standalone,
            _ => Mode::NotServing,
        }
    }

    /// The member that says it leads, if exactly one does.
    pub fn leader(&self) -> Option<u8> {
        let leaders: Vec<u8> = self
            .members
            .iter()
            .filter(|m| m.running.is_some() && self.mode(m.id) == Mode::Leader)
            .map(|m| m.id)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Waits until one running member leads and every other running member follows or
    /// observes; returns the leader.
    pub fn wait_formed(&self, within: Duration) -> Result<u8> {
        let deadline = Instant::now() + within;
        loop {
            let modes: Vec<(u8, Mode)> = self
                .members
                .iter()
                .filter(|m| m.running.is_some())
                .map(|m| (m.id, self.mode(m.id)))
                .collect();
            let leaders: Vec<u8> = modes
                .iter()
                .filter(|(_, mode)| *mode == Mode::Leader)
                .map(|(id, _)| *id)
                .collect();
            let settled = modes
                .iter()
                .all(|(_, mode)| matches!(mode, Mode::Leader | Mode::Follower | Mode::Observer));
            if leaders.len() == 1 && settled {
                return Ok(leaders[0]);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} ensemble did not form within {within:?}: {modes:?}\n{}",
                    self.kind.name(),
                    self.log_tails()
                );
            }
            // Polling interval; the condition is re-checked each time.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILLs member `id` (by its pid) and waits for it to be gone.
    pub fn kill(&mut self, id: u8) -> Result<()> {
        self.signal(id, "KILL")
    }

    /// Stops member `id` with SIGTERM, as an operator would.
    pub fn stop(&mut self, id: u8) -> Result<()> {
        self.signal(id, "TERM")
    }

    /// Starts member `id` again on its data directory.
    pub fn restart(&mut self, id: u8) -> Result<()> {
        if self.member(id).running.is_some() {
            bail!("member {id} is still running");
        }
        self.launch(id)
    }

    /// Where member `id` serves `/metrics` (when the spec asked for Prometheus).
    pub fn metrics_addr(&self, id: u8) -> Option<SocketAddr> {
        self.member(id).metrics
    }

    /// The whole server log of member `id`'s current run (empty when it is not running).
    pub fn log(&self, id: u8) -> String {
        self.member(id)
            .running
            .as_ref()
            .and_then(|r| std::fs::read_to_string(r.run_dir.join("server.log")).ok())
            .unwrap_or_default()
    }

    /// The server logs of every member's current run, for failure messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            if let Some(r) = &m.running {
                let _ = writeln!(out, "--- member {} ---\n{}", m.id, log_tail_of(&r.run_dir));
            }
        }
        out
    }

    fn member(&self, id: u8) -> &Member {
        &self.members[usize::from(id) - 1]
    }

    fn write_configs(&self) -> Result<()> {
        let mut servers = String::new();
        for m in &self.members {
            let role = if m.observer { ":observer" } else { "" };
            let _ = writeln!(
                servers,
                "server.{}={}:{}:{}{role}",
                m.id,
                m.quorum.ip(),
                m.quorum.port(),
                m.election.port()
            );
        }
        for m in &self.members {
            let data = m.dir.join("data");
            std::fs::create_dir_all(&data)?;
            std::fs::write(data.join("myid"), format!("{}\n", m.id))?;
            let mut cfg = self.config.render(m.client.port(), &data, None);
            // `render` binds clients to 127.0.0.1; a member in a namespace has its own address.
            cfg = cfg.replace(
                "clientPortAddress=127.0.0.1",
                &format!("clientPortAddress={}", m.client.ip()),
            );
            for (key, default) in [("initLimit", "10"), ("syncLimit", "5")] {
                if !self.config.extra.iter().any(|(k, _)| k == key) {
                    let _ = writeln!(cfg, "{key}={default}");
                }
            }
            if m.observer {
                cfg.push_str("peerType=observer\n");
            }
            if let Some(addr) = m.metrics {
                let _ = writeln!(
                    cfg,
                    "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
                );
                let _ = writeln!(cfg, "metricsProvider.httpHost={}", addr.ip());
                let _ = writeln!(cfg, "metricsProvider.httpPort={}", addr.port());
            }
            cfg.push_str(&servers);
            std::fs::write(m.dir.join("zoo.cfg"), cfg)?;
        }
        Ok(())
    }

    fn launch(&mut self, id: u8) -> Result<()> {
        let kind = self.kind;
        let namespace = self.topology.as_ref().map(|t| t.namespace(id));
        let member = &mut self.members[usize::from(id) - 1];
        member.runs += 1;
        let run_dir = member.dir.join(format!("run{}", member.runs));
        std::fs::create_dir_all(&run_dir)?;
        let mut argv = server_argv(kind, &self.config, &member.dir.join("zoo.cfg"), &run_dir)?;
        if let Some(ns) = namespace {
            let mut prefixed: Vec<OsString> = vec!["ip".into(), "netns".into(), "exec".into()];
            prefixed.push(ns.into());
            prefixed.append(&mut argv);
            argv = prefixed;
        }
        let (guard, stdin) = spawn_guarded(&argv, &run_dir)?;
        member.running = Some(Running {
            guard,
            stdin,
            run_dir,
        });
        Ok(())
    }

    fn signal(&mut self, id: u8, signal: &str) -> Result<()> {
        let member = &mut self.members[usize::from(id) - 1];
        let Some(mut running) = member.running.take() else {
            bail!("member {id} is not running");
        };
        let pid = read_pid(&running.run_dir)?;
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .context("run kill")?;
        if !status.success() {
            bail!("kill -{signal} {pid} failed");
        }
        // The guard exits when the server does.
        let deadline = Instant::now() + Duration::from_secs(30);
        while running.guard.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                let _ = running.guard.kill();
                bail!("member {id} (pid {pid}) did not exit after SIG{signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Closing the pipe makes the guard's watcher remove the run dir (the data stays).
        drop(running.stdin.take());
        Ok(())
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut r) = m.running.take() {
                drop(r.stdin.take());
                let deadline = Instant::now() + Duration::from_secs(10);
                while matches!(r.guard.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = r.guard.kill();
                let _ = r.guard.wait();
            }
        }
    }
}

/// The pid the guard wrote; it appears right after the spawn.
fn read_pid(run_dir: &Path) -> Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(text) = std::fs::read_to_string(run_dir.join("pid")) {
            if let Ok(pid) = text.trim().parse() {
                return Ok(pid);
            }
        }
        if Instant::now() >= deadline {
            bail!("no pid file in {}", run_dir.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
