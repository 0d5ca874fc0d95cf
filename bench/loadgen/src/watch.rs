//! The watch fan-out benchmark: many sessions each set a data watch on every one of a set of
//! znodes, then one setData fires one znode's watches (every session is notified: the
//! fan-out), and a burst of setData on all the other znodes fires the rest (the notification
//! throughput).
//!
//! Watches are one-shot (ZooKeeper Programmer's Guide, "ZooKeeper Watches"), so every watch set
//! is delivered exactly once, which is what lets the benchmark count notifications instead of
//! decoding them: a session's first notification is always the fan-out znode's, because the
//! burst starts only after every session has received that one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use paddock_jute::proto::{PathWatchRequest, Request, SetDataRequest};
use paddock_jute::{CreateMode, ErrorCode};
use serde::Serialize;
use tokio::sync::Notify;

use crate::client::Session;
use crate::driver;
use crate::workload;

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub addr: String,
    /// Watcher sessions; each watches every znode.
    pub sessions: u32,
    /// Znodes watched, `root/w0 .. root/w<nodes-1>`; `root/w0` is the fan-out znode.
    pub nodes: u32,
    pub root: String,
    pub session_timeout_ms: i32,
    /// Bytes written by each setData.
    pub value_bytes: usize,
    /// Calls made between the phases (after connecting, after arming) so a driver can read
    /// the server's memory with the sessions, then the watches, in place.
    pub pause: bool,
    /// Give up on a phase that has not completed after this long.
    pub phase_timeout: Duration,
}

/// What one run measured; latencies in milliseconds.
#[derive(Debug, Serialize)]
pub struct WatchReport {
    pub mode: &'static str,
    pub sessions: u32,
    pub nodes: u32,
    pub watches: u64,
    pub connect_s: f64,
    pub arm_s: f64,
    pub watches_set_per_sec: f64,
    /// From sending the setData of the fan-out znode until the last watcher was notified.
    pub fanout_ms: f64,
    pub fanout_p50_ms: f64,
    pub fanout_p99_ms: f64,
    pub burst_notifications: u64,
    pub burst_s: f64,
    pub notifications_per_sec: f64,
}

/// Runs the benchmark. `pause(phase)` is awaited after connecting ("connected") and after
/// arming ("armed") when `config.pause` is set.
pub async fn run<F, Fut>(config: &WatchConfig, pause: F) -> anyhow::Result<WatchReport>
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let nodes = config.nodes.max(1);
    let mut control = Session::connect(&config.addr, config.session_timeout_ms).await?;
    create_nodes(&mut control, &config.root, nodes).await?;

    let started = Instant::now();
    let sessions = driver::connect_many(
        &config.addr,
        config.sessions.max(1),
        config.session_timeout_ms,
    )
    .await?;
    let connect_s = started.elapsed().as_secs_f64();
    if config.pause {
        pause("connected").await?;
    }

    let armed_at = Instant::now();
    let sessions = arm_all(sessions, &config.root, nodes).await?;
    let arm_s = armed_at.elapsed().as_secs_f64();
    if config.pause {
        pause("armed").await?;
    }

    let watchers = sessions.len() as u64;
    let progress = Arc::new(Progress::default());
    let mut listening = tokio::task::JoinSet::new();
    for session in sessions {
        listening.spawn(listen(session, u64::from(nodes), progress.clone()));
    }
    let value = vec![b'w'; config.value_bytes];

    // The fan-out: one setData, one notification per watcher.
    let fanout_sent = Instant::now();
    let fired = control.call(&set_data(&config.root, 0, &value)).await?;
    check_ok(fired.err, "setData of the fan-out znode")?;
    progress
        .wait_for(watchers, fanout_sent + config.phase_timeout)
        .await
        .context("waiting for the fan-out notifications")?;

    // The burst: every other znode at once, a notification per watcher and znode.
    let burst_sent = Instant::now();
    let burst: Vec<Request> = (1..nodes)
        .map(|j| set_data(&config.root, j, &value))
        .collect();
    for reply in control.call_all(&burst).await? {
        check_ok(reply.err, "setData of a watched znode")?;
    }
    progress
        .wait_for(
            watchers * u64::from(nodes),
            burst_sent + config.phase_timeout,
        )
        .await
        .context("waiting for the burst's notifications")?;

    let mut fanout_us = driver::new_histogram();
    let mut fanout_done = fanout_sent;
    let mut burst_done = burst_sent;
    let mut closing = tokio::task::JoinSet::new();
    while let Some(joined) = listening.join_next().await {
        let (session, first, last) = joined.context("a watcher task panicked")??;
        record(&mut fanout_us, first.saturating_duration_since(fanout_sent));
        fanout_done = fanout_done.max(first);
        burst_done = burst_done.max(last);
        closing.spawn(session.close());
    }
    while closing.join_next().await.is_some() {}
    control.close().await;
    Ok(report(
        config,
        watchers,
        (connect_s, arm_s),
        &fanout_us,
        fanout_done - fanout_sent,
        burst_done.saturating_duration_since(burst_sent),
    ))
}

