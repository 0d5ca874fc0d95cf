//! The data tree (`DataTree`, `DataNode`): znodes with their stats, children, ACL keys, the
//! per-session ephemeral index, the container and TTL sets, and quota bookkeeping.
//!
//! The tree applies transactions that were already validated by the request pipeline
//! (`state`), so its methods only fail where ZooKeeper's `DataTree` itself fails (a missing
//! node, an existing node). Nodes live in one map keyed by full path; a node keeps only the
//! names of its children, in a sorted set.
//!
//! Stats are kept as ZooKeeper keeps them: `cversion` internally counts child creates, and the
//! client sees `cversion * 2 - numChildren` (`DataNode.copyStat`); `ephemeralOwner` holds the
//! container and TTL encodings (`EphemeralType`) and the client sees 0 for those.

use std::collections::{BTreeSet, HashMap};

use paddock_jute::{Acl, ErrorCode, Stat, StatPersisted};

use crate::acl::AclCache;

type NodeMap = HashMap<String, Node, ahash::RandomState>;
use crate::digest;
use crate::javahash;
use crate::path;
use crate::snapshot::LoadError;

/// The root node's path. ZooKeeper also answers `""` with the root (its alias).
pub const ROOT: &str = "/";
/// `/zookeeper`, the "proc" node.
pub const PROC: &str = "/zookeeper";
/// `/zookeeper/quota` (`Quotas.quotaZookeeper`).
pub const QUOTA: &str = "/zookeeper/quota";
/// `/zookeeper/config` (`ZooDefs.CONFIG_NODE`).
pub const CONFIG: &str = "/zookeeper/config";
/// `Quotas.limitNode`.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// The largest TTL in milliseconds (`EphemeralType.TTL.maxValue()`, 2^40 - 1).
pub const TTL_MAX_MS: i64 = (1 << 40) - 1;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;

/// `EphemeralType.TTL.toEphemeralOwner`: `None` for a TTL outside `(0, TTL_MAX_MS]`.
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    (ttl_ms > 0 && ttl_ms <= TTL_MAX_MS).then_some(EXTENDED_MASK | ttl_ms)
}

/// What a node's `ephemeralOwner` encodes (`EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    /// Owned by this session.
    Ephemeral(i64),
    Container,
    /// Deleted once childless and unmodified for this many milliseconds.
    Ttl(i64),
}

impl NodeKind {
    /// `EphemeralType.get`: the TTL encoding is only recognised with extended types enabled.
    pub fn of(owner: i64, extended_types: bool) -> NodeKind {
        if extended_types && owner & EXTENDED_MASK == EXTENDED_MASK {
            if owner & RESERVED_BITS_MASK == 0 {
                return NodeKind::Ttl(owner & TTL_MAX_MS);
            }
            // Another extended feature: ZooKeeper throws; no such node can be created here.
            return NodeKind::Ephemeral(owner);
        }
        match owner {
            CONTAINER_OWNER => NodeKind::Container,
            0 => NodeKind::Persistent,
            session => NodeKind::Ephemeral(session),
        }
    }
}

/// One znode (`DataNode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `None` is a null buffer, kept apart from an empty one.
    pub data: Option<Vec<u8>>,
    /// Key into the tree's `AclCache`.
    pub acl: i64,
    /// `cversion` here counts child creates (see the module comment).
    pub stat: StatPersisted,
    pub children: BTreeSet<String>,
    /// The table capacity ZooKeeper's `HashSet` of children would have now (0 before the
    /// first child). With the children's insertion order (`seq`) it fixes the order in which
    /// ZooKeeper lists children (see `javahash`).
    pub children_capacity: u32,
    /// When this node was inserted into the tree, counting from the built-in nodes: ties of
    /// czxid (several creates in one multi) keep their order here.
    pub seq: u64,
    /// This node's share of the tree digest (`digest::node_digest`), kept current like
    /// ZooKeeper's `DataNode.digest` so a change only hashes the node once.
    pub digest: u32,
}

impl Node {
    fn new(data: Option<Vec<u8>>, acl: i64, stat: StatPersisted) -> Node {
        Node {
            data,
            acl,
            stat,
            children: BTreeSet::new(),
            children_capacity: 0,
            seq: 0,
            digest: 0,
        }
    }

