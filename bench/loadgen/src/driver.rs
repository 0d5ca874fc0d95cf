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

/// Connection attempts in flight at once. A burst of 1,000 SYNs overflows a small accept
/// backlog (Java's default for `ServerSocketChannel.bind` is 50, which ZooKeeper's
/// `NIOServerCnxnFactory` keeps), and every dropped SYN costs a one-second retransmit, so
/// connects are paced by a bounded number in flight instead.
pub const CONNECTS_IN_FLIGHT: usize = 32;

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

/// Where an operation stands: what a workload needs to pick its request.
#[derive(Debug, Clone, Copy)]
pub struct OpContext {
    /// 0-based, unique across sessions.
    pub index: u64,
    /// The session issuing it, 0-based.
    pub session: u32,
    /// 0-based count of the operations this session issued before it. Requests of one session
    /// are executed in order, so a workload may pair consecutive ones (create, then delete).
    pub seq: u64,
}

/// Builds the request for one operation.
pub type MakeOp = Arc<dyn Fn(OpContext, &mut SmallRng) -> Request + Send + Sync>;

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
            session: u32::try_from(n).unwrap_or(u32::MAX),
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
    connect_many(
        &config.addr,
        config.sessions.max(1),
        config.session_timeout_ms,
    )
    .await
}

/// Opens `count` sessions with at most `CONNECTS_IN_FLIGHT` handshakes under way at once.
pub async fn connect_many(
    addr: &str,
    count: u32,
    session_timeout_ms: i32,
) -> anyhow::Result<Vec<Session>> {
    let mut connecting = tokio::task::JoinSet::new();
    let mut sessions = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if connecting.len() >= CONNECTS_IN_FLIGHT {
            sessions.push(joined_session(connecting.join_next().await)?);
        }
        let addr = addr.to_owned();
        connecting.spawn(async move { Session::connect(&addr, session_timeout_ms).await });
    }
    while let Some(result) = connecting.join_next().await {
        sessions.push(joined_session(Some(result))?);
    }
    Ok(sessions)
}

type ConnectResult = Result<anyhow::Result<Session>, tokio::task::JoinError>;

fn joined_session(result: Option<ConnectResult>) -> anyhow::Result<Session> {
    let result = result.context("no connect task was running")?;
    result.context("a connect task panicked")?
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant bounds are valid")
}

struct SessionRun {
    inflight: usize,
    limit: u64,
    measure_from: Instant,
    stop_at: Option<Instant>,
    next_index: Arc<AtomicU64>,
    make_op: MakeOp,
    session: u32,
}

impl SessionRun {
    /// Runs one session to the end; returns its measurements and its last reply's time.
    async fn drive(self, mut session: Session) -> anyhow::Result<(Outcome, Instant)> {
        let mut rng = SmallRng::seed_from_u64(u64::from(self.session));
        let mut seq = 0;
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
                let ctx = OpContext {
                    index,
                    session: self.session,
                    seq,
                };
                seq += 1;
                session.encode(&(self.make_op)(ctx, &mut rng), &mut out);
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
