//! The request pipeline of a standalone server as a state machine.
//!
//! It mirrors ZooKeeper's processor chain: `ZooKeeperServer.processConnectRequest` and
//! `processPacket` (`connect`, `request`), `PrepRequestProcessor` (the `prep` module: writes
//! become transactions, failed ones `Error` txns that still consume a zxid), and
//! `FinalRequestProcessor` with `DataTree.processTxn` (`apply`, and the reads in the `read`
//! module). Watch events produced by a transaction are returned before the reply to its
//! writer, which gives clients ZooKeeper's ordering guarantee.

use std::collections::VecDeque;
use std::net::IpAddr;

use paddock_jute::proto::OpResult;
use paddock_jute::proto::{ConnectRequest, ConnectResponse, Request, Response, WatcherEvent};
use paddock_jute::txn::{CloseSessionTxn, CreateSessionTxn, Txn, TxnHeader};
use paddock_jute::{perms, Acl, ErrorCode, EventType, Id, KeeperState, OpCode};

use crate::acl::{self, AuthConfig};
use crate::digest::DigestLog;
use crate::ensemble::{Queued, Role};
use crate::fasthash::HashMap;
use crate::forward::Forward;
use crate::path;
use crate::prep::{error_txn, Outstanding, OutstandingChanges, Prep};
use crate::session::{session_password, SessionTracker};
use crate::tree::{DataTree, NodeKind};
use crate::watch::WatchManager;
use crate::{ConnId, CoreConfig};

/// Something the IO layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer a connect request. `close_after` is set for a refused or expired session: the
    /// response is sent, then the connection is closed.
    Connected {
        conn: ConnId,
        resp: ConnectResponse,
        close_after: bool,
    },
    /// A reply to request `xid`. `body` is sent only when `err == 0`.
    Reply {
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: i32,
        body: Response,
    },
    /// A watch notification (xid -1); `zxid` is the triggering change's zxid (3.9 behaviour).
    Notify {
        conn: ConnId,
        zxid: i64,
        event: WatcherEvent,
    },
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

/// Outcome of feeding one input: finished, a transaction to log then apply, or (on a
/// learner) a request to hand to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done(Vec<Action>),
    Propose(Proposal),
    Forward(Forward),
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

/// One connection as `cons` and `dump` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    pub conn: ConnId,
    pub addr: IpAddr,
    /// The attached session, once the handshake completed.
    pub session: Option<i64>,
    /// Negotiated session timeout (0 before the handshake).
    pub timeout_ms: i32,
}

/// A connection (`ServerCnxn`): its address, auth ids, and session once attached.
#[derive(Debug)]
pub(crate) struct Conn {
    pub addr: IpAddr,
    pub ids: Vec<Id>,
    pub session: Option<i64>,
    pub timeout_ms: i32,
    /// The ConnectRequest carried the trailing readOnly byte; the response then does too.
    pub read_only_byte: bool,
}

/// The whole state of a standalone server: tree, sessions, watches, connections.
#[derive(Debug)]
pub struct State {
    pub(crate) cfg: CoreConfig,
    pub(crate) auth: AuthConfig,
    pub(crate) tree: DataTree,
    pub(crate) sessions: SessionTracker,
    pub(crate) watches: WatchManager,
    pub(crate) conns: HashMap<ConnId, Conn>,
    /// The connection each session is attached to.
    owners: HashMap<i64, ConnId>,
    pub(crate) last_zxid: i64,
    /// The zxid given to the last prepared proposal.
    pub(crate) prepared_zxid: i64,
    /// When containers and TTL nodes are next swept.
    pub(crate) next_sweep_ms: i64,
    /// Wall-clock time minus the `now_ms` clock (see `set_wall_clock_offset_ms`).
    pub(crate) wall_offset_ms: i64,
    /// The clock at construction: sessions restored by recovery expire one timeout after it
    /// (`SessionTrackerImpl` touches every loaded session when it starts).
    pub(crate) started_at_ms: i64,
    /// Standalone, leader or learner: who prepares writes and who expires sessions.
    pub(crate) role: Role,
    /// Per session: writes submitted and not yet applied, and the reads that arrived behind
    /// them (`CommitProcessor` answers a session's requests in order).
    pub(crate) queues: HashMap<i64, VecDeque<Queued>>,
    /// Learner: connections whose new session waits for its createSession to commit.
    pub(crate) pending_connects: HashMap<i64, ConnId>,
    /// Learner: sessions touched since the host last relayed them to the leader.
    pub(crate) touched: HashMap<i64, i32>,
    /// What prepared, not yet applied transactions change (see `prep`).
    pub(crate) outstanding: Outstanding,
    /// Read-only mode (`readonlymode.enabled`, a member cut off from its quorum): the
    /// sessions made while in it, which live only here.
    pub(crate) read_only: Option<std::collections::HashSet<i64>>,
    /// The tree digest every 128 zxids, and the checks of loaded digests (see `DigestLog`).
    pub(crate) digests: DigestLog,
}

