//! The tree digest of ZooKeeper 3.6+ (`DigestCalculator`, `AdHash`, `NodeHashMapImpl`).
//!
//! Every znode outside `/zookeeper/` contributes the CRC32 of its path, data and persisted
//! stat; the tree digest is the wrapping sum of those values, so it can be kept current by
//! subtracting a node's value before a change and adding it back after. ZooKeeper writes this
//! sum into snapshots (`ZxidDigest`) and after each logged txn (`TxnDigest`), and checks it when
//! it replays them, so Paddock's value must match bit for bit.

use std::collections::VecDeque;

use paddock_jute::txn::{TxnDigest, ZxidDigest};
use paddock_jute::StatPersisted;

/// `DigestCalculator.DIGEST_VERSION`, written beside every digest.
pub const DIGEST_VERSION: i32 = 2;

/// `DataTree.DIGEST_LOG_INTERVAL`: the digest is recorded after every txn whose zxid is a
/// multiple of this.
pub const DIGEST_LOG_INTERVAL: i64 = 128;

/// `DataTree.DIGEST_LOG_LIMIT`: how many records are kept, the newest.
pub const DIGEST_LOG_LIMIT: usize = 1024;

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

/// The tree digest as transactions apply, and the checks ZooKeeper makes with it
/// (`DataTree.logZxidDigest`, `compareSnapshotDigests`, `compareDigest`).
///
/// - Every whole txn applied or replayed is offered to `applied`: at zxids that are a
///   multiple of `DIGEST_LOG_INTERVAL` the digest after it is recorded. The `hash` command
///   lists these records, so members of an ensemble (and a restarted server, which replays
///   its log) can be compared zxid by zxid.
/// - A fuzzy snapshot's digest is as of a zxid later than the snapshot's name. Until replay
///   reaches that zxid, the tree may hold changes the replayed txns make again, so nothing is
///   recorded or compared; at that zxid the tree must equal the snapshot's digest.
/// - A logged txn that carries a `TxnDigest` (ZooKeeper writes one after every txn) is
///   compared with the tree after replaying it.
///
/// A mismatch means the tree is not the one the digest was taken from: ZooKeeper counts it
/// (`digest_mismatches_count`) and logs it, and so does the server with these counts.
#[derive(Debug, Default, Clone)]
pub struct DigestLog {
    /// (zxid, digest after it): the newest `DIGEST_LOG_LIMIT` records.
    recorded: VecDeque<(i64, i64)>,
    /// `digestFromLoadedSnapshot`: a loaded snapshot's digest that replay has not reached.
    awaited: Option<ZxidDigest>,
    compared: u64,
    mismatches: u64,
    first_mismatch: Option<i64>,
}

impl DigestLog {
    /// After loading the snapshot named `snapshot_zxid`, which ends with `recorded`, into a
    /// tree whose digest is now `tree` (`DataTree.deserializeZxidDigest` and the end of
    /// `FileSnap.deserialize`). A record of zxid 0 holds no digest; one older than the
    /// snapshot is of no use. One as of the snapshot's own zxid (no txn ran while it was
    /// written) is compared at once; a later one is awaited.
    pub fn after_snapshot(snapshot_zxid: i64, recorded: Option<ZxidDigest>, tree: i64) -> Self {
        let mut log = DigestLog {
            awaited: recorded.filter(|r| r.zxid > 0 && r.zxid >= snapshot_zxid),
            ..DigestLog::default()
        };
        log.reach(snapshot_zxid, tree);
        log
    }

    /// The end of `DataTree.processTxn` for a whole txn of `zxid`, with the tree's digest
    /// after it: checks an awaited snapshot digest, or else records every
    /// `DIGEST_LOG_INTERVAL`-th digest.
    pub fn applied(&mut self, zxid: i64, tree: i64) {
        if self.awaited.is_some() {
            self.reach(zxid, tree);
        } else if zxid % DIGEST_LOG_INTERVAL == 0 {
            if self.recorded.len() == DIGEST_LOG_LIMIT {
                self.recorded.pop_front();
            }
            self.recorded.push_back((zxid, tree));
        }
    }

    /// `DataTree.compareDigest`: the digest logged with the txn of `zxid` against the tree
    /// after replaying it. Skipped while a snapshot's digest is awaited, and for a digest of
    /// another version.
    pub fn check_logged(&mut self, zxid: i64, logged: &TxnDigest, tree: i64) {
        if self.awaited.is_none() && logged.version == DIGEST_VERSION {
            self.compare(zxid, logged.tree_digest, tree);
        }
    }

