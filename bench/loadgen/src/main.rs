//! `paddock-loadgen`: a pipelined ZooKeeper load generator for comparing Paddock with Apache
//! ZooKeeper on the same machine.
//!
//! Map of the crate:
//! - `client`: one session over raw jute frames (handshake, encode, reply headers only).
//! - `workload`: which request each operation sends.
//! - `driver`: many sessions, each with up to N requests in flight; HDR latency histograms.
//! - `watch`: the watch fan-out benchmark (many watchers, one change, then a burst).
//! - `churn`: session churn (connect, create an ephemeral, close).
//! - this file: the command line (`run`, `populate`, `watch`, `churn`, `wait-ready`) and the
//!   reports, including the HDR histogram log written with `--hdr-out`.

mod churn;
mod client;
mod driver;
mod null;
mod watch;
mod workload;

use std::io::BufRead;
use std::path::PathBuf;
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
    /// Sets a data watch from every session on every one of a set of znodes, then measures
    /// one change's fan-out to all watchers and a burst's notification throughput.
    Watch(WatchArgs),
    /// Session churn: connect, create an ephemeral, close, repeat; sessions per second.
    Churn(ChurnArgs),
    /// Polls until a getData of a path succeeds; prints when that happened.
    WaitReady(WaitReadyArgs),
    /// Not a ZooKeeper: answers every request at once with a success, keeping nothing. A
    /// ceiling for what this generator and the machine's loopback allow (`--threads` sets its
    /// workers).
    NullServer(NullServerArgs),
}

#[derive(Args, Debug)]
struct NullServerArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:2181")]
    listen: String,
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
    /// Also write the latency histogram (microseconds) as an HdrHistogram interval log, the
    /// format `HistogramLogProcessor` and the HdrHistogram plotters read.
    #[arg(long)]
    hdr_out: Option<PathBuf>,
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
    /// Children created under each key for the children (getChildren) workload.
    #[arg(long, default_value_t = 10)]
    children: u64,
    /// setData requests in each multi of the multi workload.
    #[arg(long, default_value_t = 10)]
    multi_ops: u32,
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
struct WatchArgs {
    #[arg(long, default_value = "127.0.0.1:2181")]
    addr: String,
    /// Watcher sessions; each one watches every znode.
    #[arg(long, default_value_t = 1000)]
    sessions: u32,
    /// Znodes watched; watches set = sessions x nodes.
    #[arg(long, default_value_t = 100)]
    nodes: u32,
    #[arg(long, default_value = "/watch")]
    root: String,
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Session timeout asked for; the watchers are idle while paused, so ask for ZooKeeper's
    /// default maximum (20 ticks of 2 s).
    #[arg(long, default_value_t = 40_000)]
    session_timeout_ms: i32,
    /// After connecting and after arming, print `{"phase": ...}` and wait for a line on stdin,
    /// so a driver can read the server's memory at each point.
    #[arg(long)]
    pause: bool,
    #[arg(long, default_value_t = 120.0)]
    phase_timeout_secs: f64,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ChurnArgs {
    #[command(flatten)]
    common: Common,
    /// The parent of the ephemerals (created if missing).
    #[arg(long, default_value = "/churn")]
    root: String,
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    #[arg(long, default_value_t = 0.0)]
    warmup_secs: f64,
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
    // One thread: the current-thread scheduler, which runs ready sessions in the order they
    // became ready. The multi-thread scheduler with one worker keeps 256 ready tasks in its
    // local queue and the rest in a global queue it visits every 61 polls, so with 1,000
    // sessions some waited 100+ ms for their turn while others cycled: p99 at 1000x1 was
    // 150 ms against a 3.5 ms median, for either server, and measured the generator.
    let mut builder = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cli.threads);
        b
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Populate(args) => populate(args).await,
            Command::Watch(args) => watch_fanout(args).await,
            Command::Churn(args) => churn_sessions(args).await,
            Command::WaitReady(args) => wait_ready(args).await,
            Command::NullServer(args) => {
                let listener = tokio::net::TcpListener::bind(&args.listen)
                    .await
                    .with_context(|| format!("listening on {}", args.listen))?;
                null::serve(listener).await
            }
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

    fn print(&self, common: &Common, outcome: &Outcome) -> anyhow::Result<()> {
        if let Some(path) = &common.hdr_out {
            write_hdr_log(path, &self.workload, outcome)?;
        }
        self.print_line(common.json)
    }

    fn print_line(&self, json: bool) -> anyhow::Result<()> {
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

/// Writes one interval covering the whole measured run, values in microseconds; the
/// `MaxValueDivisor` of 1000 makes the log's max column read in milliseconds.
fn write_hdr_log(path: &std::path::Path, tag: &str, outcome: &Outcome) -> anyhow::Result<()> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut serializer = V2DeflateSerializer::new();
    let now = SystemTime::now();
    let start = now.checked_sub(outcome.elapsed).unwrap_or(now);
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(&format!("paddock-loadgen {tag}, latency in microseconds"))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut file, &mut serializer)?;
    let tag = Tag::new(tag).context("the workload name is not a valid HdrHistogram tag")?;
    log.write_histogram(
        &outcome.latency_us,
        Duration::ZERO,
        outcome.elapsed,
        Some(tag),
    )
    .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    drop(log);
    std::io::Write::flush(&mut file)?;
    Ok(())
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
    if args.workload == Workload::Children {
        create_children(&args.common, &args.root, args.keys, args.children).await?;
    }
    let spec = OpSpec {
        workload: args.workload,
        root: args.root.clone(),
        keys: args.keys,
        value,
        read_ratio: args.read_ratio,
        multi_ops: args.multi_ops,
        run_nonce: run_nonce(),
    };
    let mut config = driver_config(&args.common);
    config.warmup = Duration::from_secs_f64(args.warmup_secs.max(0.0));
    config.ops = args.ops;
    config.duration = match (args.duration_secs, args.ops) {
        (Some(secs), _) => Some(Duration::from_secs_f64(secs.max(0.0))),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let make_op: MakeOp = Arc::new(move |ctx, rng| spec.request(ctx, rng));
    let outcome = driver::run(&config, make_op).await?;
    let workload = match args.workload {
        Workload::Mixed => format!("mixed{:.0}", args.read_ratio * 100.0),
        Workload::Multi => format!("multi{}", args.multi_ops),
        w => format!("{w:?}").to_lowercase(),
    };
    Report::new("run", workload, &args.common, &outcome).print(&args.common, &outcome)
}

/// A number that differs between runs, so paths a run creates do not collide with an earlier
/// run's leftovers.
fn run_nonce() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id()
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
    let make_op: MakeOp = Arc::new(move |ctx, _| {
        workload::create(
            workload::key_path(&root, ctx.index),
            &value,
            CreateMode::Persistent,
        )
    });
    let outcome = driver::run(&config, make_op).await?;
    check_only_node_exists(&outcome)
}