/// A watch event waiting for delivery, with the ACL that filters it (ZOOKEEPER-4799).
pub(crate) struct Event {
    pub path: String,
    pub kind: EventType,
    pub acl: std::sync::Arc<[Acl]>,
}

impl State {
    pub fn new(cfg: CoreConfig, now_ms: i64) -> Self {
        let auth = AuthConfig {
            skip_acl: cfg.skip_acl,
            super_digest: cfg.super_digest.clone(),
            digest_enabled: cfg.digest_auth_enabled,
            x509: cfg.x509_auth,
            x509_super_user: cfg.x509_super_user.clone(),
        };
        let tree = DataTree::new(cfg.config_znode_data.clone(), cfg.extended_types_enabled);
        let sessions = SessionTracker::new(cfg.server_id, cfg.tick_ms, now_ms);
        let next_sweep_ms = now_ms + cfg.container_check_interval_ms;
        State {
            cfg,
            auth,
            tree,
            sessions,
            watches: WatchManager::new(),
            conns: HashMap::default(),
            owners: HashMap::default(),
            last_zxid: 0,
            prepared_zxid: 0,
            next_sweep_ms,
            wall_offset_ms: 0,
            started_at_ms: now_ms,
            role: Role::Standalone,
            queues: HashMap::default(),
            pending_connects: HashMap::default(),
            touched: HashMap::default(),
            read_only: None,
            digests: DigestLog::default(),
            outstanding: Outstanding::default(),
        }
    }

    /// Every `now_ms` this state machine is given drives session expiry and sweeping, so the
    /// IO layer passes a clock that never jumps (ZooKeeper expires sessions on
    /// `Time.currentElapsedTime`). Znode times (ctime, mtime, TTLs) are wall-clock times:
    /// they are `now_ms + offset`, and the IO layer keeps the offset current.
    pub fn set_wall_clock_offset_ms(&mut self, offset_ms: i64) {
        self.wall_offset_ms = offset_ms;
    }

    /// The zxid of the last applied transaction (`lastProcessedZxid`).
    /// The session attached to connection `conn`, once its handshake completed.
    pub fn session_of(&self, conn: ConnId) -> Option<i64> {
        self.conns.get(&conn).and_then(|c| c.session)
    }

    /// The configuration the state was built with.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The data tree, for read-only inspection (4lw, snapshots, tests).
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The watch tables (for `wchc`, `wchp`, `wchs`).
    pub fn watches(&self) -> &WatchManager {
        &self.watches
    }

