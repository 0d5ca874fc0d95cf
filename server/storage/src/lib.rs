//! ZooKeeper's on-disk formats, so a data directory moves between Apache ZooKeeper and Paddock
//! in both directions, behind a filesystem seam that tests and the simulator fill with faults.
//!
//! Map of the crate:
//! - `fs`: the [`Fs`]/[`FsFile`] seam, [`RealFs`], and [`FaultFs`] (in memory, seeded faults:
//!   failed fsync, short write, torn write on crash, full disk, read errors).
//! - `txnlog`: the transaction log (`log.<zxid>`): [`TxnLogWriter`] (batched appends, one
//!   write and one fsync per flush, preallocation, roll-over), [`read_log_dir`] (checksums,
//!   torn tails apart from corruption), [`truncate_log`], [`repair_torn_tail`].
//! - `snapshot`: snapshots (`snapshot.<zxid>[.gz|.snappy]`): the streaming [`SnapshotWriter`],
//!   [`read_snapshot`] / [`visit_snapshot`], [`is_valid_snapshot`], [`load_newest_snapshot`].
//! - `epoch`: the `acceptedEpoch` / `currentEpoch` files of an ensemble member.
//! - `purge`: `PurgeTxnLog`'s retention rules.
//! - `dump`: text and JSON dumps of logs and snapshots.
//! - `names`: file names (`Util.makeLogName`, `getZxidFromName`, `sortDataDir`).
//! - `error`: [`LogError`], [`SnapshotError`].

pub mod dump;
pub mod epoch;
pub mod error;
pub mod fs;
pub mod names;
pub mod purge;
pub mod snapshot;
pub mod txnlog;

pub use error::{LogError, SnapshotError};
pub use fs::{FaultFs, Fs, FsFile, RealFs};
pub use snapshot::{
    is_valid_snapshot, load_newest_snapshot, newest_snapshot_zxid, read_snapshot, snapshot_trailer,
    visit_newest_snapshot, visit_snapshot, Compression, SnapNode, Snapshot, SnapshotTrailer,
    SnapshotVisitor, SnapshotWriter, ZxidDigest,
};
pub use txnlog::{
    read_log_dir, read_log_file, repair_torn_tail, replay_scanned_logs, scan_log_dir, truncate_log,
    visit_log_dir, LogEntry, LogRead, ScannedLogs, TornTail, TxnLogConfig, TxnLogWriter,
};
