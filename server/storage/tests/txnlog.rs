//! The transaction log against `FileTxnLog`'s format and every fault of the filesystem seam.

use std::path::PathBuf;
use std::sync::Arc;

use paddock_jute::txn::{CreateTxn, SetDataTxn, Txn, TxnDigest, TxnHeader};
use paddock_jute::types::{Acl, OpCode};
use paddock_storage::error::LogError;
use paddock_storage::fs::{FaultFs, Fs};
use paddock_storage::txnlog::{
    read_log_dir, repair_torn_tail, truncate_log, TxnLogConfig, TxnLogWriter,
};

fn dir() -> PathBuf {
    PathBuf::from("/data/version-2")
}

fn fault_fs(seed: u64) -> FaultFs {
    let fs = FaultFs::new(seed);
    fs.create_dir_all(&dir()).unwrap();
    fs
}

fn config() -> TxnLogConfig {
    TxnLogConfig {
        pre_alloc_size_bytes: 1024,
        ..TxnLogConfig::default()
    }
}

fn txn(zxid: i64) -> (TxnHeader, Txn) {
    let hdr = TxnHeader {
        client_id: 0x100,
        cxid: zxid as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
        txn_type: OpCode::Create as i32,
    };
    let body = Txn::Create(CreateTxn {
        path: format!("/n{zxid}"),
        data: Some(vec![zxid as u8; 20]),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_c_version: zxid as i32,
    });
    (hdr, body)
}

/// Appends `zxids` and writes them with one fsync.
fn append_synced(w: &mut TxnLogWriter, zxids: std::ops::RangeInclusive<i64>) {
    for z in zxids {
        append(w, z);
    }
    w.flush_and_sync().unwrap();
}

fn append(w: &mut TxnLogWriter, zxid: i64) {
    let (h, t) = txn(zxid);
    let digest = TxnDigest {
        version: 2,
        tree_digest: zxid * 7,
    };
    w.append(&h, &t, Some(&digest)).unwrap();
}

/// A writer that has synced `zxids` into its first file and rolled: the next append starts
/// a new file.
fn rolled_after(seed: u64, zxids: std::ops::RangeInclusive<i64>) -> (FaultFs, TxnLogWriter) {
    let fs = fault_fs(seed);
    let mut w = writer(&fs);
    append_synced(&mut w, zxids);
    w.roll();
    (fs, w)
}

fn writer(fs: &FaultFs) -> TxnLogWriter {
    TxnLogWriter::new(Arc::new(fs.clone()), &dir(), config(), 0)
}

fn zxids(fs: &FaultFs, from: i64) -> Vec<i64> {
    read_log_dir(fs, &dir(), from)
        .unwrap()
        .entries
        .iter()
        .map(|e| e.header.zxid)
        .collect()
}

// FileTxnLog.append / FileTxnIterator.next: what is written reads back, digests included.
#[test]
fn entries_round_trip_across_rolled_files() {
    let (fs, mut w) = rolled_after(1, 1..=5);
    for z in 6..=9 {
        append(&mut w, z);
        w.flush_and_sync().unwrap();
    }
    let mut names = fs.list(&dir()).unwrap();
    names.sort();
    assert_eq!(names, vec!["log.1", "log.6"]);
    let read = read_log_dir(&fs, &dir(), 0).unwrap();
    assert_eq!(read.entries.len(), 9);
    assert_eq!(read.torn_tail, None);
    let e = &read.entries[8];
    assert_eq!((e.header, e.txn.clone()), txn(9));
    assert_eq!(e.digest.unwrap().tree_digest, 63);
    // FileTxnSnapLog.fastForwardFromEdits: from a snapshot at 7, only later txns.
    assert_eq!(zxids(&fs, 7), vec![8, 9]);
}

