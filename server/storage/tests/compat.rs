//! Snapshots and ZooKeeper compatibility: files written by Apache ZooKeeper 3.8 read by us
//! (fixture made by tests/fixtures/make_zk38_fixture.py), files we write read by ZooKeeper's
//! own TxnLogToolkit and SnapshotFormatter.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use paddock_core::digest::{node_digest, DIGEST_VERSION};
use paddock_jute::txn::{CreateTxn, Txn, TxnHeader};
use paddock_jute::types::{Acl, OpCode, StatPersisted};
use paddock_storage::error::SnapshotError;
use paddock_storage::fs::Fs;
use paddock_storage::snapshot::{find_valid_snapshots, read_snapshot_file};
use paddock_storage::txnlog::TxnLogConfig;
use paddock_storage::{
    load_newest_snapshot, read_log_dir, visit_newest_snapshot, Compression, FaultFs, RealFs,
    SnapNode, SnapshotVisitor, SnapshotWriter, TxnLogWriter, ZxidDigest,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zk38/version-2")
}

fn digest_of(nodes: &[(String, SnapNode)]) -> i64 {
    // NodeHashMapImpl: the tree digest is the wrapping sum of the node digests.
    nodes.iter().fold(0i64, |sum, (p, n)| {
        sum.wrapping_add(i64::from(node_digest(p, n.data.as_deref(), &n.stat)))
    })
}

// FileSnap.deserialize on ZooKeeper 3.8's own snapshot: sessions, ACLs, every znode type.
#[test]
fn reads_a_snapshot_written_by_zookeeper_38() {
    let (zxid, _, snap) = load_newest_snapshot(&RealFs, &fixture()).unwrap().unwrap();
    assert_eq!(zxid, 0x19);
    assert_eq!(snap.dbid, -1);
    let paths: Vec<&str> = snap.nodes.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths[0], "");
    for p in [
        "/app/eph",
        "/container",
        "/ttl",
        "/secret",
        "/app/seq-0000000002",
        "/multi",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    assert_eq!(snap.sessions.len(), 2);
    let schemes: Vec<&str> = snap
        .acls
        .iter()
        .flat_map(|(_, l)| l.iter().map(|a| a.id.scheme.as_str()))
        .collect();
    for s in ["digest", "ip", "world"] {
        assert!(schemes.contains(&s));
    }
    // EphemeralType: a container's owner is Long.MIN_VALUE, a TTL's has the top byte 0xFF.
    let owner = |p: &str| {
        snap.nodes
            .iter()
            .find(|(q, _)| q == p)
            .unwrap()
            .1
            .stat
            .ephemeral_owner
    };
    assert_eq!(owner("/container"), i64::MIN);
    assert_eq!((owner("/ttl") as u64) >> 56, 0xFF);
}

// DigestCalculator.calculateDigest + AdHash: our digest of ZooKeeper's tree equals the digest
// ZooKeeper stored in its snapshot (taken at startup, so not fuzzy).
#[test]
fn tree_digest_matches_the_digest_zookeeper_stored() {
    let (_, _, snap) = load_newest_snapshot(&RealFs, &fixture()).unwrap().unwrap();
    let stored = snap.digest.expect("ZooKeeper 3.8 writes a digest");
    assert_eq!(stored.digest_version, DIGEST_VERSION);
    assert_eq!(digest_of(&snap.nodes), stored.digest);
}

// FileTxnIterator over ZooKeeper 3.8's logs, with the TxnDigest it appends to each entry.
#[test]
fn reads_logs_written_by_zookeeper_38() {
    let read = read_log_dir(&RealFs, &fixture(), 0).unwrap();
    assert!(read.torn_tail.is_none());
    assert!(read.entries.len() > 20);
    assert!(read.entries.iter().all(|e| e.digest.is_some()));
    assert!(read.entries.iter().any(|e| matches!(e.txn, Txn::Multi(_))));
    assert!(read
        .entries
        .iter()
        .any(|e| matches!(e.txn, Txn::CreateTtl(_))));
    let after = read_log_dir(&RealFs, &fixture(), 0x19).unwrap();
    assert!(after.entries.iter().all(|e| e.header.zxid > 0x19));
    assert!(!after.entries.is_empty());
}

