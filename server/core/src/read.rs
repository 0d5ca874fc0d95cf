//! Requests answered without a transaction (`FinalRequestProcessor` for reads and local
//! operations). They reply with the last applied zxid.

use paddock_jute::proto::{
    MultiOp, OpResult, PathWatchRequest, Request, Response, SetWatches2, WatchesRequest,
};
use paddock_jute::{perms, AddWatchMode, ClientInfo, ErrorCode, EventType, Id, WatcherType};

use crate::acl;
use crate::state::{notify, Action, State};
use crate::ConnId;

type Answer = Result<Response, ErrorCode>;

impl State {
    /// Answers a read or local request at once.
    pub(crate) fn read(
        &mut self,
        conn: ConnId,
        xid: i32,
        session: i64,
        req: Request,
    ) -> Vec<Action> {
        if let Request::Check(_) = req {
            // Request.isValid refuses a bare check: UnimplementedRequestProcessor answers with
            // the request's unset zxid (-1) and closes the connection, in the session's order.
            let err = ErrorCode::Unimplemented.code();
            let body = Response::Empty;
            let reply = Action::Reply {
                conn,
                xid,
                zxid: -1,
                err,
                body,
            };
            return vec![reply, Action::Close { conn }];
        }
        let zxid = self.last_zxid();
        let mut actions = Vec::new();
        let answer = match req {
            Request::Ping => Ok(Response::Empty),
            Request::Exists(r) => self.exists(conn, &r),
            Request::GetData(r) => self.get_data(conn, &r),
            Request::GetChildren(r) => self
                .get_children(conn, &r)
                .map(|(children, _)| Response::GetChildren { children }),
            Request::GetChildren2(r) => self
                .get_children(conn, &r)
                .map(|(children, stat)| Response::GetChildren2 { children, stat }),
            Request::GetAcl(r) => self.get_acl(conn, &r.path),
            Request::GetAllChildrenNumber(r) => self.all_children_number(conn, &r.path),
            Request::GetEphemerals(r) => Ok(self.get_ephemerals(session, &r.path)),
            Request::MultiRead(ops) => self.multi_read(conn, &ops),
            Request::WhoAmI => Ok(self.who_am_i(conn)),
            Request::Sync(r) => Ok(Response::Sync { path: r.path }),
            Request::SetWatches(w) => {
                let w = SetWatches2 {
                    relative_zxid: w.relative_zxid,
                    data_watches: w.data_watches,
                    exist_watches: w.exist_watches,
                    child_watches: w.child_watches,
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                };
                actions = self.set_watches(conn, &w);
                Ok(Response::Empty)
            }
            Request::SetWatches2(w) => {
                actions = self.set_watches(conn, &w);
                Ok(Response::Empty)
            }
            Request::AddWatch(r) => match AddWatchMode::try_from(r.mode) {
                Ok(mode) => {
                    self.watches.add_persistent_watch(&r.path, conn, mode);
                    Ok(Response::ErrorBody { err: 0 })
                }
                // WatcherMode.fromZooDef throws: a MarshallingError reply.
                Err(_) => Err(ErrorCode::MarshallingError),
            },
            Request::CheckWatches(r) => self.watch_request(conn, &r, false),
            Request::RemoveWatches(r) => self.watch_request(conn, &r, true),
            // Writes, auth and close are routed elsewhere; nothing else reaches here.
            _ => Err(ErrorCode::MarshallingError),
        };
        let (err, body) = match answer {
            Ok(body) => (0, body),
            Err(code) => (code.code(), Response::Empty),
        };
        actions.push(Action::Reply {
            conn,
            xid,
            zxid,
            err,
            body,
        });
        actions
    }

    fn ids(&self, conn: ConnId) -> &[Id] {
        self.conns.get(&conn).map_or(&[], |c| c.ids.as_slice())
    }

    /// ACL check of `perm` on the node at `path`; `NoNode` if it is missing.
    fn readable(&self, conn: ConnId, path: &str, perm: i32) -> Result<(), ErrorCode> {
        let acl = self.tree.node_acl(path).ok_or(ErrorCode::NoNode)?;
        acl::check(&self.auth, acl, perm, self.ids(conn))
    }

    /// exists: READ is checked on an existing node (3.9.2); a missing node still gets the
    /// data watch (`DataTree.statNode` adds it before looking).
    fn exists(&mut self, conn: ConnId, r: &PathWatchRequest) -> Answer {
        if r.path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        if self.tree.node(&r.path).is_some() {
            self.readable(conn, &r.path, perms::READ)?;
        }
        if r.watch {
            self.watches.add_data_watch(&r.path, conn);
        }
        self.tree
            .stat(&r.path)
            .map(Response::Stat)
            .ok_or(ErrorCode::NoNode)
    }

    fn get_data(&mut self, conn: ConnId, r: &PathWatchRequest) -> Answer {
        self.readable(conn, &r.path, perms::READ)?;
        if r.watch {
            self.watches.add_data_watch(&r.path, conn);
        }
        let node = self.tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
        Ok(Response::GetData {
            data: node.data().map(<[u8]>::to_vec),
            stat: self.tree.client_stat(node),
        })
    }

    /// Children come in ZooKeeper's HashSet order (`DataTree.children_in_zookeeper_order`).
    fn get_children(
        &mut self,
        conn: ConnId,
        r: &PathWatchRequest,
    ) -> Result<(Vec<String>, paddock_jute::Stat), ErrorCode> {
        self.readable(conn, &r.path, perms::READ)?;
        if r.watch {
            self.watches.add_child_watch(&r.path, conn);
        }
        let id = self.tree.node_id(&r.path).ok_or(ErrorCode::NoNode)?;
        let node = self.tree.get(id).ok_or(ErrorCode::NoNode)?;
        Ok((
            self.tree.children_in_zookeeper_order(id),
            self.tree.client_stat(node),
        ))
    }

