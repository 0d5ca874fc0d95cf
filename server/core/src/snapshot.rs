//! Fuzzy snapshots of the data tree, taken in chunks between requests, and the errors of
//! loading one (`DataTree.serialize` / `deserialize`, `FileSnap`).
//!
//! A ZooKeeper snapshot is fuzzy: it is written while transactions keep being applied, and
//! replaying the log from the snapshot's zxid (its name, the last zxid applied when it began)
//! repairs whatever changed meanwhile. Paddock takes it in chunks on the core task: a
//! `SnapshotCursor` walks the tree depth first, keeping for each level of the current path the
//! children still to visit, listed when it emitted their parent (as ZooKeeper copies a node's
//! child list when it serializes the node). Siblings come in ZooKeeper's own order, its
//! `HashSet` iteration order, so a reload inserts them as ZooKeeper's would and lists them
//! alike afterwards.
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

use paddock_jute::{Acl, StatPersisted};

use crate::acl::AclCache;
use crate::javahash;
use crate::nodes::NodeId;
pub use crate::recovery::SnapshotLoader;
use crate::tree::{DataTree, Node, ROOT_ID};

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
    /// The emitted nodes on the way from the root to the last one emitted, each with the
    /// children it still has to visit. Empty before the first chunk and once done.
    levels: Vec<Level>,
    /// The path of the deepest level (`""` for the root).
    path: String,
    started: bool,
    done: bool,
    emitted: u64,
}

