//! The tokio layer of the Paddock server. STUB.
pub mod config;
