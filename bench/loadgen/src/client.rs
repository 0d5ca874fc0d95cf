//! A minimal ZooKeeper session over raw jute frames.
//!
//! The load generator only needs the reply headers (xid, zxid, err) to time and check each
//! request, so it never decodes reply bodies. That keeps the client's cost per operation to
//! one small encode and a 16-byte header parse, which matters on a 2-core machine where the
//! client shares the CPU with the server it measures.

use std::time::Duration;

use anyhow::{bail, Context};
use paddock_jute::frame::FRAME_HEADER_BYTES;
use paddock_jute::proto::{ConnectRequest, ConnectResponse, ReplyHeader, Request};
use paddock_jute::{frame_len, Reader, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest reply the generator accepts: ZooKeeper's default `jute.maxbuffer`.
const MAX_FRAME_BYTES: u32 = paddock_jute::frame::DEFAULT_MAX_BUFFER;

/// Room kept free in the read buffer before each read (at least this much is read at once);
/// large enough for hundreds of pipelined replies.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The xid ZooKeeper uses for watch notifications (`ClientCnxn.NOTIFICATION_XID`).
const NOTIFICATION_XID: i32 = -1;

/// One established session. Replies arrive in request order (ZooKeeper answers a session's
/// requests in order, `FinalRequestProcessor`), so the caller can match them with a FIFO.
pub struct Session {
    stream: TcpStream,
    read_buf: Vec<u8>,
    next_xid: i32,
    pub session_id: i64,
    /// Watch notifications received so far; `read_replies` counts them as it skips them.
    pub notifications: u64,
}

impl Session {
    /// Connects and completes the handshake (`ClientCnxnSocket.connect`, `primeConnection`).
    pub async fn connect(addr: &str, session_timeout_ms: i32) -> anyhow::Result<Session> {
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: session_timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        let frame = paddock_jute::codec::framed(|w| request.write(w));
        stream.write_all(&frame).await?;
        let mut session = Session {
            stream,
            read_buf: Vec::with_capacity(READ_CHUNK_BYTES),
            next_xid: 1,
            session_id: 0,
            notifications: 0,
        };
        let body = session.read_frame().await?;
        let response = ConnectResponse::from_bytes(&body).context("decoding ConnectResponse")?;
        // A zero session id with a zero timeout is how ZooKeeper refuses a session.
        if response.session_id == 0 {
            bail!("the server refused the session");
        }
        session.session_id = response.session_id;
        Ok(session)
    }

    /// Appends a request frame to `out` and returns its xid.
    pub fn encode(&mut self, request: &Request, out: &mut Vec<u8>) -> i32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.checked_add(1).unwrap_or(1);
        out.extend_from_slice(&request.encode_frame(xid));
        xid
    }

    pub async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Reads at least one chunk from the socket and appends every complete reply header with a
    /// request xid to `replies`; notifications and pings are skipped. Appends nothing if only
    /// part of a frame arrived.
    pub async fn read_replies(&mut self, replies: &mut Vec<ReplyHeader>) -> anyhow::Result<()> {
        self.fill().await?;
        let mut consumed = 0;
        while let Some(len) = frame_len(&self.read_buf[consumed..], MAX_FRAME_BYTES)? {
            let start = consumed + FRAME_HEADER_BYTES;
            let header = ReplyHeader::read(&mut Reader::new(&self.read_buf[start..start + len]))
                .context("decoding ReplyHeader")?;
            consumed = start + len;
            // Pings (xid -2) and notifications (-1) are not replies to our requests.
            if header.xid > 0 {
                replies.push(header);
            } else if header.xid == NOTIFICATION_XID {
                self.notifications += 1;
            } else if header.xid != -2 {
                bail!("unexpected reply xid {}", header.xid);
            }
        }
        self.read_buf.drain(..consumed);
        Ok(())
    }

    /// Sends `request` alone and waits for its reply header.
    pub async fn call(&mut self, request: &Request) -> anyhow::Result<ReplyHeader> {
        let mut out = Vec::new();
        let xid = self.encode(request, &mut out);
        self.send(&out).await?;
        let mut replies = Vec::new();
        while replies.is_empty() {
            self.read_replies(&mut replies).await?;
        }
        let reply = replies[0];
        if reply.xid != xid {
            bail!("reply xid {} for request xid {xid}", reply.xid);
        }
        Ok(reply)
    }

    /// Sends every request in one write and waits for all their replies, in order.
    pub async fn call_all(&mut self, requests: &[Request]) -> anyhow::Result<Vec<ReplyHeader>> {
        let mut out = Vec::new();
        let first_xid = self.next_xid;
        for request in requests {
            self.encode(request, &mut out);
        }
        self.send(&out).await?;
        let mut replies = Vec::with_capacity(requests.len());
        while replies.len() < requests.len() {
            self.read_replies(&mut replies).await?;
        }
        if replies.len() > requests.len() || replies.first().is_some_and(|r| r.xid != first_xid) {
            bail!(
                "replies out of step with {} pipelined requests",
                requests.len()
            );
        }
        Ok(replies)
    }

    /// Closes the session so the server drops it at once instead of after its timeout.
    pub async fn close(mut self) {
        let close = self.call(&Request::CloseSession);
        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
    }

    /// Reads once from the socket into the buffer's spare capacity. The capacity is kept at
    /// `READ_CHUNK_BYTES` or more, and is never zeroed first: zeroing 64 KiB before each read
    /// cost the generator a fifth of its CPU with one request per session.
    async fn fill(&mut self) -> anyhow::Result<()> {
        self.read_buf.reserve(READ_CHUNK_BYTES);
        if self.stream.read_buf(&mut self.read_buf).await? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }

    async fn read_frame(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(len) = frame_len(&self.read_buf, MAX_FRAME_BYTES)? {
                let body = self.read_buf[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + len].to_vec();
                self.read_buf.drain(..FRAME_HEADER_BYTES + len);
                return Ok(body);
            }
            self.fill().await?;
        }
    }
}
