//! ZooKeeper's snapshots (`persistence/FileSnap.java`, `SnapStream.java`, `DataTree.serialize`).
//!
//! Layout, all inside one Adler-32 checked stream (compressed as a whole for `.gz`/`.snappy`):
//! `FileHeader{magic "ZKSN", version 2, dbid}`; int session count + (long id, int timeout)*;
//! the ACL cache as int count + (long key, vector<ACL>)*; the nodes in pre-order as (ustring
//! path, DataNode{buffer data, long acl, StatPersisted}), the root first with path "" and the
//! list ended by the path "/"; the seal (long Adler-32 of every byte before it, ustring "/");
//! then the `ZxidDigest` (long zxid, int version, long digest) and another seal; then (3.9) the
//! long lastProcessedZxid and another seal.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use paddock_jute::codec::{Reader, Record, Writer};
use paddock_jute::types::{Acl, StatPersisted};

use crate::error::{snap_io, SnapshotError};
use crate::fs::{Fs, FsFile};
use crate::names::{snapshot_name, sort_by_zxid, zxid_from_name, SNAPSHOT_PREFIX};
use crate::txnlog::adler32;

/// `FileSnap.SNAP_MAGIC`: "ZKSN".
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// `FileSnap.VERSION`.
pub const SNAP_VERSION: i32 = 2;
/// The dbid ZooKeeper writes in snapshot headers (`FileSnap.dbId`).
pub const SNAP_DBID: i64 = -1;
/// `SnappyCodec.MAGIC_HEADER` of snappy-java's stream format.
const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// snappy-java's `SnappyOutputStream` default block size.
const SNAPPY_BLOCK_BYTES: usize = 32 * 1024;
/// Uncompressed bytes staged before they go to the compressor and the file.
const STAGE_BYTES: usize = 1 << 20;
/// How many snapshots recovery tries (`FileSnap.deserialize`: findNValidSnapshots(100)).
pub const MAX_SNAPSHOTS_TRIED: usize = 100;

/// `snapshot.compression.method` (`SnapStream.StreamMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `CHECKED`: no compression, no extension.
    #[default]
    None,
    /// `GZIP`: `.gz`.
    Gzip,
    /// `SNAPPY`: `.snappy`, snappy-java's stream format.
    Snappy,
}

impl Compression {
    /// `StreamMode.getFileExtension`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }

    /// `SnapStream.getStreamMode(fileName)`: from the last dot-separated part of the name.
    pub fn from_file_name(name: &str) -> Compression {
        match name.rsplit('.').next() {
            Some("gz") if name.contains('.') => Compression::Gzip,
            Some("snappy") if name.contains('.') => Compression::Snappy,
            _ => Compression::None,
        }
    }

    /// What a snapshot's first bytes say it is, for bytes without a file name (an upload):
    /// gzip's or snappy-java's magic, else uncompressed.
    pub fn from_magic(bytes: &[u8]) -> Compression {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if bytes.starts_with(&SNAPPY_MAGIC) {
            Compression::Snappy
        } else {
            Compression::None
        }
    }

    /// The zoo.cfg value (`zookeeper.snapshot.compression.method`: "", "gz", "snappy").
    pub fn from_config(value: &str) -> Option<Compression> {
        match value {
            "" | "checked" => Some(Compression::None),
            "gz" => Some(Compression::Gzip),
            "snappy" => Some(Compression::Snappy),
            _ => None,
        }
    }
}

/// One node as the snapshot stores it (`DataNode` without its children).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapNode {
    pub data: Option<Vec<u8>>,
    /// The key of the node's ACL in the ACL cache (-1: OPEN_ACL_UNSAFE).
    pub acl: i64,
    pub stat: StatPersisted,
}

pub use paddock_jute::txn::ZxidDigest;

/// A whole snapshot in memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub dbid: i64,
    /// (session id, timeout in ms).
    pub sessions: Vec<(i64, i32)>,
    /// (ACL cache key, ACL list).
    pub acls: Vec<(i64, Vec<Acl>)>,
    /// Pre-order, the root first as "".
    pub nodes: Vec<(String, SnapNode)>,
    /// Absent in snapshots of ZooKeeper before 3.6 or with the digest disabled; a digest with
    /// zxid 0 (none computed yet) reads as absent, as `DataTree.deserializeZxidDigest` does.
    pub digest: Option<ZxidDigest>,
    /// Written by ZooKeeper 3.9 (`serializeLastProcessedZxid`).
    pub last_processed_zxid: Option<i64>,
}

