//! The task that owns the state machine.
//!
//! One task holds `paddock_core::State`, so every request, transaction and watch event is
//! ordered by the order of this task's inbox: that gives ZooKeeper's guarantee that a client sees
//! a watch event before anything it reads after the change. Connections talk to it through a
//! bounded inbox (its capacity is `globalOutstandingLimit`: when it is full, connections stop
//! reading, as ZooKeeper throttles) and it answers through each connection's bounded outbox. A
//! connection that does not drain its outbox is closed rather than allowed to hold memory.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use paddock_core::fasthash::HashMap;
use paddock_core::snapshot::{SnapNode, SnapshotCursor};
use paddock_core::state::{Action, Proposal, State, Step};
use paddock_core::ConnId;
use paddock_jute::proto::{ConnectRequest, ReplyHeader, Request, Response};
use paddock_jute::txn::Txn;
use paddock_jute::{ErrorCode, OpCode};
use sync_wrapper::SyncWrapper;
use tokio::sync::mpsc;

use crate::metrics::{self, Gauges, ServerMetrics};
use crate::outbox::Outbox;
use crate::persist::{
    describe, log_entry, zxid_digest, Inline, LogHandle, LogMsg, RestoreError, SnapshotJob,
    SnapshotSchedule, Storage,
};
use crate::quorum::{Quorum, QuorumView};
use crate::stats::{last_op, ConnStats, InFlight, ServerStats, CONNECT_XID};
use crate::wire;

mod member;
use member::next_link_event;

/// What connections tell the core task.
#[derive(Debug)]
pub enum CoreMsg {
    Opened {
        conn: ConnId,
        peer: SocketAddr,
        outbox: Outbox,
        /// The TLS client certificate's subject (`X500Principal.getName()`), if any.
        subject: Option<String>,
    },
    Connect {
        conn: ConnId,
        req: ConnectRequest,
        /// When the frame was read, for latency.
        received: Instant,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: OpCode,
        req: Request,
        /// When the frame was read, for latency.
        received: Instant,
        /// The frame's length: what the request may hold in memory while it waits.
        frame_bytes: usize,
    },
    /// A request the server cannot serve: answered with `err` and, if `close`, the connection
    /// ends (unknown opcodes get Unimplemented and a close, as in ZooKeeper).
    Reject {
        conn: ConnId,
        xid: i32,
        /// The opcode, when it is one: auth and SASL packets are exempt from enforced
        /// authentication.
        op: Option<OpCode>,
        err: ErrorCode,
        close: bool,
    },
    Closed {
        conn: ConnId,
    },
    /// Runs a function against the core's state between requests: how the four-letter
    /// words, the AdminServer and the metrics read (and reset) what only the core knows.
    Inspect(InspectFn),
    /// The AdminServer's `restore`: replace the data with this snapshot; answers its zxid.
    Restore {
        data: Bytes,
        reply: tokio::sync::oneshot::Sender<Result<i64, String>>,
    },
}

impl CoreMsg {
    /// The connection whose session a request belongs to, and the request's frame length: it
    /// waits while that session is still being created (see `CoreTask::awaiting_session`).
    fn session_request(&self) -> Option<(ConnId, usize)> {
        match self {
            CoreMsg::Request {
                conn, frame_bytes, ..
            } => Some((*conn, *frame_bytes)),
            CoreMsg::Reject { conn, .. } => Some((*conn, 0)),
            _ => None,
        }
    }
}

/// Requests a connection may send behind its ConnectRequest before its new session exists
/// (ZooKeeper's Netty client sends what it has queued without waiting for the
/// ConnectResponse), in number and in frame bytes. More closes the connection: every queue
/// is bounded.
pub const SESSION_WAIT_MESSAGES: usize = 1000;
pub const SESSION_WAIT_BYTES: usize = 4 << 20;

/// The requests of one connection whose new session is being created.
#[derive(Debug, Default)]
struct AwaitingSession {
    msgs: VecDeque<CoreMsg>,
    /// Frame bytes of `msgs`.
    bytes: usize,
}

/// Why an ensemble member refuses `restore` (see `CoreTask::restore`); the AdminServer
/// refuses with it before taking the restore's rate-limit permit.
pub const RESTORE_STANDALONE_ONLY: &str = "restore is only available on a standalone server";

/// A query against [`CoreView`]; it sends its answer through its own channel.
pub struct InspectFn(pub Box<dyn FnOnce(&mut CoreView<'_>) + Send>);

impl std::fmt::Debug for InspectFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InspectFn")
    }
}

/// What an [`InspectFn`] sees.
pub struct CoreView<'a> {
    pub state: &'a State,
    pub stats: &'a mut ServerStats,
    pub conns: &'a mut HashMap<ConnId, ConnStats>,
    /// When the server started serving (for `uptime`).
    pub started: Instant,
    /// The member's quorum status; `None` for a standalone server.
    pub quorum: Option<QuorumView>,
    /// Where the data lives (for the AdminServer's `snapshot`).
    pub storage: &'a Storage,
}

impl CoreView<'_> {
    /// `srvr`'s `Mode:` and mntr's `zk_server_state`.
    pub fn server_state(&self) -> &'static str {
        self.quorum
            .as_ref()
            .map_or(crate::fourlw::SERVER_STATE, QuorumView::server_state)
    }

    /// Whether the server serves clients now (`ZooKeeperServer.isRunning`): always when
    /// standalone; for a member, once it leads an established quorum or is synced with one.
    pub fn serving(&self) -> bool {
        self.quorum
            .as_ref()
            .is_none_or(|q| q.serving || q.read_only)
    }

    /// In read-only mode (a member cut off from its quorum, `readonlymode.enabled`).
    pub fn read_only(&self) -> bool {
        self.quorum.as_ref().is_some_and(|q| q.read_only)
    }

    /// Requests received and not yet answered (`outstanding_requests`).
    pub fn outstanding(&self) -> u64 {
        self.conns.values().map(|c| c.in_flight.len() as u64).sum()
    }

    /// The gauges `mntr` and `/metrics` report; `connections` is the number of open client
    /// sockets, which only the listener knows.
    pub fn gauges(&self, connections: u64) -> Gauges {
        let counts = self.state.counts();
        let s = &self.stats;
        Gauges {
            ephemerals_count: counts.ephemerals_count,
            num_alive_connections: connections,
            avg_latency: s.latency.avg(),
            outstanding_requests: self.outstanding(),
            znode_count: counts.znode_count,
            global_sessions: counts.sessions,
            last_client_response_size: s.response_sizes.last,
            packets_sent: s.packets_sent,
            packets_received: s.packets_received,
            max_client_response_size: s.response_sizes.max,
            watch_count: counts.watch_count,
            auth_failed_count: s.auth_failed,
            min_latency: s.latency.min(),
            max_file_descriptor_count: metrics::max_fd_count(),
            approximate_data_size: counts.approximate_data_size,
            open_file_descriptor_count: metrics::open_fd_count(),
            uptime_ms: self.started.elapsed().as_millis() as i64,
            max_latency: s.latency.max_ms,
            min_client_response_size: s.response_sizes.min,
            quorum: self
                .quorum
                .as_ref()
                .map(QuorumView::gauges)
                .unwrap_or_default(),
        }
    }
}