    /// `DataNode.addChild`: the set is created as `new HashSet<>(8)` and doubles when its
    /// size passes three quarters of the capacity (`HashMap.putVal` / `resize`).
    fn add_child(&mut self, name: String) {
        if self.children.insert(name) {
            self.children_capacity =
                javahash::grown_capacity(self.children_capacity, 8, self.children.len());
        }
    }

    fn data_len(&self) -> i64 {
        self.data.as_ref().map_or(0, |d| d.len() as i64)
    }
}

/// `DataTree`: all znodes plus the indexes ZooKeeper keeps beside them.
#[derive(Debug)]
pub struct DataTree {
    /// Keyed by full path. ahash, not SipHash: a third of the cost of hashing paths, and
    /// still randomly keyed, so client-chosen paths cannot flood one bucket.
    nodes: NodeMap,
    acls: AclCache,
    ephemerals: HashMap<i64, EphemeralSet>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    /// Paths with a `zookeeper_limits` node (ZooKeeper's `PathTrie pTrie`).
    quota_paths: BTreeSet<String>,
    /// `nodeDataSize`: path lengths plus data lengths, updated as ZooKeeper updates it (quota
    /// stat rewrites are not counted, as in ZooKeeper).
    data_size: i64,
    extended_types: bool,
    /// The next `Node::seq`.
    next_seq: u64,
    /// The wrapping sum of every node's digest (`NodeHashMapImpl.hash`, an `AdHash`).
    digest: i64,
}

/// One session's ephemeral paths (`DataTree.ephemerals`, a `new HashSet<>()` per session that
/// lives, emptied or not, until the session is killed).
#[derive(Debug, Default)]
struct EphemeralSet {
    paths: BTreeSet<String>,
    /// The Java table capacity the set has grown to, for ZooKeeper's listing order.
    capacity: u32,
}

/// ZooKeeper's size of a node: path length in UTF-16 units plus data length
/// (`DataTree.getNodeSize`).
fn node_size(path: &str, data: Option<&[u8]>) -> i64 {
    path.encode_utf16().count() as i64 + data.map_or(0, |d| d.len() as i64)
}

impl DataTree {
    /// The built-in tree: `/`, `/zookeeper`, `/zookeeper/quota` (open ACL) and
    /// `/zookeeper/config` (`READ_ACL_UNSAFE`, ZOOKEEPER-2014), all stats zero.
    pub fn new(config_data: Vec<u8>, extended_types: bool) -> DataTree {
        let mut acls = AclCache::new();
        let config_acl = acls.intern(&Acl::read_unsafe());
        let open = AclCache::OPEN_UNSAFE_KEY;
        let zero = StatPersisted::default();
        let mut nodes = NodeMap::default();
        let mut root = Node::new(Some(Vec::new()), open, zero);
        root.add_child("zookeeper".to_owned());
        let mut proc_node = Node::new(Some(Vec::new()), open, zero);
        proc_node.add_child("quota".to_owned());
        proc_node.add_child("config".to_owned());
        nodes.insert(ROOT.to_owned(), root);
        nodes.insert(PROC.to_owned(), proc_node);
        nodes.insert(QUOTA.to_owned(), Node::new(Some(Vec::new()), open, zero));
        // DataTree.addConfigNode sets the ACL with setACL(path, acl, -1), which stores the
        // passed version: the config node's aversion is -1.
        let config_stat = StatPersisted {
            aversion: -1,
            ..zero
        };
        nodes.insert(
            CONFIG.to_owned(),
            Node::new(Some(config_data), config_acl, config_stat),
        );
        let mut tree = DataTree::empty(extended_types, acls);
        tree.nodes = nodes;
        // The order in which the DataTree constructor inserts the built-in nodes.
        for path in [ROOT, PROC, QUOTA, CONFIG] {
            let seq = tree.take_seq();
            tree.nodes.get_mut(path).expect("built-in node").seq = seq;
            tree.rehash(path);
        }
        tree.data_size = tree.approximate_data_size_uncached();
        tree
    }

