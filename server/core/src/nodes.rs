//! The node table under the data tree: znodes in a slab indexed by `u32` ids, found by
//! (parent id, name) through a hash index, each parent's children in an intrusive sibling list.
//!
//! Why this shape (issue 3's memory and recovery goals): a map keyed by full path stores every
//! path once as a key and every name again in its parent's child set, and hashes whole paths.
//! Here a node stores only its own name, in the same allocation as its data, so a znode costs
//! one slot (112 bytes), one heap chunk (name and data) and about ten bytes of index. The
//! sibling list keeps children in insertion order, which is what ZooKeeper's `HashSet` order
//! needs within a bucket, and gives O(1) adds and removes.
//!
//! The slab grows in fixed chunks of `CHUNK_SLOTS`, so growing never copies the nodes already
//! stored (one `Vec` would copy 100+ MB when it doubles past a million nodes, stalling the
//! create that triggers it). Deleted slots go to a free list and are reused; an id is only
//! meaningful while its node lives.
//!
//! The index hashes (parent id, name) with a randomly keyed hasher: names are chosen by
//! clients, and a fixed hash would let them pile nodes into one bucket.

use std::hash::{BuildHasher, Hasher};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use paddock_jute::StatPersisted;

use crate::javahash;

/// A node's slot in the table. Stable while the node lives; reused after it is deleted.
pub type NodeId = u32;

/// No node: the end of a sibling list, the root's parent.
pub const NIL: NodeId = u32::MAX;

/// The root `/` (ZooKeeper's `""`) always has id 0.
pub const ROOT_ID: NodeId = 0;

const CHUNK_BITS: u32 = 12;
/// Slots per slab chunk. 4096 slots of 112 bytes: chunks of 448 KiB.
const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;

/// One znode (`DataNode`) without its path: its name and data share one allocation.
///
/// 112 bytes. Two things ZooKeeper's `DataNode` keeps are left out to get there: the node's
/// digest (recomputed from the node when it changes, which costs one CRC of the node per
/// write) and the name's length (a varint in front of the name, one byte for names under 128
/// bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `cversion` counts child creates (see `tree`).
    stat: StatPersisted,
    /// The name's length as a LEB128 varint, the name's UTF-8 bytes, then the data's.
    bytes: Box<[u8]>,
    parent: NodeId,
    first_child: NodeId,
    last_child: NodeId,
    prev_sibling: NodeId,
    next_sibling: NodeId,
    num_children: u32,
    /// Key into the tree's `AclCache`, narrowed from ZooKeeper's `long` (keys count up from 1
    /// and a snapshot key that does not fit is refused at the edge, in `DataTree`).
    acl: i32,
    /// log2 of the capacity ZooKeeper's `HashSet` of children would have now; 0 before the
    /// first child (the set is created with capacity 8, so 0 is never a real log2).
    children_capacity_log2: u8,
    /// A null data buffer, kept apart from an empty one.
    data_is_null: bool,
}

impl Node {
    /// A node named `name` with no children.
    pub(crate) fn new(name: &str, data: Option<&[u8]>, acl: i32, stat: StatPersisted) -> Node {
        Node {
            stat,
            bytes: name_and_data(name.as_bytes(), data),
            parent: NIL,
            first_child: NIL,
            last_child: NIL,
            prev_sibling: NIL,
            next_sibling: NIL,
            num_children: 0,
            acl,
            children_capacity_log2: 0,
            data_is_null: data.is_none(),
        }
    }

    /// The last component of the node's path (`""` for the root).
    pub fn name(&self) -> &str {
        std::str::from_utf8(self.name_bytes()).expect("names are stored from &str")
    }

    fn name_bytes(&self) -> &[u8] {
        let (start, end) = name_range(&self.bytes);
        &self.bytes[start..end]
    }

    /// `None` is a null buffer, kept apart from an empty one.
    pub fn data(&self) -> Option<&[u8]> {
        (!self.data_is_null).then(|| &self.bytes[name_range(&self.bytes).1..])
    }

    pub fn data_len(&self) -> i64 {
        (self.bytes.len() - name_range(&self.bytes).1) as i64
    }

    /// Replaces the data, keeping the name in the same allocation: in place when the length
    /// stays (a counter, a fixed-size record), else in a new one.
    pub(crate) fn set_data(&mut self, data: Option<&[u8]>) {
        let new = data.unwrap_or_default();
        let start = name_range(&self.bytes).1;
        if self.bytes.len() - start == new.len() {
            self.bytes[start..].copy_from_slice(new);
        } else {
            self.bytes = name_and_data(self.name_bytes(), data);
        }
        self.data_is_null = data.is_none();
    }