// A rolled file is cut back to its last entry: its preallocated tail is given back, and it
// still reads to the end.
#[test]
fn a_rolled_file_gives_back_its_preallocation() {
    let fs = fault_fs(21);
    let mut w = writer(&fs);
    append_synced(&mut w, 1..=3);
    let log1 = dir().join("log.1");
    let preallocated = fs.file_len(&log1).unwrap();
    let spare = w.appendable_bytes();
    assert!(spare > 0);
    w.roll();
    assert_eq!(fs.file_len(&log1).unwrap(), preallocated - spare);
    append(&mut w, 4);
    w.flush_and_sync().unwrap();
    assert_eq!(zxids(&fs, 0), vec![1, 2, 3, 4]);
    let read = read_log_dir(&fs, &dir(), 0).unwrap();
    assert_eq!(read.torn_tail, None);
}

// FilePadding.padFile: the file is preallocated with zeros, and a zero length ends the log.
#[test]
fn preallocation_reserves_space_in_blocks() {
    let fs = fault_fs(2);
    let mut w = writer(&fs);
    append(&mut w, 1);
    w.flush_and_sync().unwrap();
    let len = fs.file_len(&dir().join("log.1")).unwrap();
    assert_eq!(len % 1024, 0);
    assert!(w.appendable_bytes() > 0 && w.appendable_bytes() < len);
    w.reserve(10_000).unwrap();
    assert!(w.appendable_bytes() >= 10_000);
}

// A failed fsync is fatal: typed error, then the writer refuses all work.
#[test]
fn failed_fsync_is_a_typed_fatal_error() {
    let fs = fault_fs(3);
    let mut w = writer(&fs);
    append(&mut w, 1);
    w.flush_and_sync().unwrap();
    fs.fail_next_fsyncs(1);
    append(&mut w, 2);
    assert!(matches!(
        w.flush_and_sync(),
        Err(LogError::SyncFailed { .. })
    ));
    assert!(matches!(w.flush_and_sync(), Err(LogError::Poisoned)));
    let (h, t) = txn(3);
    assert!(matches!(w.append(&h, &t, None), Err(LogError::Poisoned)));
    // After a crash the unsynced entry may be gone, the synced one never is.
    fs.crash(false);
    assert_eq!(zxids(&fs, 0), vec![1]);
}

// A short write leaves a partial entry that readers see as a torn tail, never as a txn.
#[test]
fn short_write_poisons_and_reads_as_torn_tail() {
    for k in 0..40 {
        let fs = fault_fs(4);
        let mut w = writer(&fs);
        append(&mut w, 1);
        w.flush_and_sync().unwrap();
        append(&mut w, 2);
        fs.short_write_next(k);
        assert!(matches!(
            w.flush_and_sync(),
            Err(LogError::WriteFailed { .. })
        ));
        let read = read_log_dir(&fs, &dir(), 0).unwrap();
        assert_eq!(read.entries.len(), 1, "short write of {k} bytes");
        // Up to the length field the partial entry reads as zeros: a clean end of the log.
        assert!(
            k < 12 || read.torn_tail.is_some(),
            "short write of {k} bytes"
        );
    }
}

