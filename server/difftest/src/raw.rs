//! A raw ZooKeeper protocol client for hostile and odd inputs.
//!
//! Records are hand-encoded with big-endian writes (jute's `BinaryOutputArchive` layout: int 4
//! bytes, long 8, boolean 1, buffer/ustring = int length + bytes with -1 for null), so tests can
//! send exactly the bytes they mean, including wrong ones. Only what the tests need is here.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Builds a jute record.
#[derive(Clone, Debug, Default)]
pub struct Jute(pub Vec<u8>);

impl Jute {
    /// An empty record.
    pub fn new() -> Jute {
        Jute::default()
    }
    /// jute `int`.
    pub fn int(mut self, v: i32) -> Jute {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// jute `long`.
    pub fn long(mut self, v: i64) -> Jute {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// jute `boolean`.
    pub fn bool(mut self, v: bool) -> Jute {
        self.0.push(u8::from(v));
        self
    }
    /// jute `buffer` / `ustring` from raw bytes (which need not be UTF-8).
    pub fn bytes(self, v: &[u8]) -> Jute {
        let len = i32::try_from(v.len()).unwrap_or(i32::MAX);
        let mut out = self.int(len);
        out.0.extend_from_slice(v);
        out
    }
    /// jute `ustring`.
    pub fn string(self, v: &str) -> Jute {
        self.bytes(v.as_bytes())
    }
    /// A vector of strings.
    pub fn strings(self, v: &[&str]) -> Jute {
        let len = i32::try_from(v.len()).unwrap_or(i32::MAX);
        v.iter().fold(self.int(len), |acc, s| acc.string(s))
    }
    /// The open ACL `[world:anyone ALL]`.
    pub fn open_acl(self) -> Jute {
        self.int(1).int(31).string("world").string("anyone")
    }
    /// The bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Reads a jute record; every read is checked.
#[derive(Debug)]
pub struct JuteReader<'a> {
    buf: &'a [u8],
}

impl<'a> JuteReader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> JuteReader<'a> {
        JuteReader { buf }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            bail!("record too short: need {n} bytes, have {}", self.buf.len());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    /// jute `int`.
    pub fn int(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// jute `long`.
    pub fn long(&mut self) -> Result<i64> {
        let hi = i64::from(self.int()?);
        let lo = i64::from(self.int()? as u32);
        Ok((hi << 32) | lo)
    }
    /// jute `boolean`.
    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.take(1)?[0] != 0)
    }
    /// jute `buffer`; `None` for the null buffer (length -1).
    pub fn buffer(&mut self) -> Result<Option<Vec<u8>>> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len)?;
        Ok(Some(self.take(len)?.to_vec()))
    }
    /// jute `ustring`.
    pub fn string(&mut self) -> Result<String> {
        let bytes = self.buffer()?.unwrap_or_default();
        Ok(String::from_utf8(bytes)?)
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// `ConnectRequest` (zookeeper.jute), with the trailing `readOnly` byte optional because
/// clients older than 3.4 omit it.
#[derive(Clone, Debug)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The largest zxid the client has seen.
    pub last_zxid_seen: i64,
    /// Requested session timeout.
    pub timeout_ms: i32,
    /// 0 for a new session.
    pub session_id: i64,
    /// 16 bytes (zeros for a new session).
    pub passwd: Vec<u8>,
    /// `None` omits the byte.
    pub read_only: Option<bool>,
}

impl Default for ConnectRequest {
    fn default() -> Self {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 10_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
    }
}

impl ConnectRequest {
    /// The record without its frame.
    pub fn encode(&self) -> Vec<u8> {
        let rec = Jute::new()
            .int(self.protocol_version)
            .long(self.last_zxid_seen)
            .int(self.timeout_ms)
            .long(self.session_id)
            .bytes(&self.passwd);
        match self.read_only {
            Some(ro) => rec.bool(ro).into_bytes(),
            None => rec.into_bytes(),
        }
    }
}

