//! The request pipeline's ensemble roles.
//!
//! A standalone server and a leader prepare writes themselves; a learner (follower or
//! observer) hands them to the leader as a [`Forward`] (`FollowerRequestProcessor`) and applies
//! them when they come back committed. Either way each session's requests are answered in
//! the order they arrived: a read waits behind the session's writes that are not applied yet
//! (`CommitProcessor`). Sessions are global: the leader creates, expires and closes them
//! through the log; learners allocate ids for their new sessions, relay the sessions their
//! clients touched (ZooKeeper piggybacks them on PING replies), and never expire a session
//! themselves.

use paddock_jute::proto::{Request, Response};
use paddock_jute::txn::{CreateSessionTxn, Txn, TxnHeader};
use paddock_jute::{ErrorCode, OpCode};

use crate::forward::Forward;
use crate::prep::error_txn;
use crate::state::{Action, Proposal, State, Step};
use crate::ConnId;

/// Who prepares writes and keeps session time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Prepares and applies its own writes; expires sessions.
    Standalone,
    /// Prepares the ensemble's writes (its own and forwarded ones); expires sessions.
    Leader,
    /// A follower or observer: forwards writes, applies what the leader commits.
    Learner,
}

/// Why the AdminServer refuses a command that needs rights (401 and 403 in ZooKeeper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAuth {
    NotAuthenticated,
    NotAuthorized,
}

/// One entry of a session's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Queued {
    /// A write (or closeSession) waiting to be applied, answered on `conn`.
    Write { cxid: i32, conn: ConnId },
    /// A `sync` a learner forwarded, answered when the leader says it is done.
    Sync {
        cxid: i32,
        conn: ConnId,
        path: String,
    },
    /// A read that arrived behind a pending write.
    Read {
        conn: ConnId,
        xid: i32,
        req: Request,
    },
}

impl State {
    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// This member now leads `epoch`: its zxids continue from `epoch << 32`, and every
    /// session's clock restarts (`SessionTrackerImpl` starts with all sessions touched, so a
    /// session whose member died gets its full timeout to reconnect).
    pub fn become_leader(&mut self, epoch: i64, now_ms: i64) {
        assert!(epoch >= 0 && epoch >> 31 == 0, "epoch {epoch} out of range");
        self.role = Role::Leader;
        self.prepared_zxid = self.prepared_zxid.max(self.last_zxid).max(epoch << 32);
        self.sessions.restart_clocks(now_ms);
        self.touched.clear();
    }

    /// This member now follows or observes a leader.
    pub fn become_learner(&mut self) {
        self.role = Role::Learner;
    }

    /// The member stopped serving (it is looking for a leader, or syncing with a new one):
    /// every client session's connection is closed, as ZooKeeper shuts its `ZooKeeperServer`
    /// down, and
    /// what was prepared or forwarded but never applied is forgotten. The clients reconnect
    /// (here or elsewhere) and their sessions live on in the ensemble's log.
    pub fn stop_serving(&mut self) -> Vec<Action> {
        // A connection still in its handshake (no session, none being created) stays: the
        // host may hold its ConnectRequest until the member serves again.
        let creating: std::collections::HashSet<ConnId> =
            self.pending_connects.values().copied().collect();
        let mut conns: Vec<ConnId> = (self.conns.iter())
            .filter(|(id, c)| c.session.is_some() || creating.contains(id))
            .map(|(id, _)| *id)
            .collect();
        conns.sort_unstable();
        self.queues.clear();
        self.pending_connects.clear();
        self.touched.clear();
        self.outstanding = Default::default();
        self.prepared_zxid = self.last_zxid;
        // A close this member forwarded may never have committed: the session lives on.
        self.sessions.clear_closing();
        conns
            .into_iter()
            .map(|conn| Action::Close { conn })
            .collect()
    }

    /// Touches a session for one of this member's clients; a learner remembers the touch to
    /// relay it to the leader.
    pub(crate) fn touch(&mut self, session: i64, timeout_ms: i32, now_ms: i64) -> bool {
        let live = self.sessions.touch_for(session, timeout_ms, now_ms);
        if live && self.role == Role::Learner {
            self.touched.insert(session, timeout_ms);
        }
        live
    }

    /// Learner: the sessions touched since the last call, with their timeouts, for the next
    /// PING reply to the leader (`LearnerSessionTracker.snapshot`).
    pub fn take_touched(&mut self) -> Vec<(i64, i32)> {
        let mut touched: Vec<(i64, i32)> = self.touched.drain().collect();
        touched.sort_unstable();
        touched
    }

    /// Leader: sessions a learner's clients touched (`LearnerHandler` on a PING reply).
    pub fn touch_sessions(&mut self, touched: &[(i64, i32)], now_ms: i64) {
        for &(session, timeout_ms) in touched {
            self.sessions.touch_for(session, timeout_ms, now_ms);
        }
    }