// A crash that persists any prefix of the last batch: the reader yields every complete entry
// before the tear and reports the tear; repairing it lets a new writer continue.
#[test]
fn torn_write_at_every_byte_of_the_last_entry() {
    // The batch's own bytes are torn here, so no zeros are written after them.
    let writer = |fs: &FaultFs| {
        let cfg = TxnLogConfig {
            zero_ahead_bytes: 0,
            ..config()
        };
        TxnLogWriter::new(Arc::new(fs.clone()), &dir(), cfg, 0)
    };
    let fs0 = fault_fs(5);
    let mut w = writer(&fs0);
    append(&mut w, 1);
    w.flush_and_sync().unwrap();
    append(&mut w, 2);
    append(&mut w, 3);
    let path = dir().join("log.1");
    let tail_bytes = {
        fs0.fail_next_fsyncs(1);
        let _ = w.flush_and_sync();
        fs0.unsynced_bytes(&path)
    };
    assert!(tail_bytes > 50);
    for keep in 0..=tail_bytes {
        let fs = fault_fs(5);
        let mut w = writer(&fs);
        append(&mut w, 1);
        w.flush_and_sync().unwrap();
        append(&mut w, 2);
        append(&mut w, 3);
        fs.fail_next_fsyncs(1);
        let _ = w.flush_and_sync();
        fs.crash_keeping(&path, keep);
        let read = read_log_dir(&fs, &dir(), 0).unwrap();
        let got: Vec<i64> = read.entries.iter().map(|e| e.header.zxid).collect();
        let entry_len = tail_bytes / 2;
        let expect: Vec<i64> = match keep {
            k if k < entry_len => vec![1],
            k if k < tail_bytes => vec![1, 2],
            _ => vec![1, 2, 3],
        };
        assert_eq!(got, expect, "kept {keep} of {tail_bytes} bytes");
        if let Some(tail) = &read.torn_tail {
            repair_torn_tail(&fs, tail).unwrap();
        }
        let last = *got.last().unwrap();
        let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), config(), last);
        append(&mut w, last + 1);
        w.flush_and_sync().unwrap();
        assert_eq!(zxids(&fs, 0), (1..=last + 1).collect::<Vec<_>>());
    }
}

/// A writer whose second flush fails its fsync: the end of its first entry, and the bytes the
/// second flush wrote to `log.1` (what a crash would tear).
fn unsynced_bytes_of_second_flush(cfg: TxnLogConfig) -> (FaultFs, u64, u64) {
    let fs = fault_fs(9);
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), cfg, 0);
    append_synced(&mut w, 1..=1);
    let first_entry_end = fs.file_len(&dir().join("log.1")).unwrap() - w.appendable_bytes();
    append(&mut w, 2);
    fs.fail_next_fsyncs(1);
    assert!(w.flush_and_sync().is_err());
    let path = dir().join("log.1");
    (fs.clone(), first_entry_end, fs.unsynced_bytes(&path))
}

// Zeros are written ahead of the entries inside the preallocated space, so later batches
// land in blocks already written (no extent change for each fsync to write); they go to the
// disk with a batch, stop at the preallocation's end, and read as the end of the log.
#[test]
fn zeros_are_written_ahead_inside_the_preallocation() {
    let with = |ahead: u64, pre_alloc: u64| TxnLogConfig {
        pre_alloc_size_bytes: pre_alloc,
        zero_ahead_bytes: ahead,
        ..TxnLogConfig::default()
    };
    // Without zeroing, the second flush writes its entry alone.
    let (_, _, entry_bytes) = unsynced_bytes_of_second_flush(with(0, 64 << 10));
    // The first flush zeroed 8 KiB past its entry; the second entry lands inside them, still
    // more than half of 8 KiB short of their end: nothing more is zeroed.
    let (_, _, unsynced) = unsynced_bytes_of_second_flush(with(8 << 10, 64 << 10));
    assert_eq!(unsynced, entry_bytes);
    // With 128 bytes ahead, the second entry ends within 64 bytes of the first zeros' end:
    // zeros are written from there to 128 bytes past the second entry.
    let ahead = 128;
    let (fs, start, unsynced) = unsynced_bytes_of_second_flush(with(ahead, 64 << 10));
    let end = start + entry_bytes;
    assert!(end + ahead / 2 > start + ahead);
    assert_eq!(unsynced, entry_bytes + (end + ahead) - (start + ahead));
    // Preallocated space reads as zeros too: the count above shows these were written.
    let data = fs.read(&dir().join("log.1")).unwrap();
    assert!(data[end as usize..(end + ahead) as usize]
        .iter()
        .all(|b| *b == 0));
    // Never past the preallocated space: the file keeps the length preallocation gave it.
    let len = |fs: &FaultFs| fs.file_len(&dir().join("log.1")).unwrap();
    let (plain, _, _) = unsynced_bytes_of_second_flush(with(0, 1024));
    let (zeroed, _, unsynced) = unsynced_bytes_of_second_flush(with(64 << 10, 1024));
    assert_eq!(len(&zeroed), len(&plain));
    assert!(unsynced > entry_bytes);
    // The zeros read as the end of the log.
    let fs = fault_fs(10);
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), with(512, 64 << 10), 0);
    for zxid in 1..=20 {
        append_synced(&mut w, zxid..=zxid);
    }
    let read = read_log_dir(&fs, &dir(), 0).unwrap();
    assert_eq!(read.entries.len(), 20);
    assert_eq!(read.torn_tail, None);
}