/// One emitted node on the cursor's path.
#[derive(Debug, Clone)]
struct Level {
    id: NodeId,
    /// The length of this node's path in `SnapshotCursor::path`.
    path_len: usize,
    /// The children the snapshot keeps, in ZooKeeper's order, as they were when this node
    /// was emitted; `next` is the first not yet visited.
    children: Vec<NodeId>,
    next: usize,
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
            levels: Vec::new(),
            path: String::new(),
            started: false,
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
        self.next_chunk_within(tree, max_nodes, usize::MAX)
    }

    /// `next_chunk`, ending the chunk early once its nodes' data reaches `max_bytes` (at
    /// least one node per call): a chunk is copied out of the tree between two requests, and
    /// 256 nodes of 1 MiB each would hold the next request for a quarter of a gigabyte's copy.
    pub(crate) fn next_chunk_within(
        &mut self,
        tree: &DataTree,
        max_nodes: usize,
        max_bytes: usize,
    ) -> Vec<(String, SnapNode)> {
        let mut out = Vec::with_capacity(max_nodes.min(4096));
        let mut bytes = 0usize;
        if !self.started && max_nodes > 0 {
            self.started = true;
            let root = tree.get(ROOT_ID).expect("the root always exists");
            out.push((String::new(), self.snap_node(root)));
            self.emitted += 1;
            self.enter(tree, ROOT_ID, 0);
        }
        while out.len() < max_nodes && bytes < max_bytes && !self.done {
            let Some(level) = self.levels.last_mut() else {
                self.done = true;
                break;
            };
            let Some(&child) = level.children.get(level.next) else {
                self.levels.pop();
                continue;
            };
            level.next += 1;
            let (parent, parent_len) = (level.id, level.path_len);
            // The slot may have been freed, or reused by a node created since, which the
            // snapshot does not keep.
            let Some(node) = tree
                .get(child)
                .filter(|n| n.parent() == parent && self.keeps(n))
            else {
                continue;
            };
            self.path.truncate(parent_len);
            self.path.push('/');
            self.path.push_str(node.name());
            bytes = bytes.saturating_add(node.data_len() as usize);
            out.push((self.path.clone(), self.snap_node(node)));
            self.emitted += 1;
            self.enter(tree, child, self.path.len());
        }
        out
    }

    /// Makes the just emitted node `id` the deepest level, listing the children to visit.
    fn enter(&mut self, tree: &DataTree, id: NodeId, path_len: usize) {
        let Some(node) = tree.get(id) else { return };
        if node.num_children() == 0 {
            return;
        }
        let mut keyed: Vec<((NodeId, &str), u64)> = tree
            .children(id)
            .filter(|(_, child)| self.keeps(child))
            .enumerate()
            .map(|(i, (child, n))| ((child, n.name()), i as u64))
            .collect();
        javahash::order(&mut keyed, node.children_capacity(), |(_, name)| name);
        self.levels.push(Level {
            id,
            path_len,
            children: keyed.into_iter().map(|((child, _), _)| child).collect(),
            next: 0,
        });
    }

    fn snap_node(&self, node: &Node) -> SnapNode {
        let acl = if node.acl_key() > self.last_acl_key {
            AclCache::OPEN_UNSAFE_KEY
        } else {
            node.acl_key()
        };
        SnapNode {
            data: node.data().map(<[u8]>::to_vec),
            acl,
            stat: *node.stat(),
        }
    }

    /// Whether a node belongs in this snapshot: it existed when the snapshot began.
    fn keeps(&self, node: &Node) -> bool {
        node.stat().czxid <= self.zxid
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

#[cfg(test)]
mod tests {
    use super::*;

    fn create(t: &mut DataTree, path: &str, zxid: i64) {
        t.create_node(path, Some(vec![1]), &Acl::open_unsafe(), 0, -1, zxid, 0)
            .unwrap();
    }

    fn paths(chunk: &[(String, SnapNode)]) -> Vec<&str> {
        chunk.iter().map(|(p, _)| p.as_str()).collect()
    }

    // DataTree.serializeNode lists a node's children as its HashSet iterates them, so a file
    // Paddock writes has ZooKeeper's order, and a reload inserts children in that order.
    #[test]
    fn siblings_are_written_in_zookeeper_order() {
        let mut t = DataTree::new(Vec::new(), false);
        create(&mut t, "/p", 1);
        for (i, name) in ["zz", "a", "m1", "b7", "c"].iter().enumerate() {
            create(&mut t, &format!("/p/{name}"), 2 + i as i64);
        }
        let mut cursor = SnapshotCursor::new(10, Vec::new(), &t);
        let all = cursor.next_chunk(&t, usize::MAX);
        let written: Vec<&str> = paths(&all)
            .into_iter()
            .filter_map(|p| p.strip_prefix("/p/"))
            .collect();
        let listed = t.children_in_zookeeper_order(t.node_id("/p").unwrap());
        assert_eq!(written, listed);
        assert_ne!(written, t.child_names("/p"), "not insertion order here");
    }

    // A chunk ends once its data reaches the byte budget, but always holds a node; every
    // node is still written once, in the same order as without a budget.
    #[test]
    fn chunks_end_at_a_byte_budget() {
        let mut t = DataTree::new(Vec::new(), false);
        create(&mut t, "/p", 1);
        for i in 0..10 {
            t.create_node(
                &format!("/p/n{i}"),
                Some(vec![7; 1000]),
                &Acl::open_unsafe(),
                0,
                -1,
                2 + i,
                0,
            )
            .unwrap();
        }
        let whole = SnapshotCursor::new(20, Vec::new(), &t).next_chunk(&t, usize::MAX);
        let mut cursor = SnapshotCursor::new(20, Vec::new(), &t);
        let mut chunks = Vec::new();
        while !cursor.is_done() {
            let chunk = cursor.next_chunk_within(&t, 100, 2500);
            let data: usize = chunk
                .iter()
                .map(|(_, n)| n.data.as_ref().map_or(0, Vec::len))
                .sum();
            let last = chunk
                .last()
                .map_or(0, |(_, n)| n.data.as_ref().map_or(0, Vec::len));
            assert!(
                data - last < 2500,
                "only the node that crosses the budget goes over it"
            );
            chunks.push(chunk);
        }
        assert!(
            chunks.iter().filter(|c| !c.is_empty()).count() >= 4,
            "{}",
            chunks.len()
        );
        let joined: Vec<(String, SnapNode)> = chunks.into_iter().flatten().collect();
        assert_eq!(paths(&joined), paths(&whole));
        let tiny = SnapshotCursor::new(20, Vec::new(), &t).next_chunk_within(&t, 100, 0);
        assert_eq!(tiny.len(), 1, "at least one node per call");
    }

    // Between chunks a listed child can be deleted and its slot reused by a node created
    // after the snapshot began: that node is not written, the other children still are.
    #[test]
    fn a_reused_slot_between_chunks_is_not_written() {
        let mut t = DataTree::new(Vec::new(), false);
        create(&mut t, "/p", 1);
        create(&mut t, "/p/a", 2);
        create(&mut t, "/p/b", 3);
        let mut cursor = SnapshotCursor::new(3, Vec::new(), &t);
        // The root lists /p before /zookeeper (bucket order), so /p's children are listed
        // after two nodes.
        let first = cursor.next_chunk(&t, 2);
        assert_eq!(paths(&first), ["", "/p"]);
        let a = t.node_id("/p/a").unwrap();
        t.delete_node("/p/a", 4).unwrap();
        create(&mut t, "/p/new", 5);
        assert_eq!(t.node_id("/p/new"), Some(a), "the freed slot is reused");
        let rest = cursor.next_chunk(&t, 100);
        let rest = paths(&rest);
        assert_eq!(rest[0], "/p/b");
        assert!(
            !rest.contains(&"/p/a") && !rest.contains(&"/p/new"),
            "{rest:?}"
        );
        assert_eq!(rest.len(), 4, "/p/b and the /zookeeper subtree");
        assert!(cursor.is_done());
    }
}
