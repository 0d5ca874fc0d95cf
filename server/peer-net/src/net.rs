//! The running links of one member.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Server};
use tonic::{Request, Response, Status, Streaming};

use crate::codec::{Message, Piece, Reassembly};
use crate::error::{NetError, SendError};
use crate::proto::link_client::LinkClient;
use crate::proto::link_server::{Link, LinkServer};

/// The request header naming the sending member.
const SERVER_ID_HEADER: &str = "paddock-server-id";

/// The request header naming the link format. A member refuses a stream in another format
/// rather than misread it: format 1 (no header) sent each frame as one message, and its
/// election frames start with the byte that now means "more pieces follow"; format 2 had no
/// batches.
const LINK_FORMAT_HEADER: &str = "paddock-link-format";
/// What a link's receiver lets its sender have in flight (HTTP/2's flow-control window,
/// 64 KiB by default): with the default, a SNAP of 180 MB crossed loopback at 70-110 MB/s.
const LINK_WINDOW_BYTES: u32 = 8 << 20;

/// Frames in pieces or in batches, each message led by a byte saying which (`codec`).
const LINK_FORMAT: &str = "3";

/// The most bytes of short frames sent together as one batch message (within
/// `NetConfig::max_piece_bytes` too).
const BATCH_MAX_BYTES: usize = 64 << 10;

/// Another member: its server id and where its link service listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub id: u64,
    pub addr: SocketAddr,
}

/// How the links of one member are set up.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// This member's server id (`myid`).
    pub my_id: u64,
    /// Where this member accepts links from its peers.
    pub listen: SocketAddr,
    /// Every other member.
    pub peers: Vec<Peer>,
    /// Frames waiting to go to one peer; more are refused with `SendError::QueueFull`.
    pub send_queue_frames: usize,
    /// Events waiting for the host; a full inbox holds back the senders (gRPC flow control).
    pub inbox_events: usize,
    /// The largest frame sent or accepted; `send` refuses a longer one. A SNAP carries a whole
    /// serialized snapshot, the largest frame there is, so this bounds the data tree an
    /// ensemble can sync.
    pub max_frame_bytes: u64,
    /// The largest gRPC message on a link: a longer frame travels as several pieces of at most
    /// this size (one byte of each says whether more follow) and is put together on arrival.
    pub max_piece_bytes: usize,
    /// How long one connection attempt may take.
    pub connect_timeout_ms: u64,
    /// Wait after a failed attempt, doubling up to `retry_max_ms`.
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    /// Mutual TLS between members (ZooKeeper's `sslQuorum`); `None`: plain TCP. Each new
    /// connection, either way, takes the source's current material, so a host that reloads
    /// its certificate files changes what later connections use without a restart.
    pub tls: Option<Arc<dyn TlsSource>>,
}

/// Where the TLS material of member links comes from.
pub trait TlsSource: Send + Sync + 'static {
    /// The material for the next connection.
    fn current(&self) -> NetTls;
}

impl TlsSource for NetTls {
    fn current(&self) -> NetTls {
        self.clone()
    }
}

/// The PEM material of a member's TLS links: its certificate chain and private key, which it
/// shows as a server and as a client, and the CAs the other members' certificates must chain
/// to.
#[derive(Clone)]
pub struct NetTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub ca_pem: Vec<u8>,
}

impl std::fmt::Debug for dyn TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSource")
    }
}

/// The rustls server side of a link: this member's certificate, and client certificates
/// required to chain to the CAs; HTTP/2 by ALPN, as gRPC clients ask.
fn server_tls(tls: &NetTls) -> Result<tokio_rustls::rustls::ServerConfig, String> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&tls.cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem).map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&tls.ca_pem) {
        roots
            .add(ca.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl std::fmt::Debug for NetTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("NetTls").finish_non_exhaustive()
    }
}