/// Receives a snapshot's content as it is parsed, so a big tree is never held twice.
pub trait SnapshotVisitor {
    fn session(&mut self, id: i64, timeout_ms: i32);
    fn acl(&mut self, key: i64, acls: Vec<Acl>);
    fn node(&mut self, path: String, node: SnapNode) -> Result<(), SnapshotError>;

    /// How many nodes follow, counted before the first is handed over (at most: a damaged
    /// file may end sooner), so a visitor can size its tables once. Ignored by default.
    fn nodes_ahead(&mut self, _count: usize) {}

    /// One node, its path and data borrowed from the parsed stream: a visitor that copies
    /// them anyway saves two allocations per node. By default, `node` with owned copies.
    fn node_ref(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: i64,
        stat: StatPersisted,
    ) -> Result<(), SnapshotError> {
        let data = data.map(<[u8]>::to_vec);
        self.node(path.to_owned(), SnapNode { data, acl, stat })
    }
}

/// What follows the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotTrailer {
    pub dbid: i64,
    pub digest: Option<ZxidDigest>,
    pub last_processed_zxid: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Where a snapshot's bytes go: a file, at increasing offsets, or memory.
enum Target {
    File {
        file: Box<dyn FsFile>,
        offset: u64,
        /// Where the last intermediate fsync reached.
        synced: u64,
    },
    Memory(Vec<u8>),
}

/// A snapshot file is fsynced after each of these many bytes, not only at its end: the
/// device then takes its pages a MiB at a time while it is written. Left to one fsync at the
/// end, a 64 MiB snapshot queued ahead of the log's fsyncs and held every write for 100 ms;
/// with 4 MiB steps the writes' p99 was a quarter higher than with 1 MiB.
const SNAPSHOT_SYNC_STEP: u64 = 1 << 20;

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::File {
                file,
                offset,
                synced,
            } => {
                file.write_at(*offset, buf)?;
                *offset += buf.len() as u64;
                if *offset - *synced >= SNAPSHOT_SYNC_STEP {
                    file.sync_data()?;
                    *synced = *offset;
                }
            }
            Target::Memory(bytes) => bytes.extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// snappy-java's `SnappyOutputStream` format: the 16-byte header (magic, version 1,
