//! File names of the data directory, as `persistence/Util.java` makes and parses them.

/// `FileTxnLog.LOG_FILE_PREFIX`.
pub const LOG_PREFIX: &str = "log";
/// `FileSnap.SNAPSHOT_FILE_PREFIX`.
pub const SNAPSHOT_PREFIX: &str = "snapshot";
/// ZooKeeper keeps its files in a `version-2` subdirectory of `dataDir` / `dataLogDir`
/// (`FileTxnSnapLog.version`).
pub const VERSION_DIR: &str = "version-2";

/// `Util.makeLogName`: `log.<zxid in lowercase hex>`.
pub fn log_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{zxid:x}")
}

/// `Util.makeSnapshotName` with the extension of the compression method.
pub fn snapshot_name(zxid: i64, extension: &str) -> String {
    format!("{SNAPSHOT_PREFIX}.{zxid:x}{extension}")
}

/// `Util.getZxidFromName`: the hex zxid after `<prefix>.`, or `None` (Java's -1).
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next() != Some(prefix) {
        return None;
    }
    let hex = parts.next()?;
    // Long.parseLong(s, 16) accepts an optional sign and nothing else.
    if hex.is_empty()
        || !hex
            .trim_start_matches(['+', '-'])
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    i64::from_str_radix(hex, 16).ok()
}

/// `Util.sortDataDir`: the names with `prefix` (and a parsable zxid), by zxid, ascending or
/// descending.
pub fn sort_by_zxid(names: &[String], prefix: &str, ascending: bool) -> Vec<(i64, String)> {
    let mut files: Vec<(i64, String)> = names
        .iter()
        .filter_map(|n| zxid_from_name(n, prefix).map(|z| (z, n.clone())))
        .collect();
    files.sort_by_key(|(z, _)| *z);
    if !ascending {
        files.reverse();
    }
    files
}