/// Flushes each batch but the last with its fsync; the last one's fsync fails. Returns the
/// bytes that last flush wrote to `log.1`: its entries, and zeros if it wrote any.
fn bytes_of_last_flush(cfg: TxnLogConfig, batches: &[std::ops::RangeInclusive<i64>]) -> u64 {
    let fs = fault_fs(12);
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), cfg, 0);
    let (last, synced) = batches.split_last().expect("at least one batch");
    for batch in synced {
        append_synced(&mut w, batch.clone());
    }
    for zxid in last.clone() {
        append(&mut w, zxid);
    }
    fs.fail_next_fsyncs(1);
    assert!(w.flush_and_sync().is_err(), "the last fsync fails");
    fs.unsynced_bytes(&dir().join("log.1"))
}

// Zeros ahead pay for small batches only: after a batch longer than the limit none are
// written (they would be as many bytes as the entries, for large batches that the disk's
// bandwidth bounds); a small batch after it gets them again.
#[test]
fn no_zeros_follow_a_batch_longer_than_the_limit() {
    let with = |ahead: u64, limit: u64| TxnLogConfig {
        pre_alloc_size_bytes: 64 << 10,
        zero_ahead_bytes: ahead,
        zero_ahead_max_batch_bytes: limit,
        ..TxnLogConfig::default()
    };
    // zxids 1 to 9 make entries of one length.
    let entry = bytes_of_last_flush(with(0, 0), &[1..=1, 2..=2]);
    // Batches of three entries run past 128 bytes of zeros: without a limit each is followed
    // by 128 bytes of them.
    let ahead = 128;
    assert!(3 * entry > ahead);
    let batches = [1..=3, 4..=6];
    assert_eq!(
        bytes_of_last_flush(with(ahead, u64::MAX), &batches),
        3 * entry + ahead
    );
    // With the limit at two entries, neither batch gets zeros.
    assert_eq!(
        bytes_of_last_flush(with(ahead, 2 * entry), &batches),
        3 * entry
    );
    assert_eq!(
        bytes_of_last_flush(with(ahead, 3 * entry), &batches),
        3 * entry + ahead,
        "a batch of exactly the limit still gets zeros"
    );
    // A batch of one entry after them does.
    let batches = [1..=3, 4..=6, 7..=7];
    assert_eq!(
        bytes_of_last_flush(with(ahead, 2 * entry), &batches),
        entry + ahead
    );
    // The default limit keeps zeros for batches of small entries.
    assert!(3 * entry <= TxnLogConfig::default().zero_ahead_max_batch_bytes);
}