    /// Room for `additional` more nodes without rehashing (loading a snapshot).
    pub(crate) fn reserve_nodes(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// `NodeHashMapImpl.preChange`: takes the node's share out of the tree digest.
    fn unhash(&mut self, path: &str) {
        if let Some(node) = self.node(path) {
            self.digest = self.digest.wrapping_sub(i64::from(node.digest));
        }
    }

    /// `NodeHashMapImpl.postChange`: rehashes the node and adds its share back.
    fn rehash(&mut self, path: &str) {
        let key = if path.is_empty() { ROOT } else { path };
        if let Some(node) = self.nodes.get_mut(key) {
            node.digest = digest::node_digest(key, node.data.as_deref(), &node.stat);
            self.digest = self.digest.wrapping_add(i64::from(node.digest));
        }
    }

    /// The tree digest (`DataTree.getTreeDigest`).
    pub fn digest(&self) -> i64 {
        self.digest
    }

    /// The ACL cache, for snapshots.
    pub fn acl_cache(&self) -> &AclCache {
        &self.acls
    }

    /// `DataTree.setCversionPzxid`: replay's repair of a parent whose child already exists
    /// (see `State::replay`). A trailing slash is ignored; -1 means one more than now; the
    /// cversion only moves forward.
    pub fn set_cversion_pzxid(
        &mut self,
        path: &str,
        cversion: i32,
        zxid: i64,
    ) -> Result<(), ErrorCode> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        let cversion = if cversion == -1 {
            node.stat.cversion.wrapping_add(1)
        } else {
            cversion
        };
        if cversion > node.stat.cversion {
            self.unhash(path);
            let node = self.node_mut(path).expect("checked above");
            node.stat.cversion = cversion;
            node.stat.pzxid = zxid;
            self.rehash(path);
        }
        Ok(())
    }

    /// An empty tree holding only the ACL map of a snapshot, to which `load_node` adds the
    /// snapshot's nodes (`DataTree.deserialize` after `aclCache.deserialize`).
    pub(crate) fn for_load(
        extended_types: bool,
        acls: impl IntoIterator<Item = (i64, Vec<Acl>)>,
    ) -> DataTree {
        let mut cache = AclCache::new();
        for (key, list) in acls {
            cache.insert_with_key(key, list);
        }
        DataTree::empty(extended_types, cache)
    }

    /// A tree with no nodes and empty indexes, over `acls`.
    fn empty(extended_types: bool, acls: AclCache) -> DataTree {
        DataTree {
            nodes: NodeMap::default(),
            acls,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            quota_paths: BTreeSet::new(),
            data_size: 0,
            extended_types,
            next_seq: 0,
            digest: 0,
        }
    }

    /// One snapshot node, in snapshot order: the root as `""` first, every parent before its
    /// children. Children sets grow as `DataTree.deserialize` grows them (insertion in
    /// snapshot order), which fixes the order clients will see them listed in.
    ///
    /// An ACL key missing from the snapshot's map (a fuzzy snapshot can catch a node whose
    /// ACL list was added after the map was written) becomes `AclCache::UNRESOLVED_KEY`,
    /// which only the super user passes; replaying the txn that set the list repairs it.
    pub(crate) fn load_node(
        &mut self,
        path: String,
        data: Option<Vec<u8>>,
        acl: i64,
        stat: StatPersisted,
    ) -> Result<(), LoadError> {
        let acl = if acl == AclCache::OPEN_UNSAFE_KEY || self.acls.contains_key(acl) {
            self.acls.add_usage(acl);
            acl
        } else {
            AclCache::UNRESOLVED_KEY
        };
        let mut node = Node::new(data, acl, stat);
        node.seq = self.take_seq();
        if path.is_empty() {
            if !self.nodes.is_empty() {
                return Err(LoadError::RootNotFirst);
            }
            self.nodes.insert(ROOT.to_owned(), node);
            self.rehash(ROOT);
            return Ok(());
        }
        let Some(parent_path) = path::parent_raw(&path) else {
            return Err(LoadError::InvalidPath { path });
        };
        if self.nodes.is_empty() {
            return Err(LoadError::RootNotFirst);
        }
        if path == ROOT || self.nodes.contains_key(&path) {
            return Err(LoadError::Duplicate { path });
        }
        let name = path::name(&path).to_owned();
        let Some(parent) = self.node_mut(parent_path) else {
            return Err(LoadError::MissingParent { path });
        };
        parent.add_child(name);
        let kind = self.kind(&node);
        self.nodes.insert(path.clone(), node);
        self.rehash(&path);
        match kind {
            NodeKind::Container => {
                self.containers.insert(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path);
            }
            NodeKind::Ephemeral(session) => {
                let set = self.ephemerals.entry(session).or_default();
                if set.paths.insert(path) {
                    set.capacity = javahash::grown_capacity(set.capacity, 16, set.paths.len());
                }
            }
            NodeKind::Persistent => {}
        }
        Ok(())
    }

