//! Durability around the state machine: recovery at startup, the log writer thread (group
//! commit), snapshots written in the background, and autopurge.
//!
//! The core task hands a prepared transaction's log entry to the writer thread and applies
//! the transaction once the writer reports the entry fsynced; its reply, events and closes
//! follow the apply (see `core_task`). While an fsync runs, new entries queue up and
//! go out together with the next one: many concurrent writes share one fsync, a lone write
//! waits only for its own. A lone writer's entries (nothing arrived during the last fsyncs)
//! the core task writes and fsyncs itself while the thread is idle (`LogHandle::write_now`),
//! which saves the two thread hand-offs that cost about a fifth of such a write.
//!
//! A full disk is found while preallocating log space ahead of need, so the core task can
//! refuse new writes with an error while the entries already accepted still fit. A failed
//! write or fsync is fatal: the kernel may have dropped the pages, so the server stops rather
//! than serve what the disk may not hold.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paddock_core::digest::DIGEST_VERSION;
use paddock_core::snapshot::{LoadError, SnapNode as CoreSnapNode, SnapshotCursor, SnapshotLoader};
use paddock_core::state::State;
use paddock_core::CoreConfig;
use paddock_jute::txn::{Txn, TxnHeader};
use paddock_storage::snapshot::{checked_stream, Compression};
use paddock_storage::txnlog::marshal_entry;
use paddock_storage::{
    newest_snapshot_zxid, repair_torn_tail, replay_scanned_logs, scan_log_dir, snapshot_trailer,
    visit_log_dir, visit_newest_snapshot, visit_snapshot, Fs, LogError, SnapNode, SnapshotError,
    SnapshotVisitor, SnapshotWriter, TxnLogConfig, TxnLogWriter, ZxidDigest,
};
use tokio::sync::{mpsc, watch};

use crate::config::ServerConfig;
use crate::metrics::ServerMetrics;

/// Hand-offs (each the log messages of one pass of the core task) queued for the writer
/// thread before the core task waits.
const LOG_QUEUE_HANDOFFS: usize = 1_024;
/// Snapshot chunks queued for the snapshot thread before the core task skips a turn.
const SNAPSHOT_QUEUE_CHUNKS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading snapshots: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("loading the snapshot: {0}")]
    Load(#[from] paddock_core::snapshot::LoadError),
    #[error("reading the transaction log: {0}")]
    Log(#[from] LogError),
    #[error(
        "no readable snapshot in {snap_dir} and the log starts at zxid {first_zxid:#x}, not at the \
         first transaction: older transactions are missing, so the tree cannot be rebuilt"
    )]
    MissingHistory { snap_dir: PathBuf, first_zxid: i64 },
}

/// Where and how this server keeps its data (`dataDir`, `dataLogDir` and friends).
#[derive(Clone)]
pub struct Storage {
    pub fs: Arc<dyn Fs>,
    /// `<dataDir>/version-2`: snapshots.
    pub snap_dir: PathBuf,
    /// `<dataLogDir>/version-2`: transaction logs.
    pub log_dir: PathBuf,
    pub log_config: TxnLogConfig,
    pub compression: Compression,
    /// `snapCount`.
    pub snap_count: u64,
    /// `snapSizeLimitInKb` in bytes; 0: no limit.
    pub snap_size_limit_bytes: u64,
    /// `paddock.logMemoryLimitInKb` in bytes: an ensemble member's in-memory log.
    pub log_memory_limit_bytes: u64,
    /// `autopurge.snapRetainCount`.
    pub snap_retain_count: usize,
    /// `autopurge.purgeInterval`, 0 = off.
    pub purge_interval: Duration,
    /// Where fsync and snapshot times go (`fsynctime`, `snapshottime`, ...).
    pub metrics: Arc<ServerMetrics>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("snap_dir", &self.snap_dir)
            .field("log_dir", &self.log_dir)
            .finish_non_exhaustive()
    }
}

impl Storage {
    pub fn new(cfg: &ServerConfig, fs: Arc<dyn Fs>) -> Storage {
        Storage {
            fs,
            snap_dir: cfg.data_dir.join("version-2"),
            log_dir: cfg.data_log_dir.join("version-2"),
            log_config: TxnLogConfig {
                pre_alloc_size_bytes: cfg.pre_alloc_size_kb.saturating_mul(1024),
                force_sync: cfg.force_sync,
                ..TxnLogConfig::default()
            },
            compression: Compression::from_config(&cfg.snapshot_compression)
                .unwrap_or(Compression::None),
            snap_count: cfg.snap_count.max(2),
            snap_size_limit_bytes: u64::try_from(cfg.snap_size_limit_kb)
                .unwrap_or(0)
                .saturating_mul(1024),
            log_memory_limit_bytes: cfg.log_memory_limit_kb.saturating_mul(1024),
            snap_retain_count: cfg.autopurge_snap_retain_count as usize,
            purge_interval: Duration::from_secs(
                u64::from(cfg.autopurge_purge_interval_hours) * 3600,
            ),
            metrics: Arc::new(ServerMetrics::new()),
        }
    }

