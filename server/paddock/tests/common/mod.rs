//! Shared harness of the storage fault tests: a whole Paddock server over a `FaultFs`, a fence
//! that turns a server into a dead process at the instant of a simulated power loss, and a
//! small raw-protocol client.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use paddock::config::ServerConfig;
use paddock::{Server, ServerError};
use paddock_jute::codec::{Reader, Record};
use paddock_jute::proto::{
    ConnectRequest, ConnectResponse, PathWatchRequest, ReplyHeader, Request, RequestHeader,
    Response,
};
use paddock_jute::{OpCode, Stat};
use paddock_storage::{FaultFs, Fs, FsFile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single wait in these tests may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The data directory inside the in-memory filesystem (never a path of the machine).
pub fn data_dir() -> PathBuf {
    PathBuf::from("data")
}

pub fn snap_dir() -> PathBuf {
    data_dir().join("version-2")
}

/// A server configuration for tests over `FaultFs`: a free port, the in-memory data directory.
pub fn config(tune: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut cfg = ServerConfig {
        client_port: 0,
        data_dir: data_dir(),
        data_log_dir: data_dir(),
        // No AdminServer on the fixed port 8080: tests run side by side.
        admin_enable_server: false,
        ..ServerConfig::default()
    };
    tune(&mut cfg);
    cfg
}

/// Cuts one server instance off the shared `FaultFs`. A crashed process writes nothing more;
/// in-process, the old server's threads live on, so every operation they attempt after the
/// crash fails with EIO instead of reaching the "disk" the next server recovers from. The
/// lock makes the cut atomic with the crash: no operation straddles it.
#[derive(Clone)]
pub struct Fence {
    alive: Arc<RwLock<bool>>,
    /// A crash armed to strike right after a given number of further writes: the moment a
    /// write is stored but not yet fsynced, where torn tails come from.
    armed: Arc<Mutex<Option<(u64, FaultFs)>>>,
}

impl Fence {
    fn new() -> Self {
        Fence {
            alive: Arc::new(RwLock::new(true)),
            armed: Arc::new(Mutex::new(None)),
        }
    }

    /// Crashes (torn) right after the `writes`-th write from now, by any thread of the server.
    pub fn crash_after_writes(&self, fs: &FaultFs, writes: u64) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some((writes.max(1), fs.clone()));
    }

    pub fn is_dead(&self) -> bool {
        !*self.alive.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one completed write and strikes when the armed count is reached.
    fn wrote(&self) {
        let strike = {
            let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
            match armed.as_mut() {
                Some((left, _)) if *left > 1 => {
                    *left -= 1;
                    None
                }
                Some(_) => armed.take().map(|(_, fs)| fs),
                None => None,
            }
        };
        if let Some(fs) = strike {
            self.crash(&fs, true);
        }
    }

    fn check<T>(&self, op: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let alive = self.alive.read().unwrap_or_else(|e| e.into_inner());
        if !*alive {
            return Err(io::Error::other("fenced: this server has crashed"));
        }
        op()
    }

    /// The power loss: from now on this instance reaches nothing, and `fs` loses (or tears)
    /// what was not fsynced.
    pub fn crash(&self, fs: &FaultFs, torn: bool) {
        let mut alive = self.alive.write().unwrap_or_else(|e| e.into_inner());
        *alive = false;
        fs.crash(torn);
    }
}

struct FencedFs {
    inner: FaultFs,
    fence: Fence,
}

struct FencedFile {
    inner: Box<dyn FsFile>,
    fence: Fence,
}

impl Fs for FencedFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.fence.check(|| self.inner.create_dir_all(dir))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.fence.check(|| self.inner.list(dir))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.fence.check(|| self.inner.read(path))
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let inner = self.fence.check(|| self.inner.create(path))?;
        Ok(Box::new(FencedFile {
            inner,
            fence: self.fence.clone(),
        }))
    }
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let inner = self.fence.check(|| self.inner.open_write(path))?;
        Ok(Box::new(FencedFile {
            inner,
            fence: self.fence.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.fence.check(|| self.inner.rename(from, to))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.fence.check(|| self.inner.remove_file(path))
    }
    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        self.fence.check(|| self.inner.remove_dir(dir))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.fence.check(|| self.inner.sync_dir(dir))
    }
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.fence.check(|| self.inner.file_len(path))
    }
    fn available_space(&self, dir: &Path) -> io::Result<u64> {
        self.fence.check(|| self.inner.available_space(dir))
    }
}

impl FsFile for FencedFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let fence = self.fence.clone();
        fence.check(|| self.inner.write_at(offset, buf))?;
        fence.wrote();
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        let fence = self.fence.clone();
        fence.check(|| self.inner.sync_data())
    }
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        let fence = self.fence.clone();
        fence.check(|| self.inner.set_len(len_bytes))
    }
    fn allocate(&mut self, len_bytes: u64) -> io::Result<()> {
        let fence = self.fence.clone();
        fence.check(|| self.inner.allocate(len_bytes))
    }
    fn len(&self) -> io::Result<u64> {
        self.fence.check(|| self.inner.len())
    }
}

