//! The ensemble as one member sees it, and the protocol's timing knobs.

use crate::error::Error;
use crate::types::{LearnerType, PeerId};

/// Configuration of one ZAB member. zoo.cfg's `server.N`, `tickTime`, `initLimit` and
/// `syncLimit` parse into it; the rest are ZooKeeper's Java constants or system properties.
#[derive(Clone, Debug)]
pub struct Config {
    /// This member's id (`myid`).
    pub my_id: PeerId,
    /// The voting members (`server.N=...` lines of type participant).
    pub voters: Vec<PeerId>,
    /// The non-voting members (`server.N=...:observer`).
    pub observers: Vec<PeerId>,
    /// Length of one tick in milliseconds (`tickTime`).
    pub tick_ms: u64,
    /// Ticks a learner may take to connect to the leader and sync (`initLimit`).
    pub init_limit_ticks: u64,
    /// Ticks a learner may fall silent before the leader drops it, and the leader before the
    /// learner gives up on it (`syncLimit`).
    pub sync_limit_ticks: u64,
    /// How long a member waits for a better vote once a quorum agrees
    /// (`FastLeaderElection.finalizeWait`, 200 ms).
    pub finalize_wait_ms: u64,
    /// First notification resend interval (`finalizeWait` again in ZooKeeper, 200 ms).
    pub min_notification_interval_ms: u64,
    /// Cap of the doubling resend interval (`zookeeper.fastleader.maxNotificationInterval`,
    /// 60 000 ms).
    pub max_notification_interval_ms: u64,
    /// Upper bound of the random delay added to each notification resend. ZooKeeper has none;
    /// a little jitter keeps simultaneous restarts from resending in lock step.
    pub election_jitter_ms: u64,
    /// The zxid counter at which a leader gives up its epoch and forces a new election.
    /// ZooKeeper: `0xffffffff` (ZOOKEEPER-1277); lower only in tests of the roll-over.
    pub zxid_counter_limit: u32,
    /// Seed of the member's generator for jitter and connection nonces.
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            my_id: 1,
            voters: vec![1],
            observers: Vec::new(),
            tick_ms: 2000,
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
            finalize_wait_ms: 200,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
            election_jitter_ms: 50,
            zxid_counter_limit: u32::MAX,
            rng_seed: 0,
        }
    }
}

impl Config {
    /// Checks the fields against each other; every constructor of a `Peer` calls it.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: &str| Err(Error::InvalidConfig(why.to_string()));
        if self.voters.is_empty() {
            return bad("there must be at least one voting member");
        }
        if self.voters.iter().any(|v| self.observers.contains(v)) {
            return bad("a member cannot be both a voter and an observer");
        }
        let mut all: Vec<PeerId> = self.voters.iter().chain(&self.observers).copied().collect();
        all.sort_unstable();
        if all.windows(2).any(|w| w[0] == w[1]) {
            return bad("a server id appears twice");
        }
        if !all.contains(&self.my_id) {
            return bad("my_id is not one of the members");
        }
        if self.tick_ms < 2 || self.init_limit_ticks == 0 || self.sync_limit_ticks == 0 {
            return bad("tick_ms must be at least 2 and the limits at least one tick");
        }
        if self.min_notification_interval_ms == 0
            || self.max_notification_interval_ms < self.min_notification_interval_ms
        {
            return bad("notification intervals must be positive and min <= max");
        }
        if self.zxid_counter_limit < 2 {
            return bad("zxid_counter_limit must leave room for at least one proposal");
        }
        Ok(())
    }

    /// Votes needed for a majority of the voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub fn is_voter(&self, id: PeerId) -> bool {
        self.voters.contains(&id)
    }

    pub fn is_member(&self, id: PeerId) -> bool {
        self.is_voter(id) || self.observers.contains(&id)
    }

    /// This member's type.
    pub fn learner_type(&self) -> LearnerType {
        if self.is_voter(self.my_id) {
            LearnerType::Participant
        } else {
            LearnerType::Observer
        }
    }
}
