//! The task that owns the state machine.
//!
//! One task holds `paddock_core::State`, so every request, transaction and watch event is
//! ordered by the order of this task's inbox: that gives ZooKeeper's guarantee that a client sees
//! a watch event before anything it reads after the change. Connections talk to it through a
//! bounded inbox (its capacity is `globalOutstandingLimit`: when it is full, connections stop
//! reading, as ZooKeeper throttles) and it answers through each connection's bounded outbox. A
//! connection that does not drain its outbox is closed rather than allowed to hold memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paddock_core::state::{Action, Proposal, State, Step};
use paddock_core::ConnId;
use paddock_jute::proto::{ConnectRequest, ReplyHeader, Request};
use paddock_jute::{ErrorCode, OpCode};
use tokio::sync::{mpsc, oneshot};

use crate::outbox::Outbox;
use crate::stats::ServerStats;
use crate::wire;

/// What connections tell the core task.
#[derive(Debug)]
pub enum CoreMsg {
    Opened {
        conn: ConnId,
        addr: IpAddr,
        outbox: Outbox,
    },
    Connect {
        conn: ConnId,
        req: ConnectRequest,
    },
    Request {
        conn: ConnId,
        xid: i32,
        req: Request,
    },
    /// A request the server cannot serve: answered with `err` and, if `close`, the connection
    /// ends (unknown opcodes get Unimplemented and a close, as in ZooKeeper).
    Reject {
        conn: ConnId,
        xid: i32,
        err: ErrorCode,
        close: bool,
    },
    Closed {
        conn: ConnId,
    },
    /// A snapshot of the counters, for the four-letter words.
    Stats {
        reply: oneshot::Sender<ServerStats>,
    },
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
}

pub struct CoreTask {
    state: State,
    clock: Clock,
    outboxes: HashMap<ConnId, Outbox>,
    stats: ServerStats,
}

impl CoreTask {
    pub fn new(state: State, clock: Clock, stats: ServerStats) -> Self {
        CoreTask {
            state,
            clock,
            outboxes: HashMap::new(),
            stats,
        }
    }

    /// The state machine's `now_ms`, with the wall-clock offset brought up to date.
    fn now_ms(&mut self) -> i64 {
        let now = self.clock.now_ms();
        self.state.set_wall_clock_offset_ms(wall_ms() - now);
        now
    }

    /// Runs until every sender of the inbox is gone.
    pub async fn run(mut self, mut inbox: mpsc::Receiver<CoreMsg>) {
        loop {
            let sleep = self.until_next_tick();
            tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
                _ = tokio::time::sleep(sleep) => self.tick(),
            }
        }
    }

    fn until_next_tick(&self) -> Duration {
        // Wake at least once a second so that sweeps that are not yet due get re-checked.
        let max = Duration::from_secs(1);
        match self.state.next_tick_ms() {
            Some(at) => {
                let wait = at.saturating_sub(self.clock.now_ms()).max(0) as u64;
                Duration::from_millis(wait).min(max)
            }
            None => max,
        }
    }

    fn tick(&mut self) {
        let now = self.now_ms();
        for proposal in self.state.tick(now) {
            self.commit(proposal);
        }
    }

    fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Opened { conn, addr, outbox } => {
                self.outboxes.insert(conn, outbox);
                self.state.conn_opened(conn, addr);
            }
            CoreMsg::Connect { conn, req } => {
                self.stats.packets_received += 1;
                let now = self.now_ms();
                let step = self.state.connect(conn, req, now);
                self.run_step(step);
            }
            CoreMsg::Request { conn, xid, req } => {
                self.stats.packets_received += 1;
                let now = self.now_ms();
                let step = self.state.request(conn, xid, req, now);
                self.run_step(step);
            }
            CoreMsg::Reject {
                conn,
                xid,
                err,
                close,
            } => {
                self.stats.packets_received += 1;
                // UnimplementedRequestProcessor answers with the request's unset zxid (-1);
                // FinalRequestProcessor's marshalling errors carry the last processed zxid.
                let zxid = match err {
                    ErrorCode::Unimplemented => -1,
                    _ => self.state.last_zxid(),
                };
                let hdr = ReplyHeader {
                    xid,
                    zxid,
                    err: err.code(),
                };
                self.send(conn, wire::reply_frame(&hdr, None));
                if close {
                    self.close(conn);
                }
            }
            CoreMsg::Closed { conn } => {
                // Already forgotten if the server closed it itself.
                if self.outboxes.remove(&conn).is_some() {
                    self.state.conn_closed(conn);
                }
            }
            CoreMsg::Stats { reply } => {
                let mut stats = self.stats.clone();
                stats.counts = self.state.counts();
                stats.last_zxid = self.state.last_zxid();
                stats.connections = self.outboxes.len() as u64;
                let _ = reply.send(stats);
            }
        }
    }

    fn run_step(&mut self, step: Step) {
        match step {
            Step::Done(actions) => self.perform(actions),
            Step::Propose(proposal) => self.commit(proposal),
        }
    }

    /// prepare -> log -> apply -> reply. The tree is memory-only in this version, so "log" is
    /// where the durable transaction log will append and fsync before `apply`.
    fn commit(&mut self, proposal: Proposal) {
        debug_assert!(
            proposal.hdr.zxid > self.state.last_zxid(),
            "zxids must increase"
        );
        let is_error = proposal.hdr.txn_type == OpCode::Error as i32;
        let actions = self.state.apply(proposal);
        if !is_error {
            self.stats.commits += 1;
        }
        self.perform(actions);
    }

    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connected {
                    conn,
                    resp,
                    close_after,
                } => {
                    self.send(conn, wire::connect_response_frame(&resp));
                    if close_after {
                        self.close(conn);
                    }
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
                    self.send(conn, wire::reply_frame(&hdr, body));
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
        if outbox.offer(frame).is_err() {
            // The client is not reading its replies and events fast enough (or is gone): drop
            // it instead of queueing without bound. Its session survives until it expires.
            tracing::warn!(conn, "closing a connection whose outbox is full");
            self.close(conn);
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(outbox) = self.outboxes.remove(&conn) {
            outbox.close();
        }
        self.state.conn_closed(conn);
    }
}
