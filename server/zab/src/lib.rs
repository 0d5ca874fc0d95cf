//! ZooKeeper's atomic broadcast (ZAB) as a sans-IO state machine.
//!
//! A `Peer` is one member of an ensemble. The host feeds it inputs: messages from other members
//! (`step`), the clock (`tick`), client writes (`propose`), confirmations that log appends are
//! durable (`persisted`) and snapshots it asked for (`snapshot_produced`). After each input the
//! host drains a `Ready`: durable changes to make, messages to send, committed entries to apply,
//! and role changes. Time arrives as `now_ms`, randomness from a seed in the `Config`, and the
//! core touches no files, sockets or threads, so a simulator can run whole ensembles in one
//! thread and replay any run from its seed. `docs/ZAB.md` describes the protocol and the host
//! contract.
//!
//! Modules:
//! - `types`: server ids, epochs, zxids, log entries, snapshots, server states.
//! - `config`: the ensemble and the timing knobs (`tickTime`, `initLimit`, `syncLimit`).
//! - `message`: election notifications and quorum packets, named as ZooKeeper names them.
//! - `codec`: the bytes of a message on a link between members.
//! - `ready`: the output contract (`Ready`, `StorageOp`, `RoleEvent`).
//! - `peer`: the `Peer` and the state shared by every role.
//! - `election`: fast leader election (`FastLeaderElection`).
//! - `leader`: discovery, synchronisation and broadcast on the leader (`Leader`,
//!   `LearnerHandler`).
//! - `learner`: the follower and observer side (`Learner`, `Follower`, `Observer`).
//! - `log`: the in-memory image of the durable log.
//! - `rng`: the seeded generator for jitter and connection nonces.
//! - `error`: typed errors for bad input.

pub mod codec;
mod config;
mod election;
mod error;
mod leader;
mod learner;
mod log;
mod message;
mod peer;
mod ready;
mod rng;
mod types;

pub use config::Config;
pub use election::Vote;
pub use error::Error;
pub use message::{Envelope, Message, Notification, Packet};
pub use peer::{LeaderView, Peer, Persisted, Proposed, Stats, Status};
pub use ready::{Forwarded, Ready, RoleEvent, StorageOp};
pub use types::{Entry, Epoch, LearnerType, PeerId, ServerState, Snapshot, Zxid};

#[cfg(test)]
mod tests;
