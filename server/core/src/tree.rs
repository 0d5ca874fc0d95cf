//! The data tree (`DataTree`, `DataNode`): znodes with their stats, children, ACL keys, the
//! per-session ephemeral index, the container and TTL sets, and quota bookkeeping.
//!
//! The tree applies transactions that were already validated by the request pipeline
//! (`state`), so its methods only fail where ZooKeeper's `DataTree` itself fails (a missing
//! node, an existing node). Nodes live in a `NodeTable` (`nodes`): a slab of `u32` ids, found
//! by (parent, name), children in insertion order; paths are not stored, callers pass them.
//!
//! Stats are kept as ZooKeeper keeps them: `cversion` internally counts child creates, and the
//! client sees `cversion * 2 - numChildren` (`DataNode.copyStat`); `ephemeralOwner` holds the
//! container and TTL encodings (`EphemeralType`) and the client sees 0 for those.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use paddock_jute::{Acl, ErrorCode, Stat, StatPersisted};

use crate::acl::AclCache;
use crate::digest;
use crate::javahash;
pub use crate::nodes::{Children, Node, NodeId, ROOT_ID};
use crate::nodes::{NodeTable, NIL};
use crate::path;
use crate::snapshot::LoadError;

/// The ACLs of a changed node and of its parent, shared with the tree: a watch fires only for
/// connections that may READ the node its event names.
#[derive(Debug, Clone)]
pub struct EventAcls {
    pub node: Arc<[Acl]>,
    pub parent: Arc<[Acl]>,
}

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

/// `DataTree`: all znodes plus the indexes ZooKeeper keeps beside them.
#[derive(Debug)]
pub struct DataTree {
    nodes: NodeTable,
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
    /// The insertion counter of ephemeral sets (their listing order needs it).
    next_seq: u64,
    /// The wrapping sum of every node's digest (`NodeHashMapImpl.hash`, an `AdHash`).
    digest: i64,
}

/// One session's ephemeral paths (`DataTree.ephemerals`, a `new HashSet<>()` per session that
/// lives, emptied or not, until the session is killed).
#[derive(Debug, Default)]
struct EphemeralSet {
    /// Each path with its insertion number, for ZooKeeper's listing order.
    paths: BTreeMap<String, u64>,
    /// The Java table capacity the set has grown to, for ZooKeeper's listing order.
    capacity: u32,
}

/// Where a snapshot load is: the last loaded path and the ids of its ancestors. ZooKeeper
/// writes nodes depth first, so each node's parent is on this stack and is found without
/// hashing its path (`DataTree::load_node`).
#[derive(Debug, Default)]
pub(crate) struct LoadStack {
    /// (path length, id) of the last loaded node and its ancestors, the root first.
    stack: Vec<(usize, NodeId)>,
    last_path: String,
}

/// ZooKeeper's size of a node: path length in UTF-16 units plus data length
/// (`DataTree.getNodeSize`).
fn node_size(path: &str, data: Option<&[u8]>) -> i64 {
    utf16_len(path) + data.map_or(0, |d| d.len() as i64)
}

fn utf16_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

/// A node's ACL key as the node stores it. Keys count up by one per distinct list ever
/// interned, so passing 2^31 takes two billion distinct lists; snapshot keys that do not fit
/// are dropped at load (`DataTree::for_load`).
fn narrow_acl_key(key: i64) -> i32 {
    i32::try_from(key).expect("ACL keys stay below 2^31")
}

impl DataTree {
    /// The built-in tree: `/`, `/zookeeper`, `/zookeeper/quota` (open ACL) and
    /// `/zookeeper/config` (`READ_ACL_UNSAFE`, ZOOKEEPER-2014), all stats zero.
    pub fn new(config_data: Vec<u8>, extended_types: bool) -> DataTree {
        let mut acls = AclCache::new();
        let config_acl = narrow_acl_key(acls.intern(&Acl::read_unsafe()));
        let open = narrow_acl_key(AclCache::OPEN_UNSAFE_KEY);
        let zero = StatPersisted::default();
        let mut tree = DataTree::empty(extended_types, acls);
        tree.nodes
            .get_mut(ROOT_ID)
            .expect("root")
            .set_data(Some(&[]));
        tree.rehash(ROOT_ID, ROOT);
        let proc_id = tree.insert_built_in(ROOT_ID, PROC, Some(&[]), open, zero);
        tree.insert_built_in(proc_id, QUOTA, Some(&[]), open, zero);
        // DataTree.addConfigNode sets the ACL with setACL(path, acl, -1), which stores the
        // passed version: the config node's aversion is -1.
        let config_stat = StatPersisted {
            aversion: -1,
            ..zero
        };
        tree.insert_built_in(proc_id, CONFIG, Some(&config_data), config_acl, config_stat);
        tree.data_size = tree.approximate_data_size_uncached();
        tree
    }