    /// Leader: prepares a request a learner forwarded. `None` for a `sync`, which is not a
    /// transaction (the quorum layer answers it).
    pub fn prepare_forwarded(&mut self, forward: Forward, now_ms: i64) -> Option<Proposal> {
        assert_eq!(
            self.role,
            Role::Leader,
            "only the leader prepares forwarded requests"
        );
        let proposal = match forward {
            Forward::CreateSession {
                session,
                timeout_ms,
            } => {
                let hdr = self.header(session, 0, now_ms, OpCode::CreateSession);
                let txn = Txn::CreateSession(CreateSessionTxn {
                    time_out: timeout_ms,
                });
                Proposal {
                    hdr,
                    txn,
                    origin: None,
                }
            }
            Forward::CloseSession { session, cxid } => {
                self.close_session(session, cxid, now_ms, None)
            }
            Forward::Write {
                session,
                cxid,
                request,
                ids,
            } => {
                // PrepRequestProcessor: sessionTracker.checkSession before the op's checks.
                if !self.sessions.contains(session) || self.sessions.is_closing(session) {
                    let hdr = self.header(session, cxid, now_ms, OpCode::Error);
                    return Some(Proposal {
                        hdr,
                        txn: error_txn(ErrorCode::SessionExpired),
                        origin: None,
                    });
                }
                self.prepare(&ids, cxid, session, request, now_ms)
            }
            Forward::Sync { .. } | Forward::Touch { .. } => return None,
        };
        Some(proposal)
    }

    /// Enters read-only mode (`ReadOnlyZooKeeperServer`): the member lost its quorum and
    /// `readonlymode.enabled` is set. Clients that said they accept a read-only server may
    /// connect (new sessions are local to this member) and read; writes fail with
    /// NotReadOnly.
    pub fn enter_read_only(&mut self) {
        self.read_only.get_or_insert_with(Default::default);
    }