/// compatible version 1), then blocks of (int compressed length, raw snappy block).
struct SnappyStream<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> SnappyStream<W> {
    fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(&SNAPPY_MAGIC)?;
        inner.write_all(&1i32.to_be_bytes())?;
        inner.write_all(&1i32.to_be_bytes())?;
        Ok(SnappyStream {
            inner,
            pending: Vec::with_capacity(SNAPPY_BLOCK_BYTES),
        })
    }

    fn write_block(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let block = snap::raw::Encoder::new()
            .compress_vec(&self.pending)
            .map_err(io::Error::other)?;
        let len = i32::try_from(block.len()).map_err(io::Error::other)?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(&block)?;
        self.pending.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        self.write_block()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SnappyStream<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = SNAPPY_BLOCK_BYTES - self.pending.len();
        let n = room.min(buf.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == SNAPPY_BLOCK_BYTES {
            self.write_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Sink = io::BufWriter<Target>;

enum Encoder {
    Plain(Sink),
    Gzip(flate2::write::GzEncoder<Sink>),
    Snappy(SnappyStream<Sink>),
}

impl Encoder {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(bytes),
            Encoder::Gzip(w) => w.write_all(bytes),
            Encoder::Snappy(w) => w.write_all(bytes),
        }
    }

    fn finish(self) -> io::Result<Target> {
        let sink = match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(w) => w.finish()?,
            Encoder::Snappy(w) => w.finish()?,
        };
        sink.into_inner().map_err(|e| e.into_error())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Sessions,
    Acls,
    Nodes,
}

/// Streams a snapshot to `snapshot.<zxid>[.gz|.snappy].tmp`, then fsyncs and renames it to its
/// final name, so a crash never leaves a half snapshot under a name recovery would read. A
/// writer that fails or is dropped unfinished removes its temporary file at once, so a
/// failed snapshot does not hold disk space (on a full disk, say) until the next start.
/// [`SnapshotWriter::in_memory`] builds the same bytes in memory instead (a leader's SNAP).
pub struct SnapshotWriter {
    /// The file being written; `None` in memory.
    file: Option<SnapFile>,
    encoder: Encoder,
    stage: Stage,
    staged: Writer,
    checksum: simd_adler32::Adler32,
}

/// A snapshot file being written; removes its temporary file when dropped unfinished.
struct SnapFile {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    tmp_path: PathBuf,
    final_path: PathBuf,
    renamed: bool,
}

impl Drop for SnapFile {
    fn drop(&mut self) {
        if !self.renamed {
            // Best effort: what is left is removed at the next start.
            let _ = self.fs.remove_file(&self.tmp_path);
        }
    }
}

/// How errors name a snapshot built in memory.
const IN_MEMORY: &str = "(snapshot in memory)";

impl SnapshotWriter {
    /// Starts `dir/snapshot.<zxid hex><ext>` and writes its header.
    pub fn create(
        fs: Arc<dyn Fs>,
        dir: &Path,
        zxid: i64,
        dbid: i64,
        compression: Compression,
    ) -> Result<Self, SnapshotError> {
        let final_path = dir.join(snapshot_name(zxid, compression.extension()));
        let mut tmp_name = final_path.clone().into_os_string();
        tmp_name.push(".tmp");
        let tmp_path = PathBuf::from(tmp_name);
        let file = fs
            .create(&tmp_path)
            .map_err(|e| snap_io("create", &tmp_path, e))?;
        let snap_file = SnapFile {
            fs,
            dir: dir.to_path_buf(),
            tmp_path,
            final_path,
            renamed: false,
        };
        Self::start(
            Target::File {
                file,
                offset: 0,
                synced: 0,
            },
            Some(snap_file),
            dbid,
            compression,
        )
    }

    /// Builds a snapshot in memory, appended to `buffer`, in the format of a file with
    /// `compression`'s extension.
    pub fn in_memory(
        buffer: Vec<u8>,
        dbid: i64,
        compression: Compression,
    ) -> Result<Self, SnapshotError> {
        Self::start(Target::Memory(buffer), None, dbid, compression)
    }

    fn start(
        target: Target,
        file: Option<SnapFile>,
        dbid: i64,
        compression: Compression,
    ) -> Result<Self, SnapshotError> {
        let sink = io::BufWriter::with_capacity(STAGE_BYTES, target);
        let encoder = match compression {
            Compression::None => Encoder::Plain(sink),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                sink,
                flate2::Compression::default(),
            )),
            Compression::Snappy => Encoder::Snappy(
                SnappyStream::new(sink)
                    .map_err(|e| snap_io("write", &path_of(file.as_ref()), e))?,
            ),
        };
        let mut writer = SnapshotWriter {
            file,
            encoder,
            stage: Stage::Sessions,
            staged: Writer::with_capacity(STAGE_BYTES + 4096),
            checksum: simd_adler32::Adler32::new(),
        };
        writer.staged.write_i32(SNAP_MAGIC);
        writer.staged.write_i32(SNAP_VERSION);
        writer.staged.write_i64(dbid);
        Ok(writer)
    }

    /// The file being written, or a name for the snapshot in memory, for errors.
    fn path(&self) -> PathBuf {
        path_of(self.file.as_ref())
    }

    /// Moves to section `to`, writing an empty count for any section the caller skipped.
    fn advance(&mut self, to: Stage) {
        // Out-of-order calls are a bug in the caller: the format has no way to express them.
        assert!(self.stage <= to, "snapshot sections written out of order");
        if self.stage == Stage::Sessions && to > Stage::Sessions {
            self.staged.write_i32(0);
            self.stage = Stage::Acls;
        }
        if self.stage == Stage::Acls && to > Stage::Acls {
            self.staged.write_i32(0);
            self.stage = Stage::Nodes;
        }
    }

    /// The sessions (id, timeout in ms); call once, first (or not at all for none).
    pub fn sessions(&mut self, sessions: &[(i64, i32)]) -> Result<(), SnapshotError> {
        assert!(
            self.stage == Stage::Sessions,
            "snapshot sessions written twice or late"
        );
        write_count(&mut self.staged, sessions.len());
        for (id, timeout) in sessions {
            self.staged.write_i64(*id);
            self.staged.write_i32(*timeout);
        }
        self.stage = Stage::Acls;
        self.drain(false)
    }

    /// The ACL cache (`ReferenceCountedACLCache.serialize`); call once, after the sessions.
    pub fn acls(&mut self, acls: &[(i64, Vec<Acl>)]) -> Result<(), SnapshotError> {
        self.advance(Stage::Acls);
        assert!(
            self.stage == Stage::Acls,
            "snapshot ACLs written twice or late"
        );
        write_count(&mut self.staged, acls.len());
        for (key, list) in acls {
            self.staged.write_i64(*key);
            self.staged.write_vec(list);
        }
        self.stage = Stage::Nodes;
        self.drain(false)
    }

    /// One node; the root first with path "", then the rest in pre-order.
    pub fn node(&mut self, path: &str, node: &SnapNode) -> Result<(), SnapshotError> {
        self.advance(Stage::Nodes);
        self.staged.write_string(path);
        self.staged.write_buffer(node.data.as_deref());
        self.staged.write_i64(node.acl);
        node.stat.write(&mut self.staged);
        self.drain(false)
    }

    /// Ends the tree, seals, writes the digest (sealed) and the last processed zxid (sealed)
    /// when given, fsyncs, renames to the final name and syncs the directory.
    pub fn finish(
        mut self,
        digest: Option<ZxidDigest>,
        last_processed_zxid: Option<i64>,
    ) -> Result<PathBuf, SnapshotError> {
        self.end(digest, last_processed_zxid)?;
        let mut snap = self.file.take().expect("finish is for a snapshot file");
        let tmp = snap.tmp_path.clone();
        let Target::File { mut file, .. } = self
            .encoder
            .finish()
            .map_err(|e| snap_io("write", &tmp, e))?
        else {
            unreachable!("a snapshot file writes to its file");
        };
        file.sync_data().map_err(|e| snap_io("fsync", &tmp, e))?;
        drop(file);
        snap.fs
            .rename(&tmp, &snap.final_path)
            .map_err(|e| snap_io("rename", &tmp, e))?;
        snap.renamed = true;
        snap.fs
            .sync_dir(&snap.dir)
            .map_err(|e| snap_io("sync", &snap.dir, e))?;
        Ok(snap.final_path.clone())
    }

    /// Ends a snapshot built by [`SnapshotWriter::in_memory`] as `finish` ends a file, and
    /// returns the buffer with the snapshot after what it held.
    pub fn finish_in_memory(
        mut self,
        digest: Option<ZxidDigest>,
        last_processed_zxid: Option<i64>,
    ) -> Result<Vec<u8>, SnapshotError> {
        assert!(
            self.file.is_none(),
            "finish_in_memory is for a snapshot in memory"
        );
        self.end(digest, last_processed_zxid)?;
        match self.encoder.finish() {
            Ok(Target::Memory(bytes)) => Ok(bytes),
            Ok(Target::File { .. }) => unreachable!("a snapshot in memory writes to memory"),
            Err(e) => Err(snap_io("write", Path::new(IN_MEMORY), e)),
        }
    }

    /// The end of the tree and the sealed trailers.
    fn end(
        &mut self,
        digest: Option<ZxidDigest>,
        last_processed_zxid: Option<i64>,
    ) -> Result<(), SnapshotError> {
        self.advance(Stage::Nodes);
        self.staged.write_string("/");
        self.seal()?;
        if let Some(d) = digest {
            self.staged.write_i64(d.zxid);
            self.staged.write_i32(d.digest_version);
            self.staged.write_i64(d.digest);
            self.seal()?;
        }
        if let Some(zxid) = last_processed_zxid {
            self.staged.write_i64(zxid);
            self.seal()?;
        }
        Ok(())
    }

    /// `SnapStream.sealStream`: the checksum of everything so far, then "/".
    fn seal(&mut self) -> Result<(), SnapshotError> {
        self.drain(true)?;
        let value = i64::from(self.checksum.finish());
        self.staged.write_i64(value);
        self.staged.write_string("/");
        self.drain(true)
    }

    fn drain(&mut self, force: bool) -> Result<(), SnapshotError> {
        if self.staged.len() < STAGE_BYTES && !force {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.staged).into_inner();
        self.checksum.write(&bytes);
        if let Err(e) = self.encoder.write_all(&bytes) {
            return Err(snap_io("write", &self.path(), e));
        }
        self.staged = Writer::with_capacity(STAGE_BYTES + 4096);
        Ok(())
    }
}

