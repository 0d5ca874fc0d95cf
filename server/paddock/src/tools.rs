//! The offline tools behind `paddock cleanup`, `paddock dump-log` and `paddock dump-snapshot`:
//! what zkCleanup.sh (`PurgeTxnLog`), zkTxnLogToolkit.sh (`TxnLogToolkit`) and
//! zkSnapShotToolkit.sh (`SnapshotFormatter`) do for ZooKeeper, on the same files.

use std::path::{Path, PathBuf};

use paddock_storage::snapshot::read_snapshot_file;
use paddock_storage::{dump, read_log_file, Fs, LogError, RealFs, SnapshotError};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("{0}: not a snapshot.<zxid> or log.<zxid> file name")]
    Name(PathBuf),
}

/// `PurgeTxnLog.purge(dataLogDir, snapDir, count)`: keeps the newest `count` (at least 3)
/// snapshots and the logs needed to replay from the oldest of them; returns what it removed.
pub fn cleanup(
    data_log_dir: &Path,
    data_dir: &Path,
    count: usize,
) -> Result<Vec<PathBuf>, ToolError> {
    let log_dir = data_log_dir.join("version-2");
    let snap_dir = data_dir.join("version-2");
    Ok(paddock_storage::purge::purge(
        &RealFs, &log_dir, &snap_dir, count,
    )?)
}

/// A transaction log as `TxnLogToolkit` prints it, or as JSON.
pub fn dump_log(path: &Path, json: bool) -> Result<String, ToolError> {
    let (entries, torn) = read_log_file(&RealFs as &dyn Fs, path)?;
    let mut out = if json {
        let mut v = serde_json_pretty(dump::log_to_json(&entries));
        v.push('\n');
        v
    } else {
        dump::log_to_text(0, &entries)
    };
    if let Some(t) = torn {
        if !json {
            out.push_str(&format!("torn tail at offset {}\n", t.offset));
        }
    }
    Ok(out)
}

/// A snapshot as `SnapshotFormatter` prints it (`with_data`: `-d`), or as JSON (`-json`).
pub fn dump_snapshot(path: &Path, json: bool, with_data: bool) -> Result<String, ToolError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let zxid = paddock_storage::names::zxid_from_name(&name, "snapshot")
        .ok_or_else(|| ToolError::Name(path.to_path_buf()))?;
    let snap = read_snapshot_file(&RealFs, path)?;
    Ok(if json {
        let mut v = serde_json_pretty(dump::snapshot_to_json(&snap));
        v.push('\n');
        v
    } else {
        dump::snapshot_to_text(&snap, zxid, with_data)
    })
}

fn serde_json_pretty(v: serde_json::Value) -> String {
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