    pub fn stat(&self) -> &StatPersisted {
        &self.stat
    }

    pub(crate) fn stat_mut(&mut self) -> &mut StatPersisted {
        &mut self.stat
    }

    /// The key of the node's ACL in the tree's `AclCache`.
    pub fn acl_key(&self) -> i64 {
        i64::from(self.acl)
    }

    pub(crate) fn set_acl_key(&mut self, key: i32) {
        self.acl = key;
    }

    pub fn num_children(&self) -> u32 {
        self.num_children
    }

    /// The table capacity ZooKeeper's `HashSet` of children would have now (0 before the
    /// first child). With the children's insertion order it fixes the order in which
    /// ZooKeeper lists children (see `javahash`).
    pub fn children_capacity(&self) -> u32 {
        match self.children_capacity_log2 {
            0 => 0,
            log2 => 1 << log2,
        }
    }

    pub fn parent(&self) -> NodeId {
        self.parent
    }
}

/// Where the name lies in a node's bytes: after its varint length.
fn name_range(bytes: &[u8]) -> (usize, usize) {
    let mut len = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (i + 1, i + 1 + len);
        }
    }
    unreachable!("a node's bytes start with a complete varint")
}

/// The varint length, the name, the data: the one allocation of a node.
fn name_and_data(name: &[u8], data: Option<&[u8]>) -> Box<[u8]> {
    let data = data.unwrap_or_default();
    let mut bytes = Vec::with_capacity(5 + name.len() + data.len());
    let mut len = name.len();
    while len >= 0x80 {
        bytes.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    bytes.push(len as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(data);
    bytes.into_boxed_slice()
}

/// The slab, its free list and the (parent, name) index.
#[derive(Debug)]
pub(crate) struct NodeTable {
    /// Each chunk is allocated with `CHUNK_SLOTS` capacity and never reallocated.
    chunks: Vec<Vec<Option<Node>>>,
    free: Vec<NodeId>,
    live: u32,
    /// Every node but the root, by `key_hash(parent, name)`.
    index: HashTable<NodeId>,
    hasher: ahash::RandomState,
}

impl NodeTable {
    /// A table holding only `root` (id `ROOT_ID`).
    pub(crate) fn with_root(root: Node) -> NodeTable {
        let mut table = NodeTable {
            chunks: Vec::new(),
            free: Vec::new(),
            live: 0,
            index: HashTable::new(),
            hasher: ahash::RandomState::new(),
        };
        let id = alloc(&mut table.chunks, &mut table.free, &mut table.live, root);
        assert_eq!(id, ROOT_ID, "the root takes the first slot");
        table
    }

    /// Room for `additional` more nodes without rehashing the index (loading a snapshot).
    pub(crate) fn reserve(&mut self, additional: usize) {
        let Self {
            index,
            chunks,
            hasher,
            ..
        } = self;
        index.reserve(additional, |&id| rehash(hasher, chunks, id));
        let slots = self.live as usize + additional;
        self.chunks.reserve(
            slots
                .div_ceil(CHUNK_SLOTS)
                .saturating_sub(self.chunks.len()),
        );
    }

    /// Live nodes, the root included.
    pub(crate) fn len(&self) -> u32 {
        self.live
    }

    pub(crate) fn get(&self, id: NodeId) -> Option<&Node> {
        slot(&self.chunks, id)
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.chunks
            .get_mut((id >> CHUNK_BITS) as usize)?
            .get_mut((id & CHUNK_MASK) as usize)?
            .as_mut()
    }

    /// The node with id `id`, which the caller knows to be live.
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        self.get(id).expect("a live node id")
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.get_mut(id).expect("a live node id")
    }

    /// The hash under which the child `name` of `parent` is indexed.
    pub(crate) fn key_hash(&self, parent: NodeId, name: &[u8]) -> u64 {
        key_hash(&self.hasher, parent, name)
    }

    /// The child `name` of `parent`, given `hash = key_hash(parent, name)`.
    pub(crate) fn find_hashed(&self, hash: u64, parent: NodeId, name: &[u8]) -> Option<NodeId> {
        self.index
            .find(hash, |&id| {
                let n = self.node(id);
                n.parent == parent && n.name_bytes() == name
            })
            .copied()
    }

    pub(crate) fn find_child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        let name = name.as_bytes();
        self.find_hashed(self.key_hash(parent, name), parent, name)
    }

    /// The node at `path`, walking it component by component from the root. `""` and `/`
    /// are the root; anything not absolute is no node.
    pub(crate) fn lookup(&self, path: &str) -> Option<NodeId> {
        if path.is_empty() || path == "/" {
            return Some(ROOT_ID);
        }
        let rest = path.strip_prefix('/')?;
        rest.split('/')
            .try_fold(ROOT_ID, |parent, name| self.find_child(parent, name))
    }

    /// Adds `make()` as the last child of `parent`, unless `parent` has a child named `name`
    /// (then `Err` with that child's id). `hash` is `key_hash(parent, name)`, and `make` must
    /// build a node named `name`. One probe of the index does both the check and the insert.
    /// The parent's child-set capacity grows as `DataNode.addChild`'s `new HashSet<>(8)` does.
    pub(crate) fn insert_child(
        &mut self,
        hash: u64,
        parent: NodeId,
        name: &[u8],
        make: impl FnOnce() -> Node,
    ) -> Result<NodeId, NodeId> {
        let Self {
            index,
            chunks,
            hasher,
            free,
            live,
        } = self;
        let entry = index.entry(
            hash,
            |&id| slot(chunks, id).is_some_and(|n| n.parent == parent && n.name_bytes() == name),
            |&id| rehash(hasher, chunks, id),
        );
        let vacant = match entry {
            Entry::Occupied(existing) => return Err(*existing.get()),
            Entry::Vacant(vacant) => vacant,
        };
        let mut node = make();
        debug_assert_eq!(node.name_bytes(), name);
        node.parent = parent;
        node.prev_sibling = slot(chunks, parent).expect("a live parent").last_child;
        node.next_sibling = NIL;
        let id = alloc(chunks, free, live, node);
        vacant.insert(id);
        self.link_last(parent, id);
        Ok(id)
    }

    /// Finishes appending `id` to `parent`'s children (its own links are set).
    fn link_last(&mut self, parent: NodeId, id: NodeId) {
        let prev = self.node(id).prev_sibling;
        if prev == NIL {
            self.node_mut(parent).first_child = id;
        } else {
            self.node_mut(prev).next_sibling = id;
        }
        let p = self.node_mut(parent);
        p.last_child = id;
        p.num_children += 1;
        let capacity = javahash::grown_capacity(p.children_capacity(), 8, p.num_children as usize);
        p.children_capacity_log2 = capacity.trailing_zeros() as u8;
    }

    /// Takes a childless node out of its parent's list, the index and the slab.
    pub(crate) fn remove(&mut self, id: NodeId) -> Node {
        assert!(id != ROOT_ID, "the root is never removed");
        let (parent, prev, next) = {
            let n = self.node(id);
            assert_eq!(n.num_children, 0, "only leaves are removed");
            (n.parent, n.prev_sibling, n.next_sibling)
        };
        match prev {
            NIL => self.node_mut(parent).first_child = next,
            prev => self.node_mut(prev).next_sibling = next,
        }
        match next {
            NIL => self.node_mut(parent).last_child = prev,
            next => self.node_mut(next).prev_sibling = prev,
        }
        self.node_mut(parent).num_children -= 1;
        let hash = self.key_hash(parent, self.node(id).name_bytes());
        match self.index.find_entry(hash, |&other| other == id) {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => unreachable!("every non-root node is indexed"),
        }
        let node = self.chunks[(id >> CHUNK_BITS) as usize][(id & CHUNK_MASK) as usize]
            .take()
            .expect("a live node id");
        self.free.push(id);
        self.live -= 1;
        node
    }

    /// The children of `id` in insertion order.
    pub(crate) fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            table: self,
            next: self.get(id).map_or(NIL, |n| n.first_child),
        }
    }

    /// Every live node with its id, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk.iter().enumerate().filter_map(move |(i, slot)| {
                let id = ((c as u32) << CHUNK_BITS) | i as u32;
                slot.as_ref().map(|n| (id, n))
            })
        })
    }

    /// The full path of a live node (`/` for the root), built from its parent links.
    pub(crate) fn path_of(&self, id: NodeId) -> String {
        let mut names = Vec::new();
        let mut at = id;
        while at != ROOT_ID {
            let n = self.node(at);
            names.push(n.name());
            at = n.parent;
        }
        if names.is_empty() {
            return "/".to_owned();
        }
        names.iter().rev().fold(String::new(), |mut p, name| {
            p.push('/');
            p.push_str(name);
            p
        })
    }

    /// Whether the index finds every non-root node under its own (parent, name), and only
    /// those. For invariant checks.
    pub(crate) fn index_is_consistent(&self) -> bool {
        self.index.len() + 1 == self.live as usize
            && self
                .iter()
                .filter(|(id, _)| *id != ROOT_ID)
                .all(|(id, n)| self.find_child(n.parent, n.name()) == Some(id))
    }

    /// Whether each node's sibling list and child count agree. For invariant checks.
    pub(crate) fn links_are_consistent(&self) -> bool {
        self.iter().all(|(id, n)| {
            let mut prev = NIL;
            let mut count = 0;
            let mut at = n.first_child;
            while at != NIL {
                let child = self.node(at);
                if child.parent != id || child.prev_sibling != prev {
                    return false;
                }
                prev = at;
                count += 1;
                at = child.next_sibling;
            }
            prev == n.last_child && count == n.num_children
        })
    }
}

