//! The filesystem seam. Storage code touches the disk only through [`Fs`] and [`FsFile`], so
//! the simulator and the tests can swap [`RealFs`] for [`FaultFs`], an in-memory filesystem that
//! fails fsyncs, shortens and tears writes, runs out of space and refuses reads on command.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The directory and file operations storage needs. Object safe: used as `Arc<dyn Fs>`.
pub trait Fs: Send + Sync {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names (not paths) of the regular files in `dir`, in no particular order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Reads from `offset` into `buf`, as much as the file has up to `buf.len()`; 0 at or past
    /// the end. The default reads the whole file.
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let bytes = self.read(path)?;
        Ok(copy_from(&bytes, offset, buf))
    }
    /// Creates `path`, truncating it if it exists, and opens it for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Opens an existing file for writing without truncating it.
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// Bytes an unprivileged writer can still allocate on the filesystem holding `dir`.
    fn available_space(&self, dir: &Path) -> io::Result<u64>;
}

/// One open file.
pub trait FsFile: Send {
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes the file's data (and its length) durable: fdatasync.
    fn sync_data(&mut self) -> io::Result<()>;
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()>;
    /// Reserves space so that the file is at least `len_bytes` long, filled with zeros where it
    /// grew. The real filesystem uses fallocate, so a full disk shows up here and not in the
    /// middle of a later write.
    fn allocate(&mut self, len_bytes: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// Copies what `bytes` holds from `offset` into `buf`, returning how much.
fn copy_from(bytes: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let n = buf.len().min(bytes.len() - start);
    buf[..n].copy_from_slice(&bytes[start..start + n]);
    n
}

/// `true` when an error means the disk is full (ENOSPC).
pub fn is_no_space(e: &io::Error) -> bool {
    e.kind() == ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// The real filesystem, through `std::fs` and `fs4`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

struct RealFile(std::fs::File);

impl Fs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let file = std::fs::File::open(path)?;
        let mut filled = 0;
        while filled < buf.len() {
            let at = offset + filled as u64;
            match std::os::unix::fs::FileExt::read_at(&file, &mut buf[filled..], at) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        Ok(Box::new(RealFile(std::fs::File::create(path)?)))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn available_space(&self, dir: &Path) -> io::Result<u64> {
        fs4::available_space(dir)
    }
}

impl FsFile for RealFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, buf, offset)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        self.0.set_len(len_bytes)
    }