    /// The end of `DataTree.deserialize`: the data size is recounted, quotas are set up from
    /// the `zookeeper_limits` leaves (their stat nodes recounted), unused ACLs are dropped.
    pub(crate) fn finish_load(&mut self) -> Result<(), LoadError> {
        if self.nodes.is_empty() {
            return Err(LoadError::RootNotFirst);
        }
        self.data_size = self.approximate_data_size_uncached();
        self.setup_quota();
        self.acls.purge_unused();
        Ok(())
    }

    /// `DataTree.setupQuota` / `traverseNode`: every leaf below `/zookeeper/quota` named
    /// `zookeeper_limits` puts a quota on the path between the quota root and the first
    /// `/zookeeper_limits`, and that path's stat node is recounted.
    fn setup_quota(&mut self) {
        let marker = format!("/{LIMIT_NODE}");
        let mut quoted = Vec::new();
        let mut stack = vec![QUOTA.to_owned()];
        while let Some(p) = stack.pop() {
            let Some(node) = self.nodes.get(&p) else {
                continue;
            };
            if !node.children.is_empty() {
                stack.extend(node.children.iter().map(|c| path::join(&p, c)));
            } else if p.ends_with(&marker) {
                let end = p.find(&marker).unwrap_or(p.len());
                if let Some(real) = p.get(QUOTA.len()..end) {
                    quoted.push(real.to_owned());
                }
            }
        }
        for real in quoted {
            self.update_quota_for_path(&real);
            self.quota_paths.insert(real);
        }
    }

    /// Paths with a quota (`pTrie`), for inspection and tests.
    pub fn quota_paths(&self) -> impl Iterator<Item = &str> {
        self.quota_paths.iter().map(String::as_str)
    }

    /// The children of `node` (at `path`) in the order ZooKeeper lists them: the iteration
    /// order of its `HashSet<String>`, which is by bucket (`spread(hashCode) & (capacity-1)`)
    /// and, within a bucket, by insertion. Children are inserted in zxid order, so their
    /// `seq` records insertion order.
    pub fn children_in_zookeeper_order(&self, path: &str, node: &Node) -> Vec<String> {
        let mut keyed: Vec<(String, u64)> = node
            .children
            .iter()
            .map(|name| {
                let child = self.nodes.get(&crate::path::join(path, name));
                (name.clone(), child.map_or(0, |c| c.seq))
            })
            .collect();
        javahash::order(&mut keyed, node.children_capacity, |name| name);
        keyed.into_iter().map(|(name, _)| name).collect()
    }

