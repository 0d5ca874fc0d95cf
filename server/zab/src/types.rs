//! The values every other module speaks in: server ids, epochs, zxids, log entries, snapshots.

use bytes::Bytes;
use std::fmt;

/// A server's id, the `N` of `server.N` in zoo.cfg and the content of `myid`.
pub type PeerId = u64;

/// An epoch: the high 32 bits of a zxid (`ZxidUtils.getEpochFromZxid`).
pub type Epoch = u32;

/// A ZooKeeper transaction id: `epoch << 32 | counter` (`srv/util/ZxidUtils.java`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Zxid(pub u64);

impl Zxid {
    /// The zxid before any transaction: an empty history.
    pub const ZERO: Zxid = Zxid(0);

    /// `ZxidUtils.makeZxid`.
    pub fn new(epoch: Epoch, counter: u32) -> Zxid {
        Zxid((u64::from(epoch) << 32) | u64::from(counter))
    }

    /// The epoch in the high 32 bits.
    pub fn epoch(self) -> Epoch {
        (self.0 >> 32) as Epoch
    }

    /// The counter in the low 32 bits.
    pub fn counter(self) -> u32 {
        (self.0 & 0xffff_ffff) as u32
    }
}

impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// One transaction of the replicated log. The payload is opaque to ZAB: the server puts
/// ZooKeeper's serialized `TxnHeader` and txn record there.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub zxid: Zxid,
    pub payload: Bytes,
}

/// The state machine's serialized state with every transaction up to and including `zxid`
/// applied. Opaque to ZAB: the server puts ZooKeeper's snapshot (DataTree and sessions) there.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Snapshot {
    pub zxid: Zxid,
    pub data: Bytes,
}

/// What a member is in the ensemble (`QuorumPeer.LearnerType`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LearnerType {
    /// Votes in elections and counts for the commit quorum.
    Participant,
    /// Receives committed transactions, never votes (`:observer` in `server.N`).
    Observer,
}

/// The peer state of `QuorumPeer.ServerState`, with ZooKeeper's wire values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}
