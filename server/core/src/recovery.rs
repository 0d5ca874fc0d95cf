//! Durability hooks of the state machine: abandoning a proposal the log could not take,
//! fuzzy snapshots in chunks, loading a snapshot and replaying the log after it.
//!
//! Recovery follows ZooKeeper's: `FileTxnSnapLog.restore` loads the newest snapshot
//! (`DataTree.deserialize`) with its sessions, then `fastForwardFromEdits` hands every logged
//! txn after the snapshot's zxid to `processTransaction` / `DataTree.processTxn`, which
//! ignores failures (a fuzzy snapshot may already hold a change) and repairs a parent's
//! cversion when a create finds its node present. `ZooKeeperServer.loadData` then kills the
//! sessions that own ephemerals but are not live, and the session tracker starts every
//! restored session with a full timeout.

use paddock_jute::txn::{Txn, TxnDigest, TxnHeader, ZxidDigest};
use paddock_jute::{Acl, ErrorCode, StatPersisted};

use crate::digest::DigestLog;
use crate::path;
use crate::snapshot::{LoadError, SnapNode, SnapshotCursor};
use crate::state::{Proposal, State};
use crate::tree::{DataTree, LoadStack};
use crate::CoreConfig;

/// Builds a `State` from a snapshot streamed node by node (`State::from_snapshot` over an
/// iterator, or by hand when nodes come from a decoder that can fail).
#[derive(Debug)]
pub struct SnapshotLoader {
    state: State,
    at: LoadStack,
}

impl SnapshotLoader {
    /// Starts a load: the snapshot's zxid (its name), its sessions with their timeouts (each
    /// restored live, expiring one timeout after `now_ms`) and its ACL map.
    pub fn new(
        cfg: CoreConfig,
        now_ms: i64,
        zxid: i64,
        sessions: &[(i64, i32)],
        acls: impl IntoIterator<Item = (i64, Vec<Acl>)>,
    ) -> Self {
        let extended_types = cfg.extended_types_enabled;
        let mut state = State::new(cfg, now_ms);
        state.tree = DataTree::for_load(extended_types, acls);
        for &(id, timeout_ms) in sessions {
            state.sessions.add(id, timeout_ms, now_ms);
        }
        state.last_zxid = zxid;
        state.prepared_zxid = zxid;
        SnapshotLoader {
            state,
            at: LoadStack::default(),
        }
    }

    /// Room for `nodes` more nodes, when the caller knows how many are coming: the node
    /// table is then sized once instead of growing through every doubling.
    pub fn reserve(&mut self, nodes: usize) {
        self.state.tree.reserve_nodes(nodes);
    }

    /// The next node in snapshot order (root `""` first, parents before children).
    pub fn add_node(&mut self, path: String, node: SnapNode) -> Result<(), LoadError> {
        self.add(&path, node.data.as_deref(), node.acl, node.stat)
    }

    /// `add_node` from borrowed parts, for a decoder that parses in place: the node's name
    /// and data are copied into one allocation either way.
    pub fn add(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: i64,
        stat: StatPersisted,
    ) -> Result<(), LoadError> {
        self.state
            .tree
            .load_node(&mut self.at, path, data, acl, stat)
    }

    /// Completes the tree (quotas, unused ACLs). Replay the log next.
    pub fn finish(self) -> Result<State, LoadError> {
        self.finish_with_digest(None)
    }

    /// `finish` for a snapshot that ends with the tree digest `recorded`: compared now if
    /// it is as of the snapshot's own zxid, else once replay reaches its zxid (see
    /// `DigestLog::after_snapshot`).
    pub fn finish_with_digest(mut self, recorded: Option<ZxidDigest>) -> Result<State, LoadError> {
        self.state.tree.finish_load(self.at)?;
        let state = &mut self.state;
        state.digests = DigestLog::after_snapshot(state.last_zxid, recorded, state.tree.digest());
        Ok(self.state)
    }
}

impl State {
    /// Takes back the last prepared proposal, which the log could not take (a full disk):
    /// its zxid is handed out again, a new session's id is returned, and a closing session
    /// takes requests again (an expired one is retried at the next tick). Only the last
    /// prepared proposal can be abandoned, before it is applied; a batch from `tick` is
    /// abandoned last first.
    pub fn abandon(&mut self, proposal: &Proposal) {
        let zxid = proposal.hdr.zxid;
        assert!(
            zxid == self.prepared_zxid && zxid > self.last_zxid,
            "abandoning zxid {zxid:#x}, but the last prepared is {:#x} and the last applied {:#x}",
            self.prepared_zxid,
            self.last_zxid
        );
        self.prepared_zxid = zxid - 1;
        self.unqueue_last_write(proposal.hdr.client_id, proposal.hdr.cxid);
        self.outstanding.abandon(zxid);
        let now_ms = proposal.hdr.time - self.wall_offset_ms;
        match proposal.txn {
            Txn::CreateSession(_) => self.sessions.give_back_id(proposal.hdr.client_id),
            Txn::CloseSession(_) => self.sessions.reopen(proposal.hdr.client_id, now_ms),
            _ => {}
        }
    }

    /// The tree digest after the last applied txn (`DataTree.getTreeDigest`): what
    /// ZooKeeper writes as `TxnDigest.treeDigest` after each logged txn and in a snapshot's
    /// `ZxidDigest`, with version `digest::DIGEST_VERSION`.
    pub fn tree_digest(&self) -> i64 {
        self.tree.digest()
    }

    /// The digests recorded as txns applied, and the checks of loaded ones.
    pub fn digest_log(&self) -> &DigestLog {
        &self.digests
    }

