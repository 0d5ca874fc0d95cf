//! Turning write requests into transactions (`PrepRequestProcessor.pRequest2Txn`).
//!
//! Checks run in ZooKeeper's order, because the first failing check decides the error code a
//! client sees. Each request is prepared against the tree plus two overlays (ZooKeeper's
//! `outstandingChanges`): the changes made by earlier ops of the same multi, so that
//! `create /a` then `create /a/b` in one multi works, and the changes of transactions prepared
//! but not yet applied ([`Outstanding`]), so that a leader can prepare the next write while
//! the previous ones wait for their quorum, and a standalone server while the previous ones
//! wait for their fsync.

use std::collections::VecDeque;
use std::sync::Arc;

use paddock_jute::proto::{CreateRequest, CreateTtlRequest, MultiOp};
use paddock_jute::txn::{
    CheckVersionTxn, CreateContainerTxn, CreateTtlTxn, CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn,
    SetDataTxn, Txn,
};
use paddock_jute::{perms, Acl, CreateMode, ErrorCode, Id, OpCode, StatPersisted};

use crate::acl::{self, AuthConfig};
use crate::fasthash::HashMap;
use crate::path;
use crate::tree::{self, DataTree, NodeKind};

/// What prepare needs to know about a node (`PrepRequestProcessor.ChangeRecord`).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    stat: StatPersisted,
    child_count: i32,
    acl: Arc<[Acl]>,
    data_len: i64,
}

/// What one prepared request changes, by path (`None`: deleted). The paths are shared with
/// [`Outstanding`], which keeps them until the transaction is applied.
pub(crate) type OutstandingChanges = HashMap<Arc<str>, Option<Record>>;

/// The paths one transaction changed: nearly always one, kept without a `Vec`.
#[derive(Debug)]
enum ChangedPaths {
    One(Arc<str>),
    Many(Vec<Arc<str>>),
}

impl ChangedPaths {
    fn as_slice(&self) -> &[Arc<str>] {
        match self {
            ChangedPaths::One(path) => std::slice::from_ref(path),
            ChangedPaths::Many(paths) => paths,
        }
    }
}

/// Changes of transactions prepared and not yet applied, by path, each with the zxid of the
/// transaction that made it (`ZooKeeperServer.outstandingChanges` and
/// `outstandingChangesForPath`).
#[derive(Debug, Default)]
pub(crate) struct Outstanding {
    by_path: HashMap<Arc<str>, (i64, Option<Record>)>,
    /// The paths each zxid changed, in zxid order, to forget them once applied.
    by_zxid: VecDeque<(i64, ChangedPaths)>,
}

impl Outstanding {
    fn get(&self, path: &str) -> Option<&Option<Record>> {
        self.by_path.get(path).map(|(_, record)| record)
    }

    /// Records what the transaction `zxid` changed.
    pub(crate) fn add(&mut self, zxid: i64, changes: OutstandingChanges) {
        if changes.is_empty() {
            return;
        }
        assert!(
            self.by_zxid.back().is_none_or(|(last, _)| *last < zxid),
            "outstanding changes out of zxid order at {zxid:#x}"
        );
        let paths = match changes.keys().next() {
            Some(path) if changes.len() == 1 => ChangedPaths::One(path.clone()),
            _ => ChangedPaths::Many(changes.keys().cloned().collect()),
        };
        for (path, record) in changes {
            self.by_path.insert(path, (zxid, record));
        }
        self.by_zxid.push_back((zxid, paths));
    }

    /// Forgets the changes of transactions up to `zxid`, which are now in the tree; a path
    /// changed again by a later transaction keeps that later change
    /// (`FinalRequestProcessor.processRequest`).
    pub(crate) fn applied(&mut self, zxid: i64) {
        while self.by_zxid.front().is_some_and(|(z, _)| *z <= zxid) {
            let Some((z, paths)) = self.by_zxid.pop_front() else {
                break;
            };
            for path in paths.as_slice() {
                if self.by_path.get(path).is_some_and(|(at, _)| *at == z) {
                    self.by_path.remove(path);
                }
            }
        }
    }