    /// The node at `path`; `""` is the root, as in ZooKeeper's node map.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { ROOT } else { path })
    }

    fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes
            .get_mut(if path.is_empty() { ROOT } else { path })
    }

    pub fn acl_list(&self, key: i64) -> &[Acl] {
        self.acls.get(key)
    }

    /// The ACL of the node at `path`, if it exists.
    pub fn node_acl(&self, path: &str) -> Option<&[Acl]> {
        self.node(path).map(|n| self.acls.get(n.acl))
    }

    pub fn kind(&self, node: &Node) -> NodeKind {
        NodeKind::of(node.stat.ephemeral_owner, self.extended_types)
    }

    /// `DataNode.copyStat`: the stat a client sees.
    pub fn client_stat(&self, node: &Node) -> Stat {
        let s = &node.stat;
        let num_children = node.children.len() as i32;
        let owner = match self.kind(node) {
            NodeKind::Persistent | NodeKind::Ephemeral(_) => s.ephemeral_owner,
            NodeKind::Container | NodeKind::Ttl(_) => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: node.data_len() as i32,
            num_children,
            pzxid: s.pzxid,
        }
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.node(path).map(|n| self.client_stat(n))
    }

    /// `DataTree.isSpecialPath`: the built-in nodes, which cannot be deleted.
    pub fn is_special_path(path: &str) -> bool {
        matches!(path, ROOT | PROC | QUOTA | CONFIG)
    }

    /// `DataTree.createNode`. `parent_cversion` -1 means "one more than now". Returns the new
    /// node's client stat.
    #[allow(clippy::too_many_arguments)]
    pub fn create_node(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, ErrorCode> {
        let parent_path = path::parent_raw(path).ok_or(ErrorCode::NoNode)?.to_owned();
        let child = path::name(path).to_owned();
        if self.node(&parent_path).is_none() {
            return Err(ErrorCode::NoNode);
        }
        let acl_key = self.acls.intern(acl);
        if let Some(existing) = self.nodes.get_mut(path) {
            // createNode gives an existing node the txn's ACL before failing: a node a fuzzy
            // snapshot caught may name an ACL the snapshot's map lacks, and replaying its
            // create repairs it. (ZooKeeper leaks the old key's reference; Paddock drops it.)
            let old = std::mem::replace(&mut existing.acl, acl_key);
            self.acls.release(old);
            return Err(ErrorCode::NodeExists);
        }
        let bytes = data.as_ref().map_or(0, |d| d.len() as i64);
        self.data_size += node_size(path, data.as_deref());
        self.unhash(&parent_path);
        let parent = self.node_mut(&parent_path).expect("parent checked above");
        let new_cversion = if parent_cversion == -1 {
            parent.stat.cversion.wrapping_add(1)
        } else {
            parent_cversion
        };
        // Replays may carry an older cversion; only move forward (DataTree.createNode).
        if new_cversion > parent.stat.cversion {
            parent.stat.cversion = new_cversion;
            parent.stat.pzxid = zxid;
        }
        parent.add_child(child.clone());
        self.rehash(&parent_path);
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let mut node = Node::new(data, acl_key, stat);
        node.seq = self.take_seq();
        self.nodes.insert(path.to_owned(), node);
        self.rehash(path);
        match NodeKind::of(owner, self.extended_types) {
            NodeKind::Container => {
                self.containers.insert(path.to_owned());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_owned());
            }
            NodeKind::Ephemeral(session) => {
                let set = self.ephemerals.entry(session).or_default();
                if set.paths.insert(path.to_owned()) {
                    set.capacity = javahash::grown_capacity(set.capacity, 16, set.paths.len());
                }
            }
            NodeKind::Persistent => {}
        }
        self.quota_on_create(&parent_path, &child);
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, bytes, 1);
        }
        Ok(self.stat(path).expect("node just inserted"))
    }

    /// Creating `zookeeper_limits` under `/zookeeper/quota/<p>` puts a quota on `<p>`;
    /// creating `zookeeper_stats` recounts `<p>` into it.
    fn quota_on_create(&mut self, parent: &str, child: &str) {
        let Some(quoted) = parent.strip_prefix(QUOTA) else {
            return;
        };
        if quoted.is_empty() {
            return;
        }
        if child == LIMIT_NODE {
            self.quota_paths.insert(quoted.to_owned());
        }
        if child == STAT_NODE {
            self.update_quota_for_path(quoted);
        }
    }

    /// `DataTree.deleteNode`. Returns the ACL the deleted node had (watch delivery filters
    /// NodeDeleted by it).
    pub fn delete_node(&mut self, path: &str, zxid: i64) -> Result<Vec<Acl>, ErrorCode> {
        let parent_path = path::parent_raw(path).ok_or(ErrorCode::NoNode)?.to_owned();
        let child = path::name(path).to_owned();
        if self.node(&parent_path).is_none() {
            return Err(ErrorCode::NoNode);
        }
        self.unhash(&parent_path);
        let parent = self.node_mut(&parent_path).expect("checked above");
        parent.children.remove(&child);
        // Deletes move pzxid but not cversion: cversion counts creates only.
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        self.rehash(&parent_path);
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.digest = self.digest.wrapping_sub(i64::from(node.digest));
        let acl = self.acls.get(node.acl).to_vec();
        self.acls.release(node.acl);
        self.data_size -= node_size(path, node.data.as_deref());
        match self.kind(&node) {
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Ephemeral(session) => {
                if let Some(set) = self.ephemerals.get_mut(&session) {
                    set.paths.remove(path);
                }
            }
            NodeKind::Persistent => {}
        }
        if child == LIMIT_NODE {
            if let Some(quoted) = parent_path.strip_prefix(QUOTA) {
                self.quota_paths.remove(quoted);
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, -node.data_len(), -1);
        }
        Ok(acl)
    }

    /// `DataTree.setData`: `version` is the new version from the txn.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, ErrorCode> {
        self.unhash(path);
        let node = self.node_mut(path).ok_or(ErrorCode::NoNode)?;
        let last_len = node.data_len();
        let new_len = data.as_ref().map_or(0, |d| d.len() as i64);
        node.data = data;
        node.stat.mtime = time;
        node.stat.mzxid = zxid;
        node.stat.version = version;
        self.rehash(path);
        self.data_size += new_len - last_len;
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, new_len - last_len, 0);
        }
        Ok(self.stat(path).expect("node exists"))
    }

    /// `DataTree.setACL`: `aversion` is the new ACL version from the txn.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], aversion: i32) -> Result<Stat, ErrorCode> {
        let old = self.node(path).ok_or(ErrorCode::NoNode)?.acl;
        self.acls.release(old);
        let key = self.acls.intern(acl);
        self.unhash(path);
        let node = self.node_mut(path).expect("checked above");
        node.stat.aversion = aversion;
        node.acl = key;
        self.rehash(path);
        Ok(self.stat(path).expect("node exists"))
    }

    /// The ephemeral paths of `session` in the order ZooKeeper lists them: the iteration
    /// order of a clone of the session's set (`DataTree.getEphemerals` clones it; getEphemerals
    /// and closeSession both list that clone).
    pub fn ephemerals(&self, session: i64) -> Vec<String> {
        let Some(set) = self.ephemerals.get(&session) else {
            return Vec::new();
        };
        let mut keyed: Vec<(String, u64)> = set
            .paths
            .iter()
            .map(|p| (p.clone(), self.nodes.get(p).map_or(0, |n| n.seq)))
            .collect();
        javahash::order_of_clone(&mut keyed, set.capacity, |p| p);
        keyed.into_iter().map(|(p, _)| p).collect()
    }

    /// Sessions with an ephemeral set, emptied or not (`DataTree.getSessions`).
    pub fn ephemeral_owners(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.ephemerals.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// `ephemerals.remove(session)` when a session is killed.
    pub fn forget_session(&mut self, session: i64) {
        self.ephemerals.remove(&session);
    }

    /// Every session owning ephemerals, with its paths (for `dump`).
    pub fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let mut v: Vec<_> = self
            .ephemerals
            .iter()
            .filter(|(_, set)| !set.paths.is_empty())
            .map(|(s, set)| (*s, set.paths.iter().cloned().collect()))
            .collect();
        v.sort();
        v
    }

    pub fn ephemerals_count(&self) -> u64 {
        self.ephemerals.values().map(|s| s.paths.len() as u64).sum()
    }

    pub fn containers(&self) -> impl Iterator<Item = &str> {
        self.containers.iter().map(String::as_str)
    }

    pub fn ttls(&self) -> impl Iterator<Item = &str> {
        self.ttls.iter().map(String::as_str)
    }

    /// `DataTree.getNodeCount`: ZooKeeper's map holds the root twice (`""` and `/`), so a fresh
    /// tree counts 5.
    pub fn node_count(&self) -> u64 {
        self.nodes.len() as u64 + 1
    }

    /// `cachedApproximateDataSize`.
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size
    }

    /// `DataTree.approximateDataSize` over ZooKeeper's map, root alias `""` included (size 0).
    fn approximate_data_size_uncached(&self) -> i64 {
        self.nodes
            .iter()
            .map(|(p, n)| node_size(p, n.data.as_deref()))
            .sum()
    }

    /// `DataTree.getAllChildrenNumber`: every descendant. `/` excludes only the root; `""`
    /// (the alias) counts the root too, as ZooKeeper's prefix scan does.
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        let node = self.node(path)?;
        let below = self
            .count_subtree(if path.is_empty() { ROOT } else { path }, node)
            .0
            - 1;
        Some(if path.is_empty() { below + 1 } else { below } as i32)
    }

    /// `(nodes, data bytes)` of the subtree at `path`, itself included (`DataTree.getCounts`).
    ///
    /// Iterative, so that a deep tree (paths may be as long as the packet limit) cannot
    /// overflow the stack.
    fn count_subtree(&self, path: &str, node: &Node) -> (i64, i64) {
        let (mut count, mut bytes) = (0, 0);
        let mut stack = vec![(path.to_owned(), node)];
        while let Some((p, n)) = stack.pop() {
            count += 1;
            bytes += n.data_len();
            for name in &n.children {
                let child_path = path::join(&p, name);
                if let Some(child) = self.nodes.get(&child_path) {
                    stack.push((child_path, child));
                }
            }
        }
        (count, bytes)
    }

    /// `DataTree.getMaxPrefixWithQuota`: the deepest ancestor-or-self of `path` with a quota,
    /// by whole components.
    pub fn max_prefix_with_quota(&self, path: &str) -> Option<String> {
        if self.quota_paths.is_empty() {
            return None;
        }
        let mut candidate = path;
        loop {
            if candidate.is_empty() || candidate == ROOT || candidate == PROC {
                return None;
            }
            if self.quota_paths.contains(candidate) {
                return Some(candidate.to_owned());
            }
            candidate = path::parent_raw(candidate)?;
        }
    }

    /// `DataTree.updateQuotaStat`: adds to `count` and `bytes` of the prefix's stat node,
    /// keeping its other keys. The node's stat does not change.
    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = format!("{QUOTA}{prefix}/{STAT_NODE}");
        self.unhash(&stat_path);
        let Some(node) = self.nodes.get_mut(&stat_path) else {
            return;
        };
        let mut track = StatsTrack::parse(node.data.as_deref().unwrap_or_default());
        track.set("count", track.get("count") + count_diff);
        track.set("bytes", track.get("bytes") + bytes_diff);
        node.data = Some(track.to_string().into_bytes());
        self.rehash(&stat_path);
    }

    /// `DataTree.updateQuotaForPath`: recounts the subtree into a fresh stat node.
    fn update_quota_for_path(&mut self, quoted: &str) {
        let (count, bytes) = match self.node(quoted) {
            Some(n) => self.count_subtree(quoted, n),
            None => (0, 0),
        };
        let stat_path = format!("{QUOTA}{quoted}/{STAT_NODE}");
        self.unhash(&stat_path);
        if let Some(node) = self.nodes.get_mut(&stat_path) {
            let mut track = StatsTrack::default();
            track.set("count", count);
            track.set("bytes", bytes);
            node.data = Some(track.to_string().into_bytes());
        }
        self.rehash(&stat_path);
    }

    /// `ZooKeeperServer.checkQuota` (only called with `enforceQuota`): a hard limit that the
    /// change would pass gives `QuotaExceeded`; soft limits only log in ZooKeeper.
    pub fn check_quota(
        &self,
        path: &str,
        bytes_diff: i64,
        count_diff: i64,
    ) -> Result<(), ErrorCode> {
        let Some(prefix) = self.max_prefix_with_quota(path) else {
            return Ok(());
        };
        let read = |name: &str| {
            self.nodes
                .get(&format!("{QUOTA}{prefix}/{name}"))
                .map(|n| StatsTrack::parse(n.data.as_deref().unwrap_or_default()))
        };
        let Some(limits) = read(LIMIT_NODE) else {
            return Ok(());
        };
        let check_count =
            count_diff != 0 && (limits.get("count") > -1 || limits.get("countHardLimit") > -1);
        let check_bytes =
            bytes_diff != 0 && (limits.get("bytes") > -1 || limits.get("byteHardLimit") > -1);
        if !check_count && !check_bytes {
            return Ok(());
        }
        let Some(current) = read(STAT_NODE) else {
            return Ok(());
        };
        let hard = |value: i64, limit: i64| limit > -1 && value > limit;
        if check_count
            && hard(
                current.get("count") + count_diff,
                limits.get("countHardLimit"),
            )
        {
            return Err(ErrorCode::QuotaExceeded);
        }
        if check_bytes
            && hard(
                current.get("bytes") + bytes_diff,
                limits.get("byteHardLimit"),
            )
        {
            return Err(ErrorCode::QuotaExceeded);
        }
        Ok(())
    }

    /// Asserts that children, parents and the indexes agree. For tests and debug checks.
    pub fn check_invariants(&self) {
        let mut ephemerals = 0;
        for (p, node) in &self.nodes {
            for name in &node.children {
                assert!(
                    self.nodes.contains_key(&path::join(p, name)),
                    "{p} lists missing {name}"
                );
            }
            if p != ROOT {
                let parent = self
                    .node(path::parent_raw(p).expect("absolute"))
                    .expect("parent");
                assert!(
                    parent.children.contains(path::name(p)),
                    "{p} not in its parent"
                );
            }
            match self.kind(node) {
                NodeKind::Ephemeral(s) => {
                    ephemerals += 1;
                    assert!(
                        self.ephemerals.get(&s).is_some_and(|e| e.paths.contains(p)),
                        "{p} unindexed"
                    );
                    assert!(node.children.is_empty(), "ephemeral {p} has children");
                }
                NodeKind::Container => assert!(self.containers.contains(p)),
                NodeKind::Ttl(_) => assert!(self.ttls.contains(p)),
                NodeKind::Persistent => {}
            }
        }
        assert_eq!(
            ephemerals,
            self.ephemerals_count(),
            "ephemeral index has extra paths"
        );
        assert!(self
            .containers
            .iter()
            .chain(&self.ttls)
            .all(|p| self.nodes.contains_key(p)));
    }
}