fn path_of(file: Option<&SnapFile>) -> PathBuf {
    file.map_or_else(|| PathBuf::from(IN_MEMORY), |f| f.tmp_path.clone())
}

fn write_count(w: &mut Writer, n: usize) {
    w.write_i32(i32::try_from(n).expect("more than i32::MAX snapshot entries"));
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The checked stream of a snapshot file: the bytes themselves when uncompressed (no copy of
/// a file that can be hundreds of megabytes), else their decompression.
pub fn checked_stream(
    bytes: &[u8],
    compression: Compression,
) -> Result<Cow<'_, [u8]>, SnapshotError> {
    match compression {
        Compression::None => Ok(Cow::Borrowed(bytes)),
        _ => decompress(bytes, compression).map(Cow::Owned),
    }
}

/// Decompresses a snapshot file's bytes into its checked stream.
pub fn decompress(bytes: &[u8], compression: Compression) -> Result<Vec<u8>, SnapshotError> {
    match compression {
        Compression::None => Ok(bytes.to_vec()),
        Compression::Gzip => {
            let mut out = Vec::new();
            io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out)
                .map_err(|e| SnapshotError::Compression(e.to_string()))?;
            Ok(out)
        }
        Compression::Snappy => snappy_decompress(bytes),
    }
}

fn snappy_decompress(bytes: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let bad = |m: &str| SnapshotError::Compression(format!("snappy: {m}"));
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        // snappy-java accepts concatenated streams, each with its header.
        if rest.starts_with(&SNAPPY_MAGIC) {
            if rest.len() < 16 {
                return Err(bad("header cut short"));
            }
            rest = &rest[16..];
            continue;
        }
        if rest.len() < 4 {
            return Err(bad("block length cut short"));
        }
        let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::try_from(len).map_err(|_| bad("negative block length"))?;
        let block = rest.get(4..4 + len).ok_or_else(|| bad("block cut short"))?;
        let raw = snap::raw::Decoder::new()
            .decompress_vec(block)
            .map_err(|e| bad(&e.to_string()))?;
        out.extend_from_slice(&raw);
        rest = &rest[4 + len..];
    }
    Ok(out)
}