/// `ConnectResponse`; `read_only` is `None` when the server omitted the byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// Negotiated timeout; 0 means the session is invalid or expired.
    pub timeout_ms: i32,
    /// The session id, 0 when refused.
    pub session_id: i64,
    /// The session password.
    pub passwd: Vec<u8>,
    /// The trailing byte, if sent.
    pub read_only: Option<bool>,
    /// Length of the response record without its frame (36 or 37).
    pub record_len: usize,
}

impl ConnectResponse {
    /// Decodes a response record (frame already removed).
    pub fn decode(payload: &[u8]) -> Result<ConnectResponse> {
        let mut r = JuteReader::new(payload);
        let protocol_version = r.int()?;
        let timeout_ms = r.int()?;
        let session_id = r.long()?;
        let passwd = r.buffer()?.unwrap_or_default();
        let read_only = if r.remaining() > 0 {
            Some(r.bool()?)
        } else {
            None
        };
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
            record_len: payload.len(),
        })
    }
}

/// A decoded reply frame: `ReplyHeader{xid, zxid, err}` and the body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Echoed xid (-1 notification, -2 ping, -4 auth, -8 setWatches).
    pub xid: i32,
    /// The server's last processed zxid (or the event zxid for notifications).
    pub zxid: i64,
    /// Error code, 0 = OK.
    pub err: i32,
    /// Body bytes after the header.
    pub body: Vec<u8>,
}

impl Reply {
    fn decode(payload: &[u8]) -> Result<Reply> {
        let mut r = JuteReader::new(payload);
        let xid = r.int()?;
        let zxid = r.long()?;
        let err = r.int()?;
        Ok(Reply {
            xid,
            zxid,
            err,
            body: payload[16..].to_vec(),
        })
    }

    /// Decodes a `WatcherEvent{type, state, path}` body.
    pub fn watcher_event(&self) -> Result<(i32, i32, String)> {
        let mut r = JuteReader::new(&self.body);
        Ok((r.int()?, r.int()?, r.string()?))
    }
}

/// What reading one frame produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// A whole frame payload.
    Frame(Vec<u8>),
    /// The server closed (EOF or reset) before a whole frame arrived.
    Closed,
    /// Nothing (complete) arrived in time; the connection is still open.
    Timeout,
}

/// How long to wait for a reply that should come.
pub const REPLY_WAIT: Duration = Duration::from_secs(5);

/// One raw connection.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
}

impl RawConn {
    /// Opens a TCP connection.
    pub async fn open(addr: SocketAddr) -> Result<RawConn> {
        let stream = TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        Ok(RawConn { stream })
    }

    /// Opens a connection and performs a default handshake.
    pub async fn session(addr: SocketAddr) -> Result<(RawConn, ConnectResponse)> {
        let mut conn = RawConn::open(addr).await?;
        let resp = conn.handshake(&ConnectRequest::default()).await?;
        Ok((conn, resp))
    }

    /// Writes bytes as they are (no frame).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Writes a 4-byte length and the payload.
    pub async fn send_frame(&mut self, payload: &[u8]) -> Result<()> {
        self.send_raw(&frame(payload)?).await
    }

    /// Sends `RequestHeader{xid, type}` + body as one frame.
    pub async fn send_request(&mut self, xid: i32, op: i32, body: &[u8]) -> Result<()> {
        self.send_frame(&request_payload(xid, op, body)).await
    }

    /// Reads one frame, waiting at most `wait`.
    pub async fn read_frame(&mut self, wait: Duration) -> Read {
        match tokio::time::timeout(wait, self.read_frame_inner()).await {
            Err(_) => Read::Timeout,
            Ok(Err(_)) => Read::Closed,
            Ok(Ok(payload)) => Read::Frame(payload),
        }
    }

    async fn read_frame_inner(&mut self) -> Result<Vec<u8>> {
        let len = self.stream.read_i32().await?;
        // The servers never send more than jute.maxbuffer plus headers; a larger length
        // means a broken stream, not something to allocate for.
        if !(0..=4 << 20).contains(&len) {
            bail!("bad frame length {len}");
        }
        let mut payload = vec![0; usize::try_from(len)?];
        self.stream.read_exact(&mut payload).await?;
        Ok(payload)
    }