impl NetConfig {
    /// A configuration with Paddock's defaults for the bounds and timings.
    pub fn new(my_id: u64, listen: SocketAddr, peers: Vec<Peer>) -> NetConfig {
        NetConfig {
            my_id,
            listen,
            peers,
            send_queue_frames: 4096,
            inbox_events: 16384,
            max_frame_bytes: 16 << 30,
            max_piece_bytes: 4 << 20,
            connect_timeout_ms: 5000,
            retry_min_ms: 50,
            retry_max_ms: 2000,
            tls: None,
        }
    }

    /// The largest gRPC message: a piece and its one-byte header.
    fn max_message_bytes(&self) -> usize {
        self.max_piece_bytes.max(1).saturating_add(1)
    }
}

/// Which way a link goes, seen from this member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Frames from this member to the peer.
    Outbound,
    /// Frames from the peer to this member.
    Inbound,
}

/// What the links tell the host, in the order it happened on each link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame {
        from: u64,
        frame: Bytes,
    },
    /// A link to or from `peer` opened.
    Up {
        peer: u64,
        direction: Direction,
    },
    /// A link to or from `peer` closed; frames queued on an outbound link before it closed
    /// may have been lost.
    Down {
        peer: u64,
        direction: Direction,
    },
}

/// Counters of one outbound link.
#[derive(Debug, Default)]
pub struct LinkStats {
    pub frames_sent: AtomicU64,
    /// gRPC messages the frames went in: fewer than the frames when short ones were queued
    /// together and went as batches.
    pub messages_sent: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub connects: AtomicU64,
}

/// A frame as it waits in a link's queue: most are one buffer; a frame sent as a header and a
/// body (`Net::send_split`, a SNAP and its snapshot) keeps the body where it is.
enum Frame {
    One(Bytes),
    Split(Bytes, Bytes),
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Frame::One(b) => b.len(),
            Frame::Split(head, body) => head.len() + body.len(),
        }
    }

    /// The pieces of the frame, at most `max_bytes` each: the receiver puts them together,
    /// so where a piece ends does not matter.
    fn pieces(self, max_bytes: usize) -> impl Iterator<Item = Piece> {
        let (head, body) = match self {
            Frame::One(b) => (None, b),
            Frame::Split(head, body) => (Some(head), body),
        };
        let head = head
            .into_iter()
            .flat_map(move |h| Piece::split(h, max_bytes).map(|p| Piece { more: true, ..p }));
        head.chain(Piece::split(body, max_bytes))
    }
}

struct Outbound {
    queue: mpsc::Sender<Frame>,
    stats: Arc<LinkStats>,
}

/// The links of one member. Dropping it closes them all.
pub struct Net {
    my_id: u64,
    local_addr: SocketAddr,
    outbound: HashMap<u64, Outbound>,
    /// `NetConfig::max_frame_bytes`: `send` refuses longer frames.
    max_frame_bytes: u64,
    tasks: Vec<JoinHandle<()>>,
    /// Set on drop: ends the inbound streams and the listener.
    stop: watch::Sender<bool>,
}