/// A reader over the checked stream that can verify seals.
struct Checked<'a> {
    buf: &'a [u8],
    r: Reader<'a>,
    checksum: simd_adler32::Adler32,
    hashed_to: usize,
}

impl<'a> Checked<'a> {
    fn pos(&self) -> usize {
        self.buf.len() - self.r.remaining()
    }

    fn truncated(&self, what: &str) -> SnapshotError {
        SnapshotError::Truncated(format!("{what} at offset {}", self.pos()))
    }

    fn map<T>(
        &self,
        what: &str,
        v: Result<T, paddock_jute::DecodeError>,
    ) -> Result<T, SnapshotError> {
        v.map_err(|e| match e {
            paddock_jute::DecodeError::Incomplete { .. } => self.truncated(what),
            other => SnapshotError::Corrupt(format!("{what} at offset {}: {other}", self.pos())),
        })
    }

    fn i32(&mut self, what: &str) -> Result<i32, SnapshotError> {
        let v = self.r.read_i32();
        self.map(what, v)
    }

    fn i64(&mut self, what: &str) -> Result<i64, SnapshotError> {
        let v = self.r.read_i64();
        self.map(what, v)
    }

    fn string(&mut self, what: &str) -> Result<String, SnapshotError> {
        let v = self.r.read_string();
        self.map(what, v)
    }