fn sample_nodes() -> Vec<(String, SnapNode)> {
    let stat = |z: i64| StatPersisted {
        czxid: z,
        mzxid: z,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_000,
        pzxid: z,
        ..StatPersisted::default()
    };
    vec![
        (
            "".into(),
            SnapNode {
                data: Some(vec![]),
                acl: -1,
                stat: stat(0),
            },
        ),
        (
            "/zookeeper".into(),
            SnapNode {
                data: Some(vec![]),
                acl: -1,
                stat: stat(0),
            },
        ),
        (
            "/paddock".into(),
            SnapNode {
                data: Some(b"hello".to_vec()),
                acl: 1,
                stat: stat(1),
            },
        ),
        (
            "/paddock/null".into(),
            SnapNode {
                data: None,
                acl: -1,
                stat: stat(2),
            },
        ),
    ]
}

fn write_sample(fs: Arc<dyn Fs>, dir: &Path, compression: Compression) -> PathBuf {
    let mut w = SnapshotWriter::create(fs, dir, 2, -1, compression).unwrap();
    let digest = fill_sample(&mut w);
    w.finish(Some(digest), Some(2)).unwrap()
}

/// The sample written as a snapshot file in `compression` on a fresh in-memory disk: the
/// disk, the snapshot directory and the file.
fn sample_file(compression: Compression) -> (FaultFs, PathBuf, PathBuf) {
    let fs = FaultFs::new(1);
    let dir = PathBuf::from("/d/version-2");
    fs.create_dir_all(&dir).unwrap();
    let path = write_sample(Arc::new(fs.clone()), &dir, compression);
    (fs, dir, path)
}

/// Writes the sample's sessions, ACLs and nodes; returns the digest to finish with.
fn fill_sample(w: &mut SnapshotWriter) -> ZxidDigest {
    let nodes = sample_nodes();
    w.sessions(&[(0x1234, 30_000)]).unwrap();
    w.acls(&[(1, Acl::open_unsafe())]).unwrap();
    for (p, n) in &nodes {
        w.node(p, n).unwrap();
    }
    ZxidDigest {
        zxid: 2,
        digest_version: DIGEST_VERSION,
        digest: digest_of(&nodes),
    }
}

/// A snapshot built in memory (a leader's SNAP) has the very bytes of the file, in every
/// compression.
#[test]
fn a_snapshot_in_memory_is_the_file_byte_for_byte() {
    for c in [Compression::None, Compression::Gzip, Compression::Snappy] {
        let (fs, dir, path) = sample_file(c);
        let mut w = SnapshotWriter::in_memory(b"before".to_vec(), -1, c).unwrap();
        let digest = fill_sample(&mut w);
        let bytes = w.finish_in_memory(Some(digest), Some(2)).unwrap();
        let file = fs.read(&path).unwrap();
        assert_eq!(
            bytes[..6],
            *b"before",
            "{c:?}: what the buffer held stays first"
        );
        assert_eq!(bytes[6..], file, "{c:?}");
        assert_eq!(fs.list(&dir).unwrap().len(), 1, "nothing written to disk");
    }
}

/// A snapshot that fails (an fsync error, a full disk) or is given up removes its temporary
/// file at once instead of holding its space until the next start.
#[test]
fn a_failed_or_dropped_snapshot_leaves_no_temporary_file() {
    let dir = PathBuf::from("/d/version-2");
    let start = |fs: &FaultFs| {
        fs.create_dir_all(&dir).unwrap();
        let mut w =
            SnapshotWriter::create(Arc::new(fs.clone()), &dir, 2, -1, Compression::Gzip).unwrap();
        fill_sample(&mut w);
        assert_eq!(fs.list(&dir).unwrap().len(), 1, "the temporary file");
        w
    };
    let fs = FaultFs::new(1);
    drop(start(&fs));
    assert_eq!(fs.list(&dir).unwrap(), Vec::<String>::new(), "dropped");

    let fs = FaultFs::new(1);
    let w = start(&fs);
    fs.fail_next_fsyncs(1);
    assert!(w.finish(None, None).is_err(), "the fsync fails");
    assert_eq!(fs.list(&dir).unwrap(), Vec::<String>::new(), "failed fsync");

    let fs = FaultFs::new(1);
    let w = start(&fs);
    fs.disk_full_after(0);
    assert!(w.finish(None, None).is_err(), "the disk is full");
    assert_eq!(fs.list(&dir).unwrap(), Vec::<String>::new(), "full disk");
}