/// Puts `node` in a free slot, or a new one at the end (in a new chunk when the last is full).
fn alloc(
    chunks: &mut Vec<Vec<Option<Node>>>,
    free: &mut Vec<NodeId>,
    live: &mut u32,
    node: Node,
) -> NodeId {
    *live += 1;
    if let Some(id) = free.pop() {
        chunks[(id >> CHUNK_BITS) as usize][(id & CHUNK_MASK) as usize] = Some(node);
        return id;
    }
    if chunks.last().is_none_or(|c| c.len() == CHUNK_SLOTS) {
        chunks.push(Vec::with_capacity(CHUNK_SLOTS));
    }
    let c = chunks.len() - 1;
    let chunk = &mut chunks[c];
    let id = ((c as u64) << CHUNK_BITS) | chunk.len() as u64;
    let id = NodeId::try_from(id)
        .ok()
        .filter(|&id| id != NIL)
        .expect("fewer than 2^32 - 1 nodes (hundreds of gigabytes of memory)");
    chunk.push(Some(node));
    id
}

fn slot(chunks: &[Vec<Option<Node>>], id: NodeId) -> Option<&Node> {
    chunks
        .get((id >> CHUNK_BITS) as usize)?
        .get((id & CHUNK_MASK) as usize)?
        .as_ref()
}

