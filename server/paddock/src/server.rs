//! The listener: accepts connections, enforces connection limits, starts the core task, and
//! shuts everything down in order.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::ServerConfig;
use crate::core_task::{Clock, CoreError, CoreMsg, CoreTask};
use crate::http::{HttpServers, HttpState};
use crate::metrics::ServerMetrics;
use crate::persist::{autopurge, recover, recover_member, PersistError, Recovered, Storage};
use crate::quorum::{Quorum, QuorumError, QuorumSetup};
use paddock_storage::{Fs, RealFs};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("recovering the data directory: {0}")]
    Recovery(#[from] PersistError),
    #[error("{0}")]
    Core(#[from] CoreError),
    #[error("starting the ensemble member: {0}")]
    Quorum(#[from] QuorumError),
    #[error("the TLS client port: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("the core task ended abnormally: {0}")]
    CoreTask(String),
}

/// What every connection task shares.
pub struct Shared {
    pub core: mpsc::Sender<CoreMsg>,
    /// Largest accepted frame: `jute.maxbuffer` (ZooKeeper's `len > maxBuffer` check in
    /// NIOServerCnxn; the extra allowance only widens per-field checks).
    pub max_frame_bytes: u32,
    /// A connection that has not sent its ConnectRequest by then is dropped.
    pub handshake_timeout: Duration,
    /// Bytes of replies and events queued for one connection before it is closed as too
    /// slow: room for several maximal replies.
    pub outbox_max_bytes: usize,
    pub config: ServerConfig,
    /// The counters and summaries of `mntr` and `/metrics`.
    pub metrics: Arc<ServerMetrics>,
    /// `ZooTrace`'s text trace level, read by `gtmk` and set by `stmk`.
    pub trace_mask: AtomicI64,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    /// Open client sockets, four-letter-word ones included (`num_alive_connections`).
    open: AtomicU64,
}

impl Shared {
    pub fn four_letter_word_allowed(&self, cmd: &str) -> bool {
        self.config.four_letter_word_allowed(cmd)
    }

    /// Client sockets open now, as ZooKeeper counts them (`ServerCnxnFactory.getNumAliveConnections`).
    pub fn open_connections(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }
}

/// Releases a connection's slot in the per-address count when the connection ends.
struct ConnSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
        let mut per_ip = self.shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

pub struct Server {
    listener: TcpListener,
    /// `secureClientPort`, when set: TLS client connections.
    secure: Option<(TcpListener, Arc<crate::tls::TlsAcceptor>)>,
    shared: Arc<Shared>,
    core: tokio::task::JoinHandle<Result<(), CoreError>>,
    purge: tokio::task::JoinHandle<()>,
    /// The AdminServer and the Prometheus endpoint, started before recovery.
    http: HttpServers,
}

impl Server {
    /// Validates the configuration, recovers the data directory (creating it if needed, as
    /// ZooKeeper does), binds the client port and starts the core task. Port 0 picks a free
    /// port (see `local_addr`).
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        Server::bind_with_fs(config, Arc::new(RealFs)).await
    }

    /// `bind` over any filesystem: tests pass a `FaultFs` to inject full disks, failed
    /// fsyncs and crashes.
    pub async fn bind_with_fs(
        config: ServerConfig,
        fs: Arc<dyn Fs>,
    ) -> Result<Server, ServerError> {
        config.validate()?;
        let addr = SocketAddr::new(config.client_port_address, config.client_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let secure = match config.secure_client_port {
            Some(port) => {
                let acceptor = Arc::new(crate::tls::TlsAcceptor::new(&config.tls)?);
                let addr = SocketAddr::new(config.secure_client_port_address, port);
                let tls = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?;
                Some((tls, acceptor))
            }
            None => None,
        };
        // Liveness answers (and readiness says no) while the data directory loads.
        let http_state = Arc::new(HttpState::new(&config.admin_command_url));
        let http = HttpServers::start(&config, &http_state).await?;
        let inbox_capacity = config.global_outstanding_limit.max(1) as usize;
        let (core_tx, core_rx) = mpsc::channel(inbox_capacity);
        let clock = Clock::start();
        let metrics = Arc::new(ServerMetrics::new());
        let mut storage = Storage::new(&config, fs);
        storage.metrics = metrics.clone();
        let member = config.is_distributed();
        let mut recovered = if member {
            recover_member(&storage, config.core_config(), clock.now_ms())?
        } else {
            recover(&storage, config.core_config(), clock.now_ms())?
        };
        report_recovery(&storage, &recovered);
        let quorum = if member {
            let setup = QuorumSetup::from_config(&config)?;
            let tail = std::mem::take(&mut recovered.log_tail);
            let applied = recovered.state.last_zxid();
            tracing::info!(
                "ensemble member {}: {} logged transactions after zxid {applied:#x} wait for a leader",
                setup.zab.my_id,
                tail.len()
            );
            Some(Quorum::start(setup, &storage, applied, tail).await?)
        } else {
            None
        };
        // ZooKeeperServer.loadData and FileTxnSnapLog.restore: `dbinittime` is the whole
        // load, the other two its parts.
        let ms = |d: Duration| d.as_millis() as i64;
        metrics.observe("startup_snap_load_time", ms(recovered.snapshot_load));
        metrics.observe("startup_txns_load_time", ms(recovered.log_replay));
        metrics.observe("startup_txns_loaded", recovered.replayed as i64);
        let init = recovered.snapshot_load + recovered.log_replay;
        metrics.observe("dbinittime", ms(init));
        let mismatches = recovered.state.digest_log().mismatches();
        if mismatches > 0 {
            metrics.count("digest_mismatches_count", mismatches);
        }
        if let Some(zxid) = recovered.snapshot_zxid {
            metrics.snapshot_taken(zxid);
        }
        let snapshot_now = recovered.replayed > 0 || recovered.snapshot_zxid.is_none();
        let task = CoreTask::new(
            recovered.state,
            clock,
            metrics.clone(),
            storage.clone(),
            snapshot_now,
            quorum,
        );
        let core = tokio::spawn(task.run(core_rx));
        let purge = tokio::spawn(autopurge(storage));
        let max_frame_bytes = config.jute_max_buffer_bytes;
        let handshake_timeout = Duration::from_millis(u64::from(config.tick_ms) * 10);
        let shared = Arc::new(Shared {
            core: core_tx,
            max_frame_bytes,
            handshake_timeout,
            outbox_max_bytes: (max_frame_bytes as usize).saturating_mul(4).max(32 << 20),
            config,
            metrics,
            trace_mask: AtomicI64::new(crate::fourlw::DEFAULT_TRACE_MASK),
            per_ip: Mutex::new(HashMap::new()),
            open: AtomicU64::new(0),
        });
        http_state.set_serving(&shared);
        Ok(Server {
            listener,
            secure,
            shared,
            core,
            purge,
            http,
        })
    }

    /// Where `/metrics` is served, when the Prometheus endpoint is enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.http.metrics
    }

    /// Where the AdminServer listens, when it is enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.http.admin
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then stops accepting, closes every connection and
    /// waits for the core task to finish what it was given.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Server {
            listener,
            secure,
            shared,
            mut core,
            purge,
            http,
        } = self;
        let mut core_result = None;
        let next_conn = AtomicU64::new(1);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // The core task only stops on its own when the log failed.
                result = &mut core => {
                    core_result = Some(result);
                    break;
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let conn = next_conn.fetch_add(1, Ordering::Relaxed);
                        if let Some(slot) = admit(&shared, peer, &conns) {
                            conns.spawn(serve(stream, peer, conn, slot));
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                accepted = accept_secure(&secure), if secure.is_some() => match accepted {
                    Ok((stream, peer)) => {
                        let conn = next_conn.fetch_add(1, Ordering::Relaxed);
                        if let Some(slot) = admit(&shared, peer, &conns) {
                            let acceptor = secure.as_ref().expect("guarded").1.clone();
                            conns.spawn(serve_tls(stream, peer, conn, slot, acceptor));
                        }
                    }
                    Err(e) => {
                        tracing::warn!("TLS accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        tracing::info!("shutting down: closing {} connections", conns.len());
        drop(listener);
        drop(secure);
        // HTTP handlers hold the server only weakly: once the last strong reference below
        // goes, they answer "not serving" and the core task sees its inbox closed.
        drop(http);
        conns.abort_all();
        while conns.join_next().await.is_some() {}
        drop(shared);
        purge.abort();
        let result = match core_result {
            Some(result) => result,
            None => core.await,
        };
        match result {
            Ok(Ok(())) => {
                tracing::info!("shutdown complete");
                Ok(())
            }
            Ok(Err(e)) => Err(ServerError::Core(e)),
            Err(e) => Err(ServerError::CoreTask(e.to_string())),
        }
    }
}

/// Applies `maxClientCnxns` (per client address) and `maxCnxns` (total). ZooKeeper closes a
/// connection over either limit right after accepting it, without a word.
fn admit(shared: &Arc<Shared>, peer: SocketAddr, conns: &JoinSet<()>) -> Option<ConnSlot> {
    let cfg = &shared.config;
    if cfg.max_connections > 0 && conns.len() as u64 >= u64::from(cfg.max_connections) {
        tracing::warn!(%peer, "too many connections (maxCnxns={})", cfg.max_connections);
        shared.metrics.count("connection_rejected", 1);
        return None;
    }
    let mut per_ip = shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
    let n = per_ip.entry(peer.ip()).or_insert(0);
    if cfg.max_client_connections_per_ip > 0 && *n >= cfg.max_client_connections_per_ip {
        tracing::warn!(%peer, "too many connections from this address (maxClientCnxns={})",
            cfg.max_client_connections_per_ip);
        shared.metrics.count("connection_rejected", 1);
        return None;
    }
    *n += 1;
    shared.open.fetch_add(1, Ordering::Relaxed);
    Some(ConnSlot {
        shared: shared.clone(),
        ip: peer.ip(),
    })
}

async fn accept_secure(
    secure: &Option<(TcpListener, Arc<crate::tls::TlsAcceptor>)>,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    match secure {
        Some((listener, _)) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// A TLS client: the handshake (bounded by the handshake timeout), then the same connection
/// as on the plain port, with the certificate's subject as its `x509` identity.
async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    conn: u64,
    slot: ConnSlot,
    acceptor: Arc<crate::tls::TlsAcceptor>,
) {
    let shared = slot.shared.clone();
    let _ = stream.set_nodelay(true);
    let handshake = tokio_rustls::TlsAcceptor::from(acceptor.config()).accept(stream);
    match tokio::time::timeout(shared.handshake_timeout, handshake).await {
        Ok(Ok(tls)) => {
            let subject = acceptor
                .x509_auth()
                .then(|| tls.get_ref().1.peer_certificates()?.first().cloned())
                .flatten()
                .and_then(|cert| crate::tls::subject_name(&cert));
            let (read, write) = tokio::io::split(tls);
            crate::conn::serve_io(Box::new(read), Box::new(write), peer, conn, shared, subject)
                .await;
        }
        Ok(Err(e)) => tracing::info!(%peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
    }
    drop(slot);
}

async fn serve(stream: TcpStream, peer: SocketAddr, conn: u64, slot: ConnSlot) {
    let shared = slot.shared.clone();
    crate::conn::serve(stream, peer, conn, shared).await;
    drop(slot);
}

fn report_recovery(storage: &Storage, r: &Recovered) {
    match &r.snapshot_path {
        Some(path) => tracing::info!(
            "loaded snapshot {} in {:?}; replayed {} transactions from {} in {:?}; last zxid {:#x}",
            path.display(),
            r.snapshot_load,
            r.replayed,
            storage.log_dir.display(),
            r.log_replay,
            r.state.last_zxid()
        ),
        None => tracing::info!(
            "no snapshot in {}; replayed {} transactions in {:?}; last zxid {:#x}",
            storage.snap_dir.display(),
            r.replayed,
            r.log_replay,
            r.state.last_zxid()
        ),
    }
    // DataTree.reportDigestMismatch and FileTxnSnapLog.restore's warning.
    let digests = r.state.digest_log();
    if let Some(zxid) = digests.first_mismatch() {
        tracing::error!(
            "the tree digest differs from the recorded one at {} of {} checks, first at zxid \
             {zxid:#x}: the snapshot and the log disagree, or a transaction was applied \
             differently from the server that wrote them",
            digests.mismatches(),
            digests.compared()
        );
    } else if digests.compared() > 0 {
        tracing::info!(
            "the tree digest matched all {} recorded digests checked",
            digests.compared()
        );
    }
    if let Some(awaited) = digests.awaited() {
        tracing::warn!(
            "the log ends at zxid {:#x}, before zxid {:#x} that the snapshot's digest is of: \
             the digest is compared, and recording starts, only when a txn of that zxid is \
             applied",
            r.state.last_zxid(),
            awaited.zxid
        );
    }
}