// Zeros ahead are best effort: a failed zero write does not fail the batch (its entry is
// written and fsynced), and that file gets no more zeros, only entries.
#[test]
fn a_failed_zero_write_stops_the_zeros_not_the_log() {
    let cfg = TxnLogConfig {
        pre_alloc_size_bytes: 64 << 10,
        zero_ahead_bytes: 128,
        ..TxnLogConfig::default()
    };
    let path = dir().join("log.1");
    let fs = fault_fs(11);
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), cfg.clone(), 0);
    append_synced(&mut w, 1..=1);
    // The second batch: its entry, then the zeros past it (128 bytes ahead are used up by
    // one entry, as in the test above), which fail.
    append(&mut w, 2);
    fs.short_write_after(1, 0);
    w.flush_and_sync()
        .expect("the entry was written and fsynced");
    assert_eq!(fs.unsynced_bytes(&path), 0);
    // The third batch writes its entry alone.
    let entry_bytes = {
        let (_, _, plain) = unsynced_bytes_of_second_flush(TxnLogConfig {
            zero_ahead_bytes: 0,
            ..cfg
        });
        plain
    };
    append(&mut w, 3);
    fs.fail_next_fsyncs(1);
    assert!(w.flush_and_sync().is_err());
    assert_eq!(fs.unsynced_bytes(&path), entry_bytes);
    fs.crash(false);
    let read = read_log_dir(&fs, &dir(), 0).unwrap();
    let got: Vec<i64> = read.entries.iter().map(|e| e.header.zxid).collect();
    assert_eq!(
        got,
        vec![1, 2],
        "the second batch is durable, the third was never fsynced"
    );
    assert_eq!(read.torn_tail, None);
}

// A new file's header is made durable by its first batch's fsync: a crash before that leaves
// an empty newest file, which reads as an empty log after the entries of the older ones.
#[test]
fn a_new_file_lost_before_its_first_fsync_reads_as_empty() {
    let (fs, mut w) = rolled_after(22, 1..=3);
    append(&mut w, 4);
    fs.fail_next_fsyncs(1);
    assert!(w.flush_and_sync().is_err());
    fs.crash(false);
    assert_eq!(fs.file_len(&dir().join("log.4")).unwrap(), 0);
    let read = read_log_dir(&fs, &dir(), 0).unwrap();
    assert_eq!(read.entries.len(), 3);
    assert_eq!(read.last_zxid, Some(3));
}

// A crash that keeps only part of a new file's header (the in-process crash test met "ZK"
// followed by zeros): the header goes to the disk with the file's first fsync, which did not
// complete, so the file holds nothing acknowledged. It reads as a torn, empty newest file,
// not as corruption; repaired, the log continues.
#[test]
fn a_torn_header_of_the_newest_file_reads_as_empty() {
    for keep in 0..=16 {
        let (fs, mut w) = rolled_after(23, 1..=3);
        append(&mut w, 4);
        fs.fail_next_fsyncs(1);
        assert!(w.flush_and_sync().is_err());
        fs.crash_keeping(&dir().join("log.4"), keep);
        let read = read_log_dir(&fs, &dir(), 0)
            .unwrap_or_else(|e| panic!("{keep} header bytes kept: {e}"));
        assert_eq!(read.last_zxid, Some(3), "{keep} header bytes kept");
        if let Some(tail) = &read.torn_tail {
            assert_eq!(tail.offset, 0);
            repair_torn_tail(&fs, tail).unwrap();
        }
        let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), config(), 3);
        append_synced(&mut w, 4..=4);
        assert_eq!(zxids(&fs, 0), vec![1, 2, 3, 4], "{keep} header bytes kept");
    }
    // A damaged magic number with entries after it is still corruption.
    let (fs, mut w) = rolled_after(24, 1..=3);
    append_synced(&mut w, 4..=4);
    fs.corrupt(&dir().join("log.4"), 2, &[0]).unwrap();
    let err = read_log_dir(&fs, &dir(), 0).expect_err("a damaged header");
    assert!(err.to_string().contains("invalid magic number"), "{err}");
}

// A random torn crash from a seed is replayable: the same seed gives the same files.
#[test]
fn seeded_torn_crash_is_deterministic() {
    let run = |seed| {
        let fs = fault_fs(seed);
        let mut w = writer(&fs);
        append(&mut w, 1);
        w.flush_and_sync().unwrap();
        for z in 2..6 {
            append(&mut w, z);
        }
        fs.fail_next_fsyncs(1);
        let _ = w.flush_and_sync();
        fs.crash(true);
        fs.read(&dir().join("log.1")).unwrap()
    };
    assert_eq!(run(42), run(42));
}

