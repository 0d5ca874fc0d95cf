//! The offline tools as an operator runs them: `paddock dump-log`, `paddock dump-snapshot`
//! and `paddock cleanup`, over files written in ZooKeeper's format.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use paddock_jute::txn::{CreateTxn, Txn, TxnHeader};
use paddock_jute::{Acl, OpCode, StatPersisted};
use paddock_storage::snapshot::Compression;
use paddock_storage::{RealFs, SnapNode, SnapshotWriter, TxnLogConfig, TxnLogWriter};

fn paddock(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_paddock"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn create(zxid: i64) -> (TxnHeader, Txn) {
    let hdr = TxnHeader {
        client_id: 0x100,
        cxid: zxid as i32,
        zxid,
        time: 1_700_000_000_000,
        txn_type: OpCode::Create as i32,
    };
    let txn = Txn::Create(CreateTxn {
        path: format!("/tool-node-{zxid}"),
        data: Some(b"value".to_vec()),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_c_version: zxid as i32,
    });
    (hdr, txn)
}

/// Writes `log.<first>` with creates `first..=last`, then `snapshot.<last>`.
fn write_generation(dir: &Path, first: i64, last: i64) {
    let fs = Arc::new(RealFs);
    let config = TxnLogConfig {
        pre_alloc_size_bytes: 4096,
        ..TxnLogConfig::default()
    };
    let mut log = TxnLogWriter::new(fs.clone(), dir, config, first - 1);
    for zxid in first..=last {
        let (hdr, txn) = create(zxid);
        log.append(&hdr, &txn, None).unwrap();
    }
    log.flush_and_sync().unwrap();
    let mut snap = SnapshotWriter::create(fs, dir, last, 0, Compression::None).unwrap();
    snap.sessions(&[(0x100, 30_000)]).unwrap();
    snap.acls(&[]).unwrap();
    let root = SnapNode {
        data: Some(Vec::new()),
        acl: -1,
        stat: StatPersisted::default(),
    };
    snap.node("", &root).unwrap();
    let stat = StatPersisted {
        czxid: last,
        mzxid: last,
        pzxid: last,
        ..Default::default()
    };
    let node = SnapNode {
        data: Some(b"value".to_vec()),
        acl: -1,
        stat,
    };
    snap.node(&format!("/tool-node-{last}"), &node).unwrap();
    snap.finish(None, None).unwrap();
}

/// TxnLogToolkit and SnapshotFormatter, as subcommands: text and JSON.
#[test]
fn dump_log_and_snapshot_print_the_transactions_and_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("version-2");
    std::fs::create_dir_all(&dir).unwrap();
    write_generation(&dir, 1, 3);
    let log = dir.join("log.1");
    let (ok, text) = paddock(&["dump-log", log.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(text.contains("/tool-node-2"), "{text}");
    assert!(text.contains("EOF reached after 3 txns"), "{text}");
    let (ok, json) = paddock(&["dump-log", "--json", log.to_str().unwrap()]);
    assert!(ok, "{json}");
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(3));

    let snap = dir.join("snapshot.3");
    let (ok, text) = paddock(&["dump-snapshot", "-d", snap.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(text.contains("/tool-node-3"), "{text}");
    let (ok, json) = paddock(&["dump-snapshot", "--json", snap.to_str().unwrap()]);
    assert!(ok, "{json}");
    serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");

    let (ok, text) = paddock(&["dump-log", dir.join("nope").to_str().unwrap()]);
    assert!(
        !ok && text.contains("nope"),
        "a missing file is named: {text}"
    );
}

/// zkCleanup.sh / PurgeTxnLog: keep the newest N snapshots and the logs they need.
#[test]
fn cleanup_keeps_the_newest_snapshots_and_their_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("version-2");
    std::fs::create_dir_all(&dir).unwrap();
    for generation in 0..5 {
        let first = generation * 10 + 1;
        write_generation(&dir, first, first + 2);
    }
    let data = tmp.path().to_str().unwrap();
    let (ok, text) = paddock(&["cleanup", "--data-dir", data, "-n", "3"]);
    assert!(ok, "{text}");
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // Snapshots 0x17, 0x21, 0x2b stay with the logs from 0x15 on (log.15 holds 0x17).
    assert_eq!(
        left,
        [
            "log.15",
            "log.1f",
            "log.29",
            "snapshot.17",
            "snapshot.21",
            "snapshot.2b"
        ],
        "{text}"
    );
}
