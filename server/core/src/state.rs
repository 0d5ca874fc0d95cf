//! The request pipeline of a standalone server as a state machine.
//!
//! STUB: the public API below is fixed (the tokio server is written against it); bodies and
//! private helpers are to be written.

use std::net::IpAddr;

use paddock_jute::proto::{ConnectRequest, ConnectResponse, Request, Response, WatcherEvent};
use paddock_jute::txn::{Txn, TxnHeader};

use crate::{ConnId, CoreConfig};

/// Something the IO layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer a connect request. `close_after` is set for a refused or expired session: the
    /// response is sent, then the connection is closed.
    Connected { conn: ConnId, resp: ConnectResponse, close_after: bool },
    /// A reply to request `xid`. `body` is sent only when `err == 0`.
    Reply { conn: ConnId, xid: i32, zxid: i64, err: i32, body: Response },
    /// A watch notification (xid -1); `zxid` is the triggering change's zxid (3.9 behaviour).
    Notify { conn: ConnId, zxid: i64, event: WatcherEvent },
    /// Close this connection (after what was queued for it before this action).
    Close { conn: ConnId },
}

/// A prepared transaction waiting to be logged, then handed to `State::apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub hdr: TxnHeader,
    pub txn: Txn,
    /// The connection and xid to answer once applied; `None` for server-made txns (session
    /// expiry, container sweeping).
    pub origin: Option<(ConnId, i32)>,
}

/// Outcome of feeding one input: either finished, or a transaction to log then apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done(Vec<Action>),
    Propose(Proposal),
}

/// Server-wide counters, for `srvr`, `mntr` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub znode_count: u64,
    pub ephemerals_count: u64,
    pub watch_count: u64,
    pub approximate_data_size: u64,
    pub sessions: u64,
    pub connections: u64,
}

/// The whole state of a standalone server: tree, sessions, watches, connections.
#[derive(Debug)]
pub struct State {}

impl State {
    pub fn new(cfg: CoreConfig, now_ms: i64) -> Self {
        let _ = (cfg, now_ms);
        unimplemented!()
    }

    /// The zxid of the last applied transaction (`lastProcessedZxid`).
    pub fn last_zxid(&self) -> i64 {
        unimplemented!()
    }

    /// A TCP connection was accepted from `addr` (before its ConnectRequest).
    pub fn conn_opened(&mut self, conn: ConnId, addr: IpAddr) {
        let _ = (conn, addr);
        unimplemented!()
    }

    /// The connection ended (client closed, error, or our own Close). Its watches go; its
    /// session lives on until closed or expired.
    pub fn conn_closed(&mut self, conn: ConnId) {
        let _ = conn;
        unimplemented!()
    }

    /// A ConnectRequest arrived. New sessions come back as a `CreateSession` proposal;
    /// reattaches and refusals are answered at once.
    pub fn connect(&mut self, conn: ConnId, req: ConnectRequest, now_ms: i64) -> Step {
        let _ = (conn, req, now_ms);
        unimplemented!()
    }

    /// A request on an established connection. Reads and local operations (ping, auth,
    /// setWatches, addWatch, checkWatches, removeWatches, whoAmI) are answered at once;
    /// writes, including failed ones (an `Error` txn, which consumes a zxid as in ZooKeeper),
    /// come back as a proposal.
    pub fn request(&mut self, conn: ConnId, xid: i32, req: Request, now_ms: i64) -> Step {
        let _ = (conn, xid, req, now_ms);
        unimplemented!()
    }

    /// Applies a logged proposal: changes the tree and returns replies and notifications.
    pub fn apply(&mut self, proposal: Proposal) -> Vec<Action> {
        let _ = proposal;
        unimplemented!()
    }

    /// Time passes: returns transactions the server makes itself (closeSession for expired
    /// sessions, deleteContainer for empty containers and expired TTL nodes), each to be
    /// logged and applied like a client's.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Proposal> {
        let _ = now_ms;
        unimplemented!()
    }

    /// The next time `tick` has work, so the IO layer can sleep until then.
    pub fn next_tick_ms(&self) -> Option<i64> {
        unimplemented!()
    }

    pub fn counts(&self) -> Counts {
        unimplemented!()
    }
}