    fn insert_built_in(
        &mut self,
        parent: NodeId,
        path: &str,
        data: Option<&[u8]>,
        acl: i32,
        stat: StatPersisted,
    ) -> NodeId {
        let name = path::name(path);
        let hash = self.nodes.key_hash(parent, name.as_bytes());
        let id = self
            .nodes
            .insert_child(hash, parent, name.as_bytes(), || {
                Node::new(name, data, acl, stat)
            })
            .expect("built-in names are distinct");
        self.rehash(id, path);
        id
    }

    /// Room for `additional` more nodes without rehashing (loading a snapshot).
    pub(crate) fn reserve_nodes(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// `NodeHashMapImpl.preChange`: takes the share of the node at `path` (its id `id`) out
    /// of the tree digest. Nodes do not keep their digest (see `nodes`), so it is recomputed.
    fn unhash(&mut self, id: NodeId, path: &str) {
        if let Some(node) = self.nodes.get(id) {
            let d = digest::node_digest(path, node.data(), node.stat());
            self.digest = self.digest.wrapping_sub(i64::from(d));
        }
    }

    /// `NodeHashMapImpl.postChange`: adds the share of the node at `path` (its id `id`) back.
    fn rehash(&mut self, id: NodeId, path: &str) {
        if let Some(node) = self.nodes.get(id) {
            let d = digest::node_digest(path, node.data(), node.stat());
            self.digest = self.digest.wrapping_add(i64::from(d));
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
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let stat = self.nodes.node(id).stat();
        let cversion = if cversion == -1 {
            stat.cversion.wrapping_add(1)
        } else {
            cversion
        };
        if cversion > stat.cversion {
            self.unhash(id, path);
            let stat = self.nodes.get_mut(id).expect("looked up").stat_mut();
            stat.cversion = cversion;
            stat.pzxid = zxid;
            self.rehash(id, path);
        }
        Ok(())
    }

    /// An empty tree holding only the ACL map of a snapshot, to which `load_node` adds the
    /// snapshot's nodes (`DataTree.deserialize` after `aclCache.deserialize`). Keys too large
    /// for a node to hold are left out: a node naming one loads as unresolved.
    pub(crate) fn for_load(
        extended_types: bool,
        acls: impl IntoIterator<Item = (i64, Vec<Acl>)>,
    ) -> DataTree {
        let mut cache = AclCache::new();
        for (key, list) in acls {
            if i32::try_from(key).is_ok() {
                cache.insert_with_key(key, list);
            }
        }
        DataTree::empty(extended_types, cache)
    }

    /// A tree with only a root (open ACL, null data, zero stat) and empty indexes, over
    /// `acls`.
    fn empty(extended_types: bool, acls: AclCache) -> DataTree {
        let open = narrow_acl_key(AclCache::OPEN_UNSAFE_KEY);
        let root = Node::new("", None, open, StatPersisted::default());
        DataTree {
            nodes: NodeTable::with_root(root),
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
    /// children. Children lists grow as `DataTree.deserialize` grows them (insertion in
    /// snapshot order), which fixes the order clients will see them listed in. A node's
    /// parent is found on `at`'s stack when the snapshot is depth first, as ZooKeeper writes
    /// it, and by its path otherwise.
    ///
    /// An ACL key missing from the snapshot's map (a fuzzy snapshot can catch a node whose
    /// ACL list was added after the map was written) becomes `AclCache::UNRESOLVED_KEY`,
    /// which only the super user passes; replaying the txn that set the list repairs it.
    pub(crate) fn load_node(
        &mut self,
        at: &mut LoadStack,
        path: &str,
        data: Option<&[u8]>,
        acl: i64,
        stat: StatPersisted,
    ) -> Result<(), LoadError> {
        let error_path = || path.to_owned();
        if path.is_empty() {
            if !at.stack.is_empty() {
                return Err(LoadError::RootNotFirst);
            }
            let acl = self.resolve_acl(acl);
            self.acls.add_usage(i64::from(acl));
            let root = self.nodes.get_mut(ROOT_ID).expect("root");
            root.set_data(data);
            root.set_acl_key(acl);
            *root.stat_mut() = stat;
            self.rehash(ROOT_ID, ROOT);
            self.data_size += node_size(ROOT, data);
            at.stack.push((0, ROOT_ID));
            return Ok(());
        }
        if at.stack.is_empty() {
            return Err(LoadError::RootNotFirst);
        }
        if path == ROOT {
            return Err(LoadError::Duplicate { path: error_path() });
        }
        if !path.starts_with('/') || path.ends_with('/') || path.contains("//") {
            return Err(LoadError::InvalidPath { path: error_path() });
        }
        let slash = path.rfind('/').expect("absolute");
        let name = &path[slash + 1..];
        let parent = match at.parent_on_stack(path, slash) {
            Some(parent) => parent,
            None => self
                .nodes
                .lookup(&path[..slash])
                .ok_or_else(|| LoadError::MissingParent { path: error_path() })?,
        };
        let hash = self.nodes.key_hash(parent, name.as_bytes());
        let resolved = self.resolve_acl(acl);
        let inserted = self.nodes.insert_child(hash, parent, name.as_bytes(), || {
            Node::new(name, data, resolved, stat)
        });
        let Ok(id) = inserted else {
            return Err(LoadError::Duplicate { path: error_path() });
        };
        self.acls.add_usage(i64::from(resolved));
        let owner = stat.ephemeral_owner;
        self.rehash(id, path);
        self.data_size += node_size(path, data);
        self.index_kind(path, owner);
        at.push(&self.nodes, path, id);
        Ok(())
    }

    /// The key a loaded node keeps: its own if the map has it (or it is the open key), else
    /// `UNRESOLVED_KEY`. The caller adds the node's usage once the node is in.
    fn resolve_acl(&self, acl: i64) -> i32 {
        let acl = if acl == AclCache::OPEN_UNSAFE_KEY || self.acls.contains_key(acl) {
            acl
        } else {
            AclCache::UNRESOLVED_KEY
        };
        narrow_acl_key(acl)
    }

    /// Adds a new node to the ephemeral, container or TTL index its owner puts it in.
    fn index_kind(&mut self, path: &str, owner: i64) {
        match NodeKind::of(owner, self.extended_types) {
            NodeKind::Container => {
                self.containers.insert(path.to_owned());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_owned());
            }
            NodeKind::Ephemeral(session) => {
                let seq = self.take_seq();
                let set = self.ephemerals.entry(session).or_default();
                if set.paths.insert(path.to_owned(), seq).is_none() {
                    set.capacity = javahash::grown_capacity(set.capacity, 16, set.paths.len());
                }
            }
            NodeKind::Persistent => {}
        }
    }

    /// The end of `DataTree.deserialize`: quotas are set up from the `zookeeper_limits`
    /// leaves (their stat nodes recounted), unused ACLs are dropped. The data size was
    /// counted while loading.
    pub(crate) fn finish_load(&mut self, at: LoadStack) -> Result<(), LoadError> {
        if at.stack.is_empty() {
            return Err(LoadError::RootNotFirst);
        }
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
        let Some(quota_id) = self.nodes.lookup(QUOTA) else {
            return;
        };
        let mut stack = vec![(QUOTA.to_owned(), quota_id)];
        while let Some((p, id)) = stack.pop() {
            if self.nodes.node(id).num_children() > 0 {
                stack.extend(
                    self.nodes
                        .children(id)
                        .map(|(child, n)| (path::join(&p, n.name()), child)),
                );
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

    /// The children of node `id` in the order ZooKeeper lists them: the iteration order of
    /// its `HashSet<String>`, which is by bucket (`spread(hashCode) & (capacity-1)`) and,
    /// within a bucket, by insertion, which is the sibling list's order.
    pub fn children_in_zookeeper_order(&self, id: NodeId) -> Vec<String> {
        let Some(node) = self.nodes.get(id) else {
            return Vec::new();
        };
        let mut keyed: Vec<(&str, u64)> = self
            .nodes
            .children(id)
            .enumerate()
            .map(|(i, (_, child))| (child.name(), i as u64))
            .collect();
        javahash::order(&mut keyed, node.children_capacity(), |name| name);
        keyed.into_iter().map(|(name, _)| name.to_owned()).collect()
    }

    /// The children of node `id` (id and node) in insertion order.
    pub fn children(&self, id: NodeId) -> Children<'_> {
        self.nodes.children(id)
    }

    /// The names of the children of the node at `path`, in insertion order (none if it is
    /// missing).
    pub fn child_names(&self, path: &str) -> Vec<&str> {
        self.nodes.lookup(path).map_or_else(Vec::new, |id| {
            self.nodes.children(id).map(|(_, n)| n.name()).collect()
        })
    }

    /// The node at `path`; `""` is the root, as in ZooKeeper's node map.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(self.nodes.lookup(path)?)
    }

    /// The id of the node at `path`, valid until that node is deleted.
    pub fn node_id(&self, path: &str) -> Option<NodeId> {
        self.nodes.lookup(path)
    }

    /// The node with id `id`, if one lives there (the slot may since hold another node).
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn acl_list(&self, key: i64) -> &[Acl] {
        self.acls.get(key)
    }

    /// The same list, shared rather than borrowed from the tree.
    pub fn acl_shared(&self, key: i64) -> std::sync::Arc<[Acl]> {
        self.acls.get_shared(key)
    }

    /// The ACL of the node at `path`, if it exists.
    pub fn node_acl(&self, path: &str) -> Option<&[Acl]> {
        self.node(path).map(|n| self.acls.get(n.acl_key()))
    }

    pub fn kind(&self, node: &Node) -> NodeKind {
        NodeKind::of(node.stat().ephemeral_owner, self.extended_types)
    }

    /// `DataNode.copyStat`: the stat a client sees.
    pub fn client_stat(&self, node: &Node) -> Stat {
        let s = node.stat();
        let num_children = node.num_children() as i32;
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
    ) -> Result<(Stat, EventAcls), ErrorCode> {
        let parent_path = path::parent_raw(path).ok_or(ErrorCode::NoNode)?;
        let child = path::name(path);
        let parent = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        let acl_key = narrow_acl_key(self.acls.intern(acl));
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
        let hash = self.nodes.key_hash(parent, child.as_bytes());
        // `/` names the root through its alias `""`, not a child of it.
        let inserted = match path {
            ROOT => Err(ROOT_ID),
            _ => self.nodes.insert_child(hash, parent, child.as_bytes(), || {
                Node::new(child, data.as_deref(), acl_key, stat)
            }),
        };
        let id = match inserted {
            Ok(id) => id,
            Err(existing) => {
                // createNode gives an existing node the txn's ACL before failing: a node a
                // fuzzy snapshot caught may name an ACL the snapshot's map lacks, and
                // replaying its create repairs it. (ZooKeeper leaks the old key's reference;
                // Paddock drops it.)
                let node = self.nodes.get_mut(existing).expect("found");
                let old = node.acl_key();
                node.set_acl_key(acl_key);
                self.acls.release(old);
                return Err(ErrorCode::NodeExists);
            }
        };
        let bytes = data.as_ref().map_or(0, |d| d.len() as i64);
        self.data_size += node_size(path, data.as_deref());
        self.unhash(parent, parent_path);
        let parent_stat = self.nodes.get_mut(parent).expect("looked up").stat_mut();
        let new_cversion = if parent_cversion == -1 {
            parent_stat.cversion.wrapping_add(1)
        } else {
            parent_cversion
        };
        // Replays may carry an older cversion; only move forward (DataTree.createNode).
        if new_cversion > parent_stat.cversion {
            parent_stat.cversion = new_cversion;
            parent_stat.pzxid = zxid;
        }
        self.rehash(parent, parent_path);
        self.rehash(id, path);
        self.index_kind(path, owner);
        self.quota_on_create(parent_path, child);
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, bytes, 1);
        }
        let acls = EventAcls {
            node: self.acls.get_shared(i64::from(acl_key)),
            parent: self.acls.get_shared(self.nodes.node(parent).acl_key()),
        };
        Ok((self.client_stat(self.nodes.node(id)), acls))
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
    /// NodeDeleted by it) and its parent's. As in ZooKeeper, the parent's pzxid moves even
    /// when the child is already gone (a fuzzy snapshot may have missed it).
    pub fn delete_node(&mut self, path: &str, zxid: i64) -> Result<EventAcls, ErrorCode> {
        let parent_path = path::parent_raw(path).ok_or(ErrorCode::NoNode)?;
        let child = path::name(path);
        let parent = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        self.unhash(parent, parent_path);
        let stat = self.nodes.get_mut(parent).expect("looked up").stat_mut();
        // Deletes move pzxid but not cversion: cversion counts creates only.
        if zxid > stat.pzxid {
            stat.pzxid = zxid;
        }
        self.rehash(parent, parent_path);
        let id = match path {
            ROOT => None,
            _ => self.nodes.find_child(parent, child),
        };
        let id = id.ok_or(ErrorCode::NoNode)?;
        if self.nodes.node(id).num_children() > 0 {
            // Only a damaged log deletes a node with children (the request pipeline refuses
            // it). ZooKeeper would leave the children in its map, unreachable from any
            // parent; here they go first, with their indexes.
            self.delete_descendants(id, path, zxid);
        }
        self.unhash(id, path);
        let node = self.nodes.remove(id);
        let acls = EventAcls {
            node: self.acls.get_shared(node.acl_key()),
            parent: self.acls.get_shared(self.nodes.node(parent).acl_key()),
        };
        self.acls.release(node.acl_key());
        self.data_size -= node_size(path, node.data());
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
        Ok(acls)
    }

    /// Deletes every node below `id` (at `path`), deepest first.
    fn delete_descendants(&mut self, id: NodeId, path: &str, zxid: i64) {
        let mut found = Vec::new();
        let mut stack = vec![(id, path.to_owned())];
        while let Some((at, p)) = stack.pop() {
            for (child, n) in self.nodes.children(at) {
                let child_path = path::join(&p, n.name());
                found.push(child_path.clone());
                stack.push((child, child_path));
            }
        }
        // Every path comes after its parent's, so the reverse deletes leaves first.
        for p in found.iter().rev() {
            let _ = self.delete_node(p, zxid);
        }
    }

    /// `DataTree.setData`: `version` is the new version from the txn.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<(Stat, Arc<[Acl]>), ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.unhash(id, path);
        let node = self.nodes.get_mut(id).expect("looked up");
        let last_len = node.data_len();
        let new_len = data.as_ref().map_or(0, |d| d.len() as i64);
        node.set_data(data.as_deref());
        let stat = node.stat_mut();
        stat.mtime = time;
        stat.mzxid = zxid;
        stat.version = version;
        self.rehash(id, path);
        self.data_size += new_len - last_len;
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, new_len - last_len, 0);
        }
        let node = self.nodes.node(id);
        Ok((self.client_stat(node), self.acls.get_shared(node.acl_key())))
    }