impl Net {
    /// Binds the listener, starts serving peers and starts connecting to each of them.
    /// Returns the links and the inbox of events.
    pub async fn start(cfg: NetConfig) -> Result<(Net, mpsc::Receiver<Event>), NetError> {
        validate_peers(&cfg)?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| NetError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| NetError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let (inbox, events) = mpsc::channel(cfg.inbox_events.max(1));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(serve(&cfg, listener, inbox.clone(), stopped))];
        let mut outbound = HashMap::new();
        for peer in &cfg.peers {
            let (queue, rx) = mpsc::channel(cfg.send_queue_frames.max(1));
            let stats = Arc::new(LinkStats::default());
            let link = OutboundLink {
                my_id: cfg.my_id,
                peer: *peer,
                cfg: cfg.clone(),
                stats: stats.clone(),
                inbox: inbox.clone(),
            };
            tasks.push(tokio::spawn(link.run(rx)));
            outbound.insert(peer.id, Outbound { queue, stats });
        }
        let net = Net {
            my_id: cfg.my_id,
            local_addr,
            outbound,
            max_frame_bytes: cfg.max_frame_bytes,
            tasks,
            stop,
        };
        Ok((net, events))
    }

    pub fn my_id(&self) -> u64 {
        self.my_id
    }

    /// The address peers reach this member on (the bound port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Queues a frame for `to` without waiting. A full queue drops the frame.
    pub fn send(&self, to: u64, frame: Bytes) -> Result<(), SendError> {
        self.enqueue(to, Frame::One(frame))
    }

    /// `send` of the frame `head` followed by `body`, without copying them into one buffer
    /// (a snapshot of hundreds of megabytes behind its few bytes of header).
    pub fn send_split(&self, to: u64, head: Bytes, body: Bytes) -> Result<(), SendError> {
        self.enqueue(to, Frame::Split(head, body))
    }

    fn enqueue(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        let link = self.outbound.get(&to).ok_or(SendError::UnknownPeer(to))?;
        let bytes = frame.len() as u64;
        if bytes > self.max_frame_bytes {
            link.stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
            return Err(SendError::TooLarge {
                bytes,
                max_bytes: self.max_frame_bytes,
            });
        }
        link.queue.try_send(frame).map_err(|e| {
            link.stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
            match e {
                mpsc::error::TrySendError::Full(_) => SendError::QueueFull(to),
                mpsc::error::TrySendError::Closed(_) => SendError::Closed,
            }
        })
    }

    /// Counters of the outbound link to `peer`.
    /// Frames waiting in the outbound queue to `peer` (ZooKeeper's `LearnerHandler` queue size).
    pub fn queued(&self, peer: u64) -> usize {
        self.outbound
            .get(&peer)
            .map_or(0, |o| o.queue.max_capacity() - o.queue.capacity())
    }

    pub fn stats(&self, peer: u64) -> Option<&LinkStats> {
        self.outbound.get(&peer).map(|l| &*l.stats)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // The listener's connections run in tasks of their own; the inbound streams watch this
        // flag so that a stopped member really goes away for its peers.
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn validate_peers(cfg: &NetConfig) -> Result<(), NetError> {
    let mut seen = std::collections::HashSet::new();
    for peer in &cfg.peers {
        if peer.id == cfg.my_id {
            return Err(NetError::SelfAsPeer(peer.id));
        }
        if !seen.insert(peer.id) {
            return Err(NetError::DuplicatePeer(peer.id));
        }
    }
    Ok(())
}

/// The listening side: one `Send` stream per connected peer.
struct LinkService {
    known: Vec<u64>,
    inbox: mpsc::Sender<Event>,
    max_frame_bytes: u64,
    stopped: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl Link for LinkService {
    async fn send(
        &self,
        request: Request<Streaming<Message>>,
    ) -> Result<Response<Message>, Status> {
        let from = sender_id(&request)?;
        if !self.known.contains(&from) {
            return Err(Status::permission_denied(format!(
                "server id {from} is not a member of this ensemble"
            )));
        }
        if let Err(status) = check_link_format(&request) {
            // Two builds that cannot talk: worth the operator's eye, once per attempt.
            tracing::warn!(peer = from, "ensemble link refused: {}", status.message());
            return Err(status);
        }
        let mut stream = request.into_inner();
        let up = Event::Up {
            peer: from,
            direction: Direction::Inbound,
        };
        if self.inbox.send(up).await.is_err() {
            return Err(Status::unavailable("shutting down"));
        }
        let mut stopped = self.stopped.clone();
        let result = tokio::select! {
            result = forward_inbound(from, &mut stream, &self.inbox, self.max_frame_bytes) => result,
            _ = stopped.wait_for(|stop| *stop) => Err(Status::unavailable("shutting down")),
        };
        let down = Event::Down {
            peer: from,
            direction: Direction::Inbound,
        };
        let _ = self.inbox.send(down).await;
        result.map(|()| Response::new(Message::default()))
    }
}

/// Hands each frame to the host once its last piece arrived, and a batch's frames in their
/// order. A stream that ends mid-frame loses that frame, as a broken stream loses the frames
/// in flight on it.
async fn forward_inbound(
    from: u64,
    stream: &mut Streaming<Message>,
    inbox: &mpsc::Sender<Event>,
    max_frame_bytes: u64,
) -> Result<(), Status> {
    let mut frames = Reassembly::new(max_frame_bytes);
    while let Some(message) = stream.message().await? {
        match message {
            Message::Piece(piece) => {
                if let Some(frame) = frames.push(piece)? {
                    deliver(inbox, from, frame).await?;
                }
            }
            Message::Batch(batch) => {
                for frame in frames.push_batch(batch)? {
                    deliver(inbox, from, frame).await?;
                }
            }
        }
    }
    Ok(())
}

async fn deliver(inbox: &mpsc::Sender<Event>, from: u64, frame: Bytes) -> Result<(), Status> {
    inbox
        .send(Event::Frame { from, frame })
        .await
        .map_err(|_| Status::unavailable("shutting down"))
}

fn check_link_format<T>(request: &Request<T>) -> Result<(), Status> {
    let theirs = request.metadata().get(LINK_FORMAT_HEADER);
    let theirs = theirs.map(|v| v.to_str().unwrap_or("unreadable"));
    if theirs == Some(LINK_FORMAT) {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "the peer speaks link format {}, this member {LINK_FORMAT}: members of Paddock builds \
         with different link formats cannot form an ensemble",
        theirs.unwrap_or("1 (no paddock-link-format header)")
    )))
}

