//! `paddock-loadgen`: a pipelined ZooKeeper load generator for comparing Paddock with Apache
//! ZooKeeper on the same machine.
//!
//! Map of the crate:
//! - `client`: one session over raw jute frames (handshake, encode, reply headers only).
//! - `workload`: which request each operation sends.
//! - `driver`: many sessions, each with up to N requests in flight; HDR latency histograms.
//! - this file: the command line (`run`, `populate`, `wait-ready`) and the reports.

mod client;
mod driver;
mod workload;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use paddock_jute::proto::{PathWatchRequest, Request};
use paddock_jute::{CreateMode, ErrorCode};
use serde::Serialize;

use client::Session;
use driver::{DriverConfig, MakeOp, Outcome};
use workload::{OpSpec, Workload};

#[derive(Parser, Debug)]
#[command(
    name = "paddock-loadgen",
    about = "A pipelined ZooKeeper load generator"
)]
struct Cli {
    /// Tokio worker threads for the generator itself.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a workload and reports throughput and latency percentiles.
    Run(RunArgs),
    /// Creates N znodes of V bytes as fast as the server accepts them.
    Populate(PopulateArgs),
    /// Polls until a getData of a path succeeds; prints when that happened.
    WaitReady(WaitReadyArgs),
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// The server's client address.
    #[arg(long, default_value = "127.0.0.1:2181")]
    addr: String,
    /// Concurrent sessions (TCP connections).
    #[arg(long, default_value_t = 16)]
    sessions: u32,
    /// Requests in flight per session.
    #[arg(long, default_value_t = 1)]
    inflight: u32,
    /// Bytes in each value written.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Session timeout asked for, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    session_timeout_ms: i32,
    /// Print one JSON object instead of a human-readable line.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, value_enum, default_value = "get")]
    workload: Workload,
    /// The znode under which the workload's keys (and sequential znodes) live.
    #[arg(long, default_value = "/bench")]
    root: String,
    /// Keys read and written by get/exists/set/mixed; created first if missing.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// Share of reads in the mixed workload (0.9 = 90% getData, 10% setData).
    #[arg(long, default_value_t = 0.9)]
    read_ratio: f64,
    /// Measure for this many seconds (after the warm-up).
    #[arg(long, conflicts_with = "ops")]
    duration_secs: Option<f64>,
    /// Or stop after this many operations.
    #[arg(long)]
    ops: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0)]
    warmup_secs: f64,
}

#[derive(Args, Debug)]
struct PopulateArgs {
    #[command(flatten)]
    common: Common,
    /// Znodes to create, named `<root>/p<i % parents>/n<i>`.
    #[arg(long, default_value_t = 1_000_000)]
    znodes: u64,
    #[arg(long, default_value_t = 100)]
    parents: u64,
    #[arg(long, default_value = "/pop")]
    root: String,
}

#[derive(Args, Debug)]
struct WaitReadyArgs {
    #[arg(long, default_value = "127.0.0.1:2181")]
    addr: String,
    /// The znode whose getData must succeed ("/" just waits for a serving server).
    #[arg(long, default_value = "/")]
    path: String,
    #[arg(long, default_value_t = 600.0)]
    timeout_secs: f64,
    /// Pause between attempts, in milliseconds.
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
    /// Give up on one attempt after this many milliseconds: a server that is still loading
    /// may accept a connection and never answer it (ZooKeeper does while it loads its
    /// database), and a long wait there would hide the moment it starts serving.
    #[arg(long, default_value_t = 200)]
    attempt_timeout_ms: u64,
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Populate(args) => populate(args).await,
            Command::WaitReady(args) => wait_ready(args).await,
        }
    })
}

/// One run's numbers, as printed with `--json`.
#[derive(Serialize)]
struct Report {
    mode: &'static str,
    workload: String,
    sessions: u32,
    inflight: u32,
    value_bytes: usize,
    ops: u64,
    errors: u64,
    error_codes: std::collections::BTreeMap<String, u64>,
    seconds: f64,
    ops_per_sec: f64,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
}

impl Report {
    fn new(mode: &'static str, workload: String, common: &Common, outcome: &Outcome) -> Self {
        let h = &outcome.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let seconds = outcome.elapsed.as_secs_f64();
        Report {
            mode,
            workload,
            sessions: common.sessions,
            inflight: common.inflight,
            value_bytes: common.value_bytes,
            ops: outcome.ops,
            errors: outcome.errors.values().sum(),
            error_codes: outcome
                .errors
                .iter()
                .map(|(code, n)| (error_name(*code), *n))
                .collect(),
            seconds,
            ops_per_sec: if seconds > 0.0 {
                outcome.ops as f64 / seconds
            } else {
                0.0
            },
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(self)?);
        } else {
            println!(
                "{} {} sessions={} inflight={} ops={} errors={} {:.1}s {:.0} ops/s \
                 p50={:.3}ms p99={:.3}ms p999={:.3}ms max={:.3}ms",
                self.mode,
                self.workload,
                self.sessions,
                self.inflight,
                self.ops,
                self.errors,
                self.seconds,
                self.ops_per_sec,
                self.p50_ms,
                self.p99_ms,
                self.p999_ms,
                self.max_ms
            );
            if !self.error_codes.is_empty() {
                println!("error codes: {:?}", self.error_codes);
            }
        }
        Ok(())
    }
}

fn error_name(code: i32) -> String {
    match ErrorCode::try_from(code) {
        Ok(e) => format!("{e:?}"),
        Err(_) => code.to_string(),
    }
}