/// Wall-clock milliseconds since the epoch.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The state machine's clock: the wall clock at startup, then advanced by the monotonic clock,
/// so that a wall-clock step (NTP, an operator) neither expires every session at once nor
/// keeps them alive. Znode times still follow the wall clock through
/// `State::set_wall_clock_offset_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall_at_start_ms: i64,
    start: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            wall_at_start_ms: wall_ms(),
            start: Instant::now(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.wall_at_start_ms + self.start.elapsed().as_millis() as i64
    }

    /// When `now_ms` reaches `ms` (the start for times before it).
    fn instant_of(&self, ms: i64) -> Instant {
        self.start + Duration::from_millis((ms - self.wall_at_start_ms).max(0) as u64)
    }
}

pub struct CoreTask {
    state: State,
    clock: Clock,
    outboxes: HashMap<ConnId, Outbox>,
    stats: ServerStats,
    conn_stats: HashMap<ConnId, ConnStats>,
    metrics: Arc<ServerMetrics>,
    started: Instant,
    storage: Storage,
    log: LogHandle,
    /// Log messages of this burst not yet handed to the log (see `flush_log`).
    unsent: Vec<LogMsg>,
    /// Connections whose new session is being created (on an ensemble member, until the
    /// createSession commits), with the requests they sent meanwhile, in order. ZooKeeper
    /// binds the session at once and queues those requests behind its creation. Only
    /// reached through `&mut self` (`SyncWrapper`): a `CoreMsg` is `Send` but not `Sync`.
    awaiting_session: SyncWrapper<HashMap<ConnId, AwaitingSession>>,
    /// Connections of `awaiting_session` whose session now exists: their requests are
    /// handled at the top of the next loop pass, before anything newer of theirs.
    sessions_ready: Vec<ConnId>,
    log_mode: LogMode,
    /// The zxid up to which the log is fsynced.
    durable_zxid: i64,
    /// Standalone: transactions handed to the log and not yet durable, in zxid order. Each is
    /// applied once durable (`FinalRequestProcessor` after `SyncRequestProcessor`), so the
    /// tree holds only durable changes and a read never waits for another session's fsync.
    /// Bounded as the log's queue is: when that is full the core task waits, and stops
    /// taking requests.
    unapplied: VecDeque<(Proposal, tracing::Span)>,
    /// Actions waiting until the tree has applied up to their zxid, in the order they were
    /// made: a refused write's answer, or a rejected request's, waits for the writes
    /// prepared before it, and whatever comes after such an answer waits behind it.
    held: VecDeque<(i64, Vec<Action>)>,
    /// What was logged since the last snapshot began, and when the next one is due.
    snapshot_schedule: SnapshotSchedule,
    snapshot: Option<Snapshotting>,
    /// The quorum layer of an ensemble member; `None` when standalone.
    quorum: Option<Quorum>,
    /// Bumped whenever the log writer is replaced (a learner's TRUNC or SNAP), so the run
    /// loop watches the new writer's fsyncs.
    log_generation: u64,
}

/// A fuzzy snapshot in progress: the cursor walks the tree between requests, the job writes.
struct Snapshotting {
    cursor: SnapshotCursor,
    job: SnapshotJob,
    /// A chunk the writer thread had no room for yet.
    waiting: Option<Vec<(String, SnapNode)>>,
    /// Set when the walk has emitted every node: the last applied zxid and the tree digest at
    /// that moment. On an ensemble member the walk may have seen changes its log has not made
    /// durable yet (a quorum logged them), so the file is only completed (renamed) once the
    /// log is fsynced up to that zxid; otherwise a crash could leave a snapshot holding part
    /// of a transaction the log lost, which no replay would complete.
    walked: Option<paddock_storage::snapshot::ZxidDigest>,
}

/// Nodes handed to the snapshot thread after each request, and when idle; a chunk also ends
/// once its nodes' data reaches `SNAPSHOT_CHUNK_BYTES`, so that large znodes do not hold the
/// next request behind a copy of many megabytes.
const SNAPSHOT_CHUNK_BUSY: usize = 256;
const SNAPSHOT_CHUNK_IDLE: usize = 4096;
const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;
/// Messages the core task takes from its inbox in one go (see `handle_burst`).
const INBOX_BURST: usize = 64;

/// Thread-written batches in a row during which no message arrived, before the core task
/// starts writing the log itself.
const QUIET_BATCHES: u32 = 8;

/// Whether the core task writes and fsyncs the log itself or hands entries to the log thread.
/// Writing inline saves a lone writer two thread hand-offs per write, but holds the core task
/// for the fsync: worth it only while nothing else arrives meanwhile.
///
/// Only with another runtime worker beside the core's. The fsync holds the core's worker, so
/// on a runtime of one worker no connection is read during it, and "nothing arrived" would be
/// the fsync's own doing: 64 writers, one request each, then each got an fsync of its own
/// (4.4k writes/s against 40-45k through the thread, bench/RESULTS.md 2026-12-08).
#[derive(Debug, Default)]
struct LogMode {
    /// The runtime has a worker to read connections while the core task fsyncs.
    spare_worker: bool,
    /// Batches in a row, written by either, during whose fsync nothing arrived.
    quiet_batches: u32,
    /// Messages taken from the inbox so far.
    arrivals: u64,
    /// The last zxid handed to the thread and `arrivals` at that moment.
    sent: Option<(i64, u64)>,
}