fn sender_id<T>(request: &Request<T>) -> Result<u64, Status> {
    request
        .metadata()
        .get(SERVER_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Status::invalid_argument("missing or bad paddock-server-id header"))
}

fn serve(
    cfg: &NetConfig,
    listener: TcpListener,
    inbox: mpsc::Sender<Event>,
    stopped: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> {
    let service = LinkService {
        known: cfg.peers.iter().map(|p| p.id).collect(),
        inbox,
        max_frame_bytes: cfg.max_frame_bytes,
        stopped: stopped.clone(),
    };
    let server = LinkServer::new(service)
        .max_decoding_message_size(cfg.max_message_bytes())
        .max_encoding_message_size(cfg.max_message_bytes());
    let tls = cfg.tls.clone();
    async move {
        let Some(tls) = tls else {
            serve_until_stopped(server, TcpListenerStream::new(listener), stopped).await;
            return;
        };
        // TLS: each accepted connection is handshaken with the source's current material,
        // off the accept loop, and handed to the gRPC server once established.
        let (tx, rx) = mpsc::channel(64);
        let mut accepting = stopped.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = accepting.wait_for(|stop| *stop) => return,
                };
                let Ok((tcp, addr)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let tx = tx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    // The material (which may read files) and the rustls configuration are
                    // taken here, not on the accept loop.
                    let config = match server_tls(&tls.current()) {
                        Ok(c) => Arc::new(c),
                        Err(e) => {
                            tracing::error!(error = %e, "ensemble link TLS configuration refused");
                            return;
                        }
                    };
                    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(tcp);
                    match tokio::time::timeout(Duration::from_secs(10), handshake).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send(Ok::<_, std::io::Error>(stream)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%addr, error = %e, "link TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%addr, "link TLS handshake timed out"),
                    }
                });
            }
        });
        serve_until_stopped(server, ReceiverStream::new(rx), stopped).await;
    }
}