fn driver_config(common: &Common) -> DriverConfig {
    DriverConfig {
        addr: common.addr.clone(),
        sessions: common.sessions,
        inflight: common.inflight,
        duration: None,
        ops: None,
        warmup: Duration::ZERO,
        session_timeout_ms: common.session_timeout_ms,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let value = vec![b'v'; args.common.value_bytes];
    ensure_znode(&args.common, &args.root).await?;
    if args.workload.needs_keys() {
        create_keys(&args.common, &args.root, args.keys, &value).await?;
    }
    let spec = OpSpec {
        workload: args.workload,
        root: args.root.clone(),
        keys: args.keys,
        value,
        read_ratio: args.read_ratio,
    };
    let mut config = driver_config(&args.common);
    config.warmup = Duration::from_secs_f64(args.warmup_secs.max(0.0));
    config.ops = args.ops;
    config.duration = match (args.duration_secs, args.ops) {
        (Some(secs), _) => Some(Duration::from_secs_f64(secs.max(0.0))),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let make_op: MakeOp = Arc::new(move |_, rng| spec.request(rng));
    let outcome = driver::run(&config, make_op).await?;
    let workload = match args.workload {
        Workload::Mixed => format!("mixed{:.0}", args.read_ratio * 100.0),
        w => format!("{w:?}").to_lowercase(),
    };
    Report::new("run", workload, &args.common, &outcome).print(args.common.json)
}

/// Creates `path` if it is missing (NodeExists is fine: runs are repeatable).
async fn ensure_znode(common: &Common, path: &str) -> anyhow::Result<()> {
    let mut session = Session::connect(&common.addr, common.session_timeout_ms).await?;
    let request = workload::create(path.to_owned(), &[], CreateMode::Persistent);
    let reply = session.call(&request).await?;
    session.close().await;
    if reply.err != 0 && reply.err != ErrorCode::NodeExists as i32 {
        anyhow::bail!("creating {path}: {}", error_name(reply.err));
    }
    Ok(())
}

/// Creates `root/k0 .. root/k<keys-1>` with pipelined creates.
async fn create_keys(common: &Common, root: &str, keys: u64, value: &[u8]) -> anyhow::Result<()> {
    let mut config = driver_config(common);
    config.sessions = common.sessions.clamp(1, 8);
    config.inflight = 64;
    config.ops = Some(keys);
    let root = root.to_owned();
    let value = value.to_vec();
    let make_op: MakeOp = Arc::new(move |i, _| {
        workload::create(workload::key_path(&root, i), &value, CreateMode::Persistent)
    });
    let outcome = driver::run(&config, make_op).await?;
    check_only_node_exists(&outcome)
}

fn check_only_node_exists(outcome: &Outcome) -> anyhow::Result<()> {
    let node_exists = ErrorCode::NodeExists as i32;
    if let Some((code, n)) = outcome.errors.iter().find(|(c, _)| **c != node_exists) {
        anyhow::bail!("{n} creates failed with {}", error_name(*code));
    }
    Ok(())
}

async fn populate(args: PopulateArgs) -> anyhow::Result<()> {
    ensure_znode(&args.common, &args.root).await?;
    for p in 0..args.parents.max(1) {
        ensure_znode(&args.common, &workload::populate_parent(&args.root, p)).await?;
    }
    let value = vec![b'v'; args.common.value_bytes];
    let mut config = driver_config(&args.common);
    config.ops = Some(args.znodes);
    let (root, parents) = (args.root.clone(), args.parents);
    let make_op: MakeOp = Arc::new(move |i, _| {
        let path = workload::populate_path(&root, parents, i);
        workload::create(path, &value, CreateMode::Persistent)
    });
    let outcome = driver::run(&config, make_op).await?;
    check_only_node_exists(&outcome)?;
    Report::new("populate", "create".into(), &args.common, &outcome).print(args.common.json)
}

#[derive(Serialize)]
struct ReadyReport {
    /// Wall-clock time of the first successful getData, in Unix milliseconds, so a driver
    /// can subtract the server process's start time.
    ready_unix_ms: f64,
    waited_ms: f64,
    attempts: u64,
}

async fn wait_ready(args: WaitReadyArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.timeout_secs.max(0.0));
    let mut attempts = 0;
    let session = loop {
        attempts += 1;
        let attempt = Duration::from_millis(args.attempt_timeout_ms);
        let last_error = match try_get(&args.addr, &args.path, attempt).await {
            Ok(session) => break session,
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            anyhow::bail!(
                "{} did not serve {} in time; last attempt: {last_error:#}",
                args.addr,
                args.path
            );
        }
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    };
    let report = ReadyReport {
        ready_unix_ms: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64() * 1000.0,
        waited_ms: started.elapsed().as_secs_f64() * 1000.0,
        attempts,
    };
    session.close().await;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "ready after {:.1} ms ({} attempts)",
            report.waited_ms, report.attempts
        );
    }
    Ok(())
}

/// One connect + getData; any failure (refused, closed while loading, an error code, no
/// answer in time) is a "not yet". Returns the session so the caller can note the time first
/// and close it after.
async fn try_get(addr: &str, path: &str, timeout: Duration) -> anyhow::Result<Session> {
    let attempt = async {
        let mut session = Session::connect(addr, 30_000).await?;
        let reply = session
            .call(&Request::GetData(PathWatchRequest {
                path: path.to_owned(),
                watch: false,
            }))
            .await?;
        anyhow::ensure!(reply.err == 0, "getData: {}", error_name(reply.err));
        anyhow::Ok(session)
    };
    tokio::time::timeout(timeout, attempt).await?
}