    /// `compareSnapshotDigests`: at the awaited zxid, compares (a digest of another version
    /// is dropped unread). Replay that skips past it leaves it awaited, as ZooKeeper does
    /// ("The txn ... of snapshot digest does not exist").
    fn reach(&mut self, zxid: i64, tree: i64) {
        let Some(awaited) = self.awaited.filter(|a| a.zxid == zxid) else {
            return;
        };
        self.awaited = None;
        if awaited.digest_version == DIGEST_VERSION {
            self.compare(zxid, awaited.digest, tree);
        }
    }

    fn compare(&mut self, zxid: i64, expected: i64, tree: i64) {
        self.compared += 1;
        if expected != tree {
            self.mismatches += 1;
            self.first_mismatch.get_or_insert(zxid);
        }
    }

    /// The records, oldest first: what `hash` lists.
    pub fn recorded(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.recorded.iter().copied()
    }

    /// Digests compared so far (snapshot and logged ones).
    pub fn compared(&self) -> u64 {
        self.compared
    }

    /// Comparisons that failed.
    pub fn mismatches(&self) -> u64 {
        self.mismatches
    }

    /// The zxid of the first failed comparison.
    pub fn first_mismatch(&self) -> Option<i64> {
        self.first_mismatch
    }

    /// A snapshot digest replay has not reached yet.
    pub fn awaited(&self) -> Option<ZxidDigest> {
        self.awaited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(version: i32, tree_digest: i64) -> TxnDigest {
        TxnDigest {
            version,
            tree_digest,
        }
    }

    fn snap(zxid: i64, digest: i64) -> Option<ZxidDigest> {
        Some(ZxidDigest {
            zxid,
            digest_version: DIGEST_VERSION,
            digest,
        })
    }

    #[test]
    fn every_128th_zxid_is_recorded_and_the_newest_1024_kept() {
        let mut log = DigestLog::default();
        for zxid in 1..=(DIGEST_LOG_INTERVAL * 1030) {
            log.applied(zxid, zxid * 10);
        }
        let recorded: Vec<(i64, i64)> = log.recorded().collect();
        assert_eq!(recorded.len(), DIGEST_LOG_LIMIT);
        assert_eq!(recorded[0], (7 * 128, 7 * 1280));
        assert_eq!(recorded.last(), Some(&(1030 * 128, 1030 * 1280)));
        assert_eq!(log.compared(), 0);
    }

    #[test]
    fn a_snapshot_digest_of_its_own_zxid_is_compared_at_once() {
        let log = DigestLog::after_snapshot(300, snap(300, 5), 5);
        assert_eq!(
            (log.compared(), log.mismatches(), log.awaited()),
            (1, 0, None)
        );
        let log = DigestLog::after_snapshot(300, snap(300, 5), 6);
        assert_eq!((log.mismatches(), log.first_mismatch()), (1, Some(300)));
    }

    #[test]
    fn a_fuzzy_snapshot_holds_records_and_checks_until_its_zxid() {
        let mut log = DigestLog::after_snapshot(100, snap(256, 42), 0);
        assert_eq!(log.compared(), 0);
        for zxid in 101..256 {
            log.applied(zxid, 1);
            log.check_logged(zxid, &logged(DIGEST_VERSION, 2), 1);
        }
        assert_eq!(
            log.recorded().count(),
            0,
            "128 falls inside the fuzzy stretch"
        );
        assert_eq!(log.compared(), 0);
        log.applied(256, 42);
        assert_eq!((log.compared(), log.mismatches()), (1, 0));
        assert_eq!(log.recorded().count(), 0, "the reaching txn only compares");
        log.check_logged(256, &logged(DIGEST_VERSION, 42), 42);
        log.applied(384, 7);
        log.check_logged(384, &logged(DIGEST_VERSION, 8), 7);
        assert_eq!(log.recorded().collect::<Vec<_>>(), vec![(384, 7)]);
        assert_eq!((log.compared(), log.mismatches()), (3, 1));
        assert_eq!(log.first_mismatch(), Some(384));
    }

    #[test]
    fn empty_stale_and_other_version_digests_are_not_compared() {
        for recorded in [snap(0, 1), snap(99, 1)] {
            let mut log = DigestLog::after_snapshot(100, recorded, 2);
            assert_eq!(log.awaited(), None);
            log.applied(128, 3);
            assert_eq!(log.recorded().count(), 1);
        }
        let other = ZxidDigest {
            zxid: 200,
            digest_version: 1,
            digest: 1,
        };
        let mut log = DigestLog::after_snapshot(100, Some(other), 2);
        log.applied(200, 3);
        log.check_logged(201, &logged(1, 9), 3);
        assert_eq!((log.compared(), log.awaited()), (0, None));
    }

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
