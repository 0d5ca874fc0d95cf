//! The messages members exchange: election notifications and quorum packets.
//!
//! Quorum packets travel on a learner's connection to its leader. ZooKeeper runs them over one
//! TCP stream per learner and relies on it being ordered and lossless until it breaks. The core
//! does not trust its transport that far: every packet carries the connection's nonce and a
//! sequence number, a duplicate is dropped, and a gap is treated as a broken connection, which
//! is what ZooKeeper does when its socket fails.

use crate::types::{Entry, Epoch, PeerId, ServerState, Snapshot, Zxid};
use bytes::Bytes;

/// A fast-leader-election notification (`FastLeaderElection.Notification`, version 2 without
/// the dynamic config text).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Notification {
    /// The sender's state.
    pub state: ServerState,
    /// The proposed (or, when not LOOKING, the elected) leader.
    pub leader: PeerId,
    /// Last logged zxid of the proposed leader.
    pub zxid: Zxid,
    /// The sender's logical clock (`electionEpoch`).
    pub election_epoch: u64,
    /// The proposed leader's current epoch (`peerEpoch`).
    pub peer_epoch: Epoch,
}

/// A quorum packet (`QuorumPacket`), named after ZooKeeper's `Leader` constants.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Packet {
    /// FOLLOWERINFO (11): a participant opens discovery with its accepted epoch.
    FollowerInfo {
        accepted_epoch: Epoch,
        last_zxid: Zxid,
    },
    /// OBSERVERINFO (16): the same from an observer.
    ObserverInfo {
        accepted_epoch: Epoch,
        last_zxid: Zxid,
    },
    /// LEADERINFO (17): the epoch the leader proposes.
    LeaderInfo { new_epoch: Epoch },
    /// ACKEPOCH (18): the learner accepted the epoch. `current_epoch` is `None` when the learner
    /// had accepted this epoch before (ZooKeeper sends -1).
    AckEpoch {
        current_epoch: Option<Epoch>,
        last_zxid: Zxid,
    },
    /// DIFF (13): the learner's log is a prefix of the leader's; proposals follow.
    Diff { last_zxid: Zxid },
    /// TRUNC (14): drop every entry after `zxid`; proposals may follow.
    Trunc { zxid: Zxid },
    /// SNAP (15): replace the state with this snapshot; proposals follow.
    Snap { snapshot: Snapshot },
    /// PROPOSAL (2): log this entry.
    Proposal { entry: Entry },
    /// ACK (3): every entry up to `zxid` is durably logged (cumulative).
    Ack { zxid: Zxid },
    /// COMMIT (4): every entry up to `zxid` is committed (cumulative).
    Commit { zxid: Zxid },
    /// INFORM (8): a committed entry for an observer.
    Inform { entry: Entry },
    /// NEWLEADER (10): the synchronisation is complete; `zxid` is `newEpoch << 32`.
    NewLeader { zxid: Zxid },
    /// The ACK (3) of NEWLEADER: the learner logged its history and persisted currentEpoch.
    AckNewLeader { zxid: Zxid },
    /// UPTODATE (12): the leader is established; start serving.
    UpToDate,
    /// PING (5), both ways.
    Ping,
    /// REQUEST (1): a client write forwarded by a learner; the leader's host prepares it
    /// (`Ready::forwarded`) and proposes the result.
    Request { payload: Bytes },
    /// SYNC (7): the leader's answer to a forwarded `sync`, sent once everything it proposed
    /// before the sync arrived is committed; the learner's host gets `payload` back
    /// (`Ready::synced`) after applying those commits.
    Sync { payload: Bytes },
}

impl Packet {
    /// ZooKeeper's name of the packet type, for errors and traces.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::FollowerInfo { .. } => "FOLLOWERINFO",
            Packet::ObserverInfo { .. } => "OBSERVERINFO",
            Packet::LeaderInfo { .. } => "LEADERINFO",
            Packet::AckEpoch { .. } => "ACKEPOCH",
            Packet::Diff { .. } => "DIFF",
            Packet::Trunc { .. } => "TRUNC",
            Packet::Snap { .. } => "SNAP",
            Packet::Proposal { .. } => "PROPOSAL",
            Packet::Ack { .. } => "ACK",
            Packet::Commit { .. } => "COMMIT",
            Packet::Inform { .. } => "INFORM",
            Packet::NewLeader { .. } => "NEWLEADER",
            Packet::AckNewLeader { .. } => "ACK(NEWLEADER)",
            Packet::UpToDate => "UPTODATE",
            Packet::Ping => "PING",
            Packet::Request { .. } => "REQUEST",
            Packet::Sync { .. } => "SYNC",
        }
    }
}

/// Everything one member sends another.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// On the election port; may be lost, duplicated or reordered freely.
    Election(Notification),
    /// On the quorum port, within the learner connection `conn` (a nonce the learner picks),
    /// numbered from 0 in each direction.
    Quorum { conn: u64, seq: u64, packet: Packet },
}

/// A message and its destination.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Envelope {
    pub to: PeerId,
    pub message: Message,
}