/// Creates `children` children under each of the keys, for the getChildren workload.
async fn create_children(
    common: &Common,
    root: &str,
    keys: u64,
    children: u64,
) -> anyhow::Result<()> {
    let mut config = driver_config(common);
    config.sessions = common.sessions.clamp(1, 8);
    config.inflight = 64;
    config.ops = Some(keys.saturating_mul(children));
    let root = root.to_owned();
    let per_key = children.max(1);
    let make_op: MakeOp = Arc::new(move |ctx, _| {
        let path = workload::child_path(&root, ctx.index / per_key, ctx.index % per_key);
        workload::create(path, &[], CreateMode::Persistent)
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
    let make_op: MakeOp = Arc::new(move |ctx, _| {
        let path = workload::populate_path(&root, parents, ctx.index);
        workload::create(path, &value, CreateMode::Persistent)
    });
    let outcome = driver::run(&config, make_op).await?;
    check_only_node_exists(&outcome)?;
    Report::new("populate", "create".into(), &args.common, &outcome).print(&args.common, &outcome)
}

async fn watch_fanout(args: WatchArgs) -> anyhow::Result<()> {
    let config = watch::WatchConfig {
        addr: args.addr,
        sessions: args.sessions,
        nodes: args.nodes,
        root: args.root,
        session_timeout_ms: args.session_timeout_ms,
        value_bytes: args.value_bytes,
        pause: args.pause,
        phase_timeout: Duration::from_secs_f64(args.phase_timeout_secs.max(0.0)),
    };
    let report = watch::run(&config, pause_for_driver).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "watch sessions={} watches={} armed in {:.2}s fan-out to all in {:.3}ms \
             (p50 {:.3}ms p99 {:.3}ms) burst {} notifications in {:.3}s = {:.0}/s",
            report.sessions,
            report.watches,
            report.arm_s,
            report.fanout_ms,
            report.fanout_p50_ms,
            report.fanout_p99_ms,
            report.burst_notifications,
            report.burst_s,
            report.notifications_per_sec
        );
    }
    Ok(())
}

/// Tells the driver which phase was reached (one JSON line on stdout) and waits for it to
/// answer with a line on stdin; end of input also continues.
async fn pause_for_driver(phase: &'static str) -> anyhow::Result<()> {
    println!("{}", serde_json::json!({ "phase": phase }));
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)
    })
    .await
    .context("the stdin reader panicked")?
    .context("reading the driver's go-ahead from stdin")?;
    Ok(())
}

async fn churn_sessions(args: ChurnArgs) -> anyhow::Result<()> {
    ensure_znode(&args.common, &args.root).await?;
    let config = churn::ChurnConfig {
        addr: args.common.addr.clone(),
        workers: args.common.sessions,
        duration: Duration::from_secs_f64(args.duration_secs.max(0.0)),
        warmup: Duration::from_secs_f64(args.warmup_secs.max(0.0)),
        root: args.root.clone(),
        value: vec![b'e'; args.common.value_bytes],
        session_timeout_ms: args.common.session_timeout_ms,
        run_nonce: run_nonce(),
    };
    let outcome = churn::run(&config).await?;
    Report::new("churn", "churn".into(), &args.common, &outcome).print(&args.common, &outcome)
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

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn hdr_log_holds_one_tagged_interval_for_the_whole_run() {
        let mut outcome = Outcome {
            ops: 3,
            errors: Default::default(),
            elapsed: Duration::from_secs(5),
            latency_us: driver::new_histogram(),
        };
        for us in [250, 1_000, 42_000] {
            outcome.latency_us.record(us).expect("in range");
        }
        let path = std::env::temp_dir().join(format!("loadgen-hdr-{}.hlog", std::process::id()));
        write_hdr_log(&path, "set", &outcome).expect("written");
        let text = std::fs::read(&path).expect("readable");
        std::fs::remove_file(&path).ok();

        let intervals: Vec<_> = IntervalLogIterator::new(&text)
            .filter_map(|entry| match entry.expect("a valid HdrHistogram log") {
                LogEntry::Interval(h) => Some((
                    h.tag().map(|t| t.as_str().to_owned()),
                    h.duration(),
                    h.max(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(intervals.len(), 1);
        let (tag, duration, max_ms) = &intervals[0];
        assert_eq!(tag.as_deref(), Some("set"));
        assert_eq!(*duration, Duration::from_secs(5));
        // The max column is in milliseconds (MaxValueDivisor 1000); HDR rounds within 0.1%.
        assert!((max_ms - 42.0).abs() < 0.1, "max {max_ms} ms");
    }
}