    fn create_dirs(&self) -> Result<(), PersistError> {
        for dir in [&self.snap_dir, &self.log_dir] {
            self.fs
                .create_dir_all(dir)
                .map_err(|source| PersistError::Dir {
                    path: dir.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// What recovery found.
#[derive(Debug)]
pub struct Recovered {
    pub state: State,
    /// The zxid of the snapshot loaded, if any.
    pub snapshot_zxid: Option<i64>,
    pub snapshot_path: Option<PathBuf>,
    /// Transactions replayed from the log.
    pub replayed: usize,
    /// Where a torn log tail was cut off, if one was.
    pub torn_tail: Option<(PathBuf, u64)>,
    pub snapshot_load: Duration,
    pub log_replay: Duration,
    /// For an ensemble member (`recover_member`): the logged transactions after the state,
    /// as (zxid, marshalled entry), which the quorum decides about. Empty when standalone.
    pub log_tail: Vec<(i64, Vec<u8>)>,
}

/// `FileTxnSnapLog.restore`: the newest valid snapshot, then every logged transaction after
/// it. A torn tail (the last entries of the last file, cut by a crash before their fsync
/// completed, so never acknowledged) is truncated; damage anywhere else stops startup with the
/// file and offset, rather than dropping committed data.
pub fn recover(storage: &Storage, cfg: CoreConfig, now_ms: i64) -> Result<Recovered, PersistError> {
    recover_up_to(storage, cfg, now_ms, false)
}

/// Recovery of an ensemble member. It applies only what is known committed: the newest
/// snapshot and the logged transactions up to the zxid its walk ended at (a fuzzy snapshot
/// holds some changes after its name's zxid; they were applied, hence committed, and logged
/// durably before the snapshot was completed). Later logged transactions are handed to the
/// quorum as `log_tail`: a leader decides whether they are committed. ZooKeeper instead
/// replays its whole log, so a restarted member briefly serves transactions that may be
/// truncated away (docs/ZAB.md).
pub fn recover_member(
    storage: &Storage,
    cfg: CoreConfig,
    now_ms: i64,
) -> Result<Recovered, PersistError> {
    recover_up_to(storage, cfg, now_ms, true)
}

fn recover_up_to(
    storage: &Storage,
    cfg: CoreConfig,
    now_ms: i64,
    member: bool,
) -> Result<Recovered, PersistError> {
    storage.create_dirs()?;
    let fs = &*storage.fs;
    remove_unfinished_snapshots(storage);
    let started = Instant::now();
    // The log files after the newest snapshot are read and checked on a second thread while
    // the snapshot loads (reading means page-cache copies of whole preallocated files); if
    // that snapshot turns out unusable, the log is read again after the one that loads.
    let newest_log = newest_log_zxid(fs, &storage.log_dir);
    let (loaded, scanned) = std::thread::scope(|scope| {
        let scan = newest_snapshot_zxid(fs, &storage.snap_dir)
            .ok()
            .and_then(|zxid| {
                std::thread::Builder::new()
                    .name("paddock-logscan".into())
                    .spawn_scoped(scope, move || {
                        scan_log_dir(fs, &storage.log_dir, zxid.unwrap_or(0))
                    })
                    .ok()
            });
        let loaded = visit_newest_snapshot(fs, &storage.snap_dir, |zxid| {
            let growth = log_growth_hint(newest_log, zxid);
            Loading::new(cfg.clone(), now_ms, zxid, growth)
        });
        let scanned = scan.map(|handle| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (loaded, scanned)
    });
    let loaded = loaded?;
    let (mut state, snapshot_zxid, snapshot_path, walked) = match loaded {
        None => (State::new(cfg, now_ms), None, None, 0),
        Some((zxid, path, loading, trailer)) => {
            let walked = trailer.digest.map_or(zxid, |d| d.zxid.max(zxid));
            let state = loading.finish_with_digest(trailer.digest)?;
            (state, Some(zxid), Some(path), walked)
        }
    };
    // Standalone: everything logged is committed. A member applies up to `walked`.
    let apply_up_to = if member { walked } else { i64::MAX };
    let mut log_tail = Vec::new();
    let snapshot_load = started.elapsed();
    let started = Instant::now();
    // Entries are decoded one at a time as they are replayed, never all at once (they would
    // be freed around the tree's new nodes, and the heap would keep their space). The scan
    // holds the raw bytes of the log after the snapshot (usually one or two files, cut at
    // their end-of-log marker) while the tree loads; the fallback walk holds one file.
    let mut first_zxid = None;
    let mut replayed = 0;
    let mut on_entry = |entry: paddock_storage::LogEntry| {
        first_zxid.get_or_insert(entry.header.zxid);
        if entry.header.zxid <= apply_up_to {
            replayed += 1;
            state.replay(&entry.header, &entry.txn);
            if let Some(logged) = &entry.digest {
                state.check_logged_digest(entry.header.zxid, logged);
            }
        } else {
            let bytes = marshal_entry(&entry.header, &entry.txn, entry.digest.as_ref());
            log_tail.push((entry.header.zxid, bytes));
        }
    };
    let from_zxid = snapshot_zxid.unwrap_or(0);
    let log = match scanned {
        Some(Ok(scanned)) if scanned.from_zxid() == from_zxid => {
            replay_scanned_logs(scanned, &mut on_entry)?
        }
        _ => visit_log_dir(fs, &storage.log_dir, from_zxid, &mut on_entry)?,
    };
    if snapshot_zxid.is_none() {
        // Without a snapshot the log alone must hold the whole history, from the first
        // transaction on; otherwise older transactions are gone (a purged or lost file) and
        // starting would serve a partial tree. ZooKeeper refuses any log without a snapshot
        // ("No snapshot found, but there are log entries. Something is broken!").
        if let Some(first_zxid) = first_zxid.filter(|&z| z != 1) {
            return Err(PersistError::MissingHistory {
                snap_dir: storage.snap_dir.clone(),
                first_zxid,
            });
        }
    }
    let torn_tail = match log.torn_tail {
        Some(tail) => {
            tracing::warn!(
                "truncating a torn transaction log tail at {}:{} (entries never acknowledged)",
                tail.file.display(),
                tail.offset
            );
            repair_torn_tail(fs, &tail)?;
            Some((tail.file, tail.offset))
        }
        None => None,
    };
    state.recovery_done(now_ms);
    let log_replay = started.elapsed();
    let (snapshot_zxid, snapshot_path) = match (snapshot_zxid, snapshot_path) {
        // A new data directory: like ZooKeeper, write `snapshot.0` before serving, so the
        // directory always holds a snapshot and either server can start on it.
        (None, _) if replayed == 0 && log_tail.is_empty() => {
            let path = write_snapshot_now(storage, &state)?;
            (Some(state.last_zxid()), Some(path))
        }
        other => other,
    };
    Ok(Recovered {
        state,
        snapshot_zxid,
        snapshot_path,
        replayed,
        torn_tail,
        snapshot_load,
        log_replay,
        log_tail,
    })
}

/// Writes a whole snapshot of `state` at once (small trees: the startup snapshot of a new
/// data directory).
pub fn write_snapshot_now(storage: &Storage, state: &State) -> Result<PathBuf, SnapshotError> {
    let cursor = state.snapshot_begin();
    let mut writer = SnapshotWriter::create(
        storage.fs.clone(),
        &storage.snap_dir,
        cursor.zxid(),
        0,
        storage.compression,
    )?;
    write_whole(&mut writer, state, cursor)?;
    writer.finish(
        Some(zxid_digest(state.last_zxid(), state.tree_digest())),
        None,
    )
}

/// A snapshot file of `state` in the configured compression, built in memory after what
/// `buffer` holds: a leader's SNAP for a learner, which (as ZooKeeper's, streamed from
/// memory) needs no disk.
pub fn snapshot_in_memory(
    storage: &Storage,
    state: &State,
    buffer: Vec<u8>,
) -> Result<Vec<u8>, SnapshotError> {
    let mut writer = SnapshotWriter::in_memory(buffer, 0, storage.compression)?;
    write_whole(&mut writer, state, state.snapshot_begin())?;
    writer.finish_in_memory(
        Some(zxid_digest(state.last_zxid(), state.tree_digest())),
        None,
    )
}

/// The newest complete snapshot file whose zxid is at least `at_least`, read whole after
/// the bytes `head` makes of its compression suffix: what a leader sends a learner that needs
/// SNAP, read on a blocking thread instead of serializing the tree on the core task. The
/// file is fuzzy (see `State::snapshot_begin`); the learner applies the transactions after
/// its zxid, which the leader sends behind it, as ZooKeeper's learner does behind the
/// snapshot its leader serializes while the tree changes. `None`: there is no such file.
pub fn read_snapshot_for_learner(
    storage: &Storage,
    at_least: i64,
    head: impl Fn(&str) -> Vec<u8>,
) -> std::io::Result<Option<(i64, Vec<u8>)>> {
    let fs = &*storage.fs;
    let files = paddock_storage::snapshot::find_snapshots(fs, &storage.snap_dir)
        .map_err(std::io::Error::other)?;
    for (zxid, path) in files.into_iter().take_while(|&(zxid, _)| zxid >= at_least) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut payload = head(Compression::from_file_name(name).extension());
        let start = payload.len();
        payload.resize(start + fs.file_len(&path)? as usize, 0);
        let read = fs.read_at(&path, 0, &mut payload[start..])?;
        payload.truncate(start + read);
        if paddock_storage::snapshot::is_sealed_snapshot(name, &payload[start..]) {
            return Ok(Some((zxid, payload)));
        }
        tracing::warn!(
            "snapshot {} is not complete; not sent to a learner",
            path.display()
        );
    }
    Ok(None)
}

/// Every session, ACL and node of `state`, which does not change meanwhile.
fn write_whole(
    writer: &mut SnapshotWriter,
    state: &State,
    mut cursor: SnapshotCursor,
) -> Result<(), SnapshotError> {
    writer.sessions(cursor.sessions())?;
    writer.acls(cursor.acls())?;
    loop {
        let chunk = state.snapshot_next(&mut cursor, 4096);
        if chunk.is_empty() && cursor.is_done() {
            return Ok(());
        }
        for (path, node) in chunk {
            writer.node(&path, &storage_node(node))?;
        }
    }
}

/// Writes a snapshot another member sent (SNAP) as `snapshot.<zxid><suffix>`, atomically and
/// durably; `suffix` is the compression extension the sender's file had.
pub fn install_snapshot_file(
    storage: &Storage,
    zxid: i64,
    suffix: &str,
    data: &[u8],
) -> std::io::Result<PathBuf> {
    let name = paddock_storage::names::snapshot_name(zxid, suffix);
    let path = storage.snap_dir.join(&name);
    let tmp = format!("{name}.tmp");
    let fs = &*storage.fs;
    install_into(fs, &storage.snap_dir, &tmp, data)?;
    fs.rename(&storage.snap_dir.join(&tmp), &path)?;
    fs.sync_dir(&storage.snap_dir)?;
    Ok(path)
}

/// Why a snapshot handed to the AdminServer's `restore` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the snapshot does not load: {0}")]
    Unreadable(String),
    #[error("the snapshot records no zxid (no digest and no lastProcessedZxid)")]
    NoZxid,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The old history was moved aside, installing the upload failed, and moving the history
    /// back failed too: the data directories no longer hold what the server acknowledged.
    #[error(
        "the restore failed ({cause}) and the old snapshots and logs could not be moved back \
         from {}: {source}",
        aside.display()
    )]
    Stranded {
        aside: PathBuf,
        cause: std::io::Error,
        source: std::io::Error,
    },
}

/// Where `restore` stages the upload: in `dataDir` beside `version-2`, not in it, so that
/// moving the old snapshots aside cannot take it along. A file, not a directory, so that
/// nothing is left once it is renamed into place (or removed after a failure).
const RESTORE_STAGING: &str = "restore-upload.tmp";

/// ZooKeeper 3.9's `restoreFromSnapshot` for a standalone server: loads `data` (a snapshot
/// stream, as the `snapshot` command sends it) into a new state, moves every snapshot and log
/// file of the data directories into `<dataDir>/before-restore-<unix seconds>/` (kept, not
/// deleted: the restore may be a mistake), and installs the snapshot as
/// `snapshot.<its zxid>`, so a restart comes back to exactly it. Returns the state and zxid.
pub fn restore_snapshot(
    storage: &Storage,
    cfg: CoreConfig,
    now_ms: i64,
    data: &[u8],
) -> Result<(State, i64), RestoreError> {
    let (state, zxid, compression) = load_bytes(cfg, now_ms, data, None)?;
    let name = paddock_storage::names::snapshot_name(zxid, compression.extension());
    let data_dir = storage
        .snap_dir
        .parent()
        .unwrap_or(&storage.snap_dir)
        .to_owned();
    let staged = data_dir.join(RESTORE_STAGING);
    if let Err(e) = install_upload(storage, &data_dir, &staged, &name, data) {
        // A copy of what the caller still holds: nothing is lost by removing it.
        let _ = storage.fs.remove_file(&staged);
        return Err(e);
    }
    Ok((state, zxid))
}

/// The snapshot a leader sent (SNAP) as `recover_member` loads it once installed, with no
/// log after it: parsed from the bytes received, while the file is written.
pub fn load_received_snapshot(
    cfg: CoreConfig,
    now_ms: i64,
    zxid: i64,
    data: &[u8],
) -> Result<State, RestoreError> {
    load_bytes(cfg, now_ms, data, Some(zxid)).map(|(state, _, _)| state)
}

/// A snapshot parsed from memory into a state. Its zxid is `zxid` (a SNAP's, the name of the
/// leader's file) or else read from its trailer (an upload to `restore`), which the tree's
/// loader needs before the first node.
fn load_bytes(
    cfg: CoreConfig,
    now_ms: i64,
    data: &[u8],
    zxid: Option<i64>,
) -> Result<(State, i64, Compression), RestoreError> {
    let unreadable = |e: SnapshotError| RestoreError::Unreadable(e.to_string());
    let compression = Compression::from_magic(data);
    let stream = checked_stream(data, compression).map_err(unreadable)?;
    let zxid = match zxid {
        Some(zxid) => zxid,
        None => {
            let trailer = snapshot_trailer(&stream).map_err(unreadable)?;
            (trailer.last_processed_zxid)
                .or(trailer.digest.map(|d| d.zxid))
                .ok_or(RestoreError::NoZxid)?
        }
    };
    let mut loading = Loading::new(cfg, now_ms, zxid, 0);
    visit_snapshot(&stream, &mut loading).map_err(unreadable)?;
    drop(stream);
    let mut state = loading
        .finish()
        .map_err(|e| RestoreError::Unreadable(e.to_string()))?;
    state.recovery_done(now_ms);
    Ok((state, zxid, compression))
}

/// Writes the upload once, at `staged`, moves the old history aside, then renames the upload
/// into `version-2` as `name`. If any step after the first move fails, the history is moved
/// back: the server goes on from its old state and a restart must find the files that state
/// came from, including the log file it is still appending to.
fn install_upload(
    storage: &Storage,
    data_dir: &Path,
    staged: &Path,
    name: &str,
    data: &[u8],
) -> Result<(), RestoreError> {
    let fs = &*storage.fs;
    install_into(fs, data_dir, RESTORE_STAGING, data)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = data_dir.join(format!("before-restore-{secs}"));
    fs.create_dir_all(&aside)?;
    let mut moved = Vec::new();
    let target = storage.snap_dir.join(name);
    let installed = move_aside(storage, &aside, &mut moved).and_then(|()| {
        fs.rename(staged, &target)?;
        fs.sync_dir(&storage.snap_dir).inspect_err(|_| {
            // Back where the caller removes it, so that only the old history is put back.
            let _ = fs.rename(&target, staged);
        })
    });
    let Err(cause) = installed else {
        return Ok(());
    };
    match put_back(fs, &moved) {
        Ok(()) => {
            // Empty again; a leftover directory only misleads whoever looks for the history.
            let _ = fs.remove_dir(&aside);
            Err(cause.into())
        }
        Err(source) => Err(RestoreError::Stranded {
            aside,
            cause,
            source,
        }),
    }
}

/// Moves every snapshot and log file into `aside`, recording each move (home, aside).
fn move_aside(
    storage: &Storage,
    aside: &Path,
    moved: &mut Vec<(PathBuf, PathBuf)>,
) -> std::io::Result<()> {
    let fs = &*storage.fs;
    for dir in [&storage.snap_dir, &storage.log_dir] {
        for name in fs.list(dir)? {
            if name.starts_with("snapshot.") || name.starts_with("log.") {
                let (home, away) = (dir.join(&name), aside.join(&name));
                fs.rename(&home, &away)?;
                moved.push((home, away));
            }
        }
        fs.sync_dir(dir)?;
    }
    Ok(())
}

/// Undoes `move_aside`, newest move first, and makes the names durable again.
fn put_back(fs: &dyn Fs, moved: &[(PathBuf, PathBuf)]) -> std::io::Result<()> {
    for (home, away) in moved.iter().rev() {
        fs.rename(away, home)?;
    }
    let dirs: std::collections::BTreeSet<&Path> =
        moved.iter().filter_map(|(home, _)| home.parent()).collect();
    dirs.into_iter().try_for_each(|dir| fs.sync_dir(dir))
}

/// Writes `dir/name` with its content durable. Both callers then rename it into place and
/// sync the directory it lands in, which is what makes the name durable.
fn install_into(fs: &dyn Fs, dir: &Path, name: &str, data: &[u8]) -> std::io::Result<()> {
    let path = dir.join(name);
    let mut file = fs.create(&path)?;
    file.write_at(0, data)?;
    file.sync_data()
}

/// Snapshots still being written when the server stopped stay as `snapshot.<zxid>.tmp`; no
/// reader takes them, so they are only clutter (and disk space) and go at startup.
fn remove_unfinished_snapshots(storage: &Storage) {
    let Ok(names) = storage.fs.list(&storage.snap_dir) else {
        return;
    };
    for name in names
        .iter()
        .filter(|n| n.starts_with("snapshot.") && n.ends_with(".tmp"))
    {
        let path = storage.snap_dir.join(name);
        match storage.fs.remove_file(&path) {
            Ok(()) => tracing::info!("removed unfinished snapshot {}", path.display()),
            Err(e) => tracing::warn!("cannot remove unfinished snapshot {}: {e}", path.display()),
        }
    }
}

/// A state being built from a snapshot as the file is parsed: the snapshot's sessions and
/// ACL map come first in the file, then the nodes, which go straight into the tree.
struct Loading {
    cfg: CoreConfig,
    now_ms: i64,
    zxid: i64,
    /// Nodes the log after the snapshot may add ([`log_growth_hint`]).
    log_growth: usize,
    sessions: Vec<(i64, i32)>,
    acls: Vec<(i64, Vec<paddock_jute::Acl>)>,
    loader: Option<SnapshotLoader>,
}

/// How many nodes the log after a snapshot of `zxid` may add: the transactions in the log
/// files before the newest one (their names give the count, zxids being gapless within an
/// epoch), each of which may create a node. The tree's index is sized for them before the
/// snapshot loads, because growing it during replay rehashes every node already loaded
/// (an eighth of recovery's time with 1M znodes and 110k logged creates). 0 across an epoch
/// change or when unknown.
fn log_growth_hint(newest_log: Option<i64>, zxid: i64) -> usize {
    match newest_log {
        Some(newest) if newest > zxid && newest >> 32 == zxid >> 32 => {
            usize::try_from(newest - zxid).unwrap_or(0)
        }
        _ => 0,
    }
}

/// The first zxid of the newest log file in `log_dir`, if any.
fn newest_log_zxid(fs: &dyn Fs, log_dir: &Path) -> Option<i64> {
    let names = fs.list(log_dir).ok()?;
    names
        .iter()
        .filter_map(|n| {
            paddock_storage::names::zxid_from_name(n, paddock_storage::names::LOG_PREFIX)
        })
        .max()
}

impl Loading {
    fn new(cfg: CoreConfig, now_ms: i64, zxid: i64, log_growth: usize) -> Self {
        Loading {
            cfg,
            now_ms,
            zxid,
            log_growth,
            sessions: Vec::new(),
            acls: Vec::new(),
            loader: None,
        }
    }

    /// The loader, started on the sessions and ACLs read so far.
    fn loader(&mut self) -> &mut SnapshotLoader {
        let Loading {
            cfg,
            now_ms,
            zxid,
            sessions,
            acls,
            loader,
            ..
        } = self;
        loader.get_or_insert_with(|| {
            SnapshotLoader::new(cfg.clone(), *now_ms, *zxid, sessions, std::mem::take(acls))
        })
    }

    fn finish(self) -> Result<State, LoadError> {
        self.finish_with_digest(None)
    }

    /// `finish` for a snapshot that ends with a tree digest, which is then checked.
    fn finish_with_digest(mut self, digest: Option<ZxidDigest>) -> Result<State, LoadError> {
        self.loader();
        self.loader
            .expect("just started")
            .finish_with_digest(digest)
    }
}

impl SnapshotVisitor for Loading {
    fn session(&mut self, id: i64, timeout_ms: i32) {
        self.sessions.push((id, timeout_ms));
    }

    fn acl(&mut self, key: i64, acls: Vec<paddock_jute::Acl>) {
        self.acls.push((key, acls));
    }

    fn node(&mut self, path: String, node: SnapNode) -> Result<(), SnapshotError> {
        self.node_ref(&path, node.data.as_deref(), node.acl, node.stat)
    }

    fn nodes_ahead(&mut self, count: usize) {
        // The log's share is capped at the snapshot's: an index that small grows cheaply.
        let growth = self.log_growth.min(count);
        self.loader().reserve(count + growth);
    }

    /// A node that does not fit the tree (no parent yet, twice, a bad path) makes the file
    /// unusable, as ZooKeeper's "Invalid Datatree" does: the next older snapshot is tried.
    fn node_ref(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: i64,
        stat: paddock_jute::StatPersisted,
    ) -> Result<(), SnapshotError> {
        self.loader()
            .add(path, data, acl, stat)
            .map_err(|e| SnapshotError::Corrupt(e.to_string()))
    }
}

fn storage_node(n: CoreSnapNode) -> SnapNode {
    SnapNode {
        data: n.data,
        acl: n.acl,
        stat: n.stat,
    }
}

/// A transaction's log entry: `TxnHeader` and the record, made before the transaction is
/// applied. It carries no `TxnDigest`: that is optional in ZooKeeper's format, and
/// ZooKeeper's replay compares the digest only of entries that have one.
pub fn log_entry(hdr: &TxnHeader, txn: &Txn) -> Vec<u8> {
    marshal_entry(hdr, txn, None)
}

/// What the core task sends the log writer thread.
#[derive(Debug)]
pub enum LogMsg {
    Entry {
        zxid: i64,
        bytes: Vec<u8>,
    },
    /// Start a new log file with the next entry (a snapshot is beginning).
    Roll,
    /// Nothing to write: retry a preallocation that failed for lack of space.
    Retry,
}

/// The core task's end of the log writer.
pub struct LogHandle {
    tx: mpsc::Sender<Vec<LogMsg>>,
    /// The zxid up to which the log is fsynced. Closed when the writer died.
    pub durable: watch::Receiver<i64>,
    shared: Arc<LogShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the writer thread and the core task (writing inline) share.
struct LogShared {
    inner: std::sync::Mutex<LogInner>,
    /// Messages sent to the thread and not yet written and synced by it.
    queued: AtomicUsize,
    disk_full: AtomicBool,
    block: u64,
    metrics: Arc<ServerMetrics>,
}

impl LogHandle {
    /// Starts the writer thread. New entries go to a new file, as in ZooKeeper.
    pub fn start(storage: &Storage, last_zxid: i64) -> LogHandle {
        let writer = TxnLogWriter::new(
            storage.fs.clone(),
            &storage.log_dir,
            storage.log_config.clone(),
            last_zxid,
        );
        let (tx, rx) = mpsc::channel(LOG_QUEUE_HANDOFFS);
        let (durable_tx, durable) = watch::channel(last_zxid);
        let shared = Arc::new(LogShared {
            inner: std::sync::Mutex::new(LogInner {
                writer,
                durable: Some(durable_tx),
            }),
            queued: AtomicUsize::new(0),
            disk_full: AtomicBool::new(false),
            block: storage.log_config.pre_alloc_size_bytes,
            metrics: storage.metrics.clone(),
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("paddock-log".into())
            .spawn(move || write_loop(&thread_shared, rx))
            .expect("spawning the log writer thread");
        LogHandle {
            tx,
            durable,
            shared,
            thread: Some(thread),
        }
    }

    /// True while the log cannot reserve space: new writes must be refused.
    pub fn disk_full(&self) -> bool {
        self.shared.disk_full.load(Ordering::Acquire)
    }

    /// Queues messages, in order, as one hand-off (one channel operation, not one per
    /// message); waits when the writer is behind. Err when the writer died.
    pub async fn send(&self, msgs: Vec<LogMsg>) -> Result<(), ()> {
        if msgs.is_empty() {
            return Ok(());
        }
        self.shared.queued.fetch_add(msgs.len(), Ordering::AcqRel);
        self.tx.send(msgs).await.map_err(|_| ())
    }

    /// Writes and fsyncs `msgs` on the calling thread when the writer thread is idle: a lone
    /// write then skips two thread hand-offs. Leaves `msgs` alone when the thread is busy,
    /// the disk is full or a roll is among them (a roll may wait for space).
    pub fn write_now(&self, msgs: &mut Vec<LogMsg>) -> Inline {
        let shared = &*self.shared;
        if shared.queued.load(Ordering::Acquire) != 0
            || self.disk_full()
            || msgs.iter().any(|msg| matches!(msg, LogMsg::Roll))
        {
            return Inline::Busy;
        }
        let Ok(mut inner) = shared.inner.try_lock() else {
            return Inline::Busy;
        };
        if inner.durable.is_none() {
            return Inline::Failed;
        }
        match shared.write_batch(&mut inner, msgs.drain(..), Writer::Core) {
            Ok(_) => Inline::Durable(inner.writer.last_zxid()),
            Err(LogError::NoSpace {
                path, needed_bytes, ..
            }) => {
                // Nothing was written and the batch stays in the writer: the thread writes it
                // once space is freed, as it does its own.
                note_disk_full(&shared.disk_full, &path, needed_bytes);
                shared.queued.fetch_add(1, Ordering::AcqRel);
                match self.tx.try_send(vec![LogMsg::Retry]) {
                    Ok(()) => Inline::HandedOver,
                    Err(_) => Inline::Failed,
                }
            }
            Err(e) => {
                inner.fail(e);
                Inline::Failed
            }
        }
    }

    /// Lets the writer drain and sync what it has, then waits for it to exit.
    pub fn close(mut self) {
        drop(self.tx);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer and the sender of its durable zxid, taken together by whoever writes.
struct LogInner {
    writer: TxnLogWriter,
    /// Dropped when the log fails, which tells the core task.
    durable: Option<watch::Sender<i64>>,
}

impl LogInner {
    fn fail(&mut self, e: LogError) {
        self.durable = None;
        fail(e);
    }
}

/// Who writes and fsyncs a batch of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// The log writer thread.
    Thread,
    /// The core task itself, for a lone writer ([`LogHandle::write_now`]).
    Core,
}

/// What [`LogHandle::write_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inline {
    /// Nothing: hand the messages to the thread.
    Busy,
    /// Written and fsynced up to this zxid.
    Durable(i64),
    /// The disk was full: the thread writes the batch once there is space.
    HandedOver,
    /// The log failed; the server stops.
    Failed,
}

impl LogShared {
    /// Writes `msgs`, fsyncs them, publishes the durable zxid and reserves space ahead.
    /// Returns how many messages it took. The thread waits out a full disk; the core task
    /// gets it back as `NoSpace`, with the batch kept.
    fn write_batch(
        &self,
        inner: &mut LogInner,
        msgs: impl Iterator<Item = LogMsg>,
        by: Writer,
    ) -> Result<usize, LogError> {
        let writer = &mut inner.writer;
        let mut taken = 0;
        let mut batch = 0i64;
        for msg in msgs {
            taken += 1;
            match msg {
                LogMsg::Entry { zxid, bytes } => {
                    batch += 1;
                    writer.append_marshalled(zxid, &bytes)?;
                }
                LogMsg::Roll => {
                    sync(writer, &self.disk_full)?;
                    writer.roll();
                }
                LogMsg::Retry => {}
            }
        }
        let started = Instant::now();
        match by {
            Writer::Thread => sync(writer, &self.disk_full)?,
            Writer::Core => writer.flush_and_sync()?,
        }
        if batch > 0 {
            // FileTxnLog.commit times each fsync (`fsynctime`); SyncRequestProcessor counts
            // the transactions that shared it (`sync_processor_batch_size`). Counted before
            // the batch is published durable, so before any of its writes is answered: a
            // client that sees its reply also sees the fsync in the metrics.
            let took = started.elapsed();
            let hot = &self.metrics.hot;
            hot.fsync_time.add(took.as_millis() as i64);
            self.metrics
                .paddock
                .fsync_seconds
                .observe(took.as_secs_f64());
            hot.sync_batch_size.add(batch);
            let batches = &self.metrics.paddock.log_batches;
            match by {
                Writer::Thread => batches.thread.inc(),
                Writer::Core => batches.core.inc(),
            }
        }
        if let Some(durable) = &inner.durable {
            let _ = durable.send(writer.last_zxid());
        }
        // Reserve the next stretch now, so that a full disk is noticed while what is already
        // accepted still fits. A flush itself grows the file once its end comes within 4 KiB
        // of the reserved end (FilePadding), so reserve before that point.
        let block = self.block;
        if block > 0 && writer.appendable_bytes() < block / 2 + 4096 {
            match writer.reserve(block) {
                Ok(()) => self.disk_full.store(false, Ordering::Release),
                Err(LogError::NoSpace { .. }) => self.disk_full.store(true, Ordering::Release),
                Err(e) => return Err(e),
            }
        } else {
            self.disk_full.store(false, Ordering::Release);
        }
        Ok(taken)
    }
}

fn write_loop(shared: &LogShared, mut rx: mpsc::Receiver<Vec<LogMsg>>) {
    while let Some(first) = rx.blocking_recv() {
        let mut inner = shared.inner.lock().expect("the log writer lock");
        if inner.durable.is_none() {
            return; // failed while the core task wrote inline
        }
        let mut next = Some(first);
        // Take what else is queued: it shares this write and fsync.
        let msgs = std::iter::from_fn(|| next.take().or_else(|| rx.try_recv().ok())).flatten();
        match shared.write_batch(&mut inner, msgs, Writer::Thread) {
            Ok(taken) => {
                shared.queued.fetch_sub(taken, Ordering::AcqRel);
            }
            Err(e) => return inner.fail(e),
        }
    }
    let mut inner = shared.inner.lock().expect("the log writer lock");
    if inner.durable.is_some() {
        if let Err(e) = sync(&mut inner.writer, &shared.disk_full) {
            inner.fail(e);
        }
    }
}

/// Writes and fsyncs the batch; while the disk is full, waits and retries (nothing is
/// written and the batch is kept, so the log stays valid).
fn sync(writer: &mut TxnLogWriter, disk_full: &AtomicBool) -> Result<(), LogError> {
    loop {
        match writer.flush_and_sync() {
            Err(LogError::NoSpace {
                path, needed_bytes, ..
            }) => {
                note_disk_full(disk_full, &path, needed_bytes);
                std::thread::sleep(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Sets the flag that refuses new writes; says so once per stretch of full disk.
fn note_disk_full(disk_full: &AtomicBool, path: &Path, needed_bytes: u64) {
    if !disk_full.swap(true, Ordering::AcqRel) {
        tracing::error!(
            "disk full: cannot reserve {needed_bytes} bytes for {}; refusing writes",
            path.display()
        );
    }
}

fn fail(e: LogError) {
    tracing::error!("transaction log failed, the server stops: {e}");
}

/// A snapshot being written by its own thread from chunks the core task hands it.
pub struct SnapshotJob {
    tx: Option<std::sync::mpsc::SyncSender<SnapChunk>>,
    thread: Option<std::thread::JoinHandle<Result<PathBuf, SnapshotError>>>,
    started: Instant,
}

pub enum SnapChunk {
    Nodes(Vec<(String, CoreSnapNode)>),
    Finish(ZxidDigest),
}

impl SnapshotJob {
    /// Starts `snapshot.<zxid>` with its sessions and ACL map.
    pub fn start(
        storage: &Storage,
        zxid: i64,
        sessions: Vec<(i64, i32)>,
        acls: Vec<(i64, Vec<paddock_jute::Acl>)>,
    ) -> Result<SnapshotJob, SnapshotError> {
        let mut writer = SnapshotWriter::create(
            storage.fs.clone(),
            &storage.snap_dir,
            zxid,
            0,
            storage.compression,
        )?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<SnapChunk>(SNAPSHOT_QUEUE_CHUNKS);
        let thread = std::thread::Builder::new()
            .name("paddock-snapshot".into())
            .spawn(move || {
                writer.sessions(&sessions)?;
                writer.acls(&acls)?;
                while let Ok(chunk) = rx.recv() {
                    match chunk {
                        SnapChunk::Nodes(nodes) => {
                            for (path, node) in nodes {
                                writer.node(&path, &storage_node(node))?;
                            }
                        }
                        SnapChunk::Finish(digest) => return writer.finish(Some(digest), None),
                    }
                }
                // The server stopped before the snapshot was complete: the temporary file
                // stays behind under a name no reader takes.
                Err(SnapshotError::Truncated("abandoned at shutdown".into()))
            })
            .expect("spawning the snapshot thread");
        Ok(SnapshotJob {
            tx: Some(tx),
            thread: Some(thread),
            started: Instant::now(),
        })
    }

    /// Hands over a chunk; false when the thread is busy (try again later).
    pub fn offer(
        &self,
        chunk: Vec<(String, CoreSnapNode)>,
    ) -> Result<(), Vec<(String, CoreSnapNode)>> {
        match self
            .tx
            .as_ref()
            .map(|tx| tx.try_send(SnapChunk::Nodes(chunk)))
        {
            Some(Ok(())) => Ok(()),
            Some(Err(std::sync::mpsc::TrySendError::Full(SnapChunk::Nodes(c)))) => Err(c),
            _ => Ok(()), // the thread failed; `finish` reports it
        }
    }

    /// Seals the snapshot (waiting for the thread) and reports where it went.
    pub fn finish(mut self, digest: ZxidDigest) -> Result<(PathBuf, Duration), SnapshotError> {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(SnapChunk::Finish(digest));
        }
        let thread = self.thread.take().expect("finish is called once");
        let path = thread
            .join()
            .unwrap_or_else(|_| Err(SnapshotError::Truncated("panicked".into())))?;
        Ok((path, self.started.elapsed()))
    }

    /// Gives up (shutdown): the thread ends and leaves only a temporary file.
    pub fn abandon(mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The digest record a snapshot ends with.
pub fn zxid_digest(zxid: i64, digest: i64) -> ZxidDigest {
    ZxidDigest {
        zxid,
        digest_version: DIGEST_VERSION,
        digest,
    }
}

/// `DatadirCleanupManager`: every `purge_interval`, keep the newest `snapRetainCount`
/// snapshots and the logs they need.
pub async fn autopurge(storage: Storage) {
    if storage.purge_interval.is_zero() {
        return;
    }
    let mut every = tokio::time::interval(storage.purge_interval);
    every.tick().await;
    loop {
        every.tick().await;
        let s = storage.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            paddock_storage::purge::purge(&*s.fs, &s.log_dir, &s.snap_dir, s.snap_retain_count)
        })
        .await;
        match outcome {
            Ok(Ok(removed)) => tracing::info!("autopurge removed {} files", removed.len()),
            Ok(Err(e)) => tracing::warn!("autopurge failed: {e}"),
            Err(e) => tracing::warn!("autopurge task failed: {e}"),
        }
    }
}

/// When the next snapshot is due (`SyncRequestProcessor.shouldSnapshot`): after a random
/// count of txns in `[snapCount/2 + 1, snapCount]`, or once the txns logged since the last
/// snapshot pass a random size in `(snapSizeLimitInKb/2, snapSizeLimitInKb]` (a limit of 0
/// or less turns that off), so that the members of an ensemble do not all snapshot at once.
/// ZooKeeper measures the log files' length, preallocation included; this counts the
/// entries' bytes.
///
/// An ensemble member also keeps the log since the snapshot before last in memory (a DIFF
/// and a SNAP take their entries from there), so on a member a snapshot is also due once
/// half of `paddock.logMemoryLimitInKb` was logged since the last one: that bounds the
/// in-memory log by the limit, whatever size the entries are.
#[derive(Debug, Clone)]
pub struct SnapshotSchedule {
    snap_count: u64,
    size_limit: u64,
    /// The member's bound on the bytes since the last snapshot; `u64::MAX` when standalone.
    memory_interval: u64,
    txns: u64,
    bytes: u64,
    due_txns: u64,
    /// The bytes that make a snapshot due: the random size threshold or `memory_interval`,
    /// whichever comes first.
    due_bytes: u64,
}

impl SnapshotSchedule {
    pub fn new(storage: &Storage, member: bool) -> SnapshotSchedule {
        let memory_interval = if member {
            (storage.log_memory_limit_bytes / 2).max(1)
        } else {
            u64::MAX
        };
        let mut s = SnapshotSchedule {
            snap_count: storage.snap_count,
            size_limit: storage.snap_size_limit_bytes,
            memory_interval,
            txns: 0,
            bytes: 0,
            due_txns: 0,
            due_bytes: 0,
        };
        s.restart();
        s
    }

    /// Counts one txn of `bytes` logged; true once a snapshot is due.
    pub fn logged(&mut self, bytes: u64) -> bool {
        self.txns += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.txns >= self.due_txns || self.bytes >= self.due_bytes
    }

    /// A snapshot began: count afresh, towards new random thresholds.
    pub fn restart(&mut self) {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let half = (self.snap_count / 2).max(1);
        self.due_txns = half + rng.gen_range(1..=half);
        // Due once more than `limit/2 + r` bytes were logged, r in [0, limit/2).
        let by_size = match self.size_limit {
            0 => u64::MAX,
            limit => limit / 2 + rng.gen_range(0..(limit / 2).max(1)) + 1,
        };
        self.due_bytes = by_size.min(self.memory_interval);
        self.txns = 0;
        self.bytes = 0;
    }
}

/// `snapshot.<zxid>` paths are named by the zxid they start from.
pub fn describe(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use paddock_jute::txn::CreateTxn;
    use paddock_storage::FaultFs;

    fn schedule(snap_count: u64, size_kb: i64, memory_kb: u64, member: bool) -> SnapshotSchedule {
        let cfg = ServerConfig {
            snap_count,
            snap_size_limit_kb: size_kb,
            log_memory_limit_kb: memory_kb,
            ..ServerConfig::default()
        };
        let storage = Storage::new(&cfg, Arc::new(FaultFs::new(1)));
        SnapshotSchedule::new(&storage, member)
    }

    /// Txns logged, `bytes` each, until `s` says a snapshot is due (at most `most`).
    fn txns_until_due(s: &mut SnapshotSchedule, bytes: u64, most: u64) -> Option<u64> {
        (1..=most).find(|_| s.logged(bytes))
    }

    #[test]
    fn a_snapshot_is_due_after_a_random_count_within_snap_count() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut s = schedule(100, 0, 1, false);
            let n = txns_until_due(&mut s, 10, 1000).expect("due by snapCount");
            assert!((51..=100).contains(&n), "{n}");
            seen.insert(n);
        }
        assert!(seen.len() > 10, "the count is drawn at random: {seen:?}");
    }

    #[test]
    fn a_snapshot_is_due_after_a_random_size_within_snap_size_limit() {
        // 64 KiB limit, 1 KiB txns: due after more than 32 and at most 64 of them.
        for _ in 0..100 {
            let mut s = schedule(1_000_000, 64, 1, false);
            let n = txns_until_due(&mut s, 1024, 1000).expect("due by size");
            assert!((33..=64).contains(&n), "{n}");
            s.restart();
            let again = txns_until_due(&mut s, 1024, 1000).expect("due again after a restart");
            assert!((33..=64).contains(&again), "{again}");
        }
        for off in [0, -1] {
            let mut s = schedule(1_000_000, off, 1, false);
            assert_eq!(txns_until_due(&mut s, 1 << 20, 10_000), None, "limit {off}");
        }
    }

    #[test]
    fn a_member_snapshots_before_its_in_memory_log_passes_its_limit() {
        // 1 MiB of memory: due once half of it is logged, at the 512th KiB-sized txn.
        let mut member = schedule(1_000_000, 0, 1024, true);
        assert_eq!(txns_until_due(&mut member, 1024, 10_000), Some(512));
        let mut standalone = schedule(1_000_000, 0, 1024, false);
        assert_eq!(txns_until_due(&mut standalone, 1024, 10_000), None);
    }

    /// A data directory at `/data` in memory, with snapshots compressed by `compression`.
    fn in_memory(compression: &str) -> (ServerConfig, FaultFs, Storage) {
        let cfg = ServerConfig {
            data_dir: "/data".into(),
            data_log_dir: "/data".into(),
            snapshot_compression: compression.into(),
            ..ServerConfig::default()
        };
        let fs = FaultFs::new(7);
        let storage = Storage::new(&cfg, Arc::new(fs.clone()));
        storage.create_dirs().unwrap();
        (cfg, fs, storage)
    }

    /// The data directory Apache ZooKeeper 3.8 wrote for paddock-storage's compatibility
    /// tests: its snapshots (`snapshot.0`, and `snapshot.19` taken at a restart) copied into
    /// an in-memory data directory, and its log entries (each with the `TxnDigest` ZooKeeper
    /// appends), as read from its logs.
    fn zookeeper_38_data_dir() -> (
        ServerConfig,
        FaultFs,
        Storage,
        Vec<paddock_storage::LogEntry>,
    ) {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage/tests/fixtures/zk38/version-2");
        let (cfg, fs, storage) = in_memory(&ServerConfig::default().snapshot_compression);
        for name in ["snapshot.0", "snapshot.19"] {
            let bytes = std::fs::read(fixture.join(name)).unwrap();
            let mut file = fs.create(&storage.snap_dir.join(name)).unwrap();
            file.write_at(0, &bytes).unwrap();
            file.sync_data().unwrap();
        }
        let entries = paddock_storage::read_log_dir(&paddock_storage::RealFs, &fixture, 0)
            .unwrap()
            .entries;
        assert!(entries.iter().all(|e| e.digest.is_some()));
        (cfg, fs, storage, entries)
    }

    /// Writes `entries` as the log, the digest of the one of zxid `wrong` (if any) off by one.
    fn write_log(
        fs: &FaultFs,
        storage: &Storage,
        entries: &[paddock_storage::LogEntry],
        wrong: i64,
    ) {
        let mut writer = TxnLogWriter::new(
            Arc::new(fs.clone()),
            &storage.log_dir,
            paddock_storage::TxnLogConfig::default(),
            0,
        );
        for e in entries {
            let mut digest = e.digest.expect("ZooKeeper logs a digest");
            if e.header.zxid == wrong {
                digest.tree_digest += 1;
            }
            writer.append(&e.header, &e.txn, Some(&digest)).unwrap();
        }
        writer.flush_and_sync().unwrap();
    }

    /// FileSnap.deserialize compares the digest of a snapshot taken with no txn running at
    /// once; fastForwardFromEdits then compares the TxnDigest of every replayed entry
    /// (DataTree.compareDigest). Paddock's tree matches ZooKeeper's at each of them.
    #[test]
    fn recovery_compares_the_digests_zookeeper_wrote() {
        let (cfg, fs, storage, entries) = zookeeper_38_data_dir();
        write_log(&fs, &storage, &entries, -1);
        let recovered = recover(&storage, cfg.core_config(), 0).unwrap();
        let digests = recovered.state.digest_log();
        assert_eq!(recovered.snapshot_zxid, Some(0x19));
        let after = entries.iter().filter(|e| e.header.zxid > 0x19).count();
        assert!(after > 0);
        assert_eq!(recovered.replayed, after);
        assert_eq!(digests.compared(), 1 + recovered.replayed as u64);
        assert_eq!(digests.mismatches(), 0);
    }

    #[test]
    fn a_logged_digest_that_differs_from_the_tree_is_counted() {
        let (cfg, fs, storage, entries) = zookeeper_38_data_dir();
        let wrong = entries.last().unwrap().header.zxid - 1;
        write_log(&fs, &storage, &entries, wrong);
        let recovered = recover(&storage, cfg.core_config(), 0).unwrap();
        let digests = recovered.state.digest_log();
        assert_eq!(digests.compared(), 1 + recovered.replayed as u64);
        assert_eq!(digests.mismatches(), 1);
        assert_eq!(digests.first_mismatch(), Some(wrong));
    }

    /// A tree with one node, created by the transaction of zxid 1.
    fn one_create(cfg: &ServerConfig) -> State {
        let mut state = State::new(cfg.core_config(), 0);
        let hdr = TxnHeader {
            client_id: 0,
            cxid: 1,
            zxid: 1,
            time: 0,
            txn_type: paddock_jute::OpCode::Create as i32,
        };
        let txn = Txn::Create(CreateTxn {
            path: "/kept".into(),
            data: Some(b"v".to_vec()),
            acl: paddock_jute::Acl::open_unsafe(),
            ephemeral: false,
            parent_c_version: 1,
        });
        state.replay(&hdr, &txn);
        state
    }

    /// The `snapshot` command streams the newest file as written, so with snapshot
    /// compression on, `restore` receives gzip or snappy: it is told by its magic, loaded and
    /// installed under its compression's name.
    #[test]
    fn restore_takes_a_compressed_snapshot() {
        for (method, ext) in [("gz", ".gz"), ("snappy", ".snappy")] {
            let (cfg, fs, storage) = in_memory(method);
            let written = write_snapshot_now(&storage, &one_create(&cfg)).unwrap();
            let data = fs.read(&written).unwrap();
            assert_eq!(Compression::from_magic(&data).extension(), ext);

            let (restored, zxid) = restore_snapshot(&storage, cfg.core_config(), 0, &data).unwrap();
            assert_eq!(zxid, 1);
            assert_eq!(restored.last_zxid(), 1);
            let names = fs.list(&storage.snap_dir).unwrap();
            assert_eq!(names, vec![format!("snapshot.1{ext}")], "{method}");
            let staged = fs.list(Path::new("/data")).unwrap();
            assert!(staged.is_empty(), "nothing staged is left: {staged:?}");
        }
    }

    /// A restore that fails after staging the upload (here its fsync) removes the staged
    /// copy and leaves the old history where it was.
    #[test]
    fn a_failed_restore_leaves_no_staged_upload() {
        let (cfg, fs, storage) = in_memory("");
        let written = write_snapshot_now(&storage, &one_create(&cfg)).unwrap();
        let data = fs.read(&written).unwrap();
        fs.fail_next_fsyncs(1);
        let failed = restore_snapshot(&storage, cfg.core_config(), 0, &data);
        assert!(
            matches!(failed, Err(RestoreError::Io(_))),
            "{:?}",
            failed.map(|r| r.1)
        );
        let staged = fs.list(Path::new("/data")).unwrap();
        assert!(
            staged.is_empty(),
            "the staged upload is removed: {staged:?}"
        );
        assert_eq!(
            fs.list(&storage.snap_dir).unwrap(),
            vec![describe(&written)]
        );
    }

    /// A data dir holding one snapshot and one log file, and the upload of another snapshot.
    fn history_and_upload() -> (ServerConfig, FaultFs, Storage, Vec<u8>, Vec<String>) {
        let (cfg, fs, storage) = in_memory("");
        let written = write_snapshot_now(&storage, &one_create(&cfg)).unwrap();
        let mut log = fs.create(&storage.log_dir.join("log.2")).unwrap();
        log.write_at(0, b"entries").unwrap();
        log.sync_data().unwrap();
        let data = fs.read(&written).unwrap();
        let mut history = fs.list(&storage.snap_dir).unwrap();
        history.sort();
        (cfg, fs, storage, data, history)
    }

    /// The server keeps its old state after a failed restore and appends to its open log file,
    /// so a restart must find every file where it was: a failure after the history was moved
    /// aside (here the upload's rename into place) moves it back and leaves no aside dir.
    #[test]
    fn a_restore_that_fails_to_install_puts_the_history_back() {
        let (cfg, fs, storage, data, history) = history_and_upload();
        fs.fail_renames_from("/data/restore-upload.tmp");
        let secs = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        let started = secs();
        let failed = restore_snapshot(&storage, cfg.core_config(), 0, &data);
        let ended = secs();
        assert!(
            matches!(failed, Err(RestoreError::Io(_))),
            "{:?}",
            failed.map(|r| r.1)
        );
        let mut now = fs.list(&storage.snap_dir).unwrap();
        now.sort();
        assert_eq!(now, history, "the snapshot and the log are back");
        assert!(
            fs.list(Path::new("/data")).unwrap().is_empty(),
            "no upload left"
        );
        for s in started..=ended {
            let aside = PathBuf::from(format!("/data/before-restore-{s}"));
            assert!(fs.list(&aside).is_err(), "{} is removed", aside.display());
        }
    }

    /// When the history cannot be moved back either, the error says where it is (the core
    /// task then stops the server, as after a failed log write).
    #[test]
    fn a_restore_that_cannot_put_the_history_back_names_where_it_is() {
        let (cfg, fs, storage, data, history) = history_and_upload();
        fs.fail_renames_from("/data/restore-upload.tmp");
        fs.fail_renames_from("/data/before-restore-");
        let failed = restore_snapshot(&storage, cfg.core_config(), 0, &data);
        let Err(e @ RestoreError::Stranded { .. }) = failed else {
            panic!("stranded, not {:?}", failed.map(|r| r.1));
        };
        let RestoreError::Stranded { aside, .. } = &e else {
            unreachable!()
        };
        assert!(e.to_string().contains(&aside.display().to_string()), "{e}");
        let mut stranded = fs.list(aside).unwrap();
        stranded.sort();
        assert_eq!(stranded, history, "{e}");
    }
}