/// A large snapshot reaches the disk while it is written, a MiB at a time, rather than all
/// at its final fsync (where it would queue ahead of the log's fsyncs): with 12 nodes of
/// 1 MiB written, at most one step (1 MiB) and a node are still unsynced.
#[test]
fn a_large_snapshot_is_synced_as_it_is_written() {
    let fs = FaultFs::new(1);
    let dir = PathBuf::from("/d/version-2");
    fs.create_dir_all(&dir).unwrap();
    let mut w =
        SnapshotWriter::create(Arc::new(fs.clone()), &dir, 2, -1, Compression::None).unwrap();
    w.sessions(&[]).unwrap();
    w.acls(&[]).unwrap();
    let node = |fill: u8| SnapNode {
        data: Some(vec![fill; 1 << 20]),
        acl: -1,
        stat: StatPersisted::default(),
    };
    w.node("", &node(0)).unwrap();
    for i in 1..12u8 {
        w.node(&format!("/n{i}"), &node(i)).unwrap();
    }
    let tmp = dir.join("snapshot.2.tmp");
    let unsynced = fs.unsynced_bytes(&tmp);
    assert!(
        unsynced <= (2 << 20) + (64 << 10),
        "{unsynced} bytes of 12 MiB unsynced before the end"
    );
    let digest = ZxidDigest {
        zxid: 2,
        digest_version: DIGEST_VERSION,
        digest: 0,
    };
    let path = w.finish(Some(digest), Some(2)).unwrap();
    assert_eq!(fs.unsynced_bytes(&path), 0);
    let read = read_snapshot_file(&fs, &path).unwrap();
    assert_eq!(read.nodes.len(), 12);
}

// FileSnap.serialize / deserialize in each snapshot.compression.method.
#[test]
fn snapshots_round_trip_in_every_compression() {
    for c in [Compression::None, Compression::Gzip, Compression::Snappy] {
        let (fs, dir, path) = sample_file(c);
        assert_eq!(fs.list(&dir).unwrap().len(), 1, "no temporary file left");
        let snap = read_snapshot_file(&fs, &path).unwrap();
        assert_eq!(snap.nodes, sample_nodes());
        assert_eq!(snap.sessions, vec![(0x1234, 30_000)]);
        assert_eq!(snap.last_processed_zxid, Some(2));
        assert_eq!(snap.digest.unwrap().digest, digest_of(&snap.nodes));
    }
}

