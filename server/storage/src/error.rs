//! Typed errors of the storage crate.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Errors of the transaction log.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The disk is full: reserving space for the next entries failed. Nothing was written, the
    /// log on disk is still valid and the unwritten batch is kept, so the caller can refuse
    /// writes and retry later.
    #[error("no space to preallocate {needed_bytes} bytes for {path}: {source}")]
    NoSpace {
        path: PathBuf,
        needed_bytes: u64,
        source: io::Error,
    },
    /// An fsync failed. After a failed fsync the kernel may have dropped the dirty pages, so
    /// nothing written since the last good fsync can be trusted: the writer refuses all further
    /// work and the server must stop (the PostgreSQL "fsyncgate" lesson).
    #[error("fsync of {path} failed: {source}")]
    SyncFailed { path: PathBuf, source: io::Error },
    /// A write failed part way; the tail of the file is unknown, so the writer refuses further
    /// appends. A reader sees the partial entry as a torn tail, never as a transaction.
    #[error("write to {path} failed: {source}")]
    WriteFailed { path: PathBuf, source: io::Error },
    /// An earlier write or fsync failed; the writer must be reopened after recovery.
    #[error("the transaction log writer failed earlier and accepts no more work")]
    Poisoned,
    /// Damage that is not a torn tail: bad data followed by valid entries, a bad entry in a file
    /// that is not the last, a bad header, or zxids that go backwards or skip.
    #[error("transaction log {file} is corrupt at offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// `truncate_log` found no log file holding the zxid (ZooKeeper: "No log files found to
    /// truncate!").
    #[error("no log file in {dir} to truncate to zxid {zxid:#x}")]
    NothingToTruncate { dir: PathBuf, zxid: i64 },
}

/// Errors of snapshots.
#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The snapshot is shorter than its content says.
    #[error("snapshot ends early: {0}")]
    Truncated(String),
    /// A header, a checksum or a record is wrong.
    #[error("snapshot is corrupt: {0}")]
    Corrupt(String),
    /// `.gz` or `.snappy` content that does not decompress.
    #[error("snapshot does not decompress: {0}")]
    Compression(String),
    /// No snapshot in the directory could be read.
    #[error("no valid snapshot in {dir}")]
    NoValidSnapshot { dir: PathBuf },
}

pub(crate) fn io_err(op: &'static str, path: &std::path::Path, source: io::Error) -> LogError {
    LogError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn snap_io(
    op: &'static str,
    path: &std::path::Path,
    source: io::Error,
) -> SnapshotError {
    SnapshotError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