/// One server instance over a shared `FaultFs`.
pub struct Running {
    pub addr: SocketAddr,
    /// The AdminServer's address, when the configuration enables it.
    pub admin: Option<SocketAddr>,
    /// The Prometheus endpoint's address, when the configuration enables it.
    pub metrics: Option<SocketAddr>,
    pub fence: Fence,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), ServerError>>,
}

/// Binds a server over `fs` (recovering what it holds) and runs it in a task.
pub async fn start(fs: &FaultFs, cfg: ServerConfig) -> Result<Running, ServerError> {
    let fence = Fence::new();
    let fenced = Arc::new(FencedFs {
        inner: fs.clone(),
        fence: fence.clone(),
    });
    let server = Server::bind_with_fs(cfg, fenced).await?;
    let addr = server.local_addr();
    let admin = server.admin_addr();
    let metrics = server.metrics_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        admin,
        metrics,
        fence,
        stop: Some(stop),
        task,
    })
}

impl Running {
    /// A clean shutdown: the signal, then `run` returns after the log is synced.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("the server stops within the deadline")
            .expect("the server task does not panic")
    }

    /// A power loss at this instant: the process is gone (fenced, its task aborted) and the
    /// disk keeps only what was fsynced (plus, with `torn`, a random prefix of the rest).
    pub async fn crash(self, fs: &FaultFs, torn: bool) {
        self.fence.crash(fs, torn);
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A completed request: the reply header's error and zxid, and the body when `err == 0`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub err: i32,
    pub zxid: i64,
    pub body: Option<Response>,
}

/// A minimal session over the raw protocol: one request at a time, events skipped.
pub struct Client {
    stream: TcpStream,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub last_zxid: i64,
    next_xid: i32,
}

pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