/// `StatsTrack`: `key=value` pairs separated by `,` or `;`; `count` and `bytes` are written
/// first, then the other keys sorted after an extra `=` (so old parsers ignore them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatsTrack {
    stats: std::collections::BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Lenient where ZooKeeper would throw: malformed pairs are skipped.
    pub fn parse(bytes: &[u8]) -> StatsTrack {
        let text = String::from_utf8_lossy(bytes);
        let mut stats = std::collections::BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            // Java's split("=") drops trailing empty strings: "bytes=5=" is ["bytes", "5"].
            let mut parts = pair.split('=');
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let value = if value.is_empty() {
                Ok(-1)
            } else {
                value.parse::<i64>()
            };
            if let Ok(v) = value {
                stats.insert(key.to_owned(), v);
            }
        }
        StatsTrack { stats }
    }

    /// -1 when absent, as ZooKeeper.
    pub fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.stats.insert(key.to_owned(), value);
    }
}

impl std::fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "count={},bytes={}", self.get("count"), self.get("bytes"))?;
        let extra: Vec<_> = self
            .stats
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !extra.is_empty() {
            write!(f, "=")?;
            for (k, v) in extra {
                write!(f, ";{k}={v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // DataNode.addChild: `new HashSet<>(8)`, doubling past three quarters full, never shrinking.
    #[test]
    fn children_capacity_grows_like_java_hashset() {
        let mut n = Node::new(None, AclCache::OPEN_UNSAFE_KEY, StatPersisted::default());
        assert_eq!(n.children_capacity, 0);
        for i in 0..6 {
            n.add_child(format!("c{i}"));
        }
        assert_eq!(n.children_capacity, 8);
        n.add_child("c6".to_owned());
        assert_eq!(n.children_capacity, 16);
        for i in 7..13 {
            n.add_child(format!("c{i}"));
        }
        assert_eq!(n.children_capacity, 32);
        n.children.clear();
        assert_eq!(n.children_capacity, 32, "removal never shrinks the table");
    }

    // StatsTrack.toString: count and bytes first, extra keys sorted after "=".
    #[test]
    fn stats_track_round_trips_zookeeper_format() {
        let t = StatsTrack::parse(b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2");
        assert_eq!(t.get("countHardLimit"), 2);
        assert_eq!(t.get("bytes"), -1);
        assert_eq!(
            t.to_string(),
            "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2"
        );
        assert_eq!(
            StatsTrack::parse(b"count=3,bytes=10").to_string(),
            "count=3,bytes=10"
        );
    }

    // EphemeralType: container and TTL encodings, TTL only with extended types.
    #[test]
    fn node_kind_decodes_ephemeral_owner() {
        assert_eq!(NodeKind::of(CONTAINER_OWNER, false), NodeKind::Container);
        let ttl = ttl_owner(1000).unwrap();
        assert_eq!(NodeKind::of(ttl, true), NodeKind::Ttl(1000));
        assert_eq!(NodeKind::of(0, true), NodeKind::Persistent);
        assert_eq!(NodeKind::of(5, true), NodeKind::Ephemeral(5));
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(TTL_MAX_MS + 1), None);
    }
}