    /// Live sessions with their timeouts, in id order.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        self.sessions.sessions()
    }

    /// Live sessions with the time (`now_ms` clock) of the expiry bucket each waits in, in id
    /// order; `None` for a session that is closing (for `dump`, `SessionTrackerImpl.dumpSessions`).
    pub fn session_expiries(&self) -> Vec<(i64, Option<i64>)> {
        self.sessions
            .sessions()
            .into_iter()
            .map(|(id, _)| (id, self.sessions.expiry_ms(id)))
            .collect()
    }

    /// Sessions owning ephemeral nodes, with their paths (for `dump`).
    pub fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        self.tree.ephemerals_by_session()
    }

    /// Every open connection, in id order.
    pub fn conn_infos(&self) -> Vec<ConnInfo> {
        let mut v: Vec<ConnInfo> = self
            .conns
            .iter()
            .map(|(id, c)| ConnInfo {
                conn: *id,
                addr: c.addr,
                session: c.session,
                timeout_ms: c.timeout_ms,
            })
            .collect();
        v.sort_by_key(|c| c.conn);
        v
    }

    /// A TCP connection was accepted from `addr` (before its ConnectRequest).
    pub fn conn_opened(&mut self, conn: ConnId, addr: IpAddr) {
        self.conn_opened_as(conn, addr, None);
    }

    /// A TLS connection whose client certificate names `subject`: it also carries the
    /// `x509` ids of that subject (when the x509 provider is registered).
    pub fn conn_opened_as(&mut self, conn: ConnId, addr: IpAddr, subject: Option<&str>) {
        let mut ids = acl::connection_ids(addr);
        if let Some(subject) = subject {
            ids.extend(acl::x509_ids(&self.auth, subject));
        }
        self.conns.insert(
            conn,
            Conn {
                addr,
                ids,
                session: None,
                timeout_ms: 0,
                read_only_byte: false,
            },
        );
    }

    /// The connection ended (client closed, error, or our own Close). Its watches go; its
    /// session lives on until closed or expired.
    pub fn conn_closed(&mut self, conn: ConnId) {
        self.watches.remove_conn(conn);
        self.pending_connects.retain(|_, c| *c != conn);
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(session) = c.session {
                if self.owners.get(&session) == Some(&conn) {
                    self.owners.remove(&session);
                    // Replies to this connection have nowhere to go; the session's writes
                    // still commit.
                    self.queues.remove(&session);
                }
            }
        }
    }

    /// A ConnectRequest arrived. New sessions come back as a `CreateSession` proposal;
    /// reattaches and refusals are answered at once.
    pub fn connect(&mut self, conn: ConnId, req: ConnectRequest, now_ms: i64) -> Step {
        if !self.conns.contains_key(&conn) || req.last_zxid_seen > self.last_zxid {
            // "Refusing session request for client as it has seen zxid ... client must try
            // another server": ZooKeeper closes without a response.
            return Step::Done(vec![Action::Close { conn }]);
        }
        let timeout = req
            .time_out
            .max(self.cfg.session_timeout_ms_min)
            .min(self.cfg.session_timeout_ms_max);
        let read_only_byte = req.read_only.is_some();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.timeout_ms = timeout;
            c.read_only_byte = read_only_byte;
        }
        if self.read_only.is_some() {
            return Step::Done(self.connect_read_only(conn, &req, timeout, now_ms));
        }
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            if self.role == Role::Learner {
                self.pending_connects.insert(id, conn);
                return Step::Forward(Forward::CreateSession {
                    session: id,
                    timeout_ms: timeout,
                });
            }
            let hdr = self.header(id, 0, now_ms, OpCode::CreateSession);
            let txn = Txn::CreateSession(CreateSessionTxn { time_out: timeout });
            return Step::Propose(Proposal {
                hdr,
                txn,
                origin: Some((conn, 0)),
            });
        }
        Step::Done(self.reattach(conn, req.session_id, &req.passwd, timeout, now_ms))
    }

    /// `processConnectRequest` for a known id: the connection currently holding the session is
    /// closed first (even if the password turns out wrong), then `reopenSession`.
    pub(crate) fn reattach(
        &mut self,
        conn: ConnId,
        id: i64,
        passwd: &[u8],
        timeout: i32,
        now_ms: i64,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(old) = self.owners.remove(&id) {
            if old != conn {
                if let Some(c) = self.conns.get_mut(&old) {
                    c.session = None;
                }
                actions.push(Action::Close { conn: old });
            }
        }
        let valid = passwd == session_password(id).as_slice() && self.touch(id, timeout, now_ms);
        let read_only = self.read_only_flag(conn);
        if valid {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = Some(id);
            }
            self.owners.insert(id, conn);
            let resp = ConnectResponse {
                protocol_version: 0,
                time_out: timeout,
                session_id: id,
                passwd: session_password(id).to_vec(),
                read_only,
            };
            actions.push(Action::Connected {
                conn,
                resp,
                close_after: false,
            });
        } else {
            // finishSessionInit(cnxn, false): the client reads this as session expiry.
            let resp = ConnectResponse {
                protocol_version: 0,
                time_out: 0,
                session_id: 0,
                passwd: vec![0; 16],
                read_only,
            };
            actions.push(Action::Connected {
                conn,
                resp,
                close_after: true,
            });
        }
        actions
    }

    /// A normal server answers `readOnly = false`, a read-only one `true`, and only to
    /// clients that sent the byte.
    pub(crate) fn read_only_flag(&self, conn: ConnId) -> Option<bool> {
        let read_only = self.read_only.is_some();
        self.conns
            .get(&conn)
            .filter(|c| c.read_only_byte)
            .map(|_| read_only)
    }

    /// A request on an established connection. Reads and local operations (ping, auth,
    /// setWatches, addWatch, checkWatches, removeWatches, whoAmI) are answered at once;
    /// writes, including failed ones (an `Error` txn, which consumes a zxid as in ZooKeeper),
    /// come back as a proposal.
    pub fn request(&mut self, conn: ConnId, xid: i32, req: Request, now_ms: i64) -> Step {
        let Some(session) = self.conns.get(&conn).and_then(|c| c.session) else {
            return Step::Done(vec![Action::Close { conn }]);
        };
        // Auth and SASL packets are handled before the session is touched (processPacket).
        match req {
            Request::Auth(p) => return Step::Done(self.auth_packet(conn, xid, &p.scheme, &p.auth)),
            Request::Sasl(_) => {
                // No SASL server configured: ZooKeeper's null saslServer makes it answer OK
                // with no token.
                let body = Response::Sasl { token: None };
                return Step::Done(vec![Action::Reply {
                    conn,
                    xid,
                    zxid: 0,
                    err: 0,
                    body,
                }]);
            }
            _ => {}
        }
        if let Some(refused) = self.refuse_unauthenticated(conn, xid) {
            return Step::Done(refused);
        }
        let timeout_ms = self.conns.get(&conn).map_or(0, |c| c.timeout_ms);
        if !self.touch(session, timeout_ms, now_ms) {
            // MissingSessionException: ZooKeeper drops the request without an answer.
            return Step::Done(Vec::new());
        }
        if self.read_only.is_some() {
            return Step::Done(self.request_read_only(conn, xid, session, req));
        }
        match req {
            req if is_write(&req) || matches!(req, Request::CloseSession) => {
                self.submit_write(conn, xid, session, req, now_ms)
            }
            Request::Sync(r) if self.role == Role::Learner => {
                self.submit_sync(conn, xid, session, r.path)
            }
            req => Step::Done(self.read_in_order(conn, xid, session, req)),
        }
    }

    /// `AuthenticationHelper.enforceAuthentication`, for any request but auth and SASL
    /// packets: with authentication enforced (`zookeeper.enforce.auth.enabled`) and `conn`
    /// holding no id of a required scheme (the `ip` id every connection has counts), the
    /// answer (SessionClosedRequireSaslAuth with zxid 0) and the connection's close. The
    /// session is left to expire. ZooKeeper checks before it reads the request's body, so
    /// this comes first for requests that do not decode too.
    pub fn refuse_unauthenticated(&self, conn: ConnId, xid: i32) -> Option<Vec<Action>> {
        let required = &self.cfg.enforce_auth_schemes;
        let authenticated = required.is_empty()
            || self
                .conns
                .get(&conn)
                .is_some_and(|c| c.ids.iter().any(|id| required.contains(&id.scheme)));
        (!authenticated).then(|| {
            vec![
                Action::Reply {
                    conn,
                    xid,
                    zxid: 0,
                    err: ErrorCode::SessionClosedRequireSaslAuth.code(),
                    body: Response::Empty,
                },
                Action::Close { conn },
            ]
        })
    }

    /// A write (or closeSession) of a session on connection `conn`: prepared here, or on a
    /// learner handed to the leader; either way queued so that the session's later reads wait
    /// for it.
    fn submit_write(
        &mut self,
        conn: ConnId,
        xid: i32,
        session: i64,
        req: Request,
        now_ms: i64,
    ) -> Step {
        self.queues
            .entry(session)
            .or_default()
            .push_back(Queued::Write { cxid: xid, conn });
        if self.role == Role::Learner {
            if matches!(req, Request::CloseSession) {
                self.sessions.set_closing(session);
                return Step::Forward(Forward::CloseSession { session, cxid: xid });
            }
            let ids = self
                .conns
                .get(&conn)
                .map(|c| c.ids.clone())
                .unwrap_or_default();
            return Step::Forward(Forward::Write {
                session,
                cxid: xid,
                request: req,
                ids,
            });
        }
        if matches!(req, Request::CloseSession) {
            return Step::Propose(self.close_session(session, xid, now_ms, Some(conn)));
        }
        // Lent to prepare and given back, not cloned for every write.
        let ids = self
            .conns
            .get_mut(&conn)
            .map(|c| std::mem::take(&mut c.ids))
            .unwrap_or_default();
        let mut proposal = self.prepare(&ids, xid, session, req, now_ms);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.ids = ids;
        }
        proposal.origin = Some((conn, xid));
        Step::Propose(proposal)
    }

    /// `processPacket` for `OpCode.auth`: reply zxid 0; a failure is answered, then the
    /// connection closes.
    fn auth_packet(&mut self, conn: ConnId, xid: i32, scheme: &str, auth: &[u8]) -> Vec<Action> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return vec![Action::Close { conn }];
        };
        match acl::authenticate(&self.auth, scheme, auth, c.addr) {
            Ok(ids) => {
                for id in ids {
                    if !c.ids.contains(&id) {
                        c.ids.push(id);
                    }
                }
                vec![Action::Reply {
                    conn,
                    xid,
                    zxid: 0,
                    err: 0,
                    body: Response::Empty,
                }]
            }
            Err(_) => vec![
                Action::Reply {
                    conn,
                    xid,
                    zxid: 0,
                    err: ErrorCode::AuthFailed.code(),
                    body: Response::Empty,
                },
                Action::Close { conn },
            ],
        }
    }

    fn next_zxid(&mut self) -> i64 {
        self.prepared_zxid = self.prepared_zxid.max(self.last_zxid) + 1;
        self.prepared_zxid
    }

    pub(crate) fn header(
        &mut self,
        client_id: i64,
        cxid: i32,
        now_ms: i64,
        op: OpCode,
    ) -> TxnHeader {
        let zxid = self.next_zxid();
        TxnHeader {
            client_id,
            cxid,
            zxid,
            time: now_ms + self.wall_offset_ms,
            txn_type: op as i32,
        }
    }

    /// `PrepRequestProcessor.pRequest`: a txn, or an `Error` txn carrying the first failing
    /// check's code.
    pub(crate) fn prepare(
        &mut self,
        ids: &[Id],
        xid: i32,
        session: i64,
        req: Request,
        now_ms: i64,
    ) -> Proposal {
        let op = req.op_code();
        let hdr = self.header(session, xid, now_ms, op);
        let mut prep = self.prep(ids, &hdr);
        let result = match req {
            Request::Create(r) => prep.create(OpCode::Create, r),
            Request::Create2(r) => prep.create(OpCode::Create2, r),
            Request::CreateContainer(r) => prep.create(OpCode::CreateContainer, r),
            Request::CreateTtl(r) => prep.create_ttl(r),
            Request::Delete(r) => prep.delete(&r.path, r.version),
            Request::DeleteContainer(r) => prep.delete_container(&r.path),
            Request::SetData(r) => prep.set_data(&r.path, r.data, r.version),
            Request::SetAcl(r) => prep.set_acl(&r.path, &r.acl, r.version),
            Request::Multi(ops) => prep.multi(ops),
            // reconfigEnabled is false on a standalone server.
            _ => Err(ErrorCode::ReconfigDisabled),
        };
        let changes = prep.into_changes();
        self.prepared(hdr, result, changes)
    }

    /// A prepared request as a proposal: a failure becomes an `Error` txn; a success leaves
    /// its changes outstanding until applied, except a failed multi, which leaves none
    /// (`rollbackPendingChanges`).
    fn prepared(
        &mut self,
        mut hdr: TxnHeader,
        result: Result<Txn, ErrorCode>,
        changes: OutstandingChanges,
    ) -> Proposal {
        let txn = match result {
            Ok(Txn::Multi(txns)) if txns.iter().any(|t| matches!(t, Txn::Error(_))) => {
                Txn::Multi(txns)
            }
            Ok(txn) => {
                self.outstanding.add(hdr.zxid, changes);
                txn
            }
            Err(code) => {
                hdr.txn_type = OpCode::Error as i32;
                error_txn(code)
            }
        };
        Proposal {
            hdr,
            txn,
            origin: None,
        }
    }

    /// A closeSession txn naming the session's ephemerals; the session stops accepting
    /// requests at once (`setSessionClosing`).
    pub(crate) fn close_session(
        &mut self,
        session: i64,
        cxid: i32,
        now_ms: i64,
        conn: Option<ConnId>,
    ) -> Proposal {
        self.sessions.set_closing(session);
        let hdr = self.header(session, cxid, now_ms, OpCode::CloseSession);
        let listed = self.tree.ephemerals(session);
        let paths2_delete = self.outstanding.session_ephemerals(session, listed);
        // The deletes are outstanding changes: a write prepared before this txn is applied
        // finds the nodes gone, as it will when it is applied.
        let mut prep = self.prep(&[], &hdr);
        prep.close_session(&paths2_delete);
        let changes = prep.into_changes();
        self.outstanding.add(hdr.zxid, changes);
        let txn = Txn::CloseSession(CloseSessionTxn { paths2_delete });
        Proposal {
            hdr,
            txn,
            origin: conn.map(|c| (c, cxid)),
        }
    }

    /// Applies a logged proposal: changes the tree and returns replies and notifications.
    pub fn apply(&mut self, proposal: Proposal) -> Vec<Action> {
        let Proposal { hdr, txn, origin } = proposal;
        let origin = origin.or_else(|| self.local_origin(&hdr));
        assert!(
            hdr.zxid > self.last_zxid,
            "zxid {} applied after {}",
            hdr.zxid,
            self.last_zxid
        );
        let mut events = Vec::new();
        let outcome = self.apply_txn(&hdr, txn, &mut events);
        self.last_zxid = hdr.zxid;
        self.digests.applied(hdr.zxid, self.tree.digest());
        self.outstanding.applied(hdr.zxid);
        self.prepared_zxid = self.prepared_zxid.max(hdr.zxid);
        let mut actions = self.deliver(&events, hdr.zxid);
        match outcome {
            Outcome::Session => actions.extend(self.session_created(&hdr, origin)),
            Outcome::Closed => actions.extend(self.session_closed(hdr.client_id, hdr.zxid, origin)),
            Outcome::Reply(err, body) => {
                if let Some((conn, xid)) = origin {
                    if self.conns.contains_key(&conn) {
                        actions.push(Action::Reply {
                            conn,
                            xid,
                            zxid: hdr.zxid,
                            err,
                            body,
                        });
                    }
                }
            }
        }
        actions.extend(self.release(hdr.client_id, hdr.cxid));
        actions
    }

    fn apply_txn(&mut self, hdr: &TxnHeader, txn: Txn, events: &mut Vec<Event>) -> Outcome {
        match txn {
            Txn::CreateSession(t) => {
                self.sessions.add(hdr.client_id, t.time_out, hdr.time);
                Outcome::Session
            }
            Txn::CloseSession(t) => {
                self.kill_session(hdr.client_id, hdr.zxid, &t.paths2_delete, events);
                Outcome::Closed
            }
            Txn::Error(e) => Outcome::Reply(e.err, Response::Empty),
            Txn::Multi(txns) => {
                Outcome::Reply(0, Response::Multi(self.apply_multi(hdr, txns, events)))
            }
            txn => match self.apply_op(hdr, txn, events) {
                Ok(done) => Outcome::Reply(0, done.response()),
                Err(code) => Outcome::Reply(code.code(), Response::Empty),
            },
        }
    }

    /// `DataTree.processTxn` case multi: if any sub-txn is an error, nothing is applied and the
    /// ops before the first error report 0, later ones their own error.
    fn apply_multi(
        &mut self,
        hdr: &TxnHeader,
        txns: Vec<Txn>,
        events: &mut Vec<Event>,
    ) -> Vec<OpResult> {
        let failed = txns.iter().any(|t| matches!(t, Txn::Error(_)));
        if failed {
            let mut post_failed = false;
            return txns
                .iter()
                .map(|t| match t {
                    Txn::Error(e) => {
                        post_failed = true;
                        OpResult::Error { err: e.err }
                    }
                    _ if post_failed => OpResult::Error {
                        err: ErrorCode::RuntimeInconsistency.code(),
                    },
                    _ => OpResult::Error { err: 0 },
                })
                .collect();
        }
        txns.into_iter()
            .map(|t| match self.apply_op(hdr, t, events) {
                Ok(done) => done.op_result(),
                Err(code) => OpResult::Error { err: code.code() },
            })
            .collect()
    }

    /// One data txn (`DataTree.processTxn`), collecting the watch events it fires.
    pub(crate) fn apply_op(
        &mut self,
        hdr: &TxnHeader,
        txn: Txn,
        events: &mut Vec<Event>,
    ) -> Result<Applied, ErrorCode> {
        let (zxid, time) = (hdr.zxid, hdr.time);
        let (op, path, data, acl, owner, pcv) = match txn {
            Txn::Create(t) => {
                let owner = if t.ephemeral { hdr.client_id } else { 0 };
                (
                    OpCode::Create,
                    t.path,
                    t.data,
                    t.acl,
                    owner,
                    t.parent_c_version,
                )
            }
            Txn::Create2(t) => {
                let owner = if t.ephemeral { hdr.client_id } else { 0 };
                (
                    OpCode::Create2,
                    t.path,
                    t.data,
                    t.acl,
                    owner,
                    t.parent_c_version,
                )
            }
            Txn::CreateContainer(t) => {
                let owner = crate::tree::CONTAINER_OWNER;
                (
                    OpCode::CreateContainer,
                    t.path,
                    t.data,
                    t.acl,
                    owner,
                    t.parent_c_version,
                )
            }
            Txn::CreateTtl(t) => {
                let owner = crate::tree::ttl_owner(t.ttl).ok_or(ErrorCode::BadArguments)?;
                (
                    OpCode::CreateTtl,
                    t.path,
                    t.data,
                    t.acl,
                    owner,
                    t.parent_c_version,
                )
            }
            Txn::Delete(t) | Txn::DeleteContainer(t) => {
                self.delete(&t.path, zxid, events)?;
                return Ok(Applied::Delete);
            }
            Txn::SetData(t) => {
                let (stat, acl) = self.tree.set_data(&t.path, t.data, t.version, zxid, time)?;
                events.push(Event {
                    path: t.path,
                    kind: EventType::NodeDataChanged,
                    acl,
                });
                return Ok(Applied::SetData(stat));
            }
            Txn::SetAcl(t) => {
                return Ok(Applied::SetData(
                    self.tree.set_acl(&t.path, &t.acl, t.version)?,
                ));
            }
            Txn::Check(_) => return Ok(Applied::Check),
            Txn::Error(e) => {
                return Err(ErrorCode::try_from(e.err).unwrap_or(ErrorCode::SystemError))
            }
            Txn::CreateSession(_) | Txn::CloseSession(_) | Txn::Multi(_) => {
                // Not valid inside a multi (DataTree: "Invalid type of op").
                return Err(ErrorCode::MarshallingError);
            }
        };
        let (stat, acls) = self
            .tree
            .create_node(&path, data, &acl, owner, pcv, zxid, time)?;
        let parent = path::parent_for_watch(&path).to_owned();
        events.push(Event {
            path: path.clone(),
            kind: EventType::NodeCreated,
            acl: acls.node,
        });
        events.push(Event {
            path: parent,
            kind: EventType::NodeChildrenChanged,
            acl: acls.parent,
        });
        Ok(Applied::Create { op, path, stat })
    }

    /// `DataTree.deleteNode` plus its watch events.
    fn delete(&mut self, path: &str, zxid: i64, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        let acls = self.tree.delete_node(path, zxid)?;
        let parent = path::parent_for_watch(path).to_owned();
        events.push(Event {
            path: path.to_owned(),
            kind: EventType::NodeDeleted,
            acl: acls.node,
        });
        events.push(Event {
            path: parent,
            kind: EventType::NodeChildrenChanged,
            acl: acls.parent,
        });
        Ok(())
    }

    /// `DataTree.killSession`: the txn's paths, then any the tree still indexes.
    pub(crate) fn kill_session(
        &mut self,
        session: i64,
        zxid: i64,
        listed: &[String],
        events: &mut Vec<Event>,
    ) {
        let local = self.tree.ephemerals(session);
        for path in listed
            .iter()
            .chain(local.iter().filter(|p| !listed.contains(p)))
        {
            // "Ignoring NoNodeException ... while removing ephemeral for dead session".
            let _ = self.delete(path, zxid, events);
        }
        self.tree.forget_session(session);
        self.sessions.remove(session);
    }

    /// Fires each event's watches and turns them into notifications for connections that may
    /// READ the node (`NIOServerCnxn.process` since ZOOKEEPER-4799).
    pub(crate) fn deliver(&mut self, events: &[Event], zxid: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        for ev in events {
            for conn in self.watches.trigger(&ev.path, ev.kind) {
                let Some(c) = self.conns.get(&conn) else {
                    continue;
                };
                if acl::check(&self.auth, &ev.acl, perms::READ, &c.ids).is_err() {
                    continue;
                }
                actions.push(notify(conn, zxid, ev.kind, &ev.path));
            }
        }
        actions
    }

    /// `finishSessionInit(cnxn, true)` once the createSession txn is applied.
    fn session_created(&mut self, hdr: &TxnHeader, origin: Option<(ConnId, i32)>) -> Vec<Action> {
        let id = hdr.client_id;
        let Some((conn, _)) = origin else {
            return Vec::new();
        };
        let read_only = self.read_only_flag(conn);
        let Some(c) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        c.session = Some(id);
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: c.timeout_ms,
            session_id: id,
            passwd: session_password(id).to_vec(),
            read_only,
        };
        self.owners.insert(id, conn);
        vec![Action::Connected {
            conn,
            resp,
            close_after: false,
        }]
    }

    /// After closeSession: the closing client gets its reply and is closed; an expired
    /// session's connection is just closed.
    fn session_closed(
        &mut self,
        session: i64,
        zxid: i64,
        origin: Option<(ConnId, i32)>,
    ) -> Vec<Action> {
        let owner = self.owners.remove(&session);
        let mut actions = Vec::new();
        if let Some((conn, xid)) = origin.filter(|(c, _)| self.conns.contains_key(c)) {
            actions.push(Action::Reply {
                conn,
                xid,
                zxid,
                err: 0,
                body: Response::Empty,
            });
            actions.push(Action::Close { conn });
        } else if let Some(conn) = owner {
            actions.push(Action::Close { conn });
        }
        if let Some(conn) = owner {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = None;
            }
        }
        actions
    }

    /// Time passes: returns transactions the server makes itself (closeSession for expired
    /// sessions, deleteContainer for empty containers and expired TTL nodes), each to be
    /// logged and applied like a client's.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Proposal> {
        let mut out = Vec::new();
        if self.role == Role::Learner {
            // The leader expires sessions and sweeps containers for the whole ensemble.
            return out;
        }
        for session in self.sessions.expired(now_ms) {
            out.push(self.close_session(session, 0, now_ms, None));
        }
        if now_ms >= self.next_sweep_ms {
            self.next_sweep_ms = now_ms + self.cfg.container_check_interval_ms.max(1);
            for path in self.sweep_candidates(now_ms) {
                out.push(self.delete_container_proposal(&path, now_ms));
            }
        }
        out
    }

    /// `ContainerManager.getCandidates`, capped by `container_max_per_minute` per sweep
    /// (ZooKeeper spaces its deletes by `60000 / maxPerMinute` ms instead).
    fn sweep_candidates(&self, now_ms: i64) -> Vec<String> {
        // TTLs and never-used containers are measured against mtime, a wall-clock time
        // (ContainerManager uses Time.currentWallTime).
        let now_ms = now_ms + self.wall_offset_ms;
        let never_used_ms = self.cfg.container_max_never_used_ms;
        let mut out = Vec::new();
        for p in self.tree.containers() {
            let Some(n) = self.tree.node(p) else { continue };
            let used = n.stat().cversion > 0;
            let stale = never_used_ms != 0 && now_ms - n.stat().mtime > never_used_ms;
            if n.num_children() == 0 && (used || stale) {
                out.push(p.to_owned());
            }
        }
        for p in self.tree.ttls() {
            let Some(n) = self.tree.node(p) else { continue };
            if let NodeKind::Ttl(ttl) = self.tree.kind(n) {
                if n.num_children() == 0 && ttl != 0 && now_ms - n.stat().mtime > ttl {
                    out.push(p.to_owned());
                }
            }
        }
        out.truncate(self.cfg.container_max_per_minute as usize);
        out
    }

    /// A request of the session of `hdr`, authenticated as `ids`, prepared against the tree
    /// and the outstanding changes under `hdr`'s zxid and time.
    fn prep<'a>(&'a self, ids: &'a [Id], hdr: &TxnHeader) -> Prep<'a> {
        Prep::new(
            &self.tree,
            &self.outstanding,
            &self.auth,
            ids,
            hdr.client_id,
            hdr.zxid,
            hdr.time,
            self.cfg.extended_types_enabled,
            self.cfg.enforce_quota,
        )
    }

    /// The ContainerManager's request: session 0, cxid 0, prepared like a client's.
    fn delete_container_proposal(&mut self, path: &str, now_ms: i64) -> Proposal {
        let hdr = self.header(0, 0, now_ms, OpCode::DeleteContainer);
        let mut prep = self.prep(&[], &hdr);
        let result = prep.delete_container(path);
        let changes = prep.into_changes();
        self.prepared(hdr, result, changes)
    }

    /// The next time `tick` has work, so the IO layer can sleep until then.
    pub fn next_tick_ms(&self) -> Option<i64> {
        if self.role == Role::Learner {
            return None;
        }
        let sweep = (self.tree.containers().next().is_some() || self.tree.ttls().next().is_some())
            .then_some(self.next_sweep_ms);
        match (self.sessions.next_expiry_ms(), sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            znode_count: self.tree.node_count(),
            ephemerals_count: self.tree.ephemerals_count(),
            watch_count: self.watches.watch_count() as u64,
            approximate_data_size: self.tree.approximate_data_size().max(0) as u64,
            sessions: self.sessions.sessions().len() as u64,
            connections: self.conns.len() as u64,
        }
    }
}

