//! ZooKeeper's transaction log (`persistence/FileTxnLog.java`).
//!
//! A log file `version-2/log.<hex zxid of its first txn>` is a `FileHeader{magic "ZKLG",
//! version 2, dbid}` followed by entries. Each entry is the Adler-32 of the entry bytes as a
//! jute long, the entry bytes as a jute buffer (int length + bytes: `TxnHeader`, the txn record,
//! and the `TxnDigest` ZooKeeper 3.6+ appends), then the byte `'B'`. Files are preallocated
//! with zeros, so an entry whose length is zero marks the end of the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use paddock_jute::codec::{Reader, Record, Writer};
use paddock_jute::txn::{Txn, TxnDigest, TxnHeader};

use crate::error::{io_err, LogError};
use crate::fs::{is_no_space, Fs, FsFile};
use crate::names::{log_name, sort_by_zxid, LOG_PREFIX};

/// `FileTxnLog.TXNLOG_MAGIC`: "ZKLG".
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;
/// `FileTxnLog.VERSION`.
pub const LOG_VERSION: i32 = 2;
/// magic (int) + version (int) + dbid (long).
pub const FILE_HEADER_BYTES: u64 = 16;
/// The byte after every entry (`Util.writeTxnBytes`: 'B').
pub const END_OF_RECORD: u8 = 0x42;
/// checksum (long) + length (int) + end-of-record byte around the entry bytes.
pub const ENTRY_OVERHEAD_BYTES: u64 = 13;
/// `FilePadding.preAllocSize` default: 64 MiB.
pub const DEFAULT_PRE_ALLOC_SIZE_BYTES: u64 = 64 * 1024 * 1024;
/// How far ahead of the entries the preallocated space is filled with written zeros.
pub const DEFAULT_ZERO_AHEAD_BYTES: u64 = 256 * 1024;
/// The largest batch after which zeros are still written ahead.
pub const DEFAULT_ZERO_AHEAD_MAX_BATCH_BYTES: u64 = 64 * 1024;
/// How much of a log file a reader asks for at once.
const READ_BLOCK_BYTES: usize = 1 << 20;
/// The largest entry a reader accepts: ZooKeeper's default `jute.maxbuffer` plus room for the
/// header and digest. Bigger lengths are garbage, never an allocation.
pub const MAX_ENTRY_BYTES: u64 = paddock_jute::frame::DEFAULT_MAX_BUFFER as u64 + 1024;

/// Adler-32, as `java.util.zip.Adler32.getValue()` returns it (an unsigned int in a long).
pub fn adler32(bytes: &[u8]) -> i64 {
    i64::from(simd_adler32::adler32(&bytes))
}

/// `Util.marshallTxnEntry`: the entry bytes of one transaction.
pub fn marshal_entry(hdr: &TxnHeader, txn: &Txn, digest: Option<&TxnDigest>) -> Vec<u8> {
    // TxnHeader: clientId, cxid, zxid, time, type; TxnDigest: version, treeDigest.
    const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 4;
    const DIGEST_LEN: usize = 4 + 8;
    let len = HEADER_LEN + txn.body_len() + digest.map_or(0, |_| DIGEST_LEN);
    let mut w = Writer::with_capacity(len);
    hdr.write(&mut w);
    txn.write_body(&mut w);
    if let Some(d) = digest {
        d.write(&mut w);
    }
    w.into_inner()
}

/// One transaction read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub header: TxnHeader,
    pub txn: Txn,
    pub digest: Option<TxnDigest>,
}

/// Where a torn tail starts: the server truncates the file there (or removes it when not even
/// its header survived) before it appends again. See [`repair_torn_tail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
}

/// What [`read_log_dir`] found.
#[derive(Debug, Clone, Default)]
pub struct LogRead {
    /// Transactions with zxid > `from_zxid`, in zxid order.
    pub entries: Vec<LogEntry>,
    /// The zxid of the last valid transaction in the files read, at or below `from_zxid` too.
    pub last_zxid: Option<i64>,
    pub torn_tail: Option<TornTail>,
    /// The log files read, oldest first.
    pub files: Vec<PathBuf>,
}

