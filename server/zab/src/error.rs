//! Typed errors. Bad input from a peer is an `Err` (the message is dropped and counted); a
//! broken invariant of our own is an `assert!`.

use crate::types::{Epoch, PeerId, Zxid};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("the persisted log is not in strictly increasing zxid order at {0}")]
    InvalidLog(Zxid),
    #[error("persisted acceptedEpoch {accepted} is below currentEpoch {current}")]
    InvalidEpochs { accepted: Epoch, current: Epoch },
    #[error("message from {0}, which is not a member of the ensemble")]
    UnknownPeer(PeerId),
    #[error("message from {from} on a connection that is no longer current")]
    StaleConnection { from: PeerId },
    #[error("duplicate message from {from} (sequence {seq})")]
    Duplicate { from: PeerId, seq: u64 },
    #[error("message from {from} out of sequence (expected {expected}, got {got}); link reset")]
    OutOfSequence {
        from: PeerId,
        expected: u64,
        got: u64,
    },
    #[error("{packet} from {from} is not expected in the current phase")]
    OutOfPhase { from: PeerId, packet: &'static str },
    #[error("protocol violation by {from}: {reason}")]
    Violation { from: PeerId, reason: String },
    #[error(
        "learner {from} is ahead of the leader (ZooKeeper: \"Follower is ahead of the leader\")"
    )]
    FollowerAhead { from: PeerId },
    #[error("leader offered epoch {offered}, below the accepted epoch {accepted}")]
    StaleLeaderEpoch { offered: Epoch, accepted: Epoch },
    #[error("this member is not serving: no established leader")]
    NotServing,
    #[error("zxid counter exhausted in epoch {0}; a new election is forced")]
    CounterExhausted(Epoch),
    #[error("the epoch space is exhausted")]
    EpochExhausted,
    #[error(
        "snapshot at {zxid} cannot serve learners (log starts after {log_base}, applied {applied})"
    )]
    UnusableSnapshot {
        zxid: Zxid,
        log_base: Zxid,
        applied: Zxid,
    },
}
