//! The tree digest of ZooKeeper 3.6+ (`DigestCalculator`, `AdHash`, `NodeHashMapImpl`).
//!
//! Every znode outside `/zookeeper/` contributes the CRC32 of its path, data and persisted
//! stat; the tree digest is the wrapping sum of those values, so it can be kept current by
//! subtracting a node's value before a change and adding it back after. ZooKeeper writes this
//! sum into snapshots (`ZxidDigest`) and after each logged txn (`TxnDigest`), and checks it when
//! it replays them, so Paddock's value must match bit for bit.

use paddock_jute::StatPersisted;

/// `DigestCalculator.DIGEST_VERSION`, written beside every digest.
pub const DIGEST_VERSION: i32 = 2;

/// `ZooDefs.ZOOKEEPER_NODE_SUBTREE`: nodes below it are left out, because quota stat nodes
/// are rewritten locally without a txn. `/zookeeper` itself is included.
const EXCLUDED_SUBTREE: &str = "/zookeeper/";

/// `DigestCalculator.calculateDigest`: CRC32 over the path's UTF-8 bytes (`/` counts as `""`,
/// its alias), the data if not null, then czxid, mzxid, pzxid, ctime, mtime, version, cversion,
/// aversion and ephemeralOwner big-endian. 0 for nodes below `/zookeeper/`.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> u32 {
    if path.starts_with(EXCLUDED_SUBTREE) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut fields = [0u8; 60];
    let longs = [stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime];
    for (i, v) in longs.iter().enumerate() {
        fields[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
    }
    let ints = [stat.version, stat.cversion, stat.aversion];
    for (i, v) in ints.iter().enumerate() {
        fields[40 + i * 4..44 + i * 4].copy_from_slice(&v.to_be_bytes());
    }
    fields[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(data) = data {
        crc.update(data);
    }
    crc.update(&fields);
    crc.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(v: [i64; 9]) -> StatPersisted {
        StatPersisted {
            czxid: v[0],
            mzxid: v[1],
            ctime: v[2],
            mtime: v[3],
            version: v[4] as i32,
            cversion: v[5] as i32,
            aversion: v[6] as i32,
            ephemeral_owner: v[7],
            pzxid: v[8],
        }
    }

    // Golden values printed by DigestCalculator.calculateDigest of ZooKeeper 3.8.0 (Debian's
    // zookeeper.jar), for `new StatPersisted(czxid, mzxid, ctime, mtime, version, cversion,
    // aversion, ephemeralOwner, pzxid)`.
    #[test]
    fn node_digest_matches_zookeeper_3_8() {
        let s = stat([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(node_digest("/a", Some(b"hello"), &s), 3541642314);
        let zero = StatPersisted::default();
        assert_eq!(node_digest("/", None, &zero), 68323592);
        assert_eq!(
            node_digest("", Some(b""), &zero),
            68323592,
            "/ is hashed as \"\""
        );
        let odd = stat([-1, -2, -3, -4, -5, -6, -7, i64::MIN, i64::MAX]);
        assert_eq!(
            node_digest("/\u{e9}\u{4e2d}", Some(&[0, 255]), &odd),
            3927948344
        );
    }

    // NodeHashMapImpl.addDigest skips paths starting with "/zookeeper/".
    #[test]
    fn nodes_below_zookeeper_are_left_out() {
        let zero = StatPersisted::default();
        assert_eq!(node_digest("/zookeeper/quota", Some(b""), &zero), 0);
        assert_ne!(node_digest("/zookeeper", Some(b""), &zero), 0);
    }
}
