//! `PurgeTxnLog`: keep the newest snapshots and the logs needed to replay from the oldest kept.

use std::path::{Path, PathBuf};

use crate::error::{snap_io, SnapshotError};
use crate::fs::Fs;
use crate::names::{zxid_from_name, LOG_PREFIX, SNAPSHOT_PREFIX};
use crate::snapshot::find_valid_snapshots;
use crate::txnlog::log_files_from;

/// The fewest snapshots a purge keeps (`PurgeTxnLog`: "count should be greater than or equal
/// to 3"; `DatadirCleanupManager` raises smaller settings to 3).
pub const MIN_SNAP_RETAIN_COUNT: usize = 3;

/// The files a purge would remove: snapshots older than the oldest of the newest
/// `snap_retain_count` valid snapshots, and logs older than it except the log holding its zxid.
pub fn files_to_purge(
    fs: &dyn Fs,
    log_dir: &Path,
    snap_dir: &Path,
    snap_retain_count: usize,
) -> Result<Vec<PathBuf>, SnapshotError> {
    let keep = snap_retain_count.max(MIN_SNAP_RETAIN_COUNT);
    let snaps = find_valid_snapshots(fs, snap_dir, keep)?;
    let Some((least_zxid, _)) = snaps.last() else {
        return Ok(Vec::new());
    };
    let least_zxid = *least_zxid;
    let log_names = fs.list(log_dir).map_err(|e| snap_io("list", log_dir, e))?;
    let retained: Vec<String> = log_files_from(&log_names, least_zxid)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let mut doomed = Vec::new();
    for name in &log_names {
        let old = name.starts_with("log.")
            && zxid_from_name(name, LOG_PREFIX).is_some_and(|z| z < least_zxid);
        if old && !retained.contains(name) {
            doomed.push(log_dir.join(name));
        }
    }
    let snap_names = fs
        .list(snap_dir)
        .map_err(|e| snap_io("list", snap_dir, e))?;
    for name in &snap_names {
        let old = name.starts_with("snapshot.")
            && zxid_from_name(name, SNAPSHOT_PREFIX).is_some_and(|z| z < least_zxid);
        if old {
            doomed.push(snap_dir.join(name));
        }
    }
    doomed.sort();
    Ok(doomed)
}

/// `PurgeTxnLog.purge`: removes what [`files_to_purge`] lists and returns it.
pub fn purge(
    fs: &dyn Fs,
    log_dir: &Path,
    snap_dir: &Path,
    snap_retain_count: usize,
) -> Result<Vec<PathBuf>, SnapshotError> {
    let doomed = files_to_purge(fs, log_dir, snap_dir, snap_retain_count)?;
    for path in &doomed {
        fs.remove_file(path)
            .map_err(|e| snap_io("remove", path, e))?;
    }
    Ok(doomed)
}
