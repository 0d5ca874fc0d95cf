//! What the core hands its host after each input: the `Ready` contract.

use bytes::Bytes;

use crate::message::Envelope;
use crate::types::{Entry, Epoch, PeerId, Snapshot, Zxid};

/// One durable change, to be carried out in the order given.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StorageOp {
    /// Write the `acceptedEpoch` file. Synchronous: durable before any message of this Ready is
    /// sent.
    AcceptedEpoch(Epoch),
    /// Write the `currentEpoch` file. Synchronous, like `AcceptedEpoch`. The core only emits it
    /// once every entry of the log is durable, so a crash can never leave a member with a new
    /// epoch and an incomplete history (ZOOKEEPER-4646).
    CurrentEpoch(Epoch),
    /// Make every earlier append durable, then drop every log entry after the zxid, durably,
    /// before anything later in this list.
    TruncateAfter(Zxid),
    /// Make every earlier append durable, then replace the state machine and the log with this
    /// snapshot, durably, before anything later in this list.
    InstallSnapshot(Snapshot),
    /// Append these entries to the log. May complete asynchronously; once they (and every
    /// earlier append) are durable, call `Peer::persisted(write_id)`. Messages of this Ready may
    /// be sent before the append is durable: the core only acknowledges durable entries.
    Append { write_id: u64, entries: Vec<Entry> },
}

/// A change of this member's role, for the host to act on (start or stop serving clients).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RoleEvent {
    /// Election started: stop serving clients.
    Looking,
    /// Elected leader; discovery and synchronisation follow.
    Leading,
    /// A quorum acknowledged NEWLEADER: the leader serves in `epoch`.
    LeaderEstablished { epoch: Epoch },
    /// Elected to follow (or observe) `leader`; discovery and synchronisation follow.
    Learning { leader: PeerId },
    /// UPTODATE received: the learner serves in `epoch`.
    LearnerServing { leader: PeerId, epoch: Epoch },
}

/// A client request a learner forwarded to this leader (REQUEST). The host prepares it against
/// its own state, as ZooKeeper's leader does in `PrepRequestProcessor` (validation, the next
/// zxid, outstanding changes), and proposes the result with `Peer::propose`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Forwarded {
    pub from: PeerId,
    pub payload: Bytes,
}

/// Everything the host must do after an input. The host handles one Ready completely, in this
/// order, before it feeds the core its next input:
///
/// 1. `storage`, in order (the synchronous ops must be durable before step 2);
/// 2. `messages`;
/// 3. `committed`: apply to the state machine, in order;
/// 4. `snapshot_wanted`: serialize the state machine as it now stands and hand it back with
///    `Peer::snapshot_produced` (now or later);
/// 5. `forwarded` (a leader only): prepare each request and `Peer::propose` it;
/// 6. `synced` (a learner only): answer the `sync` requests behind them;
/// 7. `events`.
///
/// Steps 5 to 7 may be taken in any order among themselves (a host whose preparation depends
/// on its role handles `events` first).
#[derive(Debug, Default)]
pub struct Ready {
    pub storage: Vec<StorageOp>,
    pub messages: Vec<Envelope>,
    pub committed: Vec<Entry>,
    pub snapshot_wanted: bool,
    pub forwarded: Vec<Forwarded>,
    /// Learners: the payloads of `sync` barriers the leader answered (`Peer::sync_barrier`),
    /// in order; everything committed before each is in this or an earlier `committed`.
    pub synced: Vec<Bytes>,
    pub events: Vec<RoleEvent>,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && !self.snapshot_wanted
            && self.forwarded.is_empty()
            && self.synced.is_empty()
            && self.events.is_empty()
    }
}