/// How an applied txn is answered.
enum Outcome {
    Session,
    Closed,
    Reply(i32, Response),
}

/// The result of one applied data txn (`ProcessTxnResult`).
pub(crate) enum Applied {
    Create {
        op: OpCode,
        path: String,
        stat: paddock_jute::Stat,
    },
    Delete,
    SetData(paddock_jute::Stat),
    Check,
}

impl Applied {
    /// `FinalRequestProcessor`: create answers the path only; create2, createContainer and
    /// createTTL the path and stat; setData and setACL the stat.
    fn response(self) -> Response {
        match self {
            Applied::Create {
                op: OpCode::Create,
                path,
                ..
            } => Response::Create { path },
            Applied::Create { path, stat, .. } => Response::Create2 { path, stat },
            Applied::Delete | Applied::Check => Response::Empty,
            Applied::SetData(stat) => Response::Stat(stat),
        }
    }

    fn op_result(self) -> OpResult {
        match self {
            Applied::Create {
                op: OpCode::Create,
                path,
                ..
            } => OpResult::Create { path },
            Applied::Create { path, stat, .. } => OpResult::Create2 { path, stat },
            Applied::Delete => OpResult::Delete,
            Applied::SetData(stat) => OpResult::SetData { stat },
            Applied::Check => OpResult::Check,
        }
    }
}

pub(crate) fn notify(conn: ConnId, zxid: i64, kind: EventType, path: &str) -> Action {
    let event = WatcherEvent {
        event_type: kind as i32,
        state: KeeperState::SyncConnected as i32,
        path: path.to_owned(),
    };
    Action::Notify { conn, zxid, event }
}

/// Requests that become transactions (besides closeSession).
pub(crate) fn is_write(req: &Request) -> bool {
    matches!(
        req,
        Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::DeleteContainer(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Multi(_)
            | Request::Reconfig(_)
    )
}