    /// `SnapStream.checkSealIntegrity`.
    fn check_seal(&mut self) -> Result<(), SnapshotError> {
        let pos = self.pos();
        self.checksum.write(&self.buf[self.hashed_to..pos]);
        self.hashed_to = pos;
        let expected = i64::from(self.checksum.finish());
        let stored = self.i64("seal checksum")?;
        let _slash = self.string("seal path")?;
        let end = self.pos();
        self.checksum.write(&self.buf[self.hashed_to..end]);
        self.hashed_to = end;
        if stored != expected {
            return Err(SnapshotError::Corrupt(format!(
                "CRC corruption: stored {stored:#x}, computed {expected:#x} at offset {pos}"
            )));
        }
        Ok(())
    }
}

/// The trailer of a decompressed snapshot stream (its digest and last processed zxid), for a
/// snapshot without a file name to take its zxid from (an upload): a checked parse that
/// keeps nothing.
pub fn snapshot_trailer(stream: &[u8]) -> Result<SnapshotTrailer, SnapshotError> {
    struct Nothing;
    impl SnapshotVisitor for Nothing {
        fn session(&mut self, _id: i64, _timeout_ms: i32) {}
        fn acl(&mut self, _key: i64, _acls: Vec<Acl>) {}
        fn node(&mut self, _path: String, _node: SnapNode) -> Result<(), SnapshotError> {
            Ok(())
        }
        fn node_ref(
            &mut self,
            _path: &str,
            _data: Option<&[u8]>,
            _acl: i64,
            _stat: StatPersisted,
        ) -> Result<(), SnapshotError> {
            Ok(())
        }
    }
    visit_snapshot(stream, &mut Nothing)
}

/// Parses a decompressed snapshot stream, handing its content to `visitor` as it goes.
pub fn visit_snapshot(
    stream: &[u8],
    visitor: &mut dyn SnapshotVisitor,
) -> Result<SnapshotTrailer, SnapshotError> {
    let mut c = Checked {
        buf: stream,
        r: Reader::new(stream),
        checksum: simd_adler32::Adler32::new(),
        hashed_to: 0,
    };
    let magic = c.i32("magic")?;
    if magic != SNAP_MAGIC {
        return Err(SnapshotError::Corrupt(format!(
            "invalid magic number {magic:#x}"
        )));
    }
    let version = c.i32("version")?;
    if version != SNAP_VERSION {
        return Err(SnapshotError::Corrupt(format!(
            "unsupported version {version}"
        )));
    }
    let dbid = c.i64("dbid")?;
    let sessions = c.i32("session count")?;
    for _ in 0..sessions.max(0) {
        let id = c.i64("session id")?;
        let timeout = c.i32("session timeout")?;
        visitor.session(id, timeout);
    }
    let acls = c.i32("acl cache size")?;
    for _ in 0..acls.max(0) {
        let key = c.i64("acl key")?;
        let list = c.r.read_vec::<Acl>();
        let list = c.map("acl list", list)?;
        visitor.acl(key, list);
    }
    read_nodes(&mut c, visitor)?;
    c.check_seal()?;
    let mut trailer = SnapshotTrailer {
        dbid,
        ..SnapshotTrailer::default()
    };
    if c.r.remaining() == 0 {
        return Ok(trailer);
    }
    trailer.digest = read_digest(&mut c)?;
    c.check_seal()?;
    if c.r.remaining() == 0 {
        return Ok(trailer);
    }
    trailer.last_processed_zxid = Some(c.i64("last processed zxid")?);
    c.check_seal()?;
    Ok(trailer)
}

fn read_nodes(c: &mut Checked<'_>, visitor: &mut dyn SnapshotVisitor) -> Result<(), SnapshotError> {
    visitor.nodes_ahead(count_nodes(c.r.clone()));
    loop {
        let path = c.r.read_buffer_ref();
        // A null path reads as empty, and bytes that are not UTF-8 as U+FFFD, as Java's
        // `readString` makes them.
        let path = String::from_utf8_lossy(c.map("node path", path)?.unwrap_or_default());
        if path == "/" {
            return Ok(());
        }
        let data = c.r.read_buffer_ref();
        let data = c.map("node data", data)?;
        let acl = c.i64("node acl")?;
        let stat = StatPersisted::read(&mut c.r);
        let stat = c.map("node stat", stat)?;
        visitor.node_ref(&path, data, acl, stat)?;
    }
}