/// Runs the link service on `incoming` connections until the member stops.
async fn serve_until_stopped<I, IO, IE>(
    server: LinkServer<LinkService>,
    incoming: I,
    mut stopped: watch::Receiver<bool>,
) where
    I: tokio_stream::Stream<Item = Result<IO, IE>>,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let result = Server::builder()
        .initial_stream_window_size(Some(LINK_WINDOW_BYTES))
        .initial_connection_window_size(Some(LINK_WINDOW_BYTES))
        .add_service(server)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "ensemble link service stopped");
    }
}

/// The sending side of the link to one peer: connects, streams queued frames, and
/// reconnects with backoff when the stream breaks.
struct OutboundLink {
    my_id: u64,
    peer: Peer,
    cfg: NetConfig,
    stats: Arc<LinkStats>,
    inbox: mpsc::Sender<Event>,
}

impl OutboundLink {
    async fn run(self, queue: mpsc::Receiver<Frame>) {
        let queue: SharedQueue = Arc::new(std::sync::Mutex::new(queue));
        let mut backoff_ms = self.cfg.retry_min_ms;
        loop {
            match self.connect().await {
                Ok(client) => {
                    backoff_ms = self.cfg.retry_min_ms;
                    self.stats.connects.fetch_add(1, Ordering::Relaxed);
                    if !self.stream(client, &queue).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = self.peer.id, error = %e, "cannot reach ensemble member");
                }
            }
            tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
            backoff_ms = (backoff_ms * 2).min(self.cfg.retry_max_ms.max(self.cfg.retry_min_ms));
        }
    }

    async fn connect(&self) -> Result<LinkClient<Channel>, tonic::transport::Error> {
        let scheme = if self.cfg.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", self.peer.addr))?
            .connect_timeout(Duration::from_millis(self.cfg.connect_timeout_ms))
            .tcp_nodelay(true);
        if let Some(source) = &self.cfg.tls {
            let tls = source.current();
            let config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.ca_pem))
                .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
                .domain_name(self.peer.addr.ip().to_string());
            endpoint = endpoint.tls_config(config)?;
        }
        let channel = endpoint.connect().await?;
        Ok(LinkClient::new(channel)
            .max_decoding_message_size(self.cfg.max_message_bytes())
            .max_encoding_message_size(self.cfg.max_message_bytes()))
    }

    /// Streams frames until the link breaks (returns true: reconnect) or the member shuts
    /// down (returns false). Each stream's body takes frames from the queue itself, as the
    /// connection asks for them: no task between the queue and the connection.
    async fn stream(&self, mut client: LinkClient<Channel>, queue: &SharedQueue) -> bool {
        let body = FrameStream {
            queue: queue.clone(),
            out: Outgoing {
                pieces: std::collections::VecDeque::new(),
                held: None,
                max_piece_bytes: self.cfg.max_piece_bytes,
                stats: self.stats.clone(),
            },
        };
        let mut request = Request::new(body);
        let id = MetadataValue::from(self.my_id);
        request.metadata_mut().insert(SERVER_ID_HEADER, id);
        let format = MetadataValue::from_static(LINK_FORMAT);
        request.metadata_mut().insert(LINK_FORMAT_HEADER, format);
        let up = Event::Up {
            peer: self.peer.id,
            direction: Direction::Outbound,
        };
        if self.inbox.send(up).await.is_err() {
            return false;
        }
        if let Err(status) = client.send(request).await {
            tracing::debug!(peer = self.peer.id, %status, "ensemble link closed");
        }
        // The body ends by itself only when the queue closes: the member is shutting down.
        let alive = !queue.lock().expect("the link queue lock").is_closed();
        let down = Event::Down {
            peer: self.peer.id,
            direction: Direction::Outbound,
        };
        alive && self.inbox.send(down).await.is_ok()
    }
}

/// A link's queue of frames, shared by the streams that take turns sending them: frames a
/// broken stream did not take wait there for the next.
type SharedQueue = Arc<std::sync::Mutex<mpsc::Receiver<Frame>>>;

