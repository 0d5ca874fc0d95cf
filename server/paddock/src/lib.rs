//! The Paddock server: the tokio layer around `paddock_core::State`.
//!
//! Map of the crate:
//! - `config`: zoo.cfg parsing into `ServerConfig` (ZooKeeper's keys and defaults).
//! - `server`: the listener, connection limits, startup and shutdown.
//! - `conn`: one connection: frames in, typed requests to the core task, frames out.
//! - `core_task`: the single task that owns the state machine and orders everything.
//! - `persist`: recovery, the log writer thread (group commit), background snapshots,
//!   autopurge.
//! - `quorum`: an ensemble member's ZAB core, peer links and epoch files (driven by
//!   `core_task::member`).
//! - `outbox`: each connection's queue of frames, bounded in frames and bytes.
//! - `fourlw`: four-letter words on the client port.
//! - `admin`: the AdminServer (ZooKeeper's JSON commands) and the health probes.
//! - `exporter`: the Prometheus `/metrics` endpoint.
//! - `http`: serving those HTTP ports with a bound on open connections.
//! - `metrics`: ZooKeeper's counters and summaries by name, and Paddock's own metrics.
//! - `stats`: server and per-connection statistics (latency, packets, last operation).
//! - `tls`: the secure client port (rustls, PEM stores reloaded on change, `x509` ids).
//! - `logging`: the tracing subscriber, human or JSON, with a filter changeable at runtime.
//! - `tools`: the offline tools (cleanup, log and snapshot dumps).
//! - `wire`: frame builders.

pub mod admin;
pub mod config;
pub mod conn;
pub mod core_task;
pub mod exporter;
pub mod fourlw;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod persist;
pub mod quorum;
pub mod server;
pub mod stats;
pub mod tls;
pub mod tools;
pub mod wire;

pub use server::{Server, ServerError};