/// Counts the node records ahead of `r`, up to the `/` that ends them, by their lengths alone
/// (no checksums, no copies): a fast pass over a stream already in memory. A record cut short
/// or a bad length ends the count; the real parse then reports it.
fn count_nodes(mut r: Reader<'_>) -> usize {
    let mut count = 0;
    loop {
        match r.read_buffer_ref() {
            Ok(Some(b"/")) | Err(_) => return count,
            Ok(_) => {}
        }
        let record = r
            .read_buffer_ref()
            .and_then(|_| r.read_i64())
            .and_then(|_| StatPersisted::read(&mut r));
        if record.is_err() {
            return count;
        }
        count += 1;
    }
}

/// `DataTree.ZxidDigest.deserialize`: versions below 2 stored the digest as a hex string.
fn read_digest(c: &mut Checked<'_>) -> Result<Option<ZxidDigest>, SnapshotError> {
    let zxid = c.i64("digest zxid")?;
    let digest_version = c.i32("digest version")?;
    let digest = if digest_version < 2 {
        let s = c.r.read_ustring();
        match c.map("digest", s)? {
            Some(hex) => u64::from_str_radix(&hex, 16)
                .map_err(|_| SnapshotError::Corrupt(format!("bad digest string {hex:?}")))?
                as i64,
            None => 0,
        }
    } else {
        c.i64("digest")?
    };
    Ok((zxid > 0).then_some(ZxidDigest {
        zxid,
        digest_version,
        digest,
    }))
}

struct Collect(Snapshot);

impl SnapshotVisitor for Collect {
    fn session(&mut self, id: i64, timeout_ms: i32) {
        self.0.sessions.push((id, timeout_ms));
    }

    fn acl(&mut self, key: i64, acls: Vec<Acl>) {
        self.0.acls.push((key, acls));
    }

    fn node(&mut self, path: String, node: SnapNode) -> Result<(), SnapshotError> {
        self.0.nodes.push((path, node));
        Ok(())
    }
}

/// Reads a whole snapshot from a file's bytes.
pub fn read_snapshot(bytes: &[u8], compression: Compression) -> Result<Snapshot, SnapshotError> {
    let stream = checked_stream(bytes, compression)?;
    let mut collect = Collect(Snapshot::default());
    let trailer = visit_snapshot(&stream, &mut collect)?;
    let mut snap = collect.0;
    snap.dbid = trailer.dbid;
    snap.digest = trailer.digest;
    snap.last_processed_zxid = trailer.last_processed_zxid;
    Ok(snap)
}

