//! Session churn: each worker connects, creates an ephemeral znode, closes the session, and
//! starts over. One operation is that whole cycle, so the throughput is sessions per second
//! and the latency is from the TCP connect to the closeSession reply.
//!
//! This exercises what the request benchmarks do not: the handshake, session creation and
//! expiry bookkeeping, and the removal of a session's ephemerals on close (the closeSession
//! transaction deletes them, `PrepRequestProcessor` on `OpCode.closeSession`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use paddock_jute::proto::Request;
use paddock_jute::CreateMode;

use crate::client::Session;
use crate::driver::{new_histogram, Outcome};
use crate::workload;

#[derive(Debug, Clone)]
pub struct ChurnConfig {
    pub addr: String,
    /// Workers cycling sessions concurrently.
    pub workers: u32,
    pub duration: Duration,
    pub warmup: Duration,
    /// The parent of the ephemerals; must exist.
    pub root: String,
    pub value: Vec<u8>,
    pub session_timeout_ms: i32,
    /// Keeps this run's ephemeral names apart from a concurrent or earlier run's.
    pub run_nonce: u32,
}

pub async fn run(config: &ChurnConfig) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let stop_at = measure_from + config.duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..config.workers.max(1) {
        workers.spawn(cycle(config.clone(), worker, measure_from, stop_at));
    }
    let mut total = Outcome {
        ops: 0,
        errors: BTreeMap::new(),
        elapsed: config.duration,
        latency_us: new_histogram(),
    };
    while let Some(joined) = workers.join_next().await {
        let part = joined.context("a churn worker panicked")??;
        total.ops += part.ops;
        for (code, n) in part.errors {
            *total.errors.entry(code).or_default() += n;
        }
        total.latency_us.add(&part.latency_us)?;
    }
    Ok(total)
}

async fn cycle(
    config: ChurnConfig,
    worker: u32,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome {
        ops: 0,
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
        latency_us: new_histogram(),
    };
    let mut n: u64 = 0;
    while Instant::now() < stop_at {
        let began = Instant::now();
        let mut session = Session::connect(&config.addr, config.session_timeout_ms).await?;
        let path = format!("{}/e{}-{worker}-{n}", config.root, config.run_nonce);
        n += 1;
        let create = workload::create(path, &config.value, CreateMode::Ephemeral);
        let created = session.call(&create).await?;
        let closed = session.call(&Request::CloseSession).await?;
        let done = Instant::now();
        if began < measure_from || done > stop_at {
            continue;
        }
        outcome.ops += 1;
        for err in [created.err, closed.err] {
            if err != 0 {
                *outcome.errors.entry(err).or_default() += 1;
            }
        }
        let micros = u64::try_from((done - began).as_micros()).unwrap_or(u64::MAX);
        outcome.latency_us.saturating_record(micros.max(1));
    }
    Ok(outcome)
}
