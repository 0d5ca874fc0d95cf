//! Serving the HTTP ports (AdminServer, `/metrics`).
//!
//! They start before the data directory is recovered, so that a liveness probe answers while a
//! large snapshot loads ([`HttpState`] is empty until the server serves). Handlers reach the
//! server through a weak reference: an HTTP connection left open never keeps the server from
//! shutting down. Each port bounds its open connections: each accepted connection holds a
//! permit until it closes, and the listener waits for a free permit before accepting the next.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServerConfig;
use crate::server::{ServerError, Shared};

/// What the HTTP handlers reach the server through.
#[derive(Debug, Default)]
pub struct HttpState {
    shared: OnceLock<Weak<Shared>>,
    /// `admin.commandURL`, for the AdminServer's routes and listing.
    pub admin_command_url: String,
}

impl HttpState {
    pub fn new(admin_command_url: &str) -> Self {
        HttpState {
            shared: OnceLock::new(),
            admin_command_url: admin_command_url.to_owned(),
        }
    }

    /// The running server, or `None` while it recovers and after it stopped.
    pub fn serving(&self) -> Option<Arc<Shared>> {
        self.shared.get().and_then(Weak::upgrade)
    }

    /// The server is ready: handlers answer from it from now on.
    pub fn set_serving(&self, shared: &Arc<Shared>) {
        let _ = self.shared.set(Arc::downgrade(shared));
    }
}

/// The HTTP servers of one server; dropping it stops them accepting.
#[derive(Debug, Default)]
pub struct HttpServers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Where `/metrics` is served.
    pub metrics: Option<std::net::SocketAddr>,
    /// Where the AdminServer listens.
    pub admin: Option<std::net::SocketAddr>,
}

impl HttpServers {
    /// Starts the Prometheus endpoint (fatal if it cannot bind, as in ZooKeeper) and the
    /// AdminServer (logged and skipped if it cannot bind, as in ZooKeeper) as configured.
    pub async fn start(cfg: &ServerConfig, state: &Arc<HttpState>) -> Result<Self, ServerError> {
        let mut servers = HttpServers::default();
        if let Some(listener) = bind_metrics(cfg).await? {
            servers.metrics = listener.local_addr().ok();
            let router = crate::exporter::router(state.clone());
            servers
                .tasks
                .push(tokio::spawn(serve(listener, router, "metrics")));
        }
        if let Some(listener) = bind_admin(cfg).await {
            servers.admin = listener.local_addr().ok();
            let router = crate::admin::router(state.clone());
            servers
                .tasks
                .push(tokio::spawn(serve(listener, router, "AdminServer")));
        }
        Ok(servers)
    }
}

impl Drop for HttpServers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds the Prometheus endpoint when it is enabled.
async fn bind_metrics(cfg: &ServerConfig) -> Result<Option<TcpListener>, ServerError> {
    if !cfg.prometheus_enabled() {
        return Ok(None);
    }
    let host = cfg.metrics_http_host.as_str();
    let port = cfg.metrics_http_port;
    let addr = tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], port)));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    if let Ok(bound) = listener.local_addr() {
        tracing::info!("serving Prometheus metrics on http://{bound}/metrics");
    }
    Ok(Some(listener))
}

/// Binds the AdminServer when it is enabled.
async fn bind_admin(cfg: &ServerConfig) -> Option<TcpListener> {
    if !cfg.admin_enable_server {
        return None;
    }
    let addr = std::net::SocketAddr::new(cfg.admin_server_address, cfg.admin_server_port);
    match TcpListener::bind(addr).await {
        Ok(listener) => {
            let bound = listener.local_addr().unwrap_or(addr);
            tracing::info!(
                "Started AdminServer on address {}, port {} and command URL {}",
                bound.ip(),
                bound.port(),
                cfg.admin_command_url
            );
            Some(listener)
        }
        Err(e) => {
            tracing::warn!("Problem starting AdminServer on {addr}: {e}");
            None
        }
    }
}

/// Open HTTP connections per port. Scrapers and probes need a handful; the bound keeps a
/// flood of idle connections from holding unbounded memory.
pub const MAX_HTTP_CONNECTIONS: usize = 64;

/// A listener that accepts at most `limit` connections at a time.
pub struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, limit: usize) -> Self {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(limit)),
        }
    }
}

/// A connection and the permit it holds.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // The semaphore is never closed, so acquiring only waits.
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    return (
                        LimitedStream {
                            stream,
                            _permit: permit,
                        },
                        addr,
                    )
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("HTTP accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The address of the HTTP client, for handlers that authenticate by address (`ip`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, LimitedListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, LimitedListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// Serves `router` on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, router: axum::Router, what: &'static str) {
    let listener = LimitedListener::new(listener, MAX_HTTP_CONNECTIONS);
    let service = router.into_make_service_with_connect_info::<PeerAddr>();
    if let Err(e) = axum::serve(listener, service).await {
        tracing::error!("the {what} HTTP server stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;

    #[tokio::test]
    async fn each_open_connection_holds_a_permit_until_it_closes() {
        let inner = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = inner.local_addr().expect("addr");
        let mut listener = LimitedListener::new(inner, 2);
        let _c1 = TcpStream::connect(addr).await.expect("connect");
        let (first, _) = listener.accept().await;
        assert_eq!(listener.permits.available_permits(), 1);
        let _c2 = TcpStream::connect(addr).await.expect("connect");
        let (second, _) = listener.accept().await;
        assert_eq!(
            listener.permits.available_permits(),
            0,
            "full: accept now waits"
        );
        drop(first);
        assert_eq!(
            listener.permits.available_permits(),
            1,
            "a close frees its permit"
        );
        drop(second);
    }
}