    /// getACL needs READ or ADMIN; without ADMIN, digest ids are masked to `user:x`.
    fn get_acl(&self, conn: ConnId, path: &str) -> Answer {
        self.readable(conn, path, perms::READ | perms::ADMIN)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        let mut acl = self.tree.acl_list(node.acl_key()).to_vec();
        if self.readable(conn, path, perms::ADMIN).is_err() {
            for a in acl.iter_mut().filter(|a| a.id.scheme == "digest") {
                if let Some(i) = a.id.id.find(':') {
                    a.id.id = format!("{}:x", &a.id.id[..i]);
                }
            }
        }
        Ok(Response::GetAcl {
            acl,
            stat: self.tree.client_stat(node),
        })
    }

    fn all_children_number(&self, conn: ConnId, path: &str) -> Answer {
        self.readable(conn, path, perms::READ)?;
        let total_number = self
            .tree
            .all_children_number(path)
            .ok_or(ErrorCode::NoNode)?;
        Ok(Response::GetAllChildrenNumber { total_number })
    }

    /// The caller session's ephemerals under a string prefix; a blank prefix or `/` means all.
    /// Sorted (ZooKeeper returns its HashSet's order).
    fn get_ephemerals(&self, session: i64, prefix: &str) -> Response {
        // Java's String.trim strips every char up to U+0020.
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        let all = trimmed.is_empty() || trimmed == "/";
        let ephemerals = self
            .tree
            .ephemerals(session)
            .into_iter()
            .filter(|p| all || p.starts_with(prefix))
            .collect();
        Response::GetEphemerals { ephemerals }
    }

    /// multiRead: each op answered on its own, errors as results; a non-read op fails the
    /// whole request ("Invalid type of readOp", a MarshallingError).
    fn multi_read(&mut self, conn: ConnId, ops: &[MultiOp]) -> Answer {
        if ops
            .iter()
            .any(|op| !matches!(op, MultiOp::GetData(_) | MultiOp::GetChildren(_)))
        {
            return Err(ErrorCode::MarshallingError);
        }
        let results = ops
            .iter()
            .map(|op| {
                let result = match op {
                    MultiOp::GetData(r) => self.get_data(conn, r).map(|resp| match resp {
                        Response::GetData { data, stat } => OpResult::GetData { data, stat },
                        _ => unreachable!("get_data answers GetData"),
                    }),
                    MultiOp::GetChildren(r) => self
                        .get_children(conn, r)
                        .map(|(children, _)| OpResult::GetChildren { children }),
                    _ => unreachable!("filtered above"),
                };
                result.unwrap_or_else(|code| OpResult::Error { err: code.code() })
            })
            .collect();
        Ok(Response::Multi(results))
    }

    /// `AuthUtil.getClientInfos`: the user of a digest id is its name part; `super` has no
    /// provider, so its user is empty.
    fn who_am_i(&self, conn: ConnId) -> Response {
        let client_info = self
            .ids(conn)
            .iter()
            .map(|id| {
                let user = match id.scheme.as_str() {
                    "digest" => id.id.split(':').next().unwrap_or_default().to_owned(),
                    "super" => String::new(),
                    _ => id.id.clone(),
                };
                ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user,
                }
            })
            .collect();
        Response::WhoAmI { client_info }
    }

    /// `DataTree.setWatches`: changes missed since `relativeZxid` fire at once (with zxid -1,
    /// unfiltered by ACL, as `ServerCnxn.process(WatchedEvent)` does); the rest are
    /// registered. Persistent watches are only re-added.
    fn set_watches(&mut self, conn: ConnId, w: &SetWatches2) -> Vec<Action> {
        let rel = w.relative_zxid;
        let mut out = Vec::new();
        for p in &w.data_watches {
            match self.tree.node(p) {
                None => out.push(notify(conn, -1, EventType::NodeDeleted, p)),
                Some(n) if n.stat().mzxid > rel => {
                    out.push(notify(conn, -1, EventType::NodeDataChanged, p))
                }
                Some(_) => self.watches.add_data_watch(p, conn),
            }
        }
        for p in &w.exist_watches {
            if self.tree.node(p).is_some() {
                out.push(notify(conn, -1, EventType::NodeCreated, p));
            } else {
                self.watches.add_data_watch(p, conn);
            }
        }
        for p in &w.child_watches {
            match self.tree.node(p) {
                None => out.push(notify(conn, -1, EventType::NodeDeleted, p)),
                Some(n) if n.stat().pzxid > rel => {
                    out.push(notify(conn, -1, EventType::NodeChildrenChanged, p))
                }
                Some(_) => self.watches.add_child_watch(p, conn),
            }
        }
        for p in &w.persistent_watches {
            self.watches
                .add_persistent_watch(p, conn, AddWatchMode::Persistent);
        }
        for p in &w.persistent_recursive_watches {
            self.watches
                .add_persistent_watch(p, conn, AddWatchMode::PersistentRecursive);
        }
        out
    }

    /// checkWatches / removeWatches: NoWatcher when the connection holds no such watch; an
    /// unknown watcher type fails in `WatcherType.fromInt` (MarshallingError).
    fn watch_request(&mut self, conn: ConnId, r: &WatchesRequest, remove: bool) -> Answer {
        let kind =
            WatcherType::try_from(r.watcher_type).map_err(|_| ErrorCode::MarshallingError)?;
        let found = if remove {
            self.watches.remove(&r.path, conn, kind)
        } else {
            self.watches.contains(&r.path, conn, kind)
        };
        if found {
            Ok(Response::Empty)
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }
}