    /// Sends a handshake and decodes the response.
    pub async fn handshake(&mut self, req: &ConnectRequest) -> Result<ConnectResponse> {
        self.send_frame(&req.encode()).await?;
        match self.read_frame(REPLY_WAIT).await {
            Read::Frame(payload) => ConnectResponse::decode(&payload),
            other => bail!("no ConnectResponse: {other:?}"),
        }
    }

    /// Reads the next reply frame; `Ok(None)` when the connection closed.
    pub async fn read_reply(&mut self, wait: Duration) -> Result<Option<Reply>> {
        match self.read_frame(wait).await {
            Read::Frame(payload) => Ok(Some(Reply::decode(&payload)?)),
            Read::Closed => Ok(None),
            Read::Timeout => bail!("no reply within {wait:?}"),
        }
    }

    /// Sends a request and reads frames until the reply with the same xid arrives, skipping
    /// notifications (xid -1). `Ok(None)` when the connection closed first.
    pub async fn call(&mut self, xid: i32, op: i32, body: &[u8]) -> Result<Option<Reply>> {
        self.send_request(xid, op, body).await?;
        loop {
            match self.read_reply(REPLY_WAIT).await? {
                Some(reply) if reply.xid == -1 && xid != -1 => continue,
                other => return Ok(other),
            }
        }
    }

    /// Waits until the server closes the connection; true if it did within `wait`, false if the
    /// connection was still open (frames that arrive meanwhile are discarded).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_frame(left).await {
                Read::Closed => return true,
                Read::Timeout => return false,
                Read::Frame(_) => continue,
            }
        }
    }

    /// Sends a ping (xid -2) and reports whether the server answered it.
    pub async fn ping(&mut self) -> Result<bool> {
        Ok(matches!(self.call(-2, 11, &[]).await?, Some(r) if r.xid == -2 && r.err == 0))
    }
}

/// A 4-byte length and the payload.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>> {
    let mut frame = i32::try_from(payload.len())?.to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// `RequestHeader{xid, type}` + body: a request frame's payload.
pub fn request_payload(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut payload = Jute::new().int(xid).int(op).into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// Opcodes used by the raw tests (ZooDefs.OpCode).
pub mod op {
    /// create
    pub const CREATE: i32 = 1;
    /// delete
    pub const DELETE: i32 = 2;
    /// exists
    pub const EXISTS: i32 = 3;
    /// getData
    pub const GET_DATA: i32 = 4;
    /// setData
    pub const SET_DATA: i32 = 5;
    /// getChildren
    pub const GET_CHILDREN: i32 = 8;
    /// ping
    pub const PING: i32 = 11;
    /// check (valid only inside multi)
    pub const CHECK: i32 = 13;
    /// removeWatches
    pub const REMOVE_WATCHES: i32 = 18;
    /// create2
    pub const CREATE2: i32 = 15;
    /// checkWatches
    pub const CHECK_WATCHES: i32 = 17;
    /// auth
    pub const AUTH: i32 = 100;
    /// setWatches
    pub const SET_WATCHES: i32 = 101;
    /// setWatches2 (3.6+): setWatches plus persistent and persistent-recursive paths.
    pub const SET_WATCHES2: i32 = 105;
    /// addWatch
    pub const ADD_WATCH: i32 = 106;
    /// closeSession
    pub const CLOSE_SESSION: i32 = -11;
}

/// An `AuthPacket{type=0, scheme, auth}` body.
pub fn auth_body(scheme: &str, auth: &[u8]) -> Vec<u8> {
    Jute::new().int(0).string(scheme).bytes(auth).into_bytes()
}

/// A `CreateRequest{path, data, acl=open, flags}` body.
pub fn create_body(path: &[u8], data: &[u8], flags: i32) -> Vec<u8> {
    Jute::new()
        .bytes(path)
        .bytes(data)
        .open_acl()
        .int(flags)
        .into_bytes()
}

/// A `{path, watch}` body (exists, getData, getChildren).
pub fn path_watch_body(path: &str, watch: bool) -> Vec<u8> {
    Jute::new().string(path).bool(watch).into_bytes()
}