// FileSnap.deserialize: a damaged newest snapshot is skipped for the next valid one.
#[test]
fn recovery_falls_back_to_an_older_valid_snapshot() {
    let fs = FaultFs::new(2);
    let dir = PathBuf::from("/d/version-2");
    fs.create_dir_all(&dir).unwrap();
    let old = write_sample(Arc::new(fs.clone()), &dir, Compression::None);
    let newer = dir.join("snapshot.5");
    fs.rename(&old, &newer).unwrap();
    write_sample(Arc::new(fs.clone()), &dir, Compression::None);
    fs.corrupt(&newer, 40, &[0xAB, 0xCD]).unwrap();
    assert_eq!(find_valid_snapshots(&fs, &dir, 10).unwrap().len(), 2);
    let (zxid, _, _) = load_newest_snapshot(&fs, &dir).unwrap().unwrap();
    assert_eq!(zxid, 2);
    // A snapshot cut short fails Util.isValidSnapshot (no "/" seal at the end).
    let bytes = fs.read(&newer).unwrap();
    let mut f = fs.create(&newer).unwrap();
    f.write_at(0, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(find_valid_snapshots(&fs, &dir, 10).unwrap().len(), 1);
}

/// Records what a streaming loader is told.
#[derive(Default)]
struct Recorder {
    zxid: i64,
    ahead: Vec<usize>,
    nodes: Vec<(String, SnapNode)>,
    fail_at: Option<usize>,
}

impl SnapshotVisitor for Recorder {
    fn session(&mut self, _id: i64, _timeout_ms: i32) {}
    fn acl(&mut self, _key: i64, _acls: Vec<Acl>) {}
    fn node(&mut self, path: String, node: SnapNode) -> Result<(), SnapshotError> {
        if self.fail_at == Some(self.nodes.len()) {
            return Err(SnapshotError::Corrupt("refused by the visitor".into()));
        }
        self.nodes.push((path, node));
        Ok(())
    }
    fn nodes_ahead(&mut self, count: usize) {
        self.ahead.push(count);
    }
}

// A loader that builds its tree while the file is parsed learns the node count first (to size
// its tables once), and a file whose tree it refuses is dropped for the next older snapshot,
// as FileSnap.deserialize drops a snapshot whose DataTree fails to deserialize.
#[test]
fn streaming_visit_counts_nodes_first_and_falls_back_on_refusal() {
    let fs = FaultFs::new(3);
    let dir = PathBuf::from("/d/version-2");
    fs.create_dir_all(&dir).unwrap();
    let old = write_sample(Arc::new(fs.clone()), &dir, Compression::None);
    fs.rename(&old, &dir.join("snapshot.5")).unwrap();
    write_sample(Arc::new(fs.clone()), &dir, Compression::None);
    let loaded = visit_newest_snapshot(&fs, &dir, |zxid| Recorder {
        zxid,
        ..Recorder::default()
    });
    let (zxid, _, rec, trailer) = loaded.unwrap().unwrap();
    assert_eq!((zxid, rec.zxid), (5, 5));
    assert_eq!(rec.ahead, [sample_nodes().len()]);
    assert_eq!(rec.nodes, sample_nodes());
    assert_eq!(trailer.last_processed_zxid, Some(2));

    let loaded = visit_newest_snapshot(&fs, &dir, |zxid| Recorder {
        zxid,
        fail_at: (zxid == 5).then_some(1),
        ..Recorder::default()
    });
    let (zxid, _, rec, _) = loaded.unwrap().unwrap();
    assert_eq!(zxid, 2, "the refused newest snapshot is skipped");
    assert_eq!(rec.nodes, sample_nodes());
}

fn java_tool(class: &str, args: &[&str]) -> Option<String> {
    let jars = std::env::var("ZK_JAVA_DIR").unwrap_or_else(|_| "/usr/share/java".into());
    let cp: Vec<String> = [
        "zookeeper.jar",
        "zookeeper-jute.jar",
        "slf4j-api.jar",
        "slf4j-nop.jar",
        "netty-all.jar",
        "metrics-core.jar",
        "commons-cli.jar",
        "commons-io.jar",
        "snappy-java.jar",
    ]
    .iter()
    .map(|j| format!("{jars}/{j}"))
    .collect();
    if !Path::new(&cp[0]).exists() || Command::new("java").arg("-version").output().is_err() {
        eprintln!("SKIP: java or ZooKeeper's jars are not installed");
        return None;
    }
    let out = Command::new("java")
        .arg("-cp")
        .arg(cp.join(":"))
        .arg(class)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{class} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

// Our files read by ZooKeeper's own zkTxnLogToolkit.sh and zkSnapShotToolkit.sh.
#[test]
fn zookeeper_tools_read_our_files() {
    let tmp = std::env::temp_dir().join(format!("paddock-storage-compat-{}", std::process::id()));
    let dir = tmp.join("version-2");
    RealFs.create_dir_all(&dir).unwrap();
    let fs: Arc<dyn Fs> = Arc::new(RealFs);
    let mut w = TxnLogWriter::new(
        fs.clone(),
        &dir,
        TxnLogConfig {
            pre_alloc_size_bytes: 4096,
            ..Default::default()
        },
        0,
    );
    let hdr = TxnHeader {
        client_id: 0x77,
        cxid: 1,
        zxid: 1,
        time: 1,
        txn_type: OpCode::Create as i32,
    };
    let txn = Txn::Create(CreateTxn {
        path: "/from-paddock".into(),
        data: Some(b"v".to_vec()),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_c_version: 1,
    });
    w.append(&hdr, &txn, None).unwrap();
    w.flush_and_sync().unwrap();
    let log = dir.join("log.1");
    let Some(out) = java_tool(
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        &[log.to_str().unwrap()],
    ) else {
        return;
    };
    assert!(
        out.contains("/from-paddock") && out.contains("EOF reached after 1 txns"),
        "{out}"
    );
    for c in [Compression::None, Compression::Gzip, Compression::Snappy] {
        let snap = write_sample(fs.clone(), &dir, c);
        let out = java_tool(
            "org.apache.zookeeper.server.SnapshotFormatter",
            &[snap.to_str().unwrap()],
        )
        .unwrap();
        assert!(
            out.contains("/paddock/null") && out.contains("0x00000000001234, 30000"),
            "{c:?}: {out}"
        );
        let json = java_tool(
            "org.apache.zookeeper.server.SnapshotFormatter",
            &["-json", snap.to_str().unwrap()],
        )
        .unwrap();
        assert!(json.contains("\"name\":\"null\""), "{json}");
        std::fs::remove_file(&snap).unwrap();
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