/// Reads the snapshot file at `path`, its compression known from its name.
pub fn read_snapshot_file(fs: &dyn Fs, path: &Path) -> Result<Snapshot, SnapshotError> {
    let bytes = fs.read(path).map_err(|e| snap_io("read", path, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    read_snapshot(&bytes, Compression::from_file_name(name))
}

/// `SnapStream.isValidSnapshot`: a snapshot name, and for an uncompressed file the "/" seal in
/// its last five bytes; for compressed files the stream's magic.
pub fn is_valid_snapshot(fs: &dyn Fs, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !is_snapshot_name(name) {
        return false;
    }
    let Ok(bytes) = fs.read(path) else {
        return false;
    };
    is_sealed_snapshot(name, &bytes)
}

fn is_snapshot_name(name: &str) -> bool {
    zxid_from_name(name, SNAPSHOT_PREFIX).is_some() && !name.ends_with(".tmp")
}

/// The content half of [`is_valid_snapshot`], for a file already read.
pub fn is_sealed_snapshot(name: &str, bytes: &[u8]) -> bool {
    match Compression::from_file_name(name) {
        Compression::None => bytes.len() >= 10 && bytes[bytes.len() - 5..] == [0, 0, 0, 1, b'/'],
        compressed => Compression::from_magic(bytes) == compressed,
    }
}

/// The snapshot files of `dir`, newest (highest zxid) first, without our temporary files.
pub fn find_snapshots(fs: &dyn Fs, dir: &Path) -> Result<Vec<(i64, PathBuf)>, SnapshotError> {
    let names = fs.list(dir).map_err(|e| snap_io("list", dir, e))?;
    let names: Vec<String> = names.into_iter().filter(|n| !n.ends_with(".tmp")).collect();
    Ok(sort_by_zxid(&names, SNAPSHOT_PREFIX, false)
        .into_iter()
        .map(|(z, n)| (z, dir.join(n)))
        .collect())
}

/// The zxid of the snapshot [`visit_newest_snapshot`] tries first (its file name's), if any:
/// what recovery can start reading the log after while that snapshot loads.
pub fn newest_snapshot_zxid(fs: &dyn Fs, dir: &Path) -> Result<Option<i64>, SnapshotError> {
    Ok(find_snapshots(fs, dir)?.first().map(|&(zxid, _)| zxid))
}

/// `FileSnap.findNValidSnapshots`: up to `n` valid snapshots, newest first.
pub fn find_valid_snapshots(
    fs: &dyn Fs,
    dir: &Path,
    n: usize,
) -> Result<Vec<(i64, PathBuf)>, SnapshotError> {
    Ok(find_snapshots(fs, dir)?
        .into_iter()
        .filter(|(_, p)| is_valid_snapshot(fs, p))
        .take(n)
        .collect())
}

/// `FileSnap.deserialize`: loads the newest snapshot that reads without error, trying up to
/// [`MAX_SNAPSHOTS_TRIED`] valid ones. `Ok(None)`: there is no snapshot at all. The returned
/// zxid is the one in the file name, from which the log is replayed.
pub fn load_newest_snapshot(
    fs: &dyn Fs,
    dir: &Path,
) -> Result<Option<(i64, PathBuf, Snapshot)>, SnapshotError> {
    let loaded = visit_newest_snapshot(fs, dir, |_| Collect(Snapshot::default()))?;
    Ok(loaded.map(|(zxid, path, Collect(mut snap), trailer)| {
        snap.dbid = trailer.dbid;
        snap.digest = trailer.digest;
        snap.last_processed_zxid = trailer.last_processed_zxid;
        (zxid, path, snap)
    }))
}

/// [`load_newest_snapshot`] into a visitor of the caller's, so a big tree is built as it is
/// parsed and never held twice: for each candidate, newest first, `start(zxid)` makes a fresh
/// visitor, which receives the file's content. A candidate whose content fails (the visitor's
/// error included) is dropped for the next older one, as ZooKeeper drops a snapshot whose
/// tree it cannot deserialize.
pub fn visit_newest_snapshot<V: SnapshotVisitor>(
    fs: &dyn Fs,
    dir: &Path,
    mut start: impl FnMut(i64) -> V,
) -> Result<Option<(i64, PathBuf, V, SnapshotTrailer)>, SnapshotError> {
    // Each candidate is read once and checked lazily, newest first: validating every snapshot
    // up front (as `find_valid_snapshots` does) would read all of them in full, gigabytes for
    // a large tree, before loading only the newest.
    let mut valid_seen = 0;
    for (zxid, path) in find_snapshots(fs, dir)? {
        if valid_seen == MAX_SNAPSHOTS_TRIED {
            break;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !is_snapshot_name(name) {
            continue;
        }
        let Ok(bytes) = fs.read(&path) else { continue };
        if !is_sealed_snapshot(name, &bytes) {
            continue;
        }
        valid_seen += 1;
        let Ok(stream) = checked_stream(&bytes, Compression::from_file_name(name)) else {
            continue;
        };
        let mut visitor = start(zxid);
        if let Ok(trailer) = visit_snapshot(&stream, &mut visitor) {
            return Ok(Some((zxid, path, visitor, trailer)));
        }
    }
    if valid_seen == 0 {
        return Ok(None);
    }
    Err(SnapshotError::NoValidSnapshot {
        dir: dir.to_path_buf(),
    })
}

/// Adler-32 as Java computes it, re-exported for callers that check seals themselves.
pub fn checksum(bytes: &[u8]) -> i64 {
    adler32(bytes)
}