fn key_hash(hasher: &ahash::RandomState, parent: NodeId, name: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u32(parent);
    h.write(name);
    h.finish()
}

/// The index hash of a node already in the slab (for the index's own resizing).
fn rehash(hasher: &ahash::RandomState, chunks: &[Vec<Option<Node>>], id: NodeId) -> u64 {
    let n = slot(chunks, id).expect("indexed nodes are live");
    key_hash(hasher, n.parent, n.name_bytes())
}

/// The children of a node in insertion order.
pub struct Children<'a> {
    table: &'a NodeTable,
    next: NodeId,
}

impl<'a> Iterator for Children<'a> {
    type Item = (NodeId, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == NIL {
            return None;
        }
        let id = self.next;
        let node = self.table.node(id);
        self.next = node.next_sibling;
        Some((id, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str) -> Node {
        Node::new(name, Some(b"v"), -1, StatPersisted::default())
    }

    fn table() -> NodeTable {
        NodeTable::with_root(leaf(""))
    }

    fn add(t: &mut NodeTable, parent: NodeId, name: &str) -> NodeId {
        let hash = t.key_hash(parent, name.as_bytes());
        t.insert_child(hash, parent, name.as_bytes(), || leaf(name))
            .expect("a new name")
    }

    fn names(t: &NodeTable, id: NodeId) -> Vec<&str> {
        t.children(id).map(|(_, n)| n.name()).collect()
    }

    #[test]
    fn deleted_slots_are_reused_and_the_old_name_is_gone() {
        let mut t = table();
        let a = add(&mut t, ROOT_ID, "a");
        let b = add(&mut t, ROOT_ID, "b");
        t.remove(a);
        assert_eq!(t.lookup("/a"), None);
        let c = add(&mut t, ROOT_ID, "c");
        assert_eq!(c, a, "the freed slot is taken first");
        assert_eq!(t.lookup("/c"), Some(c));
        let hash = t.key_hash(ROOT_ID, b"b");
        assert_eq!(
            t.insert_child(hash, ROOT_ID, b"b", || leaf("b")),
            Err(b),
            "b exists"
        );
        assert_eq!(t.lookup("/b"), Some(b));
        assert_eq!(t.len(), 3);
        assert!(t.index_is_consistent() && t.links_are_consistent());
    }

    // ZooKeeper's HashSet lists a bucket's entries in insertion order; the sibling list is the
    // insertion order, also after deletes in the middle and at both ends and re-creates.
    #[test]
    fn sibling_order_is_insertion_order_after_deletes_and_recreates() {
        let mut t = table();
        let ids: Vec<NodeId> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| add(&mut t, ROOT_ID, n))
            .collect();
        t.remove(ids[2]);
        t.remove(ids[0]);
        t.remove(ids[4]);
        assert_eq!(names(&t, ROOT_ID), ["b", "d"]);
        add(&mut t, ROOT_ID, "a");
        add(&mut t, ROOT_ID, "c");
        assert_eq!(names(&t, ROOT_ID), ["b", "d", "a", "c"]);
        assert_eq!(t.node(ROOT_ID).num_children(), 4);
        assert_eq!(t.node(ROOT_ID).children_capacity(), 8);
        assert!(t.links_are_consistent());
    }

    #[test]
    fn deep_paths_are_found_by_components() {
        let mut t = table();
        let mut parent = ROOT_ID;
        let mut path = String::new();
        for depth in 0..200 {
            let name = format!("d{depth}");
            parent = add(&mut t, parent, &name);
            path.push('/');
            path.push_str(&name);
        }
        assert_eq!(t.lookup(&path), Some(parent));
        assert_eq!(t.path_of(parent), path);
        assert_eq!(t.lookup(&format!("{path}/x")), None);
        assert_eq!(t.lookup(&format!("{path}/")), None, "no empty names");
        assert_eq!(t.lookup("d0"), None, "not absolute");
        assert_eq!(t.lookup(""), Some(ROOT_ID));
        // The same name under different parents is a different node.
        let x1 = add(&mut t, ROOT_ID, "x");
        let x2 = add(&mut t, x1, "x");
        assert_eq!(t.lookup("/x/x"), Some(x2));
    }

    #[test]
    fn growth_spans_chunks_without_moving_nodes() {
        let mut t = table();
        t.reserve(10);
        let first = add(&mut t, ROOT_ID, "first");
        for i in 0..CHUNK_SLOTS + 10 {
            add(&mut t, first, &format!("n{i}"));
        }
        assert_eq!(t.chunks.len(), 2);
        assert!(t.chunks.iter().all(|c| c.capacity() == CHUNK_SLOTS));
        assert_eq!(
            t.lookup("/first/n4100").map(|id| t.path_of(id)).as_deref(),
            Some("/first/n4100")
        );
        assert_eq!(t.node(first).num_children() as usize, CHUNK_SLOTS + 10);
    }

    #[test]
    fn null_data_stays_apart_from_empty_data() {
        let mut n = Node::new("name", None, -1, StatPersisted::default());
        assert_eq!(n.data(), None);
        assert_eq!(n.data_len(), 0);
        n.set_data(Some(b""));
        assert_eq!(n.data(), Some(&b""[..]));
        n.set_data(Some(b"xyz"));
        assert_eq!(
            (n.name(), n.data(), n.data_len()),
            ("name", Some(&b"xyz"[..]), 3)
        );
    }

    #[test]
    fn data_of_the_same_length_is_replaced_in_place() {
        let mut n = Node::new("counter", Some(b"0001"), -1, StatPersisted::default());
        let before = n.bytes.as_ptr();
        n.set_data(Some(b"0002"));
        assert_eq!((n.name(), n.data()), ("counter", Some(&b"0002"[..])));
        assert_eq!(n.bytes.as_ptr(), before, "same length: same allocation");
        n.set_data(Some(b""));
        n.set_data(None);
        assert_eq!((n.name(), n.data(), n.data_len()), ("counter", None, 0));
        n.set_data(Some(b""));
        assert_eq!(n.data(), Some(&b""[..]));
        n.set_data(Some(b"longer data"));
        assert_eq!((n.name(), n.data()), ("counter", Some(&b"longer data"[..])));
    }

    // The slot size is the point of this table: keep it from growing unnoticed.
    #[test]
    fn a_slot_is_112_bytes() {
        assert_eq!(std::mem::size_of::<Option<Node>>(), 112);
    }

    #[test]
    fn long_names_keep_their_length_in_a_varint() {
        for len in [0, 1, 127, 128, 300, 20_000] {
            let name = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let mut n = Node::new(&name, Some(b"data"), -1, StatPersisted::default());
            assert_eq!((n.name(), n.data()), (name.as_str(), Some(&b"data"[..])));
            n.set_data(None);
            assert_eq!((n.name(), n.data(), n.data_len()), (name.as_str(), None, 0));
        }
    }
}