    fn allocate(&mut self, len_bytes: u64) -> io::Result<()> {
        fs4::fs_std::FileExt::allocate(&self.0, len_bytes)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

/// A small deterministic generator (SplitMix64), so a fault schedule replays from its seed on
/// every platform and every version of every crate.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..=max`.
    fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// One change made to a file since its last fsync, kept so a crash can persist a prefix.
#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Clone, Default)]
struct MemFile {
    /// What a crash leaves: the content as of the last successful fsync.
    durable: Vec<u8>,
    /// What readers see now.
    current: Vec<u8>,
    /// Changes since the last fsync, in order.
    pending: Vec<Pending>,
}

impl MemFile {
    fn apply(content: &mut Vec<u8>, op: &Pending) {
        match op {
            Pending::Write { offset, data } => {
                let start = *offset as usize;
                let end = start + data.len();
                if content.len() < end {
                    content.resize(end, 0);
                }
                content[start..end].copy_from_slice(data);
            }
            Pending::SetLen(len) => content.resize(*len as usize, 0),
        }
    }

    fn push(&mut self, op: Pending) {
        Self::apply(&mut self.current, &op);
        self.pending.push(op);
    }

    /// What survives a crash that persisted only the first `keep_bytes` written bytes of the
    /// unsynced changes (length changes before the cut survive too).
    fn crash(&mut self, keep_bytes: u64) {
        let mut left = keep_bytes;
        let mut content = std::mem::take(&mut self.durable);
        for op in &self.pending {
            match op {
                Pending::SetLen(_) => Self::apply(&mut content, op),
                Pending::Write { offset, data } => {
                    let n = (data.len() as u64).min(left);
                    if n == 0 {
                        break;
                    }
                    let part = Pending::Write {
                        offset: *offset,
                        data: data[..n as usize].to_vec(),
                    };
                    Self::apply(&mut content, &part);
                    left -= n;
                }
            }
        }
        self.durable = content.clone();
        self.current = content;
        self.pending.clear();
    }

    fn pending_write_bytes(&self) -> u64 {
        self.pending
            .iter()
            .map(|op| match op {
                Pending::Write { data, .. } => data.len() as u64,
                Pending::SetLen(_) => 0,
            })
            .sum()
    }
}

#[derive(Debug)]
struct FaultState {
    files: BTreeMap<PathBuf, MemFile>,
    dirs: HashSet<PathBuf>,
    rng: SplitMix64,
    capacity_bytes: u64,
    fail_fsyncs: u32,
    /// A short write to come: how many writes succeed before it, and the bytes it keeps.
    short_write: Option<(u32, u64)>,
    read_errors: HashSet<PathBuf>,
    /// Renames of paths starting with one of these strings fail with EIO.
    failing_renames: Vec<String>,
}

impl FaultState {
    fn used_bytes(&self) -> u64 {
        self.files.values().map(|f| f.current.len() as u64).sum()
    }

    /// Refuses growth past the capacity with ENOSPC, as a full disk does.
    fn check_growth(&self, path: &Path, new_len: u64) -> io::Result<()> {
        let old_len = self.files.get(path).map_or(0, |f| f.current.len() as u64);
        let growth = new_len.saturating_sub(old_len);
        if self.used_bytes().saturating_add(growth) > self.capacity_bytes {
            return Err(io::Error::new(
                ErrorKind::StorageFull,
                "FaultFs: no space left on device",
            ));
        }
        Ok(())
    }

    fn file_mut(&mut self, path: &Path) -> io::Result<&mut MemFile> {
        self.files.get_mut(path).ok_or_else(|| not_found(path))
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        ErrorKind::NotFound,
        format!("FaultFs: {} not found", path.display()),
    )
}

/// An in-memory filesystem with scripted faults, deterministic from its seed. Clones share the
/// same files, so a test keeps one handle to inject faults while storage code uses another.
///
/// Directory operations (create, rename, remove) are durable at once; data is durable only after
/// `sync_data`, and [`FaultFs::crash`] drops or tears what was not.
#[derive(Debug, Clone)]
pub struct FaultFs {
    state: Arc<Mutex<FaultState>>,
    /// Held fsyncs (a stalled disk), apart from `state` so that everything else goes on.
    stall: Arc<(Mutex<Stall>, Condvar)>,
}

#[derive(Debug, Default)]
struct Stall {
    held: bool,
    /// fsyncs waiting for `held` to end.
    waiting: usize,
}

impl FaultFs {
    pub fn new(seed: u64) -> Self {
        let state = FaultState {
            files: BTreeMap::new(),
            dirs: HashSet::new(),
            rng: SplitMix64(seed),
            capacity_bytes: u64::MAX,
            fail_fsyncs: 0,
            short_write: None,
            read_errors: HashSet::new(),
            failing_renames: Vec::new(),
        };
        FaultFs {
            state: Arc::new(Mutex::new(state)),
            stall: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic in another test thread must not hide this filesystem's state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` fsyncs fail with EIO; their data stays unsynced.
    pub fn fail_next_fsyncs(&self, n: u32) {
        self.lock().fail_fsyncs = n;
    }

    /// Later fsyncs block, as on a stalled disk, until [`FaultFs::resume_fsyncs`]; the rest of
    /// the filesystem works meanwhile.
    pub fn stall_fsyncs(&self) {
        self.stall_state().held = true;
    }

    /// Lets held fsyncs complete, and later ones run at once.
    pub fn resume_fsyncs(&self) {
        self.stall_state().held = false;
        self.stall.1.notify_all();
    }

    /// How many fsyncs are blocked by [`FaultFs::stall_fsyncs`] now.
    pub fn stalled_fsyncs(&self) -> usize {
        self.stall_state().waiting
    }

    fn stall_state(&self) -> MutexGuard<'_, Stall> {
        self.stall.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_while_stalled(&self) {
        let mut s = self.stall_state();
        if !s.held {
            return;
        }
        s.waiting += 1;
        let mut s = self
            .stall
            .1
            .wait_while(s, |s| s.held)
            .unwrap_or_else(|e| e.into_inner());
        s.waiting -= 1;
    }

    /// The next write stores only its first `k` bytes, then fails with EIO.
    pub fn short_write_next(&self, k: u64) {
        self.short_write_after(0, k);
    }

    /// After `writes` more writes succeed, the next one stores only its first `k` bytes, then
    /// fails with EIO.
    pub fn short_write_after(&self, writes: u32, k: u64) {
        self.lock().short_write = Some((writes, k));
    }

    /// The disk holds `bytes` in total over all files; growth beyond fails with ENOSPC.
    pub fn set_capacity(&self, bytes: u64) {
        self.lock().capacity_bytes = bytes;
    }

    /// Lets the disk take `bytes` more than it holds now.
    pub fn disk_full_after(&self, bytes: u64) {
        let mut s = self.lock();
        s.capacity_bytes = s.used_bytes().saturating_add(bytes);
    }

    /// Reads of `path` fail with EIO (or succeed again with `fail = false`).
    pub fn fail_reads(&self, path: &Path, fail: bool) {
        let mut s = self.lock();
        if fail {
            s.read_errors.insert(path.to_path_buf());
        } else {
            s.read_errors.remove(path);
        }
    }

    /// Every later rename of a path that starts with `prefix` (compared as text, so a prefix
    /// can end mid-name) fails with EIO and moves nothing.
    pub fn fail_renames_from(&self, prefix: &str) {
        self.lock().failing_renames.push(prefix.to_string());
    }

    /// A power loss: every file falls back to its last fsynced content. With `torn`, each file
    /// keeps a random-length prefix (from the seeded generator) of the bytes written since.
    pub fn crash(&self, torn: bool) {
        let mut s = self.lock();
        let s = &mut *s;
        for file in s.files.values_mut() {
            let keep = if torn {
                s.rng.up_to(file.pending_write_bytes())
            } else {
                0
            };
            file.crash(keep);
        }
        s.fail_fsyncs = 0;
        s.short_write = None;
    }

    /// A power loss that keeps exactly `keep_bytes` of the unsynced writes of `path` and none
    /// of any other file: lets a test tear a write at every byte offset.
    pub fn crash_keeping(&self, path: &Path, keep_bytes: u64) {
        let mut s = self.lock();
        for (p, file) in s.files.iter_mut() {
            file.crash(if p == path { keep_bytes } else { 0 });
        }
    }

    /// Bytes written to `path` since its last fsync.
    pub fn unsynced_bytes(&self, path: &Path) -> u64 {
        self.lock()
            .files
            .get(path)
            .map_or(0, MemFile::pending_write_bytes)
    }

    /// Overwrites bytes of a file as durable content, as bit rot or a stray writer would.
    pub fn corrupt(&self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.lock();
        let file = s.file_mut(path)?;
        let op = Pending::Write {
            offset,
            data: bytes.to_vec(),
        };
        MemFile::apply(&mut file.current, &op);
        MemFile::apply(&mut file.durable, &op);
        Ok(())
    }
}

struct FaultFile {
    fs: FaultFs,
    path: PathBuf,
}

impl Fs for FaultFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        for ancestor in dir.ancestors() {
            s.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let names = s
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect();
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.lock();
        if s.read_errors.contains(path) {
            return Err(io::Error::other("FaultFs: injected read error"));
        }
        s.files
            .get(path)
            .map(|f| f.current.clone())
            .ok_or_else(|| not_found(path))
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.lock();
        if s.read_errors.contains(path) {
            return Err(io::Error::other("FaultFs: injected read error"));
        }
        let file = s.files.get(path).ok_or_else(|| not_found(path))?;
        Ok(copy_from(&file.current, offset, buf))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let mut s = self.lock();
        let parent = path.parent().unwrap_or(Path::new(""));
        if !s.dirs.contains(parent) {
            return Err(not_found(parent));
        }
        match s.files.get_mut(path) {
            Some(file) => file.push(Pending::SetLen(0)),
            None => {
                s.files.insert(path.to_path_buf(), MemFile::default());
            }
        }
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        if !self.lock().files.contains_key(path) {
            return Err(not_found(path));
        }
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let from_text = from.to_string_lossy();
        if s.failing_renames
            .iter()
            .any(|p| from_text.starts_with(p.as_str()))
        {
            return Err(io::Error::other(format!(
                "FaultFs: rename of {from_text} fails"
            )));
        }
        let file = s.files.remove(from).ok_or_else(|| not_found(from))?;
        s.files.insert(to.to_path_buf(), file);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.lock()
            .files
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if s.files.keys().any(|p| p.starts_with(dir)) {
            return Err(io::Error::new(
                ErrorKind::DirectoryNotEmpty,
                format!("FaultFs: {} is not empty", dir.display()),
            ));
        }
        if s.dirs.iter().any(|d| d != dir && d.starts_with(dir)) {
            return Err(io::Error::new(
                ErrorKind::DirectoryNotEmpty,
                format!("FaultFs: {} holds a directory", dir.display()),
            ));
        }
        if s.dirs.remove(dir) {
            Ok(())
        } else {
            Err(not_found(dir))
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.lock().dirs.contains(dir) {
            Ok(())
        } else {
            Err(not_found(dir))
        }
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let s = self.lock();
        s.files
            .get(path)
            .map(|f| f.current.len() as u64)
            .ok_or_else(|| not_found(path))
    }

    fn available_space(&self, _dir: &Path) -> io::Result<u64> {
        let s = self.lock();
        Ok(s.capacity_bytes.saturating_sub(s.used_bytes()))
    }
}

impl FsFile for FaultFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let mut s = self.fs.lock();
        let end = offset.saturating_add(buf.len() as u64);
        s.check_growth(&self.path, end)?;
        let short = match s.short_write.take() {
            Some((0, k)) => Some(k),
            Some((writes, k)) => {
                s.short_write = Some((writes - 1, k));
                None
            }
            None => None,
        };
        let stored = short.map_or(buf.len(), |k| (k as usize).min(buf.len()));
        let file = s.file_mut(&self.path)?;
        file.push(Pending::Write {
            offset,
            data: buf[..stored].to_vec(),
        });
        match short {
            Some(_) => Err(io::Error::other("FaultFs: injected short write")),
            None => Ok(()),
        }
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.fs.wait_while_stalled();
        let mut s = self.fs.lock();
        if s.fail_fsyncs > 0 {
            s.fail_fsyncs -= 1;
            return Err(io::Error::other("FaultFs: injected fsync failure"));
        }
        let file = s.file_mut(&self.path)?;
        file.durable = file.current.clone();
        file.pending.clear();
        Ok(())
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        let mut s = self.fs.lock();
        s.check_growth(&self.path, len_bytes)?;
        s.file_mut(&self.path)?.push(Pending::SetLen(len_bytes));
        Ok(())
    }

    fn allocate(&mut self, len_bytes: u64) -> io::Result<()> {
        let mut s = self.fs.lock();
        s.check_growth(&self.path, len_bytes)?;
        let file = s.file_mut(&self.path)?;
        if (file.current.len() as u64) < len_bytes {
            file.push(Pending::SetLen(len_bytes));
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        self.fs.file_len(&self.path)
    }
}