    /// The ephemerals a closeSession of `session` deletes (`PrepRequestProcessor`, case
    /// closeSession): the tree's, `listed` (in the order of a clone of the session's set),
    /// without those an outstanding change deleted or gave to another owner, and with the
    /// session's ephemerals whose creates are outstanding, added in zxid order (ZooKeeper
    /// walks its outstanding change records; only the newest per path is kept here, and the
    /// paths of one txn go in name order).
    pub(crate) fn session_ephemerals(&self, session: i64, listed: Vec<String>) -> Vec<String> {
        let owned = |record: &Option<Record>| {
            record
                .as_ref()
                .is_some_and(|r| r.stat.ephemeral_owner == session)
        };
        let mut added: Vec<(i64, &str)> = self
            .by_path
            .iter()
            .map(|(path, (zxid, record))| (*zxid, &**path, record))
            .filter(|(_, path, record)| owned(record) && !listed.iter().any(|l| l == path))
            .map(|(zxid, path, _)| (zxid, path))
            .collect();
        added.sort();
        let added = added.into_iter().map(|(_, p)| p.to_owned()).collect();
        let removed = |path: &str| self.by_path.get(path).is_some_and(|(_, r)| !owned(r));
        crate::javahash::clone_after_changes(listed, removed, added)
    }

    /// Takes back the changes of `zxid`, the last prepared transaction, which was abandoned.
    pub(crate) fn abandon(&mut self, zxid: i64) {
        if self.by_zxid.back().is_some_and(|(z, _)| *z == zxid) {
            if let Some((_, paths)) = self.by_zxid.pop_back() {
                for path in paths.as_slice() {
                    self.by_path.remove(path);
                }
            }
        }
    }
}

/// One request being prepared: who asks, with which zxid and time, and the overlay.
pub(crate) struct Prep<'a> {
    pub tree: &'a DataTree,
    outstanding: &'a Outstanding,
    pub auth: &'a AuthConfig,
    pub ids: &'a [Id],
    pub session: i64,
    pub zxid: i64,
    pub time: i64,
    pub extended_types: bool,
    pub enforce_quota: bool,
    /// Later ops of a multi see earlier ones; `None` marks a node deleted by an earlier op.
    overlay: OutstandingChanges,
}

type Prepared = Result<Txn, ErrorCode>;