// ENOSPC while preallocating: typed error, nothing written, the log reads back fully.
#[test]
fn disk_full_during_preallocation_keeps_the_log_valid() {
    let fs = fault_fs(6);
    let mut w = writer(&fs);
    append(&mut w, 1);
    w.flush_and_sync().unwrap();
    fs.disk_full_after(0);
    let mut z = 2;
    let err = loop {
        append(&mut w, z);
        z += 1;
        if let Err(e) = w.flush_and_sync() {
            break e;
        }
    };
    assert!(matches!(err, LogError::NoSpace { .. }), "{err}");
    let written: Vec<i64> = (1..z - 1).collect();
    assert_eq!(zxids(&fs, 0), written);
    assert_eq!(w.pending_entries(), 1);
    // Space comes back: the kept batch goes out.
    fs.set_capacity(u64::MAX);
    w.flush_and_sync().unwrap();
    assert_eq!(zxids(&fs, 0), (1..z).collect::<Vec<_>>());
}

#[test]
fn read_errors_are_typed() {
    let fs = fault_fs(7);
    let mut w = writer(&fs);
    append(&mut w, 1);
    w.flush_and_sync().unwrap();
    fs.fail_reads(&dir().join("log.1"), true);
    let err = read_log_dir(&fs, &dir(), 0).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
}

fn three_entries(fs: &FaultFs) -> Vec<u8> {
    let mut w = writer(fs);
    append_synced(&mut w, 1..=3);
    fs.read(&dir().join("log.1")).unwrap()
}

// Damage followed by valid entries is corruption, named by file and offset.
#[test]
fn mid_log_corruption_is_reported_with_file_and_offset() {
    let fs = fault_fs(8);
    three_entries(&fs);
    let path = dir().join("log.1");
    // Flip a byte inside the first entry's bytes (after the 16-byte header and 12-byte prefix).
    fs.corrupt(&path, 16 + 12 + 5, &[0xEE]).unwrap();
    match read_log_dir(&fs, &dir(), 0) {
        Err(LogError::Corrupt {
            file,
            offset,
            reason,
        }) => {
            assert_eq!(file, path);
            assert_eq!(offset, 16);
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

// A bad entry in a file that is not the newest cannot be a torn tail.
#[test]
fn damage_in_an_older_file_is_corruption() {
    let fs = fault_fs(9);
    let bytes = three_entries(&fs);
    let path = dir().join("log.1");
    let end = bytes.iter().rposition(|b| *b == 0x42).unwrap() as u64;
    fs.corrupt(&path, end, &[0]).unwrap();
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), config(), 3);
    append(&mut w, 4);
    w.flush_and_sync().unwrap();
    assert!(matches!(
        read_log_dir(&fs, &dir(), 0),
        Err(LogError::Corrupt { .. })
    ));
}

// Zxids that skip inside an epoch are corruption.
#[test]
fn zxid_gap_is_corruption() {
    let fs = fault_fs(10);
    let mut w = writer(&fs);
    append(&mut w, 1);
    append(&mut w, 3);
    w.flush_and_sync().unwrap();
    assert!(matches!(
        read_log_dir(&fs, &dir(), 0),
        Err(LogError::Corrupt { .. })
    ));
}

// A gap at or below the zxid recovery starts from is covered by its snapshot: a file that
// ends short of the snapshot (its tail never reached the log before a crash) followed by the
// next file is a valid history after the snapshot. A gap above it stays corruption.
#[test]
fn a_gap_covered_by_the_snapshot_is_not_corruption() {
    let fs = fault_fs(12);
    let mut w = writer(&fs);
    append_synced(&mut w, 1..=5);
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), config(), 8);
    append_synced(&mut w, 9..=10);
    let read = read_log_dir(&fs, &dir(), 8).unwrap();
    let replayed: Vec<i64> = read.entries.iter().map(|e| e.header.zxid).collect();
    assert_eq!(replayed, vec![9, 10]);
    assert_eq!(read.last_zxid, Some(10));
    assert!(matches!(
        read_log_dir(&fs, &dir(), 4),
        Err(LogError::Corrupt { .. })
    ));
}