pub async fn read_frame(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = i32::from_be_bytes(len);
    if !(0..=16 << 20).contains(&len) {
        return Err(io::Error::other(format!("bad frame length {len}")));
    }
    let mut buf = vec![0u8; len as usize];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl Client {
    /// A new session with a 30 s timeout.
    pub async fn connect(addr: SocketAddr) -> io::Result<Client> {
        Client::attach(addr, 0, vec![0; 16], 0, 30_000).await
    }

    /// Opens (`session_id == 0`) or re-attaches a session. A refused re-attach (an expired
    /// session) shows as a session id of 0 and a closed connection.
    pub async fn attach(
        addr: SocketAddr,
        session_id: i64,
        passwd: Vec<u8>,
        last_zxid_seen: i64,
        time_out: i32,
    ) -> io::Result<Client> {
        let mut stream = TcpStream::connect(addr).await?;
        let req = ConnectRequest {
            last_zxid_seen,
            time_out,
            session_id,
            passwd,
            ..Default::default()
        };
        stream.write_all(&frame(&req.to_bytes())).await?;
        let resp = tokio::time::timeout(DEADLINE, read_frame(&mut stream))
            .await
            .map_err(|_| io::Error::other("no ConnectResponse"))??;
        let resp = ConnectResponse::read(&mut Reader::new(&resp)).map_err(invalid)?;
        if resp.session_id == 0 {
            return Err(io::Error::other("session refused"));
        }
        Ok(Client {
            stream,
            session_id: resp.session_id,
            passwd: resp.passwd,
            last_zxid: last_zxid_seen,
            next_xid: 1,
        })
    }

    /// Sends a request without waiting for its reply; returns its xid.
    pub async fn send(&mut self, req: &Request) -> io::Result<i32> {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.stream.write_all(&req.encode_frame(xid)).await?;
        Ok(xid)
    }

    /// Sends a request of raw opcode `op` with `body` as its bytes, well formed or not;
    /// returns its xid.
    pub async fn send_raw(&mut self, op: i32, body: &[u8]) -> io::Result<i32> {
        let xid = self.next_xid;
        self.next_xid += 1;
        let mut payload = RequestHeader { xid, op_type: op }.to_bytes();
        payload.extend_from_slice(body);
        self.stream.write_all(&frame(&payload)).await?;
        Ok(xid)
    }

    /// The header of the next reply, whatever its xid, skipping watch events and pings.
    pub async fn next_reply_header(&mut self) -> io::Result<ReplyHeader> {
        loop {
            let bytes = read_frame(&mut self.stream).await?;
            let hdr = ReplyHeader::read(&mut Reader::new(&bytes)).map_err(invalid)?;
            if hdr.xid != -1 && hdr.xid != -2 {
                return Ok(hdr);
            }
        }
    }

    /// Waits for the reply to `xid` (of opcode `op`), skipping watch events and pings.
    pub async fn reply(&mut self, xid: i32, op: OpCode) -> io::Result<Reply> {
        loop {
            let bytes = read_frame(&mut self.stream).await?;
            let mut r = Reader::new(&bytes);
            let hdr = ReplyHeader::read(&mut r).map_err(invalid)?;
            if hdr.xid != xid {
                continue;
            }
            if hdr.zxid > 0 {
                self.last_zxid = self.last_zxid.max(hdr.zxid);
            }
            let body = if hdr.err == 0 {
                Some(Response::read_for(op, &mut r).map_err(invalid)?)
            } else {
                None
            };
            return Ok(Reply {
                err: hdr.err,
                zxid: hdr.zxid,
                body,
            });
        }
    }

    /// One request and its reply, within the deadline.
    pub async fn call(&mut self, req: Request) -> io::Result<Reply> {
        let op = req.op_code();
        let fut = async {
            let xid = self.send(&req).await?;
            self.reply(xid, op).await
        };
        tokio::time::timeout(DEADLINE, fut)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{op:?} hung")))?
    }

    pub async fn get_data(&mut self, path: &str) -> io::Result<Option<(Vec<u8>, Stat)>> {
        let reply = self
            .call(Request::GetData(PathWatchRequest {
                path: path.into(),
                watch: false,
            }))
            .await?;
        match reply.body {
            Some(Response::GetData { data, stat }) => Ok(Some((data.unwrap_or_default(), stat))),
            _ if reply.err == -101 => Ok(None),
            _ => Err(io::Error::other(format!("getData {path}: {}", reply.err))),
        }
    }

    pub async fn children(&mut self, path: &str) -> io::Result<Option<Vec<String>>> {
        let reply = self
            .call(Request::GetChildren(PathWatchRequest {
                path: path.into(),
                watch: false,
            }))
            .await?;
        match reply.body {
            Some(Response::GetChildren { children }) => Ok(Some(children)),
            _ if reply.err == -101 => Ok(None),
            _ => Err(io::Error::other(format!(
                "getChildren {path}: {}",
                reply.err
            ))),
        }
    }

    /// Every node under `root` (itself included) with its data and stat, read back over the
    /// protocol.
    pub async fn dump(&mut self, root: &str) -> io::Result<BTreeMap<String, (Vec<u8>, Stat)>> {
        let mut out = BTreeMap::new();
        let mut todo = vec![root.to_string()];
        while let Some(path) = todo.pop() {
            let Some(node) = self.get_data(&path).await? else {
                continue;
            };
            out.insert(path.clone(), node);
            for child in self.children(&path).await?.unwrap_or_default() {
                todo.push(join(&path, &child));
            }
        }
        Ok(out)
    }
}

pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// The complete snapshots in the data directory.
pub fn snapshots(fs: &FaultFs) -> Vec<String> {
    let mut names: Vec<String> = fs
        .list(&snap_dir())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("snapshot.") && !n.ends_with(".tmp"))
        .collect();
    names.sort();
    names
}

/// The transaction logs in the data directory.
pub fn logs(fs: &FaultFs) -> Vec<String> {
    let mut names: Vec<String> = fs
        .list(&snap_dir())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("log."))
        .collect();
    names.sort();
    names
}

/// Waits (with the deadline) until `cond` holds, polling.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(DEADLINE, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

/// SplitMix64: a seeded generator that replays the same schedule everywhere.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed of a randomized test: `PADDOCK_SEED` when set (to replay a failure), else `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("PADDOCK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One POST with an `Authorization` header and a binary body: (status, body text).
pub async fn post_authorized(
    addr: SocketAddr,
    path: &str,
    auth: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write");
    read_response(s).await
}

/// `GET path` on an HTTP port: the status and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("write");
    read_response(s).await
}

/// Reads a whole HTTP/1.1 response (the server closes the connection after it).
async fn read_response(mut s: TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .expect("answered")
        .expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = raw.split_once("\r\n\r\n").map_or("", |b| b.1).to_owned();
    (status, body)
}

/// Sends a four-letter word and returns the whole answer (empty when nothing listens).
pub async fn four_letter_word(addr: SocketAddr, cmd: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let _ = s.write_all(cmd.as_bytes()).await;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}

/// The `server.N` lines of an ensemble of `n` participants on loopback, ids 1..=n, each
/// with its own free quorum and election ports.
pub fn loopback_members(n: u64) -> Vec<paddock::config::ServerLine> {
    let free = || paddock_testkit::free_port().expect("a free loopback port");
    (1..=n)
        .map(|id| paddock::config::ServerLine {
            id,
            host: "127.0.0.1".into(),
            quorum_port: free(),
            election_port: free(),
            role: paddock::config::Role::Participant,
            client_addr: None,
        })
        .collect()
}
