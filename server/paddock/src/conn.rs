//! One client connection: framing in, frames out.
//!
//! The reader owns its buffer and turns frames into typed requests for the core task; the
//! writer drains the connection's bounded outbox. A bad frame ends this connection only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use paddock_core::ConnId;
use paddock_jute::codec::{Reader, Record};
use paddock_jute::frame::{four_letter_word, frame_len};
use paddock_jute::proto::{ConnectRequest, Request, RequestHeader};
use paddock_jute::{DecodeError, ErrorCode, OpCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::core_task::CoreMsg;
use crate::outbox::{outbox, Outbound, OutboxReceiver};
use crate::server::Shared;

/// Why a connection ended, for the log.
#[derive(Debug, thiserror::Error)]
pub enum ConnEnd {
    #[error("client closed the connection")]
    Eof,
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame: {0}")]
    Frame(#[from] paddock_jute::frame::FrameError),
    #[error("bad record: {0}")]
    Decode(#[from] paddock_jute::DecodeError),
    #[error("no ConnectRequest within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("closed by the server")]
    ClosedByServer,
    #[error("server shutting down")]
    Shutdown,
}

/// The reading half of a client connection (plain TCP or TLS).
pub type ReadHalf = Box<dyn AsyncRead + Unpin + Send>;
/// The writing half of a client connection (plain TCP or TLS).
pub type WriteHalf = Box<dyn AsyncWrite + Unpin + Send>;

/// Serves a plain TCP client connection.
pub async fn serve(stream: TcpStream, peer: SocketAddr, conn: ConnId, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    serve_io(Box::new(read), Box::new(write), peer, conn, shared, None).await;
}

/// Serves a client connection over any stream; `subject` is the TLS client certificate's
/// subject, which becomes an `x509` id.
pub async fn serve_io(
    read: ReadHalf,
    write: WriteHalf,
    peer: SocketAddr,
    conn: ConnId,
    shared: Arc<Shared>,
    subject: Option<String>,
) {
    let closed = Arc::new(Notify::new());
    let mut reader = ConnReader {
        read,
        buf: BytesMut::with_capacity(4096),
        shared,
        conn,
        subject,
    };
    let outcome = reader.run(peer, write, closed).await;
    match &outcome {
        Ok(()) | Err(ConnEnd::Eof | ConnEnd::ClosedByServer | ConnEnd::Shutdown) => {
            tracing::debug!(conn, %peer, "connection ended")
        }
        // A TLS client that closes its socket without close_notify, as most do.
        Err(ConnEnd::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            tracing::debug!(conn, %peer, "connection ended without TLS close_notify")
        }
        Err(e) => tracing::info!(conn, %peer, "closing connection: {e}"),
    }
    let _ = reader.shared.core.send(CoreMsg::Closed { conn }).await;
}

struct ConnReader {
    read: ReadHalf,
    buf: BytesMut,
    shared: Arc<Shared>,
    conn: ConnId,
    subject: Option<String>,
}

impl ConnReader {
    async fn run(
        &mut self,
        peer: SocketAddr,
        write: WriteHalf,
        closed: Arc<Notify>,
    ) -> Result<(), ConnEnd> {
        let handshake_wait = self.shared.handshake_timeout;
        let first = match tokio::time::timeout(handshake_wait, self.fill(4)).await {
            Ok(r) => r?,
            Err(_) => return Err(ConnEnd::HandshakeTimeout(handshake_wait)),
        };
        debug_assert!(first);
        let head: [u8; 4] = self.buf[..4].try_into().expect("four bytes were read");
        if let Some(cmd) = four_letter_word(&head) {
            self.shared.metrics.count("bytes_received_count", 4);
            let mask = if cmd == "stmk" && self.shared.four_letter_word_allowed(cmd) {
                self.trace_mask_argument().await
            } else {
                None
            };
            return crate::fourlw::answer(cmd, mask, peer, write, &self.shared).await;
        }
        let connect = match tokio::time::timeout(handshake_wait, self.next_frame()).await {
            // ZooKeeper ignores bytes after the record, so `read`, not `from_bytes`.
            Ok(len) => {
                let len = len?;
                let connect = ConnectRequest::read(&mut Reader::new(&self.buf[..len]));
                self.buf.advance(len);
                connect
            }
            Err(_) => return Err(ConnEnd::HandshakeTimeout(handshake_wait)),
        };
        let received = Instant::now();
        self.shared.metrics.count("connection_request_count", 1);
        let connect = connect.inspect_err(|_| {
            self.shared.metrics.count("unsuccessful_handshake", 1);
        })?;

        let (outbox_tx, outbox_rx) = outbox(self.shared.outbox_max_bytes);
        tokio::spawn(write_loop(write, outbox_rx, closed.clone()));
        let core = &self.shared.core;
        let conn = self.conn;
        let opened = CoreMsg::Opened {
            conn,
            peer,
            outbox: outbox_tx,
            subject: self.subject.take(),
        };
        core.send(opened).await.map_err(|_| ConnEnd::Shutdown)?;
        let connect = CoreMsg::Connect {
            conn,
            req: connect,
            received,
        };
        core.send(connect).await.map_err(|_| ConnEnd::Shutdown)?;

        // One waiter for the whole connection, not one registered and dropped per request.
        let closed_by_server = closed.notified();
        tokio::pin!(closed_by_server);
        loop {
            let len = tokio::select! {
                len = self.next_frame() => len?,
                () = &mut closed_by_server => return Err(ConnEnd::ClosedByServer),
            };
            // Decoded in place: the request owns copies of what it keeps, the frame is dropped.
            let msg = self.parse_request(&self.buf[..len]);
            self.buf.advance(len);
            let msg = msg?;
            self.shared
                .core
                .send(msg)
                .await
                .map_err(|_| ConnEnd::Shutdown)?;
        }
    }

    /// Turns one frame into a message for the core task. Opcodes ZooKeeper does not know, or
    /// knows but does not take from clients, are answered Unimplemented and the connection
    /// closes (`UnimplementedRequestProcessor`). A body that does not decode is answered
    /// MarshallingError and the connection stays, as ZooKeeper's request processors do; a
    /// header, an auth or a SASL packet that does not decode ends the connection.
    fn parse_request(&self, frame: &[u8]) -> Result<CoreMsg, ConnEnd> {
        let conn = self.conn;
        let mut r = Reader::new(frame);
        let hdr = RequestHeader::read(&mut r)?;
        let reject = |op| CoreMsg::Reject {
            conn,
            xid: hdr.xid,
            op,
            err: ErrorCode::Unimplemented,
            close: true,
        };
        let Ok(op) = OpCode::try_from(hdr.op_type) else {
            return Ok(reject(None));
        };
        match Request::decode(op, &mut r) {
            Ok(req) => Ok(CoreMsg::Request {
                conn,
                xid: hdr.xid,
                op,
                req,
                received: Instant::now(),
                frame_bytes: frame.len(),
            }),
            Err(DecodeError::UnknownOpCode(_) | DecodeError::NotARequest(_)) => {
                Ok(reject(Some(op)))
            }
            // processPacket reads auth and SASL packets itself: one that does not decode
            // throws, and the connection closes without an answer.
            Err(e) if matches!(op, OpCode::Auth | OpCode::Sasl) => Err(e.into()),
            Err(e) => {
                tracing::debug!(conn, xid = hdr.xid, "undecodable {op:?} body: {e}");
                let err = ErrorCode::MarshallingError;
                Ok(CoreMsg::Reject {
                    conn,
                    xid: hdr.xid,
                    op: Some(op),
                    err,
                    close: false,
                })
            }
        }
    }

    /// The 8-byte big-endian mask after `stmk`. ZooKeeper reads it with one read and fails
    /// the command when it is short; this waits up to the handshake timeout for all 8.
    async fn trace_mask_argument(&mut self) -> Option<i64> {
        let wait = self.shared.handshake_timeout;
        tokio::time::timeout(wait, self.fill(12)).await.ok()?.ok()?;
        let bytes: [u8; 8] = self.buf[4..12].try_into().ok()?;
        Some(i64::from_be_bytes(bytes))
    }

    /// Reads until the buffer holds at least `n` bytes.
    async fn fill(&mut self, n: usize) -> Result<bool, ConnEnd> {
        while self.buf.len() < n {
            if self.read.read_buf(&mut self.buf).await? == 0 {
                return Err(ConnEnd::Eof);
            }
        }
        Ok(true)
    }

    /// Waits for the next complete frame and drops its length prefix: its payload is the
    /// first `len` (the value returned) bytes of `buf`, for the caller to decode and advance
    /// past. Cancel-safe: what was read stays in `buf`.
    async fn next_frame(&mut self) -> Result<usize, ConnEnd> {
        loop {
            if let Some(len) = frame_len(&self.buf, self.shared.max_frame_bytes)? {
                self.buf.advance(4);
                self.shared.metrics.hot.bytes_received.add(4 + len as u64);
                return Ok(len);
            }
            // The length is known once its 4 bytes are in (and within jute.maxbuffer, or
            // `frame_len` refused it): room for the whole frame at once, as ZooKeeper
            // allocates its incoming buffer, instead of growing and copying a large request
            // several times on the way.
            if let Some(head) = self.buf.first_chunk::<4>() {
                let want = 4 + u32::from_be_bytes(*head) as usize;
                self.buf.reserve(want.saturating_sub(self.buf.len()));
            }
            if self.read.read_buf(&mut self.buf).await? == 0 {
                return Err(ConnEnd::Eof);
            }
        }
    }
}

/// Writes queued frames, coalescing whatever is ready into one write.
async fn write_loop(write: WriteHalf, mut outbox: OutboxReceiver, closed: Arc<Notify>) {
    let mut out = BufWriter::with_capacity(64 * 1024, write);
    'outer: while let Some(first) = outbox.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outbound::Frame(frame) => {
                    if out.write_all(&frame).await.is_err() {
                        break 'outer;
                    }
                    outbox.sent(frame.len());
                }
                Outbound::Close => {
                    let _ = out.flush().await;
                    break 'outer;
                }
            }
            next = outbox.try_recv();
        }
        if out.flush().await.is_err() {
            break;
        }
    }
    let _ = out.shutdown().await;
    closed.notify_one();
}