    /// `DataTree.compareDigest` after `replay` of the txn of `zxid`: the `TxnDigest` logged
    /// with it against the tree now.
    pub fn check_logged_digest(&mut self, zxid: i64, logged: &TxnDigest) {
        let tree = self.tree.digest();
        self.digests.check_logged(zxid, logged, tree);
    }

    /// Begins a fuzzy snapshot named after the last applied zxid, recording the sessions and
    /// the ACL map now. Feed the cursor to `snapshot_next` between requests.
    pub fn snapshot_begin(&self) -> SnapshotCursor {
        SnapshotCursor::new(self.last_zxid, self.sessions.sessions(), &self.tree)
    }

    /// The next up to `max_nodes` nodes of the snapshot, in pre-order with the root as `""`;
    /// empty once the cursor is done. The tree may change between calls (see `snapshot`).
    pub fn snapshot_next(
        &self,
        cursor: &mut SnapshotCursor,
        max_nodes: usize,
    ) -> Vec<(String, SnapNode)> {
        cursor.next_chunk(&self.tree, max_nodes)
    }

    /// `snapshot_next`, ending the chunk early once its data reaches `max_bytes` (at least
    /// one node per call).
    pub fn snapshot_next_within(
        &self,
        cursor: &mut SnapshotCursor,
        max_nodes: usize,
        max_bytes: usize,
    ) -> Vec<(String, SnapNode)> {
        cursor.next_chunk_within(&self.tree, max_nodes, max_bytes)
    }

    /// Loads a snapshot (`DataTree.deserialize` and the sessions `FileSnap` reads): checks
    /// that every parent comes before its children and rebuilds children, the ephemeral,
    /// container and TTL indexes, quotas and ACL references. Then `replay` the log after
    /// `zxid` and call `recovery_done`.
    pub fn from_snapshot(
        cfg: CoreConfig,
        now_ms: i64,
        zxid: i64,
        sessions: &[(i64, i32)],
        acls: impl IntoIterator<Item = (i64, Vec<Acl>)>,
        nodes: impl IntoIterator<Item = (String, SnapNode)>,
    ) -> Result<State, LoadError> {
        let mut loader = SnapshotLoader::new(cfg, now_ms, zxid, sessions, acls);
        let nodes = nodes.into_iter();
        loader.reserve(nodes.size_hint().0);
        for (path, node) in nodes {
            loader.add_node(path, node)?;
        }
        loader.finish()
    }

    /// Applies one logged txn during recovery (`FileTxnSnapLog.processTransaction`): no
    /// replies or notifications, failures ignored, zxids at or below the last applied one
    /// skipped. A restored session expires one timeout after the state was made.
    pub fn replay(&mut self, hdr: &TxnHeader, txn: &Txn) {
        if hdr.zxid <= self.last_zxid {
            return;
        }
        let mut events = Vec::new();
        match txn {
            Txn::CreateSession(t) => {
                self.sessions
                    .add(hdr.client_id, t.time_out, self.started_at_ms);
            }
            Txn::CloseSession(t) => {
                self.kill_session(hdr.client_id, hdr.zxid, &t.paths2_delete, &mut events);
            }
            Txn::Error(_) | Txn::Check(_) => {}
            Txn::Multi(txns) => {
                // A multi holding an error txn was not applied (DataTree.processTxn).
                if !txns.iter().any(|t| matches!(t, Txn::Error(_))) {
                    for sub in txns {
                        self.replay_op(hdr, sub.clone());
                    }
                }
            }
            txn => self.replay_op(hdr, txn.clone()),
        }
        self.last_zxid = hdr.zxid;
        self.prepared_zxid = self.prepared_zxid.max(hdr.zxid);
        self.digests.applied(hdr.zxid, self.tree.digest());
    }

    /// One data txn of a replay. A plain create (opcode `create`, also inside a multi) that
    /// finds its node present still raises the parent's cversion and pzxid to the txn's:
    /// the node was caught by a fuzzy snapshot after being deleted and recreated by another
    /// session (DataTree.processTxn, "Adjusting parent cversion").
    fn replay_op(&mut self, hdr: &TxnHeader, txn: Txn) {
        let fix_up = match &txn {
            Txn::Create(t) => Some((t.path.clone(), t.parent_c_version)),
            _ => None,
        };
        let mut events = Vec::new();
        let result = self.apply_op(hdr, txn, &mut events);
        if let (Err(ErrorCode::NodeExists), Some((path, cversion))) = (result, fix_up) {
            if let Some(parent) = path::parent_raw(&path) {
                // "Failed to set parent cversion": ZooKeeper only logs a missing parent.
                let _ = self.tree.set_cversion_pzxid(parent, cversion, hdr.zxid);
            }
        }
    }

    /// Ends recovery (`ZooKeeperServer.loadData`): sessions that own ephemerals but are not
    /// live are killed without a txn, at the last zxid, and every live session gets a full
    /// timeout from `now_ms`. ZooKeeper takes a snapshot right after; so should the caller.
    pub fn recovery_done(&mut self, now_ms: i64) {
        let mut events = Vec::new();
        let dead: Vec<i64> = self
            .tree
            .ephemeral_owners()
            .into_iter()
            .filter(|s| !self.sessions.contains(*s))
            .collect();
        for session in dead {
            self.kill_session(session, self.last_zxid, &[], &mut events);
        }
        self.sessions.restart_clocks(now_ms);
        self.next_sweep_ms = now_ms + self.cfg.container_check_interval_ms;
    }
}
