//! ZooKeeper's tree digest (`DigestCalculator`, `AdHash`, `NodeHashMapImpl`): each node hashes
//! to the CRC32 of its path, data and stat fields; the tree digest is the wrapping sum of the
//! node digests, so adding, removing or changing one node updates it in O(1).

use paddock_jute::types::StatPersisted;

/// `DigestCalculator.DIGEST_VERSION`.
pub const DIGEST_VERSION: i32 = 2;

/// `ZooDefs.ZOOKEEPER_NODE_SUBTREE`: nodes below it (quotas, config) never count, because
/// ZooKeeper updates them locally on each server.
const ZOOKEEPER_NODE_SUBTREE: &str = "/zookeeper/";

/// `DigestCalculator.calculateDigest(path, data, stat)`.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> i64 {
    if path.starts_with(ZOOKEEPER_NODE_SUBTREE) {
        return 0;
    }
    // "" and "/" both name the root; Java maps "/" to "".
    let path = if path == "/" { "" } else { path };
    let mut fields = [0u8; 60];
    let longs_then_ints = [
        stat.czxid.to_be_bytes(),
        stat.mzxid.to_be_bytes(),
        stat.pzxid.to_be_bytes(),
        stat.ctime.to_be_bytes(),
        stat.mtime.to_be_bytes(),
    ];
    for (i, bytes) in longs_then_ints.iter().enumerate() {
        fields[i * 8..i * 8 + 8].copy_from_slice(bytes);
    }
    fields[40..44].copy_from_slice(&stat.version.to_be_bytes());
    fields[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    fields[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    fields[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(data) = data {
        crc.update(data);
    }
    crc.update(&fields);
    i64::from(crc.finalize())
}

/// `AdHash`: the tree digest, a wrapping 64-bit sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeDigest(pub i64);

impl TreeDigest {
    pub fn add(&mut self, node_digest: i64) {
        self.0 = self.0.wrapping_add(node_digest);
    }

    pub fn remove(&mut self, node_digest: i64) {
        self.0 = self.0.wrapping_sub(node_digest);
    }

    /// The digest of a whole tree given as (path, data, stat); the root as "" or "/".
    pub fn of_nodes<'a>(
        nodes: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>, &'a StatPersisted)>,
    ) -> TreeDigest {
        let mut d = TreeDigest::default();
        for (path, data, stat) in nodes {
            d.add(node_digest(path, data, stat));
        }
        d
    }
}
