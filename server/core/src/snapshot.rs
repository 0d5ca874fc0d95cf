//! Fuzzy snapshots of the data tree, taken in chunks between requests, and the errors of
//! loading one (`DataTree.serialize` / `deserialize`, `FileSnap`).
//!
//! A ZooKeeper snapshot is fuzzy: it is written while transactions keep being applied, and
//! replaying the log from the snapshot's zxid (its name, the last zxid applied when it began)
//! repairs whatever changed meanwhile. Paddock takes it in chunks on the core task: a
//! `SnapshotCursor` remembers the last path it emitted, and each chunk resumes at the next
//! path in pre-order (children by name), so every parent comes before its children whatever
//! was created or deleted between chunks.
//!
//! Which nodes a chunk emits, and why replay then rebuilds the exact tree:
//! - A node created after the snapshot began (czxid above the snapshot's zxid) is skipped,
//!   and so is its subtree (children are always created after their parent). ZooKeeper gets
//!   the same effect by copying each node's child list when it serializes the node; replaying
//!   the create recreates the node with its true stat.
//! - Every other node is emitted as it is when the cursor reaches it, or not at all if it was
//!   deleted by then. Each replayed txn then either redoes a change (setData and setACL store
//!   the txn's versions and times; creates and deletes of absent nodes are redone) or does
//!   nothing (a create whose parent's cversion is already as high, a delete of an absent node,
//!   a pzxid that would move back), as `DataTree.processTxn` does during recovery.
//! - ACL keys: the cursor keeps the ACL map as it was when the snapshot began, because the
//!   file format puts the map before the nodes. A node can only hold a key created after that
//!   if a setACL after the snapshot's zxid gave it a new list; such a node is emitted with
//!   the open key -1 instead, and replaying that setACL restores its list. Keys are never
//!   reused, so any older key a node holds is in the map.
//! - Sessions are taken when the snapshot begins; replaying createSession and closeSession
//!   brings them up to date.
//!
//! After the last chunk the writer appends the digest (`ZxidDigest`) of `State::last_zxid`
//! and `State::tree_digest` at that moment, as ZooKeeper writes its digest after the tree:
//! replaying up to that zxid reproduces that digest.

use std::ops::Bound;

use paddock_jute::{Acl, StatPersisted};

use crate::acl::AclCache;
pub use crate::recovery::SnapshotLoader;
use crate::tree::{DataTree, Node};

/// One znode as a snapshot stores it (`DataNode`'s record: data, ACL key, persisted stat).
/// `stat.cversion` counts child creates, as ZooKeeper stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapNode {
    /// `None` is a null buffer.
    pub data: Option<Vec<u8>>,
    /// A key of the snapshot's ACL map, or -1 for `OPEN_ACL_UNSAFE`.
    pub acl: i64,
    pub stat: StatPersisted,
}

/// A snapshot being taken: what was recorded when it began, and where the next chunk
/// resumes. Made by `State::snapshot_begin`, advanced by `State::snapshot_next`.
#[derive(Debug, Clone)]
pub struct SnapshotCursor {
    zxid: i64,
    sessions: Vec<(i64, i32)>,
    acls: Vec<(i64, Vec<Acl>)>,
    /// Keys above this were created after the snapshot began.
    last_acl_key: i64,
    /// The last emitted path (`""` is the root); `None` before the first chunk.
    last: Option<String>,
    done: bool,
    emitted: u64,
}

impl SnapshotCursor {
    pub(crate) fn new(zxid: i64, sessions: Vec<(i64, i32)>, tree: &DataTree) -> Self {
        let cache = tree.acl_cache();
        let acls = cache
            .entries()
            .into_iter()
            .map(|(key, list, _)| (key, list.to_vec()))
            .collect();
        SnapshotCursor {
            zxid,
            sessions,
            acls,
            last_acl_key: cache.last_key(),
            last: None,
            done: false,
            emitted: 0,
        }
    }

    /// The last applied zxid when the snapshot began: the snapshot's name
    /// (`snapshot.<zxid hex>`), and where log replay starts (exclusive).
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// Sessions and their timeouts when the snapshot began, in id order.
    pub fn sessions(&self) -> &[(i64, i32)] {
        &self.sessions
    }

    /// The ACL map when the snapshot began, by ascending key.
    pub fn acls(&self) -> &[(i64, Vec<Acl>)] {
        &self.acls
    }

    /// Whether every node has been emitted.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Nodes emitted so far.
    pub fn nodes_emitted(&self) -> u64 {
        self.emitted
    }

    /// Up to `max_nodes` more nodes in pre-order; empty once done.
    pub(crate) fn next_chunk(
        &mut self,
        tree: &DataTree,
        max_nodes: usize,
    ) -> Vec<(String, SnapNode)> {
        let mut out = Vec::with_capacity(max_nodes.min(4096));
        while out.len() < max_nodes && !self.done {
            let next = match &self.last {
                None => Some(String::new()),
                Some(last) => self.successor(tree, last),
            };
            let Some(path) = next else {
                self.done = true;
                break;
            };
            if let Some(node) = tree.node(&path) {
                out.push((path.clone(), self.snap_node(node)));
                self.emitted += 1;
            }
            self.last = Some(path);
        }
        out
    }

    fn snap_node(&self, node: &Node) -> SnapNode {
        let acl = if node.acl > self.last_acl_key {
            AclCache::OPEN_UNSAFE_KEY
        } else {
            node.acl
        };
        SnapNode {
            data: node.data.clone(),
            acl,
            stat: node.stat,
        }
    }

    /// Whether a node belongs in this snapshot: it existed when the snapshot began.
    fn keeps(&self, node: &Node) -> bool {
        node.stat.czxid <= self.zxid
    }

    /// The first child of `parent` named after `after` (or the first at all) that the
    /// snapshot keeps, as a full path.
    fn first_child(&self, tree: &DataTree, parent: &str, after: Option<&str>) -> Option<String> {
        let node = tree.node(parent)?;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        node.children
            .range::<str, _>((lower, Bound::Unbounded))
            .map(|name| format!("{parent}/{name}"))
            .find(|path| tree.node(path).is_some_and(|n| self.keeps(n)))
    }

    /// The path after `last` in pre-order among the nodes the tree holds now: its first kept
    /// child, else the next kept sibling of it or of its nearest ancestor that has one.
    /// `last` or its ancestors may have been deleted since; then the climb simply starts
    /// from the nearest one that still exists.
    fn successor(&self, tree: &DataTree, last: &str) -> Option<String> {
        if let Some(child) = self.first_child(tree, last, None) {
            return Some(child);
        }
        let mut current = last;
        while let Some(slash) = current.rfind('/') {
            let (parent, name) = (&current[..slash], &current[slash + 1..]);
            if let Some(next) = self.first_child(tree, parent, Some(name)) {
                return Some(next);
            }
            current = parent;
        }
        None
    }
}

/// Why a snapshot could not be loaded. ZooKeeper refuses such a snapshot with an
/// `IOException` ("Invalid Datatree, unable to find parent ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the snapshot does not start with the root node \"\"")]
    RootNotFirst,
    #[error("snapshot node {path:?} comes before its parent")]
    MissingParent { path: String },
    #[error("snapshot node {path:?} appears twice")]
    Duplicate { path: String },
    #[error("snapshot node path {path:?} is not absolute")]
    InvalidPath { path: String },
}