/// How the writer lays out and syncs its files.
#[derive(Debug, Clone)]
pub struct TxnLogConfig {
    /// Preallocation block (zoo.cfg `preAllocSize`, in KiB there; bytes here). 0 disables it.
    pub pre_alloc_size_bytes: u64,
    /// zoo.cfg `forceSync`: when false, `flush_and_sync` writes without fsync.
    pub force_sync: bool,
    /// Bytes of the preallocated space kept filled with written zeros ahead of the entries
    /// (0: none; only with `force_sync`). Preallocation reserves space as unwritten extents,
    /// and the first write into each block makes it a written one: a change to the file's
    /// extent map that fdatasync must write and wait for before its cache flush. Batches of a
    /// few KiB reach a new block on almost every fsync, so nearly every fsync paid that second
    /// round trip (ext4: 0.26 against 0.16 ms per fsync of 4 KiB batches). Zeros written ahead
    /// convert the blocks once per stretch, as PostgreSQL's `wal_init_zero` does for WAL files;
    /// the log's bytes reach the disk twice. The zeros read as preallocated space always did.
    pub zero_ahead_bytes: u64,
    /// No zeros are written after a batch longer than this. The zeros a stretch of log gets
    /// are as many bytes as the entries that fill it, and they save one extent change per
    /// fsync: worth it for batches of a few KiB, waste for large ones, which meet unwritten
    /// blocks past the zeros anyway and whose fsync is bound by the disk's bandwidth
    /// (64 KiB values in batches of 8: a third of the bytes written were zeros). 64 KiB is
    /// about what the disk writes in the time an extent change costs, and above the batches
    /// of small writes (256 setData of 100 bytes: 40 KiB).
    pub zero_ahead_max_batch_bytes: u64,
    /// The dbid in each file header; ZooKeeper always writes 0.
    pub dbid: i64,
}

impl Default for TxnLogConfig {
    fn default() -> Self {
        TxnLogConfig {
            pre_alloc_size_bytes: DEFAULT_PRE_ALLOC_SIZE_BYTES,
            force_sync: true,
            zero_ahead_bytes: DEFAULT_ZERO_AHEAD_BYTES,
            zero_ahead_max_batch_bytes: DEFAULT_ZERO_AHEAD_MAX_BATCH_BYTES,
            dbid: 0,
        }
    }
}

/// `FilePadding.calculateFileSizeWithPadding`, with one addition: the result always covers
/// `end`, so a batch larger than a block still lands in reserved space.
pub fn padded_size(end: u64, current: u64, pre_alloc: u64) -> u64 {
    if pre_alloc == 0 || end + 4096 < current {
        return current.max(end);
    }
    let mut size = if end > current {
        let s = end + pre_alloc;
        s - s % pre_alloc
    } else {
        current + pre_alloc
    };
    while size < end {
        size += pre_alloc;
    }
    size
}

struct OpenLog {
    path: PathBuf,
    file: Box<dyn FsFile>,
    /// End of the entries written so far (where the next batch goes).
    position: u64,
    /// Bytes reserved (file length after preallocation).
    allocated: u64,
    /// End of the bytes written so far, entries or zeros ahead of them.
    written: u64,
    /// Zeros are still written ahead of the entries (false once writing them failed).
    zeroing: bool,
}

/// Appends transactions to the log. Appends collect in memory; [`TxnLogWriter::flush_and_sync`]
/// writes them with one write and one fsync, which is what group commit is built on.
pub struct TxnLogWriter {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    config: TxnLogConfig,
    current: Option<OpenLog>,
    batch: Vec<u8>,
    batch_first_zxid: Option<i64>,
    batch_entries: usize,
    last_zxid: i64,
    failed: bool,
}

impl TxnLogWriter {
    /// A writer for `dir` (the `version-2` directory). Like ZooKeeper after a restart, it never
    /// appends to an existing file: the first flush starts `log.<first zxid>`. `last_zxid` is
    /// the last transaction already durable (from recovery), so appends must go above it.
    pub fn new(fs: Arc<dyn Fs>, dir: &Path, config: TxnLogConfig, last_zxid: i64) -> Self {
        TxnLogWriter {
            fs,
            dir: dir.to_path_buf(),
            config,
            current: None,
            batch: Vec::new(),
            batch_first_zxid: None,
            batch_entries: 0,
            last_zxid,
            failed: false,
        }
    }

    /// Adds one transaction to the batch.
    pub fn append(
        &mut self,
        hdr: &TxnHeader,
        txn: &Txn,
        digest: Option<&TxnDigest>,
    ) -> Result<(), LogError> {
        let bytes = marshal_entry(hdr, txn, digest);
        self.append_marshalled(hdr.zxid, &bytes)
    }