    /// Leaves read-only mode (the member rejoined a quorum): the read-only server shuts
    /// down, so every session's connection closes and the local sessions are forgotten.
    pub fn leave_read_only(&mut self) -> Vec<Action> {
        let Some(local) = self.read_only.take() else {
            return Vec::new();
        };
        for id in local {
            self.sessions.remove(id);
        }
        self.stop_serving()
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// `connect` in read-only mode: a client that did not offer to accept a read-only server
    /// is refused ("Refusing session request for not-read-only client"); a new session is
    /// made here and now, without a transaction; a known one reattaches read-only.
    pub(crate) fn connect_read_only(
        &mut self,
        conn: ConnId,
        req: &paddock_jute::proto::ConnectRequest,
        timeout: i32,
        now_ms: i64,
    ) -> Vec<Action> {
        if req.read_only != Some(true) {
            return vec![Action::Close { conn }];
        }
        if req.session_id != 0 {
            return self.reattach(conn, req.session_id, &req.passwd, timeout, now_ms);
        }
        let id = self.sessions.next_session_id();
        self.sessions.add(id, timeout, now_ms);
        if let Some(local) = self.read_only.as_mut() {
            local.insert(id);
        }
        self.reattach(
            conn,
            id,
            &crate::session::session_password(id),
            timeout,
            now_ms,
        )
    }

    /// A request in read-only mode (`ReadOnlyRequestProcessor`): writes are answered
    /// NotReadOnly, a close ends the connection (a local session goes with it), the rest
    /// is answered from this member's tree.
    pub(crate) fn request_read_only(
        &mut self,
        conn: ConnId,
        xid: i32,
        session: i64,
        req: Request,
    ) -> Vec<Action> {
        let zxid = self.last_zxid;
        match req {
            Request::CloseSession => {
                if self.read_only.as_mut().is_some_and(|l| l.remove(&session)) {
                    self.sessions.remove(session);
                }
                vec![
                    Action::Reply {
                        conn,
                        xid,
                        zxid,
                        err: 0,
                        body: Response::Empty,
                    },
                    Action::Close { conn },
                ]
            }
            req if crate::state::is_write(&req) => vec![Action::Reply {
                conn,
                xid,
                zxid,
                err: ErrorCode::NotReadOnly.code(),
                body: Response::Empty,
            }],
            Request::Sync(r) => vec![Action::Reply {
                conn,
                xid,
                zxid,
                err: 0,
                body: Response::Sync { path: r.path },
            }],
            req => self.read(conn, xid, session, req),
        }
    }

    /// The AdminServer's check for commands that need rights on a node (ZooKeeper 3.9's
    /// `AuthRequest`): `Authorization: <scheme> [<auth>]` resolved as the auth packet would
    /// be, then every bit of `perm` checked against `path`'s ACL.
    pub fn authorize_admin(
        &self,
        scheme: &str,
        auth: Option<&[u8]>,
        addr: std::net::IpAddr,
        path: &str,
        perm: i32,
    ) -> Result<(), AdminAuth> {
        let ids = crate::acl::authenticate(&self.auth, scheme, auth.unwrap_or_default(), addr)
            .map_err(|_| AdminAuth::NotAuthenticated)?;
        let acl = self.tree.node_acl(path).ok_or(AdminAuth::NotAuthorized)?;
        for bit in 0..31 {
            let b = 1 << bit;
            if perm & b != 0 {
                crate::acl::check(&self.auth, acl, b, &ids)
                    .map_err(|_| AdminAuth::NotAuthorized)?;
            }
        }
        Ok(())
    }

    /// The connection and cxid a committed txn answers on this member, when one of its
    /// clients sent the request through the leader.
    pub(crate) fn local_origin(&mut self, hdr: &TxnHeader) -> Option<(ConnId, i32)> {
        if hdr.txn_type == OpCode::CreateSession as i32 {
            return self.pending_connects.remove(&hdr.client_id).map(|c| (c, 0));
        }
        match self.queues.get(&hdr.client_id)?.front()? {
            Queued::Write { cxid, conn } if *cxid == hdr.cxid => Some((*conn, *cxid)),
            _ => None,
        }
    }

    /// After a session's txn `cxid` is applied: takes it off the session's queue and answers
    /// the reads that waited behind it, up to the next pending write.
    pub(crate) fn release(&mut self, session: i64, cxid: i32) -> Vec<Action> {
        let Some(queue) = self.queues.get_mut(&session) else {
            return Vec::new();
        };
        if matches!(queue.front(), Some(Queued::Write { cxid: c, .. }) if *c == cxid) {
            queue.pop_front();
        }
        self.drain_reads(session)
    }

    /// Answers the reads at the head of a session's queue.
    fn drain_reads(&mut self, session: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(queue) = self.queues.get_mut(&session) {
            if !matches!(queue.front(), Some(Queued::Read { .. })) {
                if queue.is_empty() {
                    self.queues.remove(&session);
                }
                break;
            }
            let Some(Queued::Read { conn, xid, req }) = queue.pop_front() else {
                unreachable!("checked above");
            };
            if self.conns.contains_key(&conn) {
                actions.extend(self.read(conn, xid, session, req));
            }
        }
        actions
    }

    /// Takes back the write just queued for a proposal that was abandoned before logging.
    pub(crate) fn unqueue_last_write(&mut self, session: i64, cxid: i32) {
        let Some(queue) = self.queues.get_mut(&session) else {
            return;
        };
        if matches!(queue.back(), Some(Queued::Write { cxid: c, .. }) if *c == cxid) {
            queue.pop_back();
        }
        if queue.is_empty() {
            self.queues.remove(&session);
        }
    }

    /// A read: answered now, or queued behind the session's pending writes.
    pub(crate) fn read_in_order(
        &mut self,
        conn: ConnId,
        xid: i32,
        session: i64,
        req: Request,
    ) -> Vec<Action> {
        match self.queues.get_mut(&session) {
            Some(queue) if !queue.is_empty() => {
                queue.push_back(Queued::Read { conn, xid, req });
                Vec::new()
            }
            _ => self.read(conn, xid, session, req),
        }
    }

    /// Learner: a `sync` goes to the leader, and the session's later reads wait for it.
    pub(crate) fn submit_sync(
        &mut self,
        conn: ConnId,
        xid: i32,
        session: i64,
        path: String,
    ) -> Step {
        self.queues
            .entry(session)
            .or_default()
            .push_back(Queued::Sync {
                cxid: xid,
                conn,
                path: path.clone(),
            });
        Step::Forward(Forward::Sync {
            session,
            cxid: xid,
            path,
        })
    }

    /// Learner: the leader answered a forwarded `sync` (everything it committed before the
    /// sync has been applied here): reply, then release the reads behind it.
    pub fn sync_done(&mut self, session: i64, cxid: i32) -> Vec<Action> {
        let Some(queue) = self.queues.get_mut(&session) else {
            return Vec::new();
        };
        let Some(Queued::Sync { cxid: c, .. }) = queue.front() else {
            return Vec::new();
        };
        if *c != cxid {
            return Vec::new();
        }
        let Some(Queued::Sync { conn, path, .. }) = queue.pop_front() else {
            unreachable!("checked above");
        };
        let mut actions = Vec::new();
        if self.conns.contains_key(&conn) {
            actions.push(Action::Reply {
                conn,
                xid: cxid,
                zxid: self.last_zxid,
                err: 0,
                body: Response::Sync { path },
            });
        }
        actions.extend(self.drain_reads(session));
        actions
    }
}