fn report(
    config: &WatchConfig,
    watchers: u64,
    (connect_s, arm_s): (f64, f64),
    fanout_us: &Histogram<u64>,
    fanout: Duration,
    burst: Duration,
) -> WatchReport {
    let nodes = config.nodes.max(1);
    let watches = watchers * u64::from(nodes);
    let burst_notifications = watchers * u64::from(nodes - 1);
    let per_sec = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let ms = |us: u64| us as f64 / 1000.0;
    WatchReport {
        mode: "watch",
        sessions: u32::try_from(watchers).unwrap_or(u32::MAX),
        nodes,
        watches,
        connect_s,
        arm_s,
        watches_set_per_sec: per_sec(watches, arm_s),
        fanout_ms: fanout.as_secs_f64() * 1000.0,
        fanout_p50_ms: ms(fanout_us.value_at_quantile(0.5)),
        fanout_p99_ms: ms(fanout_us.value_at_quantile(0.99)),
        burst_notifications,
        burst_s: burst.as_secs_f64(),
        notifications_per_sec: per_sec(burst_notifications, burst.as_secs_f64()),
    }
}

fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

fn check_ok(err: i32, what: &str) -> anyhow::Result<()> {
    if err != 0 {
        bail!("{what} failed with error {err}");
    }
    Ok(())
}

fn node_path(root: &str, j: u32) -> String {
    format!("{root}/w{j}")
}

fn set_data(root: &str, j: u32, value: &[u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: node_path(root, j),
        data: Some(value.to_vec()),
        version: -1,
    })
}

/// Creates the root and the watched znodes; ones left by an earlier run are reused.
async fn create_nodes(control: &mut Session, root: &str, nodes: u32) -> anyhow::Result<()> {
    let mut creates = vec![workload::create(
        root.to_owned(),
        &[],
        CreateMode::Persistent,
    )];
    creates.extend(
        (0..nodes).map(|j| workload::create(node_path(root, j), &[], CreateMode::Persistent)),
    );
    for reply in control.call_all(&creates).await? {
        if reply.err != 0 && reply.err != ErrorCode::NodeExists as i32 {
            bail!(
                "creating the watched znodes failed with error {}",
                reply.err
            );
        }
    }
    Ok(())
}

/// Every session sets a data watch on every znode (getData with watch = true), all sessions at
/// once, each with its requests pipelined.
async fn arm_all(sessions: Vec<Session>, root: &str, nodes: u32) -> anyhow::Result<Vec<Session>> {
    let requests: Arc<Vec<Request>> = Arc::new(
        (0..nodes)
            .map(|j| {
                Request::GetData(PathWatchRequest {
                    path: node_path(root, j),
                    watch: true,
                })
            })
            .collect(),
    );
    let mut arming = tokio::task::JoinSet::new();
    for mut session in sessions {
        let requests = requests.clone();
        arming.spawn(async move {
            for reply in session.call_all(&requests).await? {
                check_ok(reply.err, "getData with a watch")?;
            }
            anyhow::Ok(session)
        });
    }
    let mut armed = Vec::new();
    while let Some(joined) = arming.join_next().await {
        armed.push(joined.context("an arming task panicked")??);
    }
    Ok(armed)
}

/// Counts notifications shared by all watcher tasks, and wakes the coordinator on progress.
#[derive(Default)]
struct Progress {
    notifications: AtomicU64,
    changed: Notify,
}

impl Progress {
    fn add(&self, n: u64) {
        self.notifications.fetch_add(n, Ordering::Relaxed);
        self.changed.notify_one();
    }

    async fn wait_for(&self, target: u64, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let seen = self.notifications.load(Ordering::Relaxed);
            if seen >= target {
                return Ok(());
            }
            let wait = self.changed.notified();
            if tokio::time::timeout_at(deadline.into(), wait)
                .await
                .is_err()
            {
                bail!("{seen} of {target} notifications arrived before the deadline");
            }
        }
    }
}

/// Reads one watcher session until it has received `expected` notifications; returns it with
/// the arrival times of its first and its last notification.
async fn listen(
    mut session: Session,
    expected: u64,
    progress: Arc<Progress>,
) -> anyhow::Result<(Session, Instant, Instant)> {
    let mut replies = Vec::new();
    let mut first = None;
    let mut last;
    loop {
        let before = session.notifications;
        session.read_replies(&mut replies).await?;
        if !replies.is_empty() {
            bail!("a watcher got a reply to a request it did not send");
        }
        let now = Instant::now();
        let new = session.notifications - before;
        if new == 0 {
            continue;
        }
        first.get_or_insert(now);
        last = now;
        progress.add(new);
        if session.notifications >= expected {
            break;
        }
    }
    let first = first.unwrap_or(last);
    Ok((session, first, last))
}