impl<'a> Prep<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tree: &'a DataTree,
        outstanding: &'a Outstanding,
        auth: &'a AuthConfig,
        ids: &'a [Id],
        session: i64,
        zxid: i64,
        time: i64,
        extended_types: bool,
        enforce_quota: bool,
    ) -> Self {
        Prep {
            tree,
            outstanding,
            auth,
            ids,
            session,
            zxid,
            time,
            extended_types,
            enforce_quota,
            overlay: HashMap::default(),
        }
    }

    /// `getRecordForPath`: this request's overlay, the outstanding changes, then the tree (where `""` is the root).
    fn record(&self, path: &str) -> Result<Record, ErrorCode> {
        if let Some(entry) = self
            .overlay
            .get(path)
            .or_else(|| self.outstanding.get(path))
        {
            return entry.clone().ok_or(ErrorCode::NoNode);
        }
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        Ok(Record {
            stat: *node.stat(),
            child_count: node.num_children() as i32,
            acl: self.tree.acl_shared(node.acl_key()),
            data_len: node.data_len(),
        })
    }

    /// The changes this request made, to become outstanding under its zxid.
    pub fn into_changes(self) -> OutstandingChanges {
        self.overlay
    }

    fn check_acl(&self, acl: &[Acl], perm: i32) -> Result<(), ErrorCode> {
        acl::check(self.auth, acl, perm, self.ids)
    }

    fn kind(&self, stat: &StatPersisted) -> NodeKind {
        NodeKind::of(stat.ephemeral_owner, self.extended_types)
    }

    /// A multi: ops in order; on the first failure that op becomes an error txn and every later
    /// op `RuntimeInconsistency`, while earlier ops keep their txns (ZooKeeper logs them so;
    /// `DataTree.processTxn` turns them into `ErrorTxn(0)` when it applies the multi).
    pub fn multi(&mut self, ops: Vec<MultiOp>) -> Prepared {
        let mut txns = Vec::with_capacity(ops.len());
        // Each op records its node, and a create or delete its parent too.
        self.overlay.reserve(ops.len());
        let mut failed = false;
        for op in ops {
            if failed {
                txns.push(error_txn(ErrorCode::RuntimeInconsistency));
                continue;
            }
            match self.op(op) {
                Ok(txn) => txns.push(txn),
                Err(code) if code == ErrorCode::MarshallingError => return Err(code),
                Err(code) => {
                    failed = true;
                    txns.push(error_txn(code));
                }
            }
        }
        Ok(Txn::Multi(txns))
    }

    /// One op of a multi. Read ops have no txn: ZooKeeper then fails serializing the multi
    /// and answers `MarshallingError` for the whole request.
    fn op(&mut self, op: MultiOp) -> Prepared {
        match op {
            MultiOp::Create { op, req } => self.create(op, req),
            MultiOp::CreateTtl(req) => self.create_ttl(req),
            MultiOp::Delete(r) => self.delete(&r.path, r.version),
            MultiOp::SetData(r) => self.set_data(&r.path, r.data, r.version),
            MultiOp::Check(r) => self.check(&r.path, r.version),
            MultiOp::GetData(_) | MultiOp::GetChildren(_) => Err(ErrorCode::MarshallingError),
        }
    }

    pub fn create(&mut self, op: OpCode, req: CreateRequest) -> Prepared {
        self.create_any(op, &req.path, req.data, &req.acl, req.flags, -1)
    }

    pub fn create_ttl(&mut self, req: CreateTtlRequest) -> Prepared {
        self.create_any(
            OpCode::CreateTtl,
            &req.path,
            req.data,
            &req.acl,
            req.flags,
            req.ttl,
        )
    }

    /// `pRequest2TxnCreate`.
    fn create_any(
        &mut self,
        op: OpCode,
        path: &str,
        data: Option<Vec<u8>>,
        acl: &[Acl],
        flags: i32,
        ttl: i64,
    ) -> Prepared {
        let mode = CreateMode::from_flags(flags)?;
        // validateCreateRequest, then EphemeralType.validateTTL.
        if mode.is_ttl() && !self.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_owner = if mode.is_ttl() {
            Some(tree::ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?)
        } else if ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        } else {
            None
        };
        // validatePathForCreate: only the slash and NUL checks come before the parent lookup.
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = path::parent_raw(path)
            .ok_or(ErrorCode::BadArguments)?
            .to_owned();
        let acl = acl::fixup_with(self.auth, acl, self.ids)?;
        let parent = self.record(&parent_path)?;
        self.check_acl(&parent.acl, perms::CREATE)?;
        let path = if mode.is_sequential() {
            format!("{path}{:010}", parent.stat.cversion)
        } else {
            path.to_owned()
        };
        path::validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        if self.record(&path).is_ok() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(self.kind(&parent.stat), NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let new_cversion = parent.stat.cversion.wrapping_add(1);
        let data_len = data.as_ref().map_or(0, |d| d.len() as i64);
        if self.enforce_quota {
            self.tree.check_quota(&path, data_len, 1)?;
        }
        let owner = if mode.is_container() {
            tree::CONTAINER_OWNER
        } else if let Some(owner) = ttl_owner {
            owner
        } else if mode.is_ephemeral() {
            self.session
        } else {
            0
        };
        self.note_create(
            &parent_path,
            parent,
            &path,
            owner,
            &acl,
            data_len,
            new_cversion,
        );
        Ok(match op {
            OpCode::CreateContainer => Txn::CreateContainer(CreateContainerTxn {
                path,
                data,
                acl,
                parent_c_version: new_cversion,
            }),
            OpCode::CreateTtl => Txn::CreateTtl(CreateTtlTxn {
                path,
                data,
                acl,
                parent_c_version: new_cversion,
                ttl,
            }),
            _ => {
                let txn = CreateTxn {
                    path,
                    data,
                    acl,
                    ephemeral: mode.is_ephemeral(),
                    parent_c_version: new_cversion,
                };
                if op == OpCode::Create {
                    Txn::Create(txn)
                } else {
                    Txn::Create2(txn)
                }
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn note_create(
        &mut self,
        parent_path: &str,
        mut parent: Record,
        path: &str,
        owner: i64,
        acl: &[Acl],
        data_len: i64,
        new_cversion: i32,
    ) {
        parent.child_count += 1;
        parent.stat.cversion = new_cversion;
        parent.stat.pzxid = self.zxid;
        self.overlay.insert(Arc::from(parent_path), Some(parent));
        let stat = StatPersisted {
            czxid: self.zxid,
            mzxid: self.zxid,
            ctime: self.time,
            mtime: self.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: self.zxid,
        };
        let node = Record {
            stat,
            child_count: 0,
            acl: Arc::from(acl),
            data_len,
        };
        self.overlay.insert(Arc::from(path), Some(node));
    }

    /// A closeSession's change records: each of `paths` deleted, and its parent's pzxid set
    /// (ZooKeeper records the parent with the digest enabled, its default; its child count
    /// stays as it was).
    pub fn close_session(&mut self, paths: &[String]) {
        for path in paths {
            if let Some(parent_path) = path::parent_raw(path) {
                if let Ok(mut parent) = self.record(parent_path) {
                    parent.stat.pzxid = self.zxid;
                    self.overlay.insert(Arc::from(parent_path), Some(parent));
                }
            }
            self.overlay.insert(Arc::from(path.as_str()), None);
        }
    }

    /// `getParentPathAndValidate`: deletes check only for a slash, NUL and the built-in nodes.
    fn parent_for_delete(path: &str) -> Result<String, ErrorCode> {
        if path.contains('\0') || DataTree::is_special_path(path) {
            return Err(ErrorCode::BadArguments);
        }
        path::parent_raw(path)
            .map(str::to_owned)
            .ok_or(ErrorCode::BadArguments)
    }

    fn note_delete(&mut self, parent_path: String, mut parent: Record, path: &str) {
        parent.child_count -= 1;
        parent.stat.pzxid = self.zxid;
        self.overlay.insert(Arc::from(parent_path), Some(parent));
        self.overlay.insert(Arc::from(path), None);
    }

    pub fn delete(&mut self, path: &str, version: i32) -> Prepared {
        let parent_path = Self::parent_for_delete(path)?;
        let parent = self.record(&parent_path)?;
        self.check_acl(&parent.acl, perms::DELETE)?;
        let node = self.record(path)?;
        check_version(node.stat.version, version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.note_delete(parent_path, parent, path);
        Ok(Txn::Delete(DeleteTxn {
            path: path.to_owned(),
        }))
    }

    /// deleteContainer: no ACL check; refuses only a normal ephemeral (with BadVersion, as
    /// ZooKeeper does).
    pub fn delete_container(&mut self, path: &str) -> Prepared {
        let parent_path = Self::parent_for_delete(path)?;
        let node = self.record(path)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if matches!(self.kind(&node.stat), NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::BadVersion);
        }
        let parent = self.record(&parent_path)?;
        self.note_delete(parent_path, parent, path);
        Ok(Txn::DeleteContainer(DeleteTxn {
            path: path.to_owned(),
        }))
    }

    pub fn set_data(&mut self, path: &str, data: Option<Vec<u8>>, version: i32) -> Prepared {
        path::validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let mut node = self.record(path)?;
        self.check_acl(&node.acl, perms::WRITE)?;
        let data_len = data.as_ref().map_or(0, |d| d.len() as i64);
        if self.enforce_quota {
            self.tree.check_quota(path, data_len - node.data_len, 0)?;
        }
        let new_version = check_version(node.stat.version, version)?;
        node.stat.version = new_version;
        node.stat.mtime = self.time;
        node.stat.mzxid = self.zxid;
        node.data_len = data_len;
        self.overlay.insert(Arc::from(path), Some(node));
        Ok(Txn::SetData(SetDataTxn {
            path: path.to_owned(),
            data,
            version: new_version,
        }))
    }

    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Prepared {
        path::validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let acl = acl::fixup_with(self.auth, acl, self.ids)?;
        let mut node = self.record(path)?;
        self.check_acl(&node.acl, perms::ADMIN)?;
        let new_version = check_version(node.stat.aversion, version)?;
        node.stat.aversion = new_version;
        self.overlay.insert(Arc::from(path), Some(node));
        Ok(Txn::SetAcl(SetAclTxn {
            path: path.to_owned(),
            acl,
            version: new_version,
        }))
    }

    /// The check op of a multi: READ on the node and its data version.
    pub fn check(&mut self, path: &str, version: i32) -> Prepared {
        path::validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.record(path)?;
        self.check_acl(&node.acl, perms::READ)?;
        let next = check_version(node.stat.version, version)?;
        Ok(Txn::Check(CheckVersionTxn {
            path: path.to_owned(),
            version: next,
        }))
    }
}

/// `checkAndIncVersion`: -1 matches any version; returns the next version.
fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

pub(crate) fn error_txn(code: ErrorCode) -> Txn {
    Txn::Error(ErrorTxn { err: code.code() })
}
