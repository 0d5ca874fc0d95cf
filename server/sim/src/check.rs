//! The invariants checked after every step of a simulation.

use crate::kv::{fnv, WriteId};
use paddock_zab::{Epoch, PeerId, Zxid};
use std::collections::{BTreeMap, HashMap};

/// One entry of the committed history, as the first member to apply it saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Committed {
    zxid: Zxid,
    chain: u64,
}

/// An acknowledged client write.
#[derive(Clone, Copy, Debug)]
pub struct Acked {
    pub write: WriteId,
    pub zxid: Zxid,
    pub payload_hash: u64,
}

#[derive(Default)]
pub struct Checker {
    /// The longest committed history seen, by position.
    history: Vec<Committed>,
    by_zxid: HashMap<Zxid, u64>,
    /// Established leader of each epoch.
    leaders: BTreeMap<Epoch, PeerId>,
    pub acked: Vec<Acked>,
    /// Highest zxid acknowledged to any client so far.
    pub max_acked: Zxid,
}

impl Checker {
    /// No two members commit different entries at one zxid; every member's committed sequence
    /// is a prefix of the longest one (position `count` holds the same zxid and chain).
    pub fn on_apply(
        &mut self,
        node: PeerId,
        count: u64,
        zxid: Zxid,
        payload: &[u8],
        chain: u64,
    ) -> Result<(), String> {
        let hash = fnv(0, payload);
        if let Some(&h) = self.by_zxid.get(&zxid) {
            if h != hash {
                return Err(format!(
                    "member {node} committed a different entry at {zxid}"
                ));
            }
        } else {
            self.by_zxid.insert(zxid, hash);
        }
        let here = Committed { zxid, chain };
        let index = (count - 1) as usize;
        match self.history.get(index) {
            Some(c) if *c == here => Ok(()),
            Some(c) => Err(format!(
                "member {node} committed {zxid} at position {count}, where the history has {}",
                c.zxid
            )),
            None if index == self.history.len() => {
                self.history.push(here);
                Ok(())
            }
            None => Err(format!("member {node} skipped to position {count}")),
        }
    }

    /// A member's state installed from a snapshot must be a state of the committed history.
    pub fn on_state(&self, node: PeerId, count: u64, zxid: Zxid, chain: u64) -> Result<(), String> {
        if count == 0 {
            return Ok(());
        }
        match self.history.get((count - 1) as usize) {
            Some(c) if c.zxid == zxid && c.chain == chain => Ok(()),
            _ => Err(format!(
                "member {node} holds a state at {zxid} (position {count}) off the history"
            )),
        }
    }

    /// At most one established leader per epoch.
    pub fn on_established(&mut self, node: PeerId, epoch: Epoch) -> Result<(), String> {
        match self.leaders.insert(epoch, node) {
            Some(other) if other != node => {
                Err(format!("members {other} and {node} both led epoch {epoch}"))
            }
            _ => Ok(()),
        }
    }

    /// A write acknowledged to its client. It must be committed, and it must order after every
    /// write acknowledged before it was invoked (real-time order of the write history).
    pub fn on_ack(&mut self, ack: Acked, max_acked_at_invoke: Zxid) -> Result<(), String> {
        if self.by_zxid.get(&ack.zxid) != Some(&ack.payload_hash) {
            return Err(format!(
                "write {:?} acknowledged at {} but not committed",
                ack.write, ack.zxid
            ));
        }
        if ack.zxid <= max_acked_at_invoke {
            return Err(format!(
                "write {:?} committed at {} although {} was acknowledged before it was invoked",
                ack.write, ack.zxid, max_acked_at_invoke
            ));
        }
        self.max_acked = self.max_acked.max(ack.zxid);
        self.acked.push(ack);
        Ok(())
    }

    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    pub fn leaders(&self) -> usize {
        self.leaders.len()
    }
}
