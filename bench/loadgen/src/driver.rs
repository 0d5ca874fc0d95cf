//! The closed-loop, pipelined driver: every session keeps up to `inflight` requests
//! outstanding, writes all it may send in one syscall and reads every reply that arrived in
//! one, so the generator's cost per operation stays far below the server's.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use paddock_jute::proto::Request;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::client::Session;

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, with 3 significant digits.
const LATENCY_MAX_US: u64 = 600_000_000;

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub addr: String,
    pub sessions: u32,
    pub inflight: u32,
    /// Stop issuing after this long (measured from the end of the warm-up); `None` = op count.
    pub duration: Option<Duration>,
    /// Stop after this many operations in total (warm-up included).
    pub ops: Option<u64>,
    /// Operations completing before this are neither timed nor counted.
    pub warmup: Duration,
    pub session_timeout_ms: i32,
}

/// What one run measured.
pub struct Outcome {
    pub ops: u64,
    pub errors: BTreeMap<i32, u64>,
    pub elapsed: Duration,
    pub latency_us: Histogram<u64>,
}

/// Builds the request for operation number `index` (0-based, unique across sessions).
pub type MakeOp = Arc<dyn Fn(u64, &mut SmallRng) -> Request + Send + Sync>;

pub async fn run(config: &DriverConfig, make_op: MakeOp) -> anyhow::Result<Outcome> {
    let sessions = connect_all(config).await?;
    let next_index = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let stop_at = config.duration.map(|d| measure_from + d);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, session) in sessions.into_iter().enumerate() {
        let ctx = SessionRun {
            inflight: config.inflight.max(1) as usize,
            limit: config.ops.unwrap_or(u64::MAX),
            measure_from,
            stop_at,
            next_index: next_index.clone(),
            make_op: make_op.clone(),
            seed: n as u64,
        };
        tasks.spawn(ctx.drive(session));
    }
    let mut total = Outcome {
        ops: 0,
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
        latency_us: new_histogram(),
    };
    let mut last_reply = measure_from;
    while let Some(result) = tasks.join_next().await {
        let (part, last) = result.context("a session task panicked")??;
        total.ops += part.ops;
        for (code, n) in part.errors {
            *total.errors.entry(code).or_default() += n;
        }
        total.latency_us.add(&part.latency_us)?;
        last_reply = last_reply.max(last);
    }
    total.elapsed = match stop_at {
        Some(stop) => stop - measure_from,
        None => last_reply.saturating_duration_since(measure_from),
    };
    Ok(total)
}

async fn connect_all(config: &DriverConfig) -> anyhow::Result<Vec<Session>> {
    let mut connecting = tokio::task::JoinSet::new();
    for _ in 0..config.sessions.max(1) {
        let addr = config.addr.clone();
        let timeout = config.session_timeout_ms;
        connecting.spawn(async move { Session::connect(&addr, timeout).await });
    }
    let mut sessions = Vec::new();
    while let Some(result) = connecting.join_next().await {
        sessions.push(result.context("a connect task panicked")??);
    }
    Ok(sessions)
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant bounds are valid")
}

struct SessionRun {
    inflight: usize,
    limit: u64,
    measure_from: Instant,
    stop_at: Option<Instant>,
    next_index: Arc<AtomicU64>,
    make_op: MakeOp,
    seed: u64,
}

impl SessionRun {
    /// Runs one session to the end; returns its measurements and its last reply's time.
    async fn drive(self, mut session: Session) -> anyhow::Result<(Outcome, Instant)> {
        let mut rng = SmallRng::seed_from_u64(self.seed);
        let mut outcome = Outcome {
            ops: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
            latency_us: new_histogram(),
        };
        // Send times of the outstanding requests, oldest first: replies come back in order.
        let mut sent: VecDeque<Instant> = VecDeque::with_capacity(self.inflight);
        let mut out = Vec::with_capacity(self.inflight * 160);
        let mut replies = Vec::with_capacity(self.inflight);
        let mut last_reply = self.measure_from;
        let mut issuing = true;
        loop {
            let now = Instant::now();
            if self.stop_at.is_some_and(|stop| now >= stop) {
                issuing = false;
            }
            while issuing && sent.len() < self.inflight {
                let index = self.next_index.fetch_add(1, Ordering::Relaxed);
                if index >= self.limit {
                    issuing = false;
                    break;
                }
                session.encode(&(self.make_op)(index, &mut rng), &mut out);
                sent.push_back(now);
            }
            if sent.is_empty() {
                break;
            }
            if !out.is_empty() {
                session.send(&out).await?;
                out.clear();
            }
            session.read_replies(&mut replies).await?;
            let received = Instant::now();
            for reply in replies.drain(..) {
                let Some(sent_at) = sent.pop_front() else {
                    anyhow::bail!("a reply (xid {}) with no request outstanding", reply.xid);
                };
                self.record(&mut outcome, sent_at, received, reply.err);
                last_reply = received;
            }
        }
        session.close().await;
        Ok((outcome, last_reply))
    }

    fn record(&self, outcome: &mut Outcome, sent_at: Instant, received: Instant, err: i32) {
        let in_window =
            sent_at >= self.measure_from && self.stop_at.is_none_or(|stop| received <= stop);
        if !in_window {
            return;
        }
        outcome.ops += 1;
        if err != 0 {
            *outcome.errors.entry(err).or_default() += 1;
        }
        let micros = u64::try_from((received - sent_at).as_micros()).unwrap_or(u64::MAX);
        outcome
            .latency_us
            .saturating_record(micros.clamp(1, LATENCY_MAX_US));
    }
}