impl LogMode {
    /// For a core task on a runtime of `workers` worker threads.
    fn new(workers: usize) -> Self {
        LogMode {
            spare_worker: workers > 1,
            ..LogMode::default()
        }
    }

    fn inline(&self) -> bool {
        self.spare_worker && self.quiet_batches >= QUIET_BATCHES
    }

    /// The core task wrote a batch; `quiet` when nothing arrived during its fsync.
    fn wrote_inline(&mut self, quiet: bool) {
        if !quiet {
            self.quiet_batches = 0;
        }
    }

    fn handed_over(&mut self, last_zxid: i64) {
        if self.sent.is_some() {
            // The thread was still busy with an earlier batch: not a lone writer.
            self.quiet_batches = 0;
        }
        self.sent = Some((last_zxid, self.arrivals));
    }

    fn durable(&mut self, zxid: i64) {
        if let Some((last, arrivals)) = self.sent {
            if zxid >= last {
                if arrivals == self.arrivals {
                    self.quiet_batches += 1;
                } else {
                    self.quiet_batches = 0;
                }
                self.sent = None;
            }
        }
    }
}

/// Why the core task stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("the transaction log failed; see the log above")]
    LogFailed,
    #[error("the quorum layer failed: {0}")]
    Quorum(String),
    /// The server can no longer restart into the state it has acknowledged, so it stops as it
    /// does when the log fails.
    #[error("a failed restore left the data directories without their history: {0}")]
    Restore(String),
}

/// Why a restore did not happen.
enum RestoreFailure {
    /// The server goes on as before.
    Refused(String),
    /// Reported to the caller, then the server stops (see `RestoreError::Stranded`).
    Fatal(String),
}

impl CoreTask {
    pub fn new(
        state: State,
        clock: Clock,
        metrics: Arc<ServerMetrics>,
        storage: Storage,
        snapshot_now: bool,
        quorum: Option<Quorum>,
    ) -> Self {
        // A member's log may hold entries after its state (not yet known committed).
        let last_logged = quorum
            .as_ref()
            .map_or(state.last_zxid(), |q| q.peer.status().last_logged.0 as i64);
        let log = LogHandle::start(&storage, last_logged);
        let durable_zxid = last_logged;
        let snapshot_schedule = SnapshotSchedule::new(&storage, quorum.is_some());
        let mut task = CoreTask {
            state,
            clock,
            outboxes: HashMap::default(),
            stats: ServerStats::default(),
            conn_stats: HashMap::default(),
            metrics,
            started: Instant::now(),
            storage,
            log,
            unsent: Vec::new(),
            awaiting_session: SyncWrapper::new(HashMap::default()),
            sessions_ready: Vec::new(),
            log_mode: LogMode::new(
                tokio::runtime::Handle::try_current().map_or(1, |rt| rt.metrics().num_workers()),
            ),
            durable_zxid,
            unapplied: VecDeque::new(),
            held: VecDeque::new(),
            snapshot_schedule,
            snapshot: None,
            quorum,
            log_generation: 0,
        };
        if snapshot_now {
            // ZooKeeper snapshots right after loading its database; so do we, in the
            // background, so that the next start replays little.
            task.begin_snapshot();
        }
        task
    }

    /// The state machine's `now_ms`, with the wall-clock offset brought up to date.
    fn now_ms(&mut self) -> i64 {
        let now = self.clock.now_ms();
        self.state.set_wall_clock_offset_ms(wall_ms() - now);
        now
    }