/// The body of one link stream: the queue's frames as messages. What this stream took from
/// the queue is lost with it if it breaks, as ZAB allows.
struct FrameStream {
    queue: SharedQueue,
    out: Outgoing,
}

/// How frames become messages: a frame too long for one message goes as pieces; short
/// frames waiting together go as one batch.
struct Outgoing {
    /// The rest of a long frame's pieces, sent before anything else.
    pieces: std::collections::VecDeque<Piece>,
    /// A frame taken from the queue that did not fit the last batch; it goes next.
    held: Option<Frame>,
    max_piece_bytes: usize,
    stats: Arc<LinkStats>,
}

impl Outgoing {
    /// The next message, starting with `first`: the short frames queued behind it join it
    /// in a batch while they fit.
    fn message(&mut self, first: Frame, queue: &mut mpsc::Receiver<Frame>) -> Message {
        let cap = BATCH_MAX_BYTES.min(self.max_piece_bytes);
        let mut batch = Vec::new();
        let mut size = 0;
        let mut next = Some(first);
        while let Some(frame) = next.take().or_else(|| queue.try_recv().ok()) {
            match frame {
                Frame::One(bytes) if size + Message::batched_len(&bytes) <= cap => {
                    size += Message::batched_len(&bytes);
                    batch.push(bytes);
                }
                other => {
                    self.held = Some(other);
                    break;
                }
            }
        }
        if batch.is_empty() {
            // `first` fits no batch: it goes in pieces.
            let long = self.held.take().expect("the frame that did not fit");
            self.pieces.extend(long.pieces(self.max_piece_bytes));
            let piece = self.pieces.pop_front().expect("a frame has a piece");
            return self.sent(Message::Piece(piece), 0);
        }
        let count = batch.len() as u64;
        let message = match <[Bytes; 1]>::try_from(batch) {
            Ok([bytes]) => Message::Piece(Piece { more: false, bytes }),
            Err(batch) => Message::Batch(batch),
        };
        self.sent(message, count)
    }

    /// Counts `message`, which ends `frames` frames.
    fn sent(&self, message: Message, frames: u64) -> Message {
        self.stats.messages_sent.fetch_add(1, Ordering::Relaxed);
        self.stats.frames_sent.fetch_add(frames, Ordering::Relaxed);
        message
    }
}

impl tokio_stream::Stream for FrameStream {
    type Item = Message;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Message>> {
        use std::task::Poll;
        let FrameStream { queue, out } = self.get_mut();
        if let Some(piece) = out.pieces.pop_front() {
            let ends_frame = u64::from(!piece.more);
            return Poll::Ready(Some(out.sent(Message::Piece(piece), ends_frame)));
        }
        let mut queue = queue.lock().expect("the link queue lock");
        let first = match out.held.take() {
            Some(frame) => frame,
            None => match queue.poll_recv(cx) {
                Poll::Ready(Some(frame)) => frame,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            },
        };
        Poll::Ready(Some(out.message(first, &mut queue)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_format(format: Option<&'static str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(f) = format {
            let value = MetadataValue::from_static(f);
            request.metadata_mut().insert(LINK_FORMAT_HEADER, value);
        }
        request
    }

    #[test]
    fn a_stream_in_another_link_format_is_refused_by_name() {
        assert!(check_link_format(&with_format(Some(LINK_FORMAT))).is_ok());
        let old = check_link_format(&with_format(None)).unwrap_err();
        assert_eq!(old.code(), tonic::Code::FailedPrecondition);
        assert!(old.message().contains("link format 1"), "{}", old.message());
        let unbatched = check_link_format(&with_format(Some("2"))).unwrap_err();
        assert!(
            unbatched.message().contains("link format 2"),
            "{}",
            unbatched.message()
        );
        let newer = check_link_format(&with_format(Some("4"))).unwrap_err();
        assert!(
            newer.message().contains("link format 4"),
            "{}",
            newer.message()
        );
    }
}