// FileTxnLog.truncate: keep txns up to zxid, drop later ones and later files.
#[test]
fn truncate_drops_everything_after_the_zxid() {
    let (fs, mut w) = rolled_after(11, 1..=4);
    append(&mut w, 5);
    w.flush_and_sync().unwrap();
    truncate_log(&fs, &dir(), 2).unwrap();
    assert_eq!(zxids(&fs, 0), vec![1, 2]);
    assert_eq!(fs.list(&dir()).unwrap(), vec!["log.1"]);
}

// The real filesystem: fallocate, write, fsync and read back.
#[test]
fn real_fs_round_trip() {
    let tmp = std::env::temp_dir().join(format!("paddock-storage-{}", std::process::id()));
    let d = tmp.join("version-2");
    let fs = paddock_storage::RealFs;
    fs.create_dir_all(&d).unwrap();
    let mut w = TxnLogWriter::new(Arc::new(fs), &d, config(), 0);
    for z in 1..=3 {
        let (h, t) = txn(z);
        w.append(&h, &t, None).unwrap();
    }
    w.append(
        &TxnHeader {
            zxid: 4,
            txn_type: OpCode::SetData as i32,
            ..TxnHeader::default()
        },
        &Txn::SetData(SetDataTxn {
            path: "/n1".into(),
            data: None,
            version: 1,
        }),
        None,
    )
    .unwrap();
    w.flush_and_sync().unwrap();
    assert!(fs.available_space(&d).unwrap() > 0);
    let read = read_log_dir(&fs, &d, 0).unwrap();
    assert_eq!(read.entries.len(), 4);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn three_entries_in_big_preallocation(fs: &FaultFs) -> Vec<u8> {
    let cfg = TxnLogConfig {
        pre_alloc_size_bytes: 4 << 20,
        ..TxnLogConfig::default()
    };
    let mut w = TxnLogWriter::new(Arc::new(fs.clone()), &dir(), cfg, 0);
    append_synced(&mut w, 1..=3);
    fs.read(&dir().join("log.1")).unwrap()
}

// Readers stop at the end-of-log marker once only zeros follow it, so the preallocation is
// not held in memory; an entry far inside it (past the first block a reader takes) is still
// found, and is still corruption, not a clean end.
#[test]
fn valid_entry_deep_in_the_preallocation_is_corruption() {
    let fs = fault_fs(21);
    let bytes = three_entries_in_big_preallocation(&fs);
    assert_eq!(bytes.len(), 4 << 20);
    assert_eq!(zxids(&fs, 0), [1, 2, 3]);
    let path = dir().join("log.1");
    let end = bytes.iter().rposition(|b| *b == 0x42).unwrap() + 1;
    let second = 16 + (end - 16) / 3;
    let entry = bytes[second..second + (end - 16) / 3].to_vec();
    fs.corrupt(&path, 3 << 20, &entry).unwrap();
    match read_log_dir(&fs, &dir(), 0) {
        Err(LogError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, end as u64);
            assert!(reason.contains("end of log marker"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

// Bytes after the end marker that form no entry (never written by a writer) leave the end
// clean, as before: only a valid entry after it proves acknowledged data was skipped.
#[test]
fn garbage_after_the_end_marker_is_not_an_entry() {
    let fs = fault_fs(22);
    let bytes = three_entries_in_big_preallocation(&fs);
    let end = bytes.iter().rposition(|b| *b == 0x42).unwrap() as u64 + 1;
    fs.corrupt(&dir().join("log.1"), (2 << 20) + 5, &[0xAB; 7])
        .unwrap();
    let read = read_log_dir(&fs, &dir(), 0).unwrap();
    assert_eq!(read.entries.len(), 3);
    assert!(read.torn_tail.is_none(), "clean end at {end}");
}