    /// Runs until every sender of the inbox is gone (shutdown) or the log fails.
    pub async fn run(mut self, mut inbox: mpsc::Receiver<CoreMsg>) -> Result<(), CoreError> {
        let mut durable = self.log.durable.clone();
        let mut generation = self.log_generation;
        let mut links = self.quorum.as_mut().and_then(Quorum::take_events);
        let tick_every = self
            .quorum
            .as_ref()
            .map_or(Duration::from_secs(3600), Quorum::tick_every);
        let mut zab_tick = tokio::time::interval(tick_every);
        zab_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if self.quorum.is_some() {
            // The core starts LOOKING with its first votes ready to go.
            if let Err(e) = self.drive_quorum().await {
                self.shut_down().await;
                return Err(e);
            }
        }
        // One timer for the state machine's ticks, moved only when the next tick moves: a
        // fresh `sleep` per message would register and cancel a timer for every request.
        let mut last_tick = Instant::now();
        let tick_sleep = tokio::time::sleep_until(self.next_tick_at(last_tick).into());
        tokio::pin!(tick_sleep);
        let outcome = loop {
            if let Err(e) = self.unpark().await {
                break Err(e);
            }
            if let Err(e) = self.resume_sessions().await {
                break Err(e);
            }
            if let Err(e) = self.flush_log(Some(&inbox)).await {
                break Err(e);
            }
            if generation != self.log_generation {
                durable = self.log.durable.clone();
                generation = self.log_generation;
            }
            let tick_at = tokio::time::Instant::from_std(self.next_tick_at(last_tick));
            if tick_sleep.deadline() != tick_at {
                tick_sleep.as_mut().reset(tick_at);
            }
            let snapshotting = self.snapshot.is_some();
            let quorum = self.quorum.is_some();
            tokio::select! {
                biased;
                event = next_link_event(&mut links), if quorum => {
                    if let Err(e) = self.on_link_event(event).await {
                        break Err(e);
                    }
                }
                _ = zab_tick.tick(), if quorum => {
                    if let Err(e) = self.quorum_tick().await {
                        break Err(e);
                    }
                }
                msg = inbox.recv() => match msg {
                    Some(msg) => {
                        if let Err(e) = self.handle_burst(msg, &mut inbox).await {
                            break Err(e);
                        }
                    }
                    None => break Ok(()),
                },
                changed = durable.changed() => {
                    if changed.is_err() {
                        if generation != self.log_generation {
                            continue;
                        }
                        break Err(CoreError::LogFailed);
                    }
                    let zxid = *durable.borrow_and_update();
                    if let Err(e) = self.log_durable(zxid).await {
                        break Err(e);
                    }
                }
                () = &mut tick_sleep => {
                    last_tick = Instant::now();
                    if let Err(e) = self.tick().await {
                        break Err(e);
                    }
                }
                _ = tokio::task::yield_now(), if snapshotting => {
                    if !self.snapshot_step(SNAPSHOT_CHUNK_IDLE) {
                        // The snapshot thread is behind: give it a moment.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        };
        self.shut_down().await;
        outcome
    }

    /// Handles `first` and what else is already queued, up to [`INBOX_BURST`] messages,
    /// before the loop looks at its other sources again: one pass of the `select!` costs
    /// more than a message (it registers a waiter on the durable watch each time), and the
    /// requests taken together share the next group commit.
    async fn handle_burst(
        &mut self,
        first: CoreMsg,
        inbox: &mut mpsc::Receiver<CoreMsg>,
    ) -> Result<(), CoreError> {
        let mut first = Some(first);
        for _ in 0..INBOX_BURST {
            let Some(msg) = first.take().or_else(|| inbox.try_recv().ok()) else {
                break;
            };
            self.log_mode.arrivals += 1;
            self.handle(msg).await?;
            self.snapshot_step(SNAPSHOT_CHUNK_BUSY);
        }
        Ok(())
    }

    /// Hands this burst's log entries over: written and fsynced right here for a lone writer
    /// (see `LogMode`) when the log thread is idle and `inbox` holds nothing else to do,
    /// else queued for the thread. `None` outside the run loop (a restore): always queued.
    async fn flush_log(
        &mut self,
        inbox: Option<&mpsc::Receiver<CoreMsg>>,
    ) -> Result<(), CoreError> {
        if self.unsent.is_empty() {
            return Ok(());
        }
        let idle = |inbox: Option<&mpsc::Receiver<CoreMsg>>| inbox.is_some_and(|i| i.is_empty());
        if idle(inbox) && self.log_mode.inline() {
            match self.log.write_now(&mut self.unsent) {
                Inline::Durable(zxid) => {
                    // Still idle after the fsync: nothing arrived during it.
                    self.log_mode.wrote_inline(idle(inbox));
                    return self.log_durable(zxid).await;
                }
                Inline::HandedOver => {
                    self.log_mode.handed_over(self.last_logged());
                    return Ok(());
                }
                Inline::Failed => return Err(CoreError::LogFailed),
                Inline::Busy => {}
            }
        }
        let last = self.last_logged();
        self.log_mode.handed_over(last);
        let unsent = std::mem::take(&mut self.unsent);
        self.log_send(unsent).await
    }

    /// Hands `msgs` to the log writer thread, in order.
    async fn log_send(&self, msgs: Vec<LogMsg>) -> Result<(), CoreError> {
        self.log.send(msgs).await.map_err(|()| CoreError::LogFailed)
    }

    /// The log writer fsynced up to `zxid`.
    async fn log_durable(&mut self, zxid: i64) -> Result<(), CoreError> {
        self.log_mode.durable(zxid);
        self.release(zxid);
        let Some(quorum) = self.quorum.as_mut() else {
            return Ok(());
        };
        if let Some(write_id) = quorum.durable_up_to(zxid) {
            quorum.peer.persisted(write_id);
            self.drive_quorum().await?;
        }
        Ok(())
    }

    /// Lets the log writer sync what it has and stop; an unfinished snapshot is dropped.
    async fn shut_down(mut self) {
        if let Some(s) = self.snapshot.take() {
            s.job.abandon();
        }
        // Nothing of these was answered, but a clean stop keeps what it accepted.
        let _ = self.log.send(std::mem::take(&mut self.unsent)).await;
        let CoreTask { log, .. } = self;
        let _ = tokio::task::spawn_blocking(move || log.close()).await;
    }

    /// When the state machine next has something due (session expiry, container sweep), and
    /// at least a second after the last tick, so that sweeps not yet due get re-checked.
    fn next_tick_at(&self, last_tick: Instant) -> Instant {
        let max = last_tick + Duration::from_secs(1);
        match self.state.next_tick_ms() {
            Some(at) => self.clock.instant_of(at).min(max),
            None => max,
        }
    }

    async fn tick(&mut self) -> Result<(), CoreError> {
        if self.quorum.as_ref().is_some_and(|q| !q.serving) {
            // Only a serving leader expires sessions and sweeps containers.
            return Ok(());
        }
        let now = self.now_ms();
        let proposals = self.state.tick(now);
        if self.log.disk_full() {
            // Session expiry and sweeping wait for space; they are prepared again next tick.
            for p in proposals.iter().rev() {
                self.state.abandon(p);
            }
            return self.log_send(vec![LogMsg::Retry]).await;
        }
        for proposal in proposals {
            if matches!(proposal.txn, Txn::CloseSession(_)) {
                // SessionTrackerImpl expired it (`stale_sessions_expired`).
                self.metrics.count("stale_sessions_expired", 1);
            }
            self.commit(proposal).await?;
        }
        Ok(())
    }

    /// Handles `msg`, unless it is a request of a session still being created: that waits
    /// in `awaiting_session`.
    async fn handle(&mut self, msg: CoreMsg) -> Result<(), CoreError> {
        let awaiting = self.awaiting_session.get_mut();
        if awaiting.is_empty() {
            // Almost always: no session is being created.
            return self.handle_now(msg).await;
        }
        let Some((conn, bytes, waiting)) = msg
            .session_request()
            .and_then(|(conn, bytes)| Some((conn, bytes, awaiting.get_mut(&conn)?)))
        else {
            return self.handle_now(msg).await;
        };
        // One request is always taken, however large (up to jute.maxbuffer).
        let fits = waiting.msgs.len() < SESSION_WAIT_MESSAGES
            && waiting.bytes + bytes <= SESSION_WAIT_BYTES;
        if waiting.msgs.is_empty() || fits {
            waiting.msgs.push_back(msg);
            waiting.bytes += bytes;
        } else {
            tracing::warn!(
                conn,
                "closing a connection that sent more than {SESSION_WAIT_MESSAGES} requests or \
                 {SESSION_WAIT_BYTES} bytes before its session was created"
            );
            self.close(conn);
        }
        Ok(())
    }

    /// The requests that waited for their sessions, now created, in the order they came.
    async fn resume_sessions(&mut self) -> Result<(), CoreError> {
        for conn in std::mem::take(&mut self.sessions_ready) {
            let Some(waiting) = self.awaiting_session.get_mut().remove(&conn) else {
                continue; // closed meanwhile
            };
            for msg in waiting.msgs {
                self.handle_now(msg).await?;
            }
        }
        Ok(())
    }

    /// `conn`'s ConnectResponse has gone out: if it has a session now (new, reattached or
    /// read-only), what it sent meanwhile goes next.
    fn session_bound(&mut self, conn: ConnId) {
        if self.state.session_of(conn).is_none() {
            return;
        }
        let awaiting = self.awaiting_session.get_mut();
        match awaiting.get(&conn) {
            Some(waiting) if waiting.msgs.is_empty() => {
                awaiting.remove(&conn);
            }
            Some(_) => self.sessions_ready.push(conn),
            None => {}
        }
    }

    async fn handle_now(&mut self, msg: CoreMsg) -> Result<(), CoreError> {
        match msg {
            CoreMsg::Opened {
                conn,
                peer,
                outbox,
                subject,
            } => {
                self.outboxes.insert(conn, outbox);
                self.state
                    .conn_opened_as(conn, peer.ip(), subject.as_deref());
                let established = wall_ms();
                self.conn_stats
                    .insert(conn, ConnStats::new(peer, established));
            }
            CoreMsg::Connect {
                conn,
                req,
                received,
            } => {
                if !self.outboxes.contains_key(&conn) {
                    return Ok(()); // closed before its handshake was served
                }
                // Its requests wait until the session exists (`session_bound`).
                self.awaiting_session.get_mut().entry(conn).or_default();
                if self
                    .quorum
                    .as_ref()
                    .is_some_and(|q| !q.serving && !q.read_only)
                {
                    // Between leaders: the handshake waits for the election (see `park`).
                    self.park(conn, req, received);
                    return Ok(());
                }
                self.received(conn);
                self.queued();
                let now = self.now_ms();
                let step = self.state.connect(conn, req, now);
                if matches!(step, Step::Propose(_)) {
                    // A new session is a transaction: FinalRequestProcessor times it ("SESS").
                    let span = tracing::Span::none();
                    self.track(conn, CONNECT_XID, received, "SESS", true, span);
                }
                self.run_step(step, conn).await?;
            }
            CoreMsg::Request {
                conn,
                xid,
                op,
                req,
                received,
                frame_bytes: _,
            } => {
                self.received(conn);
                let now = self.now_ms();
                let is_auth = matches!(req, Request::Auth(_));
                if !is_auth {
                    self.queued();
                }
                let span = tracing::info_span!(
                    target: crate::logging::SPAN_TARGET,
                    "request",
                    session = self.state.session_of(conn).map(|s| format!("0x{s:x}")),
                    opcode = ?op,
                    path = crate::stats::request_path(&req),
                    xid,
                    zxid = tracing::field::Empty,
                );
                let read_path = match &req {
                    Request::GetData(r)
                    | Request::Exists(r)
                    | Request::GetChildren(r)
                    | Request::GetChildren2(r) => Some(r.path.clone()),
                    _ => None,
                };
                let step = self.state.request(conn, xid, req, now);
                if let (Some(path), Step::Done(actions)) = (&read_path, &step) {
                    for a in actions {
                        if let Action::Reply {
                            xid: x,
                            err: 0,
                            body,
                            ..
                        } = a
                        {
                            if *x == xid {
                                crate::stats::record_read(&self.metrics, path, body);
                            }
                        }
                    }
                }
                if let Some(code) = last_op(op) {
                    let write = matches!(step, Step::Propose(_));
                    self.track(conn, xid, received, code, write, span);
                }
                if is_auth {
                    self.count_auth_failures(&step);
                }
                self.run_step(step, conn).await?;
            }
            CoreMsg::Reject {
                conn,
                xid,
                op,
                err,
                close,
            } => {
                self.received(conn);
                if !matches!(op, Some(OpCode::Auth | OpCode::Sasl)) {
                    if let Some(refused) = self.state.refuse_unauthenticated(conn, xid) {
                        self.gate(self.last_logged(), refused);
                        return Ok(());
                    }
                }
                // UnimplementedRequestProcessor answers with the request's unset zxid (-1);
                // FinalRequestProcessor's marshalling errors carry the last processed zxid,
                // here the last logged: the answer waits until that one is applied.
                let zxid = match err {
                    ErrorCode::Unimplemented => -1,
                    _ => self.last_logged(),
                };
                let mut actions = vec![Action::Reply {
                    conn,
                    xid,
                    zxid,
                    err: err.code(),
                    body: Response::Empty,
                }];
                if close {
                    actions.push(Action::Close { conn });
                }
                // After the answers to everything the connection sent before.
                self.gate(self.last_logged(), actions);
            }
            CoreMsg::Closed { conn } => {
                self.awaiting_session.get_mut().remove(&conn);
                // Already forgotten if the server closed it itself.
                if self.outboxes.remove(&conn).is_some() {
                    self.state.conn_closed(conn);
                }
                self.conn_stats.remove(&conn);
            }
            CoreMsg::Restore { data, reply } => match self.restore(&data).await {
                Ok(zxid) => {
                    let _ = reply.send(Ok(zxid));
                }
                Err(RestoreFailure::Refused(e)) => {
                    let _ = reply.send(Err(e));
                }
                Err(RestoreFailure::Fatal(e)) => {
                    let _ = reply.send(Err(e.clone()));
                    return Err(CoreError::Restore(e));
                }
            },
            CoreMsg::Inspect(f) => {
                let mut view = CoreView {
                    state: &self.state,
                    stats: &mut self.stats,
                    conns: &mut self.conn_stats,
                    started: self.started,
                    quorum: self.quorum.as_ref().map(Quorum::view),
                    storage: &self.storage,
                };
                (f.0)(&mut view);
            }
        }
        Ok(())
    }

    /// `ZooKeeperServer.restoreFromSnapshot`: the snapshot replaces the data (the old files
    /// are kept aside), every client connection closes, and the server continues from the
    /// snapshot's zxid. Only a standalone server restores: an ensemble member's data is the
    /// ensemble's, which one member cannot replace.
    async fn restore(&mut self, data: &[u8]) -> Result<i64, RestoreFailure> {
        if self.quorum.is_some() {
            return Err(RestoreFailure::Refused(RESTORE_STANDALONE_ONLY.into()));
        }
        // Everything accepted so far is made durable and answered first.
        if self.flush_log(None).await.is_err() {
            return Err(RestoreFailure::Refused("the transaction log failed".into()));
        }
        let last = self.last_logged();
        let mut durable = self.log.durable.clone();
        while *durable.borrow_and_update() < last {
            if durable.changed().await.is_err() {
                return Err(RestoreFailure::Refused("the transaction log failed".into()));
            }
        }
        self.release(last);
        if let Some(s) = self.snapshot.take() {
            s.job.abandon();
        }
        let fresh_log = {
            let cfg = self.state.config().clone();
            let now = self.clock.now_ms();
            let (state, zxid) = crate::persist::restore_snapshot(&self.storage, cfg, now, data)
                .map_err(|e| match e {
                    RestoreError::Stranded { .. } => RestoreFailure::Fatal(e.to_string()),
                    e => RestoreFailure::Refused(e.to_string()),
                })?;
            let conns: Vec<ConnId> = self.outboxes.keys().copied().collect();
            for conn in conns {
                self.close(conn);
            }
            self.state = state;
            zxid
        };
        let old = std::mem::replace(&mut self.log, LogHandle::start(&self.storage, fresh_log));
        self.log_generation += 1;
        let _ = tokio::task::spawn_blocking(move || old.close()).await;
        self.durable_zxid = fresh_log;
        self.metrics.snapshot_taken(fresh_log);
        tracing::info!("restored a snapshot of zxid {fresh_log:#x}");
        Ok(fresh_log)
    }

    /// A request entered the pipeline: in a standalone ZooKeeper every request passes the
    /// PrepRequestProcessor and the SyncRequestProcessor, which count it.
    fn queued(&self) {
        self.metrics.hot.prep_queued.add(1);
        self.metrics.hot.sync_queued.add(1);
    }

    /// A packet arrived on `conn` (`ServerCnxn.packetReceived`).
    fn received(&mut self, conn: ConnId) {
        self.stats.packets_received += 1;
        if let Some(c) = self.conn_stats.get_mut(&conn) {
            c.packets_received += 1;
        }
    }

    /// Starts timing a request until its reply leaves.
    fn track(
        &mut self,
        conn: ConnId,
        xid: i32,
        received: Instant,
        op: &'static str,
        write: bool,
        span: tracing::Span,
    ) {
        if let Some(c) = self.conn_stats.get_mut(&conn) {
            c.track(InFlight {
                xid,
                received,
                op,
                write,
                span,
            });
        }
    }

    /// The trace span of the request `xid` on `conn`, while it waits for its reply.
    fn request_span(&self, conn: ConnId, xid: i32) -> Option<tracing::Span> {
        let c = self.conn_stats.get(&conn)?;
        let r = c.in_flight.iter().find(|r| r.xid == xid)?;
        Some(r.span.clone())
    }

    /// The span of a transaction the leader (or standalone server) proposes, linked to the
    /// client request that caused it.
    fn proposal_span(&self, proposal: &Proposal) -> tracing::Span {
        let span = tracing::info_span!(
            target: crate::logging::SPAN_TARGET,
            "proposal",
            zxid = proposal.hdr.zxid,
            session = format!("0x{:x}", proposal.hdr.client_id),
            txn_type = proposal.hdr.txn_type,
        );
        if let Some(request) = proposal
            .origin
            .and_then(|(conn, xid)| self.request_span(conn, xid))
        {
            span.follows_from(&request);
        }
        span
    }

    /// `auth_failed_count`: an auth packet answered AuthFailed.
    fn count_auth_failures(&mut self, step: &Step) {
        let Step::Done(actions) = step else {
            return;
        };
        let failed = ErrorCode::AuthFailed.code();
        if actions
            .iter()
            .any(|a| matches!(a, Action::Reply { err, .. } if *err == failed))
        {
            self.stats.auth_failed += 1;
        }
    }

    /// A reply to `xid` leaves: ServerStats.updateLatency and updateStatsForResponse.
    fn responded(&mut self, conn: ConnId, xid: i32, zxid: i64, size: usize) {
        if xid != CONNECT_XID {
            self.stats.response_sizes.add(size as i64);
        }
        let Some(c) = self.conn_stats.get_mut(&conn) else {
            return;
        };
        let Some(req) = c.answered(xid) else {
            return;
        };
        req.span.record("zxid", zxid);
        let now = Instant::now();
        let latency = now.saturating_duration_since(req.received);
        let latency_ms = latency.as_millis() as i64;
        let now_mono_ms = now.saturating_duration_since(self.started).as_millis() as i64;
        c.responded(&req, zxid, latency_ms, now_mono_ms);
        self.stats.latency.add(latency_ms);
        let hot = &self.metrics.hot;
        let (summary, histogram) = if req.write {
            (&hot.update_latency, &self.metrics.paddock.update_seconds)
        } else {
            (&hot.read_latency, &self.metrics.paddock.read_seconds)
        };
        histogram.observe(latency.as_secs_f64());
        summary.add(latency_ms);
    }

    async fn run_step(&mut self, step: Step, conn: ConnId) -> Result<(), CoreError> {
        match step {
            Step::Done(actions) => {
                // A read answers from the applied tree: it waits for what it may have seen.
                self.gate(self.state.last_zxid(), actions);
                Ok(())
            }
            Step::Propose(proposal) => self.commit(proposal).await,
            Step::Forward(forward) => {
                let quorum = self.quorum.as_mut().expect("only a learner forwards");
                if let Err(e) = quorum.peer.propose(Bytes::from(forward.encode())) {
                    // The leader is gone: the client reconnects and retries elsewhere.
                    tracing::debug!(conn, "cannot forward a request: {e}");
                    self.close(conn);
                }
                self.drive_quorum().await
            }
        }
    }

    /// prepare -> log -> (fsync) -> apply -> reply. The next write prepares against this
    /// one's outstanding changes; it waits in `unapplied` until the log writer has fsynced it,
    /// and `release` applies it. A full disk refuses the write instead (ZooKeeper would exit).
    async fn commit(&mut self, proposal: Proposal) -> Result<(), CoreError> {
        if self.quorum.is_some() {
            self.propose(proposal);
            return self.drive_quorum().await;
        }
        assert!(
            proposal.hdr.zxid > self.last_logged(),
            "zxids must increase"
        );
        if self.log.disk_full() {
            self.refuse(&proposal);
            return self.log_send(vec![LogMsg::Retry]).await;
        }
        let zxid = proposal.hdr.zxid;
        let entry = log_entry(&proposal.hdr, &proposal.txn);
        let due = self.snapshot_schedule.logged(entry.len() as u64);
        crate::stats::record_writes(&self.metrics, &proposal.txn);
        let proposal_span = self.proposal_span(&proposal);
        self.unsent.push(LogMsg::Entry { zxid, bytes: entry });
        self.unapplied.push_back((proposal, proposal_span));
        if due && self.snapshot.is_none() {
            self.unsent.push(LogMsg::Roll);
            self.begin_snapshot();
        }
        Ok(())
    }

    /// The last zxid handed to the log: a standalone write waiting for its fsync, else the
    /// last applied.
    fn last_logged(&self) -> i64 {
        self.unapplied
            .back()
            .map_or(self.state.last_zxid(), |(p, _)| p.hdr.zxid)
    }

    /// Takes back a proposal the log cannot hold and tells its client, once the writes
    /// prepared before it are answered.
    fn refuse(&mut self, proposal: &Proposal) {
        self.state.abandon(proposal);
        let before = self.last_logged();
        let Some((conn, xid)) = proposal.origin else {
            return;
        };
        let actions = if matches!(proposal.txn, Txn::CreateSession(_)) {
            // No session could be made: the client sees the connection drop and retries.
            vec![Action::Close { conn }]
        } else {
            let err = ErrorCode::SystemError.code();
            vec![Action::Reply {
                conn,
                xid,
                zxid: before,
                err,
                body: Response::Empty,
            }]
        };
        self.gate(before, actions);
    }

    /// Sends `actions` once the tree has applied up to `zxid`, keeping their order behind
    /// anything already held.
    fn gate(&mut self, zxid: i64, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        if self.quorum.is_some() {
            // A member applies only what a quorum has logged: nothing to wait for.
            self.perform(actions);
            return;
        }
        if self.held.is_empty() && zxid <= self.state.last_zxid() {
            self.perform(actions);
        } else {
            self.held.push_back((zxid, actions));
        }
    }

    /// The log is fsynced up to `zxid`: the writes it covers are applied in zxid order and
    /// answered, and what waited for them goes out.
    fn release(&mut self, zxid: i64) {
        self.durable_zxid = self.durable_zxid.max(zxid);
        loop {
            while self
                .held
                .front()
                .is_some_and(|(z, _)| *z <= self.state.last_zxid())
            {
                let (_, actions) = self.held.pop_front().expect("checked above");
                self.perform(actions);
            }
            let durable = self.durable_zxid;
            if self
                .unapplied
                .front()
                .is_none_or(|(p, _)| p.hdr.zxid > durable)
            {
                return;
            }
            let (proposal, proposal_span) = self.unapplied.pop_front().expect("checked above");
            let zxid = proposal.hdr.zxid;
            let commit_span = tracing::info_span!(
                target: crate::logging::SPAN_TARGET,
                parent: &proposal_span,
                "commit",
                zxid
            );
            let actions = commit_span.in_scope(|| self.state.apply(proposal));
            self.perform(actions);
        }
    }

    fn begin_snapshot(&mut self) {
        self.snapshot_schedule.restart();
        let cursor = self.state.snapshot_begin();
        let job = SnapshotJob::start(
            &self.storage,
            cursor.zxid(),
            cursor.sessions().to_vec(),
            cursor.acls().to_vec(),
        );
        match job {
            Ok(job) => {
                tracing::info!("snapshot of zxid {:#x} started", cursor.zxid());
                self.snapshot = Some(Snapshotting {
                    cursor,
                    job,
                    waiting: None,
                    walked: None,
                });
            }
            Err(e) => tracing::error!("cannot start a snapshot: {e}"),
        }
    }

    /// Hands the snapshot thread its next chunk; false when it had no room.
    fn snapshot_step(&mut self, max_nodes: usize) -> bool {
        let Some(snap) = self.snapshot.as_mut() else {
            return true;
        };
        if let Some(walked) = snap.walked {
            if self.durable_zxid < walked.zxid {
                // Not durable yet: the idle loop backs off instead of spinning.
                return false;
            }
            let snap = self.snapshot.take().expect("checked above");
            let digest = walked;
            let zxid = snap.cursor.zxid();
            if let Some(q) = self.quorum.as_mut() {
                // Keep one snapshot interval of history in memory for DIFF syncs; what is
                // older is in this snapshot, and a learner that needs it gets SNAP. Forgotten
                // once this file is complete: until then a SNAP sends the previous file and
                // the entries after it.
                q.compact_once_written = Some((zxid, q.compact_floor));
                q.compact_floor = walked.zxid;
            }
            let nodes = snap.cursor.nodes_emitted();
            let metrics = self.metrics.clone();
            tokio::task::spawn_blocking(move || match snap.job.finish(digest) {
                Ok((path, took)) => {
                    metrics.observe("snapshottime", took.as_millis() as i64);
                    metrics.paddock.snapshot_seconds.observe(took.as_secs_f64());
                    metrics.snapshot_taken(zxid);
                    tracing::info!(
                        "snapshot {} of zxid {zxid:#x} written: {nodes} nodes in {took:?}",
                        describe(&path)
                    )
                }
                Err(e) => tracing::error!("snapshot of zxid {zxid:#x} failed: {e}"),
            });
            return true;
        }
        let chunk = match snap.waiting.take() {
            Some(chunk) => chunk,
            None => {
                self.state
                    .snapshot_next_within(&mut snap.cursor, max_nodes, SNAPSHOT_CHUNK_BYTES)
            }
        };
        if chunk.is_empty() && snap.cursor.is_done() {
            snap.walked = Some(zxid_digest(
                self.state.last_zxid(),
                self.state.tree_digest(),
            ));
            return true;
        }
        match snap.job.offer(chunk) {
            Ok(()) => true,
            Err(chunk) => {
                snap.waiting = Some(chunk);
                false
            }
        }
    }

    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connected {
                    conn,
                    resp,
                    close_after,
                } => {
                    let zxid = self.state.last_zxid();
                    self.responded(conn, CONNECT_XID, zxid, 0);
                    self.send(conn, wire::connect_response_frame(&resp));
                    if close_after {
                        self.close(conn);
                    }
                    self.session_bound(conn);
                }
                Action::Reply {
                    conn,
                    xid,
                    zxid,
                    err,
                    body,
                } => {
                    let hdr = ReplyHeader { xid, zxid, err };
                    let body = (err == 0).then_some(&body);
                    let frame = wire::reply_frame(&hdr, body);
                    // ZooKeeper's response size excludes the length prefix.
                    self.responded(conn, xid, zxid, frame.len().saturating_sub(4));
                    self.send(conn, frame);
                }
                Action::Notify { conn, zxid, event } => {
                    self.send(conn, wire::notification_frame(zxid, &event));
                }
                Action::Close { conn } => self.close(conn),
            }
        }
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        let Some(outbox) = self.outboxes.get(&conn) else {
            return;
        };
        self.stats.packets_sent += 1;
        if let Some(c) = self.conn_stats.get_mut(&conn) {
            c.packets_sent += 1;
        }
        self.metrics.hot.response_bytes.add(frame.len() as u64);
        if outbox.offer(frame).is_err() {
            // The client is not reading its replies and events fast enough (or is gone): drop
            // it instead of queueing without bound. Its session survives until it expires.
            tracing::warn!(conn, "closing a connection whose outbox is full");
            self.close(conn);
        }
    }

    fn close(&mut self, conn: ConnId) {
        self.awaiting_session.get_mut().remove(&conn);
        if let Some(outbox) = self.outboxes.remove(&conn) {
            outbox.close();
        }
        self.conn_stats.remove(&conn);
        self.state.conn_closed(conn);
    }
}

/// How long the operations surface (four-letter words, the AdminServer's read commands,
/// readiness, `/metrics`) waits for the core task before answering as a server that is not
/// serving: the core can be held up, e.g. by a member waiting for disk space for an epoch
/// file or a SNAP.
pub const CORE_WAIT: Duration = Duration::from_secs(2);

/// [`inspect`], giving up after [`CORE_WAIT`]: `None` when the core task has stopped or is
/// held up.
pub async fn inspect_within<T, F>(core: &mpsc::Sender<CoreMsg>, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&mut CoreView<'_>) -> T + Send + 'static,
{
    tokio::time::timeout(CORE_WAIT, inspect(core, f))
        .await
        .ok()
        .flatten()
}

/// Runs `f` against the core task's state and returns its result; `None` when the core task
/// has stopped.
pub async fn inspect<T, F>(core: &mpsc::Sender<CoreMsg>, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&mut CoreView<'_>) -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let query = InspectFn(Box::new(move |view| answer(tx, || f(view))));
    core.send(CoreMsg::Inspect(query)).await.ok()?;
    rx.await.ok()
}

/// Runs `f` for whoever waits on `tx`, unless it gave up waiting (an [`inspect_within`] or a
/// command past [`CORE_WAIT`]): its caller was told the server is not serving, so a command
/// with an effect (a `*_reset`) must not take effect later.
fn answer<T>(tx: tokio::sync::oneshot::Sender<T>, f: impl FnOnce() -> T) {
    if !tx.is_closed() {
        let _ = tx.send(f());
    }
}

#[cfg(test)]
mod tests {
    use super::{answer, LogMode, QUIET_BATCHES};

    #[test]
    fn a_query_nobody_waits_for_is_not_run() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        drop(rx);
        answer(tx, || panic!("run for a caller that gave up"));
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        answer(tx, || 7);
        assert_eq!(rx.try_recv(), Ok(7));
    }

    /// One batch handed to the thread and fsynced, with `arrivals` messages taken meanwhile.
    fn thread_batch(mode: &mut LogMode, zxid: i64, arrivals: u64) {
        mode.arrivals += 1; // the write itself
        mode.handed_over(zxid);
        mode.arrivals += arrivals;
        mode.durable(zxid);
    }

    #[test]
    fn a_lone_writer_is_written_inline_after_quiet_batches() {
        let mut mode = LogMode::new(2);
        for zxid in 1..i64::from(QUIET_BATCHES) {
            thread_batch(&mut mode, zxid, 0);
            assert!(!mode.inline(), "inline after {zxid} quiet batches");
        }
        thread_batch(&mut mode, i64::from(QUIET_BATCHES), 0);
        assert!(mode.inline());
        mode.wrote_inline(true);
        assert!(
            mode.inline(),
            "stays inline while nothing arrives during the fsync"
        );
        mode.wrote_inline(false);
        assert!(!mode.inline(), "a message during the fsync ends it");
        thread_batch(&mut mode, 100, 0);
        assert!(
            !mode.inline(),
            "and the quiet batches count again from zero"
        );
    }

    #[test]
    fn with_one_runtime_worker_the_thread_always_writes() {
        let mut mode = LogMode::new(1);
        for zxid in 1..=i64::from(QUIET_BATCHES) * 4 {
            thread_batch(&mut mode, zxid, 0);
            assert!(!mode.inline(), "inline after {zxid} quiet batches");
        }
    }

    #[test]
    fn arrivals_during_a_batch_or_overlapping_batches_keep_the_thread() {
        let mut mode = LogMode::new(2);
        for zxid in 1..=i64::from(QUIET_BATCHES) * 2 {
            // Every other batch sees an arrival while it is fsynced.
            thread_batch(&mut mode, zxid, (zxid % 2) as u64);
            assert!(!mode.inline());
        }
        let mut mode = LogMode::new(2);
        for zxid in 1..=i64::from(QUIET_BATCHES) * 2 {
            // A second batch handed over before the first is durable: the thread is busy.
            mode.handed_over(zxid * 2);
            mode.handed_over(zxid * 2 + 1);
            mode.durable(zxid * 2 + 1);
            assert!(!mode.inline());
        }
    }

    #[test]
    fn a_durable_report_for_an_earlier_batch_does_not_count() {
        let mut mode = LogMode::new(2);
        for zxid in 1..i64::from(QUIET_BATCHES) {
            thread_batch(&mut mode, zxid, 0);
        }
        mode.handed_over(50);
        mode.durable(49);
        assert!(!mode.inline(), "the batch up to 50 is not durable yet");
        mode.durable(50);
        assert!(mode.inline());
    }
}
