//! The Paddock server: the tokio layer around `paddock_core::State`.
//!
//! Map of the crate:
//! - `config`: zoo.cfg parsing into `ServerConfig` (ZooKeeper's keys and defaults).
//! - `server`: the listener, connection limits, startup and shutdown.
//! - `conn`: one connection: frames in, typed requests to the core task, frames out.
//! - `core_task`: the single task that owns the state machine and orders everything.
//! - `persist`: recovery, the log writer thread (group commit), background snapshots,
//!   autopurge.
//! - `outbox`: each connection's queue of frames, bounded in frames and bytes.
//! - `fourlw`: four-letter words on the client port.
//! - `tools`: the offline tools (cleanup, log and snapshot dumps).
//! - `wire`, `stats`: frame builders and counters.

pub mod config;
pub mod conn;
pub mod core_task;
pub mod fourlw;
pub mod outbox;
pub mod persist;
pub mod server;
pub mod stats;
pub mod tools;
pub mod wire;

pub use server::{Server, ServerError};
