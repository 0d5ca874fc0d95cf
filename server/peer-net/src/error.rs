//! Errors of the link layer.

use std::net::SocketAddr;

/// Starting the links failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot listen for ensemble members on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server id {0} is listed as its own peer")]
    SelfAsPeer(u64),
    #[error("server id {0} is listed twice")]
    DuplicatePeer(u64),
}

/// A frame could not be queued. The frame is dropped: the ZAB core treats links as lossy and
/// recovers from a lost message by timing out, as it must anyway when a peer dies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("no ensemble member with server id {0}")]
    UnknownPeer(u64),
    #[error("the send queue to server {0} is full")]
    QueueFull(u64),
    #[error("the links are shut down")]
    Closed,
    #[error("a frame of {bytes} bytes is more than the {max_bytes} a link carries")]
    TooLarge { bytes: u64, max_bytes: u64 },
}