    /// `DataTree.setACL`: `aversion` is the new ACL version from the txn.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], aversion: i32) -> Result<Stat, ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.acls.release(self.nodes.node(id).acl_key());
        let key = narrow_acl_key(self.acls.intern(acl));
        self.unhash(id, path);
        let node = self.nodes.get_mut(id).expect("looked up");
        node.stat_mut().aversion = aversion;
        node.set_acl_key(key);
        self.rehash(id, path);
        Ok(self.client_stat(self.nodes.node(id)))
    }

    /// The ephemeral paths of `session` in the order ZooKeeper lists them: the iteration
    /// order of a clone of the session's set (`DataTree.getEphemerals` clones it; getEphemerals
    /// and closeSession both list that clone).
    pub fn ephemerals(&self, session: i64) -> Vec<String> {
        let Some(set) = self.ephemerals.get(&session) else {
            return Vec::new();
        };
        let mut keyed: Vec<(&str, u64)> = set
            .paths
            .iter()
            .map(|(p, seq)| (p.as_str(), *seq))
            .collect();
        javahash::order_of_clone(&mut keyed, set.capacity, |p| p);
        keyed.into_iter().map(|(p, _)| p.to_owned()).collect()
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
            .map(|(s, set)| (*s, set.paths.keys().cloned().collect()))
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
        u64::from(self.nodes.len()) + 1
    }

    /// `cachedApproximateDataSize`.
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size
    }

    /// `DataTree.approximateDataSize` over ZooKeeper's map, root alias `""` included (size 0):
    /// each node's path length in UTF-16 units, built from its parent's, plus its data.
    fn approximate_data_size_uncached(&self) -> i64 {
        let root = self.nodes.node(ROOT_ID);
        let mut total = node_size(ROOT, root.data());
        let mut stack = vec![(ROOT_ID, 0)];
        while let Some((id, path_len)) = stack.pop() {
            for (child, n) in self.nodes.children(id) {
                let len = path_len + 1 + utf16_len(n.name());
                total += len + n.data_len();
                stack.push((child, len));
            }
        }
        total
    }

    /// `DataTree.getAllChildrenNumber`: every descendant. `/` excludes only the root; `""`
    /// (the alias) counts the root too, as ZooKeeper's prefix scan does.
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        let id = self.nodes.lookup(path)?;
        let below = self.count_subtree(id).0 - 1;
        Some(if path.is_empty() { below + 1 } else { below } as i32)
    }

    /// `(nodes, data bytes)` of the subtree at `id`, itself included (`DataTree.getCounts`).
    ///
    /// Iterative, so that a deep tree (paths may be as long as the packet limit) cannot
    /// overflow the stack.
    fn count_subtree(&self, id: NodeId) -> (i64, i64) {
        let (mut count, mut bytes) = (0, 0);
        let mut stack = vec![id];
        while let Some(at) = stack.pop() {
            count += 1;
            bytes += self.nodes.node(at).data_len();
            stack.extend(self.nodes.children(at).map(|(child, _)| child));
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

    /// Replaces the data of the quota stat node at `stat_path` (if it exists) with `track`.
    /// The node's stat does not change.
    fn write_quota_stat(&mut self, stat_path: &str, track: &StatsTrack) {
        let Some(id) = self.nodes.lookup(stat_path) else {
            return;
        };
        self.unhash(id, stat_path);
        let text = track.to_string();
        self.nodes
            .get_mut(id)
            .expect("looked up")
            .set_data(Some(text.as_bytes()));
        self.rehash(id, stat_path);
    }

    /// `DataTree.updateQuotaStat`: adds to `count` and `bytes` of the prefix's stat node,
    /// keeping its other keys.
    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = format!("{QUOTA}{prefix}/{STAT_NODE}");
        let Some(node) = self.node(&stat_path) else {
            return;
        };
        let mut track = StatsTrack::parse(node.data().unwrap_or_default());
        track.set("count", track.get("count") + count_diff);
        track.set("bytes", track.get("bytes") + bytes_diff);
        self.write_quota_stat(&stat_path, &track);
    }

    /// `DataTree.updateQuotaForPath`: recounts the subtree into a fresh stat node.
    fn update_quota_for_path(&mut self, quoted: &str) {
        let (count, bytes) = match self.nodes.lookup(quoted) {
            Some(id) => self.count_subtree(id),
            None => (0, 0),
        };
        let mut track = StatsTrack::default();
        track.set("count", count);
        track.set("bytes", bytes);
        self.write_quota_stat(&format!("{QUOTA}{quoted}/{STAT_NODE}"), &track);
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
            self.node(&format!("{QUOTA}{prefix}/{name}"))
                .map(|n| StatsTrack::parse(n.data().unwrap_or_default()))
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

    /// Asserts that the node table, the indexes and the digest agree. For tests and debug
    /// checks.
    pub fn check_invariants(&self) {
        assert!(self.nodes.links_are_consistent(), "sibling lists or counts");
        assert!(self.nodes.index_is_consistent(), "the (parent, name) index");
        let mut ephemerals = 0;
        let mut digest = 0i64;
        for (id, node) in self.nodes.iter() {
            let p = self.nodes.path_of(id);
            assert_eq!(self.nodes.lookup(&p), Some(id), "{p} is found by its path");
            let d = digest::node_digest(&p, node.data(), node.stat());
            digest = digest.wrapping_add(i64::from(d));
            match self.kind(node) {
                NodeKind::Ephemeral(s) => {
                    ephemerals += 1;
                    assert!(
                        self.ephemerals
                            .get(&s)
                            .is_some_and(|e| e.paths.contains_key(&p)),
                        "{p} unindexed"
                    );
                    assert_eq!(node.num_children(), 0, "ephemeral {p} has children");
                }
                NodeKind::Container => assert!(self.containers.contains(&p)),
                NodeKind::Ttl(_) => assert!(self.ttls.contains(&p)),
                NodeKind::Persistent => {}
            }
        }
        assert_eq!(digest, self.digest, "tree digest");
        assert_eq!(
            ephemerals,
            self.ephemerals_count(),
            "ephemeral index has extra paths"
        );
        assert!(self
            .containers
            .iter()
            .chain(&self.ttls)
            .all(|p| self.nodes.lookup(p).is_some()));
    }
}

impl LoadStack {
    /// The id of the parent of `path` (whose last slash is at `slash`) if it is the last
    /// loaded node or one of its ancestors. Entries deeper than the parent are dropped.
    fn parent_on_stack(&mut self, path: &str, slash: usize) -> Option<NodeId> {
        while self.stack.last().is_some_and(|&(len, _)| len > slash) {
            self.stack.pop();
        }
        let &(len, id) = self.stack.last()?;
        let same_prefix = self.last_path.as_bytes().get(..slash) == path.as_bytes().get(..slash);
        (len == slash && same_prefix).then_some(id)
    }

    /// Records `path` (id `id`) as the last loaded node. When its parent was not on the stack
    /// (a snapshot not written depth first), the stack is rebuilt from its ancestors.
    fn push(&mut self, nodes: &NodeTable, path: &str, id: NodeId) {
        let parent_len = path.rfind('/').unwrap_or(0);
        let on_stack = self.stack.last().is_some_and(|&(len, top)| {
            len == parent_len && nodes.get(id).is_some_and(|n| n.parent() == top)
        });
        if !on_stack {
            let slashes: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
            let mut ancestors = Vec::with_capacity(slashes.len());
            let mut at = nodes.node(id).parent();
            while at != NIL {
                ancestors.push(at);
                at = nodes.node(at).parent();
            }
            // `/a/b` has slashes at 0 and 2: the root's path length is 0 and `/a`'s is 2.
            self.stack = slashes
                .into_iter()
                .zip(ancestors.into_iter().rev())
                .collect();
        }
        self.stack.push((path.len(), id));
        self.last_path.clear();
        self.last_path.push_str(path);
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

    fn tree() -> DataTree {
        DataTree::new(Vec::new(), false)
    }

    fn create(t: &mut DataTree, path: &str, zxid: i64) -> Result<Stat, ErrorCode> {
        t.create_node(
            path,
            Some(b"v".to_vec()),
            &Acl::open_unsafe(),
            0,
            -1,
            zxid,
            0,
        )
        .map(|(stat, _)| stat)
    }

    // DataNode.addChild: `new HashSet<>(8)`, doubling past three quarters full, never shrinking.
    #[test]
    fn children_capacity_grows_like_java_hashset() {
        let mut t = tree();
        create(&mut t, "/p", 1).unwrap();
        assert_eq!(t.node("/p").unwrap().children_capacity(), 0);
        for i in 0..6 {
            create(&mut t, &format!("/p/c{i}"), 2 + i).unwrap();
        }
        assert_eq!(t.node("/p").unwrap().children_capacity(), 8);
        create(&mut t, "/p/c6", 10).unwrap();
        assert_eq!(t.node("/p").unwrap().children_capacity(), 16);
        for i in 7..13 {
            create(&mut t, &format!("/p/c{i}"), 10 + i).unwrap();
        }
        assert_eq!(t.node("/p").unwrap().children_capacity(), 32);
        for i in 0..13 {
            t.delete_node(&format!("/p/c{i}"), 30 + i).unwrap();
        }
        assert_eq!(
            t.node("/p").unwrap().children_capacity(),
            32,
            "removal never shrinks the table"
        );
        t.check_invariants();
    }

    // HashSet iteration: by bucket, then insertion order. "c0".."c9" spread over the buckets
    // of a 16-slot table; a re-created child goes to the end of its bucket.
    #[test]
    fn children_list_in_java_hashset_order_after_deletes_and_recreates() {
        let mut t = tree();
        create(&mut t, "/p", 1).unwrap();
        let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            create(&mut t, &format!("/p/{n}"), 2 + i as i64).unwrap();
        }
        t.delete_node("/p/c3", 20).unwrap();
        create(&mut t, "/p/c3", 21).unwrap();
        let id = t.node_id("/p").unwrap();
        let got = t.children_in_zookeeper_order(id);
        let mut want: Vec<(String, u64)> = names
            .iter()
            .filter(|n| *n != "c3")
            .chain(std::iter::once(&"c3".to_owned()))
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u64))
            .collect();
        javahash::order(&mut want, 16, |n| n);
        let want: Vec<String> = want.into_iter().map(|(n, _)| n).collect();
        assert_eq!(got, want);
        assert_eq!(t.child_names("/p").last(), Some(&"c3"));
        t.check_invariants();
    }

    fn snap_stat(czxid: i64) -> StatPersisted {
        StatPersisted {
            czxid,
            mzxid: czxid,
            pzxid: czxid,
            ..StatPersisted::default()
        }
    }

    fn load(order: &[&str]) -> Result<DataTree, LoadError> {
        let mut t = DataTree::for_load(false, Vec::new());
        let mut at = LoadStack::default();
        t.load_node(&mut at, "", Some(b""), -1, snap_stat(0))?;
        for (i, p) in order.iter().enumerate() {
            t.load_node(&mut at, p, Some(p.as_bytes()), -1, snap_stat(i as i64 + 1))?;
        }
        t.finish_load(at)?;
        Ok(t)
    }

    // DataTree.serializeNode writes depth first; deserialize only needs parents first, so a
    // breadth-first file loads the same tree (the stack is rebuilt from the parent links).
    #[test]
    fn loading_finds_parents_on_the_stack_and_off_it() {
        let depth_first = ["/a", "/a/b", "/a/b/c", "/a/d", "/e", "/e/f"];
        let breadth_first = ["/a", "/e", "/a/b", "/a/d", "/e/f", "/a/b/c"];
        for order in [&depth_first[..], &breadth_first[..]] {
            let t = load(order).unwrap();
            t.check_invariants();
            for p in order {
                assert_eq!(t.node(p).unwrap().data(), Some(p.as_bytes()), "{p}");
            }
            assert_eq!(t.child_names("/a"), ["b", "d"], "snapshot order is kept");
            assert_eq!(t.node_count(), order.len() as u64 + 2);
            assert_eq!(
                t.approximate_data_size(),
                t.approximate_data_size_uncached()
            );
        }
    }

    #[test]
    fn loading_refuses_orphans_duplicates_and_bad_paths() {
        let missing = load(&["/a", "/b/c"]).unwrap_err();
        assert!(matches!(missing, LoadError::MissingParent { .. }));
        // "/a/b" after "/a/x/y": the stack pops back to /a.
        let t = load(&["/a", "/a/x", "/a/x/y", "/a/b"]).unwrap();
        assert_eq!(t.child_names("/a"), ["x", "b"]);
        for bad in ["a", "/a/", "//a"] {
            let err = load(&["/a", bad]).unwrap_err();
            assert!(matches!(err, LoadError::InvalidPath { .. }), "{bad}: {err}");
        }
        assert!(matches!(
            load(&["/a", "/a"]).unwrap_err(),
            LoadError::Duplicate { .. }
        ));
        assert!(matches!(
            load(&["/"]).unwrap_err(),
            LoadError::Duplicate { .. }
        ));
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