    /// Adds one entry already marshalled by [`marshal_entry`] (the leader serializes a proposal
    /// once for the wire and the log).
    pub fn append_marshalled(&mut self, zxid: i64, entry: &[u8]) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Poisoned);
        }
        // A zxid that does not grow is a bug in the caller, not an outside event.
        assert!(
            zxid > self.last_zxid,
            "txn log append of zxid {zxid:#x} after {:#x}",
            self.last_zxid
        );
        assert!(!entry.is_empty(), "empty txn log entry");
        let len = i32::try_from(entry.len()).expect("txn log entry exceeds i32::MAX bytes");
        let mut w = Writer::with_capacity(entry.len() + ENTRY_OVERHEAD_BYTES as usize);
        w.write_i64(adler32(entry));
        w.write_i32(len);
        self.batch.extend_from_slice(w.as_slice());
        self.batch.extend_from_slice(entry);
        self.batch.push(END_OF_RECORD);
        self.batch_first_zxid.get_or_insert(zxid);
        self.batch_entries += 1;
        self.last_zxid = zxid;
        Ok(())
    }

    /// Entries appended but not yet written.
    pub fn pending_entries(&self) -> usize {
        self.batch_entries
    }

    /// The zxid of the last appended transaction.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Bytes that can still be appended to the current file without growing it. Zero when no
    /// file is open (the next flush creates and preallocates one).
    pub fn appendable_bytes(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| {
            c.allocated
                .saturating_sub(c.position + self.batch.len() as u64)
        })
    }

    /// Reserves room for `bytes` more in the current file, so a full disk shows up before
    /// clients are told anything. Without an open file this is a no-op.
    pub fn reserve(&mut self, bytes: u64) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Poisoned);
        }
        let end = match &self.current {
            Some(c) => c.position + self.batch.len() as u64 + bytes,
            None => return Ok(()),
        };
        self.ensure_allocated(end)
    }

    /// Drops the unwritten batch (after `NoSpace`, when the caller fails those requests) and
    /// returns how many entries it held. `last_zxid` goes back to the last written entry.
    pub fn discard_batch(&mut self, last_written_zxid: i64) -> usize {
        let n = self.batch_entries;
        self.batch.clear();
        self.batch_first_zxid = None;
        self.batch_entries = 0;
        self.last_zxid = last_written_zxid;
        n
    }

    /// The next append starts a new file (`FileTxnLog.rollLog`, after a snapshot). Call after a
    /// flush; unflushed entries stay in the batch and go to the new file.
    ///
    /// The closed file gives back the preallocated space it will never use. ZooKeeper pads
    /// sparsely and has nothing to give back; these files are preallocated for real (so that a
    /// full disk shows before a write is accepted), and under a steady write load a 64 MiB
    /// file per snapshot interval filled the disk several times faster than the log grew.
    /// Best effort: if the cut fails or is lost in a crash, the zeros after the last entry
    /// read as the end of the log, as before.
    pub fn roll(&mut self) {
        if let Some(mut cur) = self.current.take() {
            if cur.allocated > cur.position {
                let _ = cur.file.set_len(cur.position);
            }
        }
    }

    /// The file being appended to, if any.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// Writes the batch with one write and, with `force_sync`, one fsync. On `NoSpace` nothing
    /// was written and the batch is kept; any other error poisons the writer.
    pub fn flush_and_sync(&mut self) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Poisoned);
        }
        let Some(first_zxid) = self.batch_first_zxid else {
            return Ok(());
        };
        if self.current.is_none() {
            self.open_new_file(first_zxid)?;
        }
        let batch_bytes = self.batch.len() as u64;
        let end = self.position() + batch_bytes;
        self.ensure_allocated(end)?;
        let cur = self.current.as_mut().expect("a log file is open");
        if let Err(source) = cur.file.write_at(cur.position, &self.batch) {
            self.failed = true;
            return Err(LogError::WriteFailed {
                path: cur.path.clone(),
                source,
            });
        }
        cur.position = end;
        cur.written = cur.written.max(end);
        self.batch.clear();
        self.batch_first_zxid = None;
        self.batch_entries = 0;
        if self.config.force_sync {
            if batch_bytes <= self.config.zero_ahead_max_batch_bytes {
                zero_ahead(cur, self.config.zero_ahead_bytes);
            }
            if let Err(source) = cur.file.sync_data() {
                self.failed = true;
                return Err(LogError::SyncFailed {
                    path: cur.path.clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.position)
    }

    /// Creates `log.<zxid>` with its header, durable (file and directory entry) before any
    /// entry is acknowledged from it: the directory is synced here, the header with the first
    /// batch (one fdatasync fewer per roll; a crash before it leaves an empty or header-cut
    /// newest file, which reads as an empty log).
    fn open_new_file(&mut self, first_zxid: i64) -> Result<(), LogError> {
        let path = self.dir.join(log_name(first_zxid));
        let mut file = self
            .fs
            .create(&path)
            .map_err(|e| io_err("create", &path, e))?;
        let mut header = Writer::with_capacity(FILE_HEADER_BYTES as usize);
        header.write_i32(TXNLOG_MAGIC);
        header.write_i32(LOG_VERSION);
        header.write_i64(self.config.dbid);
        let result = file
            .write_at(0, header.as_slice())
            .and_then(|()| self.fs.sync_dir(&self.dir));
        if let Err(e) = result {
            // A header-only or empty newest file reads as an empty log, so retrying is safe;
            // but a full disk is reported as such.
            return Err(if is_no_space(&e) {
                LogError::NoSpace {
                    path,
                    needed_bytes: FILE_HEADER_BYTES,
                    source: e,
                }
            } else {
                io_err("write header of", &path, e)
            });
        }
        self.current = Some(OpenLog {
            path,
            file,
            position: FILE_HEADER_BYTES,
            allocated: FILE_HEADER_BYTES,
            written: FILE_HEADER_BYTES,
            zeroing: true,
        });
        Ok(())
    }

    fn ensure_allocated(&mut self, end: u64) -> Result<(), LogError> {
        let pre_alloc = self.config.pre_alloc_size_bytes;
        let cur = self.current.as_mut().expect("a log file is open");
        let size = padded_size(end, cur.allocated, pre_alloc);
        if size <= cur.allocated {
            return Ok(());
        }
        match cur.file.allocate(size) {
            Ok(()) => {
                cur.allocated = size;
                Ok(())
            }
            Err(source) if is_no_space(&source) => Err(LogError::NoSpace {
                path: cur.path.clone(),
                needed_bytes: size - cur.allocated,
                source,
            }),
            Err(source) => Err(io_err("allocate", &cur.path, source)),
        }
    }
}

/// Once the entries come within half of `ahead` of the zeros written before, writes zeros
/// from there to `ahead` past the entries, never beyond the preallocated space (see
/// [`TxnLogConfig::zero_ahead_bytes`]); the fsync that follows makes them durable with the
/// batch. Best effort: the space reads as zeros with or without them, so a failed write only
/// stops the zeroing for this file, and the next entry write meets the same disk.
fn zero_ahead(cur: &mut OpenLog, ahead: u64) {
    if ahead == 0 || !cur.zeroing || cur.written >= cur.position + ahead / 2 {
        return;
    }
    let stop = cur.allocated.min(cur.position + ahead);
    if stop <= cur.written {
        return;
    }
    let zeros = vec![0u8; (stop - cur.written) as usize];
    match cur.file.write_at(cur.written, &zeros) {
        Ok(()) => cur.written = stop,
        Err(_) => cur.zeroing = false,
    }
}

/// `FileTxnLog.getLogFiles`: the log files (ascending) that can hold transactions after
/// `snapshot_zxid`: the newest file starting at or before it, and every later one.
pub fn log_files_from(names: &[String], snapshot_zxid: i64) -> Vec<(i64, String)> {
    let files = sort_by_zxid(names, LOG_PREFIX, true);
    let mut log_zxid = 0;
    for (zxid, _) in &files {
        if *zxid > snapshot_zxid {
            break;
        }
        log_zxid = log_zxid.max(*zxid);
    }
    files.into_iter().filter(|(z, _)| *z >= log_zxid).collect()
}

/// One entry as found in a file: checked and decoded once, then only its place is kept, so
/// a file's entries are not all held decoded at once (recovery decodes each again as it
/// replays it).
#[derive(Debug)]
struct Scanned {
    zxid: i64,
    /// Where the entry bytes (header, record, digest) lie in the file.
    body: std::ops::Range<usize>,
    end_offset: u64,
}

impl Scanned {
    /// The entry, decoded again from the bytes `scan_file` checked.
    fn decode(&self, path: &Path, buf: &[u8]) -> Result<LogEntry, LogError> {
        decode_entry(&buf[self.body.clone()]).map_err(|reason| LogError::Corrupt {
            file: path.to_path_buf(),
            offset: self.body.start as u64,
            reason,
        })
    }
}

/// How a file ended.
#[derive(Debug)]
enum FileEnd {
    /// The data ran out, or a zero length (preallocated space) was reached.
    Clean,
    /// A partial or damaged entry at this offset with nothing valid after it.
    Torn { offset: u64, reason: String },
}

/// Tries to read one entry at `offset`. `Ok(None)`: the end (no bytes or a zero length).
fn parse_entry(buf: &[u8], offset: usize) -> Result<Option<(LogEntry, usize)>, String> {
    let rest = &buf[offset..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.len() < 12 {
        return if rest.iter().all(|b| *b == 0) {
            Ok(None)
        } else {
            Err("partial entry header".into())
        };
    }
    let mut r = Reader::new(rest);
    let crc = r.read_i64().map_err(|e| e.to_string())?;
    let len = r.read_i32().map_err(|e| e.to_string())?;
    // Util.readTxnBytes: preallocation means a zero length is the end of the log.
    if len == 0 {
        return Ok(None);
    }
    if len < 0 || len as u64 > MAX_ENTRY_BYTES {
        return Err(format!("bad entry length {len}"));
    }
    let len = len as usize;
    let body_end = 12 + len;
    if rest.len() < body_end + 1 {
        return Err("partial entry".into());
    }
    let bytes = &rest[12..body_end];
    if rest[body_end] != END_OF_RECORD {
        return Err("missing end-of-record byte".into());
    }
    if adler32(bytes) != crc {
        return Err("checksum mismatch".into());
    }
    let entry = decode_entry(bytes)?;
    Ok(Some((entry, offset + body_end + 1)))
}

/// `SerializeUtils.deserializeTxn`: header, record, then an optional digest.
pub fn decode_entry(bytes: &[u8]) -> Result<LogEntry, String> {
    let mut r = Reader::new(bytes);
    let header = TxnHeader::read(&mut r).map_err(|e| format!("txn header: {e}"))?;
    let txn = Txn::read_body(header.txn_type, &mut r).map_err(|e| format!("txn body: {e}"))?;
    let digest = if r.remaining() > 0 {
        Some(TxnDigest::read(&mut r).map_err(|e| format!("txn digest: {e}"))?)
    } else {
        None
    };
    Ok(LogEntry {
        header,
        txn,
        digest,
    })
}

/// Whether any valid entry starts after `offset`: what tells a torn tail (nothing after) from
/// damage in the middle of the log (acknowledged data after it).
fn valid_entry_after(buf: &[u8], offset: usize) -> Option<usize> {
    let start = offset + 1;
    // Every entry ends with the non-zero end-of-record byte, so none can start past the last
    // non-zero byte less a header: the zeroed preallocation (64 MiB by default) is skipped.
    let last_nonzero = start + buf.get(start..)?.iter().rposition(|b| *b != 0)?;
    (start..=last_nonzero.saturating_sub(12))
        .find(|&at| matches!(parse_entry(buf, at), Ok(Some(_))))
}

/// The bytes of a log file that `scan_file` needs: the file up to the end-of-log marker when
/// only zeros follow it (the preallocated space, 64 MiB by default, is checked in blocks but
/// never held), else the whole file, so that torn tails and damage in the middle are judged
/// on all of it exactly as before.
///
/// Cutting the file at the marker changes nothing `scan_file` finds: it stops at the marker
/// either way, and with only zeros after it no entry can start there.
fn read_log_bytes(fs: &dyn Fs, path: &Path) -> Result<Vec<u8>, LogError> {
    let read_at = |offset: usize, buf: &mut [u8]| {
        fs.read_at(path, offset as u64, buf)
            .map_err(|e| io_err("read", path, e))
    };
    let mut data = Vec::new();
    let mut at = FILE_HEADER_BYTES as usize;
    let mut eof = false;
    loop {
        match entry_extent(&data, at) {
            Extent::Next(next) => at = next,
            Extent::NeedMore if !eof => {
                let filled = data.len();
                data.resize(filled + READ_BLOCK_BYTES, 0);
                let n = read_at(filled, &mut data[filled..])?;
                data.truncate(filled + n);
                eof = n == 0;
            }
            // The file ends inside an entry, or an entry looks damaged: the rules for torn
            // tails and corruption need the whole file.
            Extent::NeedMore | Extent::Damaged => break,
            Extent::EndMarker => {
                if data[at..].iter().all(|b| *b == 0) && zeros_from(data.len(), &read_at)? {
                    data.truncate(at);
                    return Ok(data);
                }
                break;
            }
        }
    }
    if eof {
        return Ok(data);
    }
    fs.read(path).map_err(|e| io_err("read", path, e))
}

/// What starts at `at` in the bytes read so far.
enum Extent {
    /// A complete entry (not checked yet) that ends where the next one starts.
    Next(usize),
    /// A zero length: the end of the log if only zeros follow.
    EndMarker,
    /// The bytes read so far end inside the header or the entry.
    NeedMore,
    /// A length no entry has.
    Damaged,
}

fn entry_extent(data: &[u8], at: usize) -> Extent {
    let Some(header) = data.get(at..at + 12) else {
        return Extent::NeedMore;
    };
    let len = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    if len == 0 {
        return Extent::EndMarker;
    }
    if len < 0 || len as u64 > MAX_ENTRY_BYTES {
        return Extent::Damaged;
    }
    let next = at + 12 + len as usize + 1;
    if next > data.len() {
        return Extent::NeedMore;
    }
    Extent::Next(next)
}

/// Whether the file holds only zeros from `offset` to its end, read block by block into one
/// reused buffer.
fn zeros_from(
    mut offset: usize,
    read_at: &impl Fn(usize, &mut [u8]) -> Result<usize, LogError>,
) -> Result<bool, LogError> {
    let mut block = vec![0u8; READ_BLOCK_BYTES];
    loop {
        let n = read_at(offset, &mut block)?;
        if n == 0 {
            return Ok(true);
        }
        if !is_all_zero(&block[..n]) {
            return Ok(false);
        }
        offset += n;
    }
}

/// The file holds the first bytes of the magic number (fewer than all four) and zeros after
/// them to its end: a header write torn by a crash, not a damaged file.
fn torn_magic(buf: &[u8]) -> bool {
    let magic = TXNLOG_MAGIC.to_be_bytes();
    let kept = buf.iter().zip(magic).take_while(|(b, m)| **b == *m).count();
    kept < magic.len() && is_all_zero(&buf[kept..])
}

/// A zero test the compiler vectorises: whole words, then the few bytes left.
fn is_all_zero(bytes: &[u8]) -> bool {
    let words = bytes.chunks_exact(8);
    let rest = words.remainder();
    words.fold(0u64, |acc, w| {
        acc | u64::from_ne_bytes(w.try_into().expect("8 bytes"))
    }) == 0
        && rest.iter().all(|b| *b == 0)
}

/// Reads every entry of one log file.
fn scan_file(path: &Path, buf: &[u8]) -> Result<(Vec<Scanned>, FileEnd), LogError> {
    let corrupt = |offset: u64, reason: String| LogError::Corrupt {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    if buf.len() < FILE_HEADER_BYTES as usize {
        // FileTxnIterator.goToNextLog: a newest file cut before its header was written.
        let reason = format!("file header cut at {} bytes", buf.len());
        return Ok((Vec::new(), FileEnd::Torn { offset: 0, reason }));
    }
    let mut r = Reader::new(buf);
    let magic = r.read_i32().unwrap_or_default();
    if magic != TXNLOG_MAGIC {
        if torn_magic(buf) {
            // A crash kept the start of a new file's header and nothing after it. The header
            // reaches the disk with the file's first fsync, which did not complete: nothing
            // in this file was acknowledged.
            let reason = "file header torn".to_owned();
            return Ok((Vec::new(), FileEnd::Torn { offset: 0, reason }));
        }
        return Err(corrupt(0, format!("invalid magic number {magic:#x}")));
    }
    let mut entries = Vec::new();
    let mut offset = FILE_HEADER_BYTES as usize;
    loop {
        match parse_entry(buf, offset) {
            Ok(Some((entry, next))) => {
                entries.push(Scanned {
                    zxid: entry.header.zxid,
                    // The 12-byte checksum and length before, the end-of-record byte after.
                    body: offset + 12..next - 1,
                    end_offset: next as u64,
                });
                offset = next;
            }
            Ok(None) => {
                if let Some(at) = valid_entry_after(buf, offset) {
                    let reason = format!("end of log marker followed by a valid entry at {at}");
                    return Err(corrupt(offset as u64, reason));
                }
                return Ok((entries, FileEnd::Clean));
            }
            Err(reason) => {
                if let Some(at) = valid_entry_after(buf, offset) {
                    let reason = format!("{reason}, followed by a valid entry at {at}");
                    return Err(corrupt(offset as u64, reason));
                }
                let offset = offset as u64;
                return Ok((entries, FileEnd::Torn { offset, reason }));
            }
        }
    }
}

/// Reads the transactions after `from_zxid` from the log files of `dir`, oldest first, choosing
/// files as `FileTxnSnapLog.fastForwardFromEdits` does. Every entry's checksum is verified and
/// zxids must grow without gaps inside an epoch.
pub fn read_log_dir(fs: &dyn Fs, dir: &Path, from_zxid: i64) -> Result<LogRead, LogError> {
    let mut entries = Vec::new();
    let mut out = visit_log_dir(fs, dir, from_zxid, &mut |entry| entries.push(entry))?;
    out.entries = entries;
    Ok(out)
}

/// [`read_log_dir`] handing each transaction after `from_zxid` to `on_entry` (in zxid order)
/// instead of collecting them, so recovery holds one file's entries at a time; the returned
/// `entries` is empty. A file's entries are handed over once the whole file has been checked,
/// so an error in a later file can come after earlier files' entries were taken.
pub fn visit_log_dir(
    fs: &dyn Fs,
    dir: &Path,
    from_zxid: i64,
    on_entry: &mut dyn FnMut(LogEntry),
) -> Result<LogRead, LogError> {
    let paths = log_paths_from(fs, dir, from_zxid)?;
    let count = paths.len();
    let files = paths.into_iter().map(|path| scan_log_file(fs, path));
    replay_scanned(files, count, from_zxid, on_entry)
}

/// One log file read and scanned (every entry's length, checksum and record checked), not
/// yet handed on.
#[derive(Debug)]
struct ScannedLog {
    path: PathBuf,
    buf: Vec<u8>,
    entries: Vec<Scanned>,
    end: FileEnd,
}

/// What [`scan_log_dir`] read for replay after `from_zxid`.
#[derive(Debug)]
pub struct ScannedLogs {
    from_zxid: i64,
    /// In file order, ending at the first file that failed.
    files: Vec<Result<ScannedLog, LogError>>,
    count: usize,
}

impl ScannedLogs {
    /// The zxid the files were chosen for.
    pub fn from_zxid(&self) -> i64 {
        self.from_zxid
    }
}

/// The part of [`visit_log_dir`] that needs no tree: reading and checking the files that can
/// hold transactions after `from_zxid`. Recovery runs it beside the snapshot load and then
/// hands the result to [`replay_scanned_logs`]; errors are kept in file order, so they
/// surface exactly where the sequential walk would meet them.
pub fn scan_log_dir(fs: &dyn Fs, dir: &Path, from_zxid: i64) -> Result<ScannedLogs, LogError> {
    let paths = log_paths_from(fs, dir, from_zxid)?;
    let count = paths.len();
    let mut files = Vec::with_capacity(count);
    for path in paths {
        let scanned = scan_log_file(fs, path);
        let failed = scanned.is_err();
        files.push(scanned);
        if failed {
            break;
        }
    }
    Ok(ScannedLogs {
        from_zxid,
        files,
        count,
    })
}

/// [`visit_log_dir`]'s replay of files [`scan_log_dir`] read.
pub fn replay_scanned_logs(
    scanned: ScannedLogs,
    on_entry: &mut dyn FnMut(LogEntry),
) -> Result<LogRead, LogError> {
    let ScannedLogs {
        from_zxid,
        files,
        count,
    } = scanned;
    replay_scanned(files, count, from_zxid, on_entry)
}

fn log_paths_from(fs: &dyn Fs, dir: &Path, from_zxid: i64) -> Result<Vec<PathBuf>, LogError> {
    let names = fs.list(dir).map_err(|e| io_err("list", dir, e))?;
    Ok(log_files_from(&names, from_zxid)
        .into_iter()
        .map(|(_, name)| dir.join(name))
        .collect())
}

fn scan_log_file(fs: &dyn Fs, path: PathBuf) -> Result<ScannedLog, LogError> {
    let buf = read_log_bytes(fs, &path)?;
    let (entries, end) = scan_file(&path, &buf)?;
    Ok(ScannedLog {
        path,
        buf,
        entries,
        end,
    })
}

/// Hands on the transactions after `from_zxid` of `count` files, in order, each file as soon
/// as it is scanned (the log is never held whole unless the caller scanned ahead).
fn replay_scanned(
    files: impl IntoIterator<Item = Result<ScannedLog, LogError>>,
    count: usize,
    from_zxid: i64,
    on_entry: &mut dyn FnMut(LogEntry),
) -> Result<LogRead, LogError> {
    let mut out = LogRead::default();
    // Only the history after `from_zxid` must be gapless: what lies at or below it is covered
    // by the snapshot recovery starts from (ZooKeeper reads nothing below it either), and an
    // older file may end short of it.
    let mut last_replayed = None;
    for (i, file) in files.into_iter().enumerate() {
        let ScannedLog {
            path,
            buf,
            entries,
            end,
        } = file?;
        for scanned in &entries {
            if scanned.zxid > from_zxid {
                check_order(&path, last_replayed, scanned)?;
                last_replayed = Some(scanned.zxid);
            }
            out.last_zxid = Some(
                out.last_zxid
                    .map_or(scanned.zxid, |l: i64| l.max(scanned.zxid)),
            );
        }
        for scanned in entries.iter().filter(|s| s.zxid > from_zxid) {
            on_entry(scanned.decode(&path, &buf)?);
        }
        out.files.push(path.clone());
        if let FileEnd::Torn { offset, reason } = end {
            if i + 1 < count {
                return Err(LogError::Corrupt {
                    file: path,
                    offset,
                    reason: format!("{reason} in a log file that is not the newest"),
                });
            }
            out.torn_tail = Some(TornTail { file: path, offset });
        }
    }
    Ok(out)
}

/// Reads one log file on its own (for dumps): its entries, and where it is torn if it is.
pub fn read_log_file(
    fs: &dyn Fs,
    path: &Path,
) -> Result<(Vec<LogEntry>, Option<TornTail>), LogError> {
    let buf = read_log_bytes(fs, path)?;
    let (entries, end) = scan_file(path, &buf)?;
    let torn = match end {
        FileEnd::Torn { offset, .. } => Some(TornTail {
            file: path.to_path_buf(),
            offset,
        }),
        FileEnd::Clean => None,
    };
    let entries = entries
        .iter()
        .map(|s| s.decode(path, &buf))
        .collect::<Result<_, _>>()?;
    Ok((entries, torn))
}

/// Zxids grow by one inside an epoch (the high 32 bits) and may jump only to a newer epoch.
fn check_order(path: &Path, last: Option<i64>, scanned: &Scanned) -> Result<(), LogError> {
    let Some(last) = last else { return Ok(()) };
    let zxid = scanned.zxid;
    let same_epoch = (zxid >> 32) == (last >> 32);
    let ok = if same_epoch {
        zxid == last + 1
    } else {
        zxid > last
    };
    if ok {
        return Ok(());
    }
    Err(LogError::Corrupt {
        file: path.to_path_buf(),
        offset: scanned.end_offset,
        reason: format!("zxid {zxid:#x} follows {last:#x}"),
    })
}

/// Cuts a torn tail off: truncates the file at the tail, or removes it when not even its header
/// survived (ZooKeeper deletes such an empty newest file too).
pub fn repair_torn_tail(fs: &dyn Fs, tail: &TornTail) -> Result<(), LogError> {
    if tail.offset < FILE_HEADER_BYTES {
        return fs
            .remove_file(&tail.file)
            .map_err(|e| io_err("remove", &tail.file, e));
    }
    let mut file = fs
        .open_write(&tail.file)
        .map_err(|e| io_err("open", &tail.file, e))?;
    file.set_len(tail.offset)
        .and_then(|()| file.sync_data())
        .map_err(|e| io_err("truncate", &tail.file, e))
}

/// `FileTxnLog.truncate`: drops every transaction after `zxid`, cutting the file that holds it
/// and removing later files.
pub fn truncate_log(fs: &dyn Fs, dir: &Path, zxid: i64) -> Result<(), LogError> {
    let names = fs.list(dir).map_err(|e| io_err("list", dir, e))?;
    let files = log_files_from(&names, zxid);
    let Some((_, first)) = files.first() else {
        return Err(LogError::NothingToTruncate {
            dir: dir.to_path_buf(),
            zxid,
        });
    };
    let path = dir.join(first);
    let buf = read_log_bytes(fs, &path)?;
    let (entries, _) = scan_file(&path, &buf)?;
    let keep = entries
        .iter()
        .take_while(|s| s.zxid <= zxid)
        .last()
        .map_or(FILE_HEADER_BYTES, |s| s.end_offset)
        .min(buf.len() as u64);
    let mut file = fs.open_write(&path).map_err(|e| io_err("open", &path, e))?;
    file.set_len(keep)
        .and_then(|()| file.sync_data())
        .map_err(|e| io_err("truncate", &path, e))?;
    for (_, name) in &files[1..] {
        let later = dir.join(name);
        fs.remove_file(&later)
            .map_err(|e| io_err("remove", &later, e))?;
    }
    fs.sync_dir(dir).map_err(|e| io_err("sync", dir, e))
}
