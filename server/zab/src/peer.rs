//! `Peer`: one ZAB member. The host feeds it inputs and drains `Ready`s; the role-specific logic
//! lives in `election`, `leader` and `learner`, as further `impl Peer` blocks.

use crate::config::Config;
use crate::election::Election;
use crate::error::Error;
use crate::leader::LeaderState;
use crate::learner::LearnerState;
use crate::log::Log;
use crate::message::{Envelope, Message, Packet};
use crate::ready::{Ready, RoleEvent, StorageOp};
use crate::rng::SplitMix64;
use crate::types::{Entry, Epoch, PeerId, ServerState, Snapshot, Zxid};
use bytes::Bytes;
use std::collections::VecDeque;

/// What a member found on its disk at startup.
#[derive(Clone, Debug, Default)]
pub struct Persisted {
    /// The `acceptedEpoch` file (0 when absent).
    pub accepted_epoch: Epoch,
    /// The `currentEpoch` file (0 when absent).
    pub current_epoch: Epoch,
    /// The zxid of the snapshot the state machine was restored from (0 for none). Everything
    /// up to it is committed and applied.
    pub snapshot_zxid: Zxid,
    /// The valid log entries after the snapshot, in zxid order (a torn tail already dropped).
    pub log: Vec<Entry>,
}

/// Where a proposal went.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proposed {
    /// This member leads and logged the entry at this zxid.
    Logged(Zxid),
    /// This member is a learner and forwarded the payload to the leader as REQUEST.
    Forwarded { leader: PeerId },
}

/// A snapshot of the member's state for hosts, tests and the four-letter words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Status {
    pub id: PeerId,
    pub state: ServerState,
    /// The leader this member follows or observes (itself when leading).
    pub leader: Option<PeerId>,
    /// True when the member may serve clients: an established leader or an up-to-date learner.
    pub serving: bool,
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    pub last_logged: Zxid,
    pub durable: Zxid,
    pub committed: Zxid,
    pub election_epoch: u64,
}

/// Counters of dropped input, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages on connections that are no longer current, and duplicates.
    pub stale: u64,
    /// Packets that do not belong to the current phase.
    pub out_of_phase: u64,
    /// Gaps in a connection's sequence (treated as a broken connection).
    pub link_resets: u64,
    /// Packets that break the protocol (a commit past the log, a truncation below the commit
    /// point, a zxid going backwards). A correct ensemble never produces one.
    pub violations: u64,
    /// Forwarded requests a leader received before it was established.
    pub requests_dropped: u64,
    /// Elections started.
    pub elections: u64,
    /// Leader: learners synchronised by DIFF, TRUNC (+DIFF) and SNAP (`diff_count`,
    /// `snap_count` in ZooKeeper's metrics).
    pub diff_syncs: u64,
    pub trunc_syncs: u64,
    pub snap_syncs: u64,
}

/// What a leader knows about its learners, for the metrics and `leader`/`zabstate` views
/// (`LeaderZooKeeperServer.registerMetrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderView {
    /// Connected learners (`learners`).
    pub learners: usize,
    /// Voting followers that are synchronised (`synced_followers`).
    pub synced_followers: usize,
    /// Synchronised observers (`synced_observers`).
    pub synced_observers: usize,
    /// Forwarded `sync`s waiting for their barrier (`pending_syncs`).
    pub pending_syncs: usize,
    /// Milliseconds (of the core's clock) since the leader was established, if it is.
    pub established_ms: Option<u64>,
    /// Each connected learner, whether it is synchronised, and the highest zxid it
    /// acknowledged as logged.
    pub learner_ids: Vec<(PeerId, bool, Zxid)>,
}

pub(crate) enum Role {
    Looking,
    Leading(Box<LeaderState>),
    Learning(LearnerState),
}

/// One ZAB member.
pub struct Peer {
    pub(crate) cfg: Config,
    pub(crate) rng: SplitMix64,
    pub(crate) now_ms: u64,
    pub(crate) accepted_epoch: Epoch,
    pub(crate) current_epoch: Epoch,
    pub(crate) log: Log,
    /// Every log entry up to here is on disk.
    pub(crate) durable: Zxid,
    /// Appends not yet confirmed: (write id, last zxid of the append).
    unconfirmed: VecDeque<(u64, Zxid)>,
    next_write_id: u64,
    /// Highest zxid known committed.
    pub(crate) commit: Zxid,
    /// Highest zxid handed to the host to apply (or installed from a snapshot).
    pub(crate) applied: Zxid,
    pub(crate) election: Election,
    pub(crate) role: Role,
    pub(crate) ready: Ready,
    pub(crate) stats: Stats,
    /// Members whose link the host reported down and not up again since (`link_down`).
    pub(crate) unreachable: std::collections::BTreeSet<PeerId>,
}

impl Peer {
    /// Starts a member from what it found on disk. It begins LOOKING, as ZooKeeper does.
    pub fn new(cfg: Config, disk: Persisted, now_ms: u64) -> Result<Peer, Error> {
        cfg.validate()?;
        if disk.accepted_epoch < disk.current_epoch {
            return Err(Error::InvalidEpochs {
                accepted: disk.accepted_epoch,
                current: disk.current_epoch,
            });
        }
        let mut prev = disk.snapshot_zxid;
        for e in disk.log.iter().filter(|e| e.zxid > disk.snapshot_zxid) {
            if e.zxid <= prev {
                return Err(Error::InvalidLog(e.zxid));
            }
            prev = e.zxid;
        }
        let log = Log::new(disk.snapshot_zxid, disk.log);
        let mut peer = Peer {
            rng: SplitMix64::new(cfg.rng_seed ^ cfg.my_id.rotate_left(32)),
            election: Election::new(cfg.min_notification_interval_ms),
            cfg,
            now_ms,
            accepted_epoch: disk.accepted_epoch,
            current_epoch: disk.current_epoch,
            durable: log.last_zxid(),
            log,
            unconfirmed: VecDeque::new(),
            next_write_id: 1,
            commit: disk.snapshot_zxid,
            applied: disk.snapshot_zxid,
            role: Role::Looking,
            ready: Ready::default(),
            stats: Stats::default(),
            unreachable: Default::default(),
        };
        peer.start_looking();
        Ok(peer)
    }

    /// Feeds a message from another member.
    pub fn step(&mut self, from: PeerId, message: Message) -> Result<(), Error> {
        if !self.cfg.is_member(from) || from == self.cfg.my_id {
            return Err(Error::UnknownPeer(from));
        }
        let result = match message {
            Message::Election(n) => {
                self.on_notification(from, n);
                Ok(())
            }
            Message::Quorum { conn, seq, packet } => match self.role {
                Role::Leading(_) => self.leader_on_packet(from, conn, seq, packet),
                Role::Learning(_) => self.learner_on_packet(from, conn, seq, packet),
                Role::Looking => Err(Error::OutOfPhase {
                    from,
                    packet: packet.name(),
                }),
            },
        };
        if let Err(e) = &result {
            self.count(e);
        }
        result
    }

    /// Advances the clock. Time never goes backwards inside the core: an earlier `now_ms` is
    /// taken as no time passing, so a host clock jump back only delays timeouts.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        match self.role {
            Role::Looking => self.election_tick(),
            Role::Leading(_) => self.leader_tick(),
            Role::Learning(_) => self.learner_tick(),
        }
    }

    /// Submits a client write. The leader logs and proposes it; a serving learner forwards it.
    pub fn propose(&mut self, payload: Bytes) -> Result<Proposed, Error> {
        match &self.role {
            Role::Leading(_) => self.leader_propose(payload).map(Proposed::Logged),
            Role::Learning(l) if l.serving() => {
                let leader = l.leader;
                self.learner_send(Packet::Request { payload });
                Ok(Proposed::Forwarded { leader })
            }
            _ => Err(Error::NotServing),
        }
    }

    /// The transport lost its connection with `peer`. ZooKeeper's quorum traffic runs over one
    /// TCP connection per learner, and a failed socket ends the learner's `followLeader` (it
    /// looks for a leader at once) or the leader's `LearnerHandler` for it; without this a
    /// dead leader would only be noticed after `syncLimit` silent ticks.
    pub fn link_down(&mut self, peer: PeerId) {
        self.unreachable.insert(peer);
        match &mut self.role {
            Role::Learning(l) if l.leader == peer => self.go_looking(),
            Role::Leading(l) => {
                // The quorum check in `tick` steps down if too few learners remain.
                l.forget_learner(peer);
            }
            _ => {}
        }
    }

    /// The transport connected to `peer` (again). An election no longer settles before
    /// hearing from it (see `link_down` and the finalize wait in `election`).
    pub fn link_up(&mut self, peer: PeerId) {
        self.unreachable.remove(&peer);
    }

    /// Leader: answers a `sync` that learner `to` forwarded (its host decoded it from a
    /// `Ready::forwarded` REQUEST) once every proposal made so far is committed. The learner's
    /// host gets `payload` back in `Ready::synced`.
    pub fn sync_barrier(&mut self, to: PeerId, payload: Bytes) -> Result<(), Error> {
        match self.role {
            Role::Leading(_) => self.leader_sync_barrier(to, payload),
            _ => Err(Error::NotServing),
        }
    }

    /// Confirms that every append up to and including `write_id` is durable.
    pub fn persisted(&mut self, write_id: u64) {
        while let Some(&(id, zxid)) = self.unconfirmed.front() {
            if id > write_id {
                break;
            }
            self.unconfirmed.pop_front();
            assert!(zxid <= self.log.last_zxid(), "persisted past the log end");
            self.durable = self.durable.max(zxid);
        }
        match self.role {
            Role::Leading(_) => self.leader_progress(),
            Role::Learning(_) => self.learner_on_durable(),
            Role::Looking => {}
        }
    }

    /// Hands the leader the snapshot it asked for with `Ready::snapshot_wanted`.
    pub fn snapshot_produced(&mut self, snapshot: Snapshot) -> Result<(), Error> {
        if snapshot.zxid > self.applied || snapshot.zxid < self.log.base() {
            self.ready.snapshot_wanted = matches!(self.role, Role::Leading(_));
            return Err(Error::UnusableSnapshot {
                zxid: snapshot.zxid,
                log_base: self.log.base(),
                applied: self.applied,
            });
        }
        if matches!(self.role, Role::Leading(_)) {
            self.leader_on_snapshot(snapshot);
        }
        Ok(())
    }

    /// The bytes of the entries the in-memory log holds (what a DIFF or a SNAP sends from).
    pub fn log_bytes(&self) -> u64 {
        self.log.bytes()
    }

    /// The oldest zxid `snapshot_produced` takes: the in-memory log holds every entry after
    /// it, which a learner is sent behind the snapshot.
    pub fn log_base(&self) -> Zxid {
        self.log.base()
    }

    /// Forgets log entries up to `zxid`, which the host's latest snapshot covers. A learner
    /// that needs them later is synchronised with SNAP.
    pub fn compact(&mut self, zxid: Zxid) {
        self.log.compact(zxid.min(self.applied).min(self.durable));
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Takes the pending output. See `Ready` for what the host must do with it.
    pub fn take_ready(&mut self) -> Ready {
        std::mem::take(&mut self.ready)
    }

    pub fn status(&self) -> Status {
        let (state, leader, serving) = match &self.role {
            Role::Looking => (ServerState::Looking, None, false),
            Role::Leading(l) => (ServerState::Leading, Some(self.cfg.my_id), l.established()),
            Role::Learning(l) => (l.server_state(), Some(l.leader), l.serving()),
        };
        Status {
            id: self.cfg.my_id,
            state,
            leader,
            serving,
            accepted_epoch: self.accepted_epoch,
            current_epoch: self.current_epoch,
            last_logged: self.log.last_zxid(),
            durable: self.durable,
            committed: self.commit,
            election_epoch: self.election.logical_clock,
        }
    }

    /// A learner: how its leader synchronised it ("DIFF", "TRUNC" or "SNAP", as ZooKeeper's
    /// `LearnerHandler` logs it); `None` before that or when not learning.
    pub fn sync_kind(&self) -> Option<&'static str> {
        match &self.role {
            Role::Learning(l) => l.sync_kind(),
            _ => None,
        }
    }

    /// The leader's view of its learners; `None` unless leading.
    pub fn leader_view(&self) -> Option<LeaderView> {
        match &self.role {
            Role::Leading(l) => Some(l.view(self.now_ms)),
            _ => None,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The entry at `zxid`, if the in-memory log still holds it.
    pub fn log_entry(&self, zxid: Zxid) -> Option<&Entry> {
        self.log.get(zxid)
    }

    /// The in-memory log, oldest first, and the zxid it continues.
    pub fn log_entries(&self) -> (Zxid, impl Iterator<Item = &Entry>) {
        (self.log.base(), self.log.iter())
    }

    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    // ----- helpers shared by the roles -----

    pub(crate) fn send(&mut self, to: PeerId, message: Message) {
        self.ready.messages.push(Envelope { to, message });
    }

    pub(crate) fn event(&mut self, event: RoleEvent) {
        self.ready.events.push(event);
    }

    /// Appends to the log and to this Ready's pending append (one write per Ready).
    pub(crate) fn append(&mut self, entry: Entry) {
        let zxid = entry.zxid;
        self.log.append(entry.clone());
        if let Some(StorageOp::Append { write_id, entries }) = self.ready.storage.last_mut() {
            entries.push(entry);
            let back = self
                .unconfirmed
                .back_mut()
                .expect("an open append is unconfirmed");
            assert_eq!(back.0, *write_id);
            back.1 = zxid;
            return;
        }
        let write_id = self.next_write_id;
        self.next_write_id += 1;
        self.unconfirmed.push_back((write_id, zxid));
        self.ready.storage.push(StorageOp::Append {
            write_id,
            entries: vec![entry],
        });
    }

    /// Truncates the log. The host makes earlier appends durable first, so afterwards the whole
    /// remaining log is durable.
    pub(crate) fn truncate_after(&mut self, zxid: Zxid) {
        assert!(
            zxid >= self.commit,
            "truncation to {zxid} below the commit point {}",
            self.commit
        );
        self.log.truncate_after(zxid);
        self.unconfirmed.clear();
        self.durable = self.log.last_zxid();
        self.ready.storage.push(StorageOp::TruncateAfter(zxid));
    }

    /// Replaces state and log with a snapshot (a learner's SNAP).
    pub(crate) fn install_snapshot(&mut self, snapshot: Snapshot) {
        assert!(
            snapshot.zxid >= self.commit,
            "snapshot would roll back committed state"
        );
        self.log.reset(snapshot.zxid);
        self.unconfirmed.clear();
        self.durable = snapshot.zxid;
        self.commit = snapshot.zxid;
        self.applied = snapshot.zxid;
        self.ready
            .storage
            .push(StorageOp::InstallSnapshot(snapshot));
    }

    pub(crate) fn set_accepted_epoch(&mut self, epoch: Epoch) {
        assert!(
            epoch >= self.accepted_epoch,
            "acceptedEpoch going backwards"
        );
        self.accepted_epoch = epoch;
        self.ready.storage.push(StorageOp::AcceptedEpoch(epoch));
    }

    pub(crate) fn set_current_epoch(&mut self, epoch: Epoch) {
        assert!(
            self.durable == self.log.last_zxid(),
            "currentEpoch before the log is durable"
        );
        assert!(epoch >= self.current_epoch, "currentEpoch going backwards");
        self.current_epoch = epoch;
        self.ready.storage.push(StorageOp::CurrentEpoch(epoch));
    }

    /// Marks everything up to `zxid` committed and hands the new entries to the host.
    pub(crate) fn commit_to(&mut self, zxid: Zxid) {
        if zxid <= self.commit {
            return;
        }
        assert!(
            zxid <= self.log.last_zxid(),
            "commit {zxid} beyond the log end"
        );
        self.commit = zxid;
        assert!(
            self.applied >= self.log.base(),
            "entries to apply were compacted away"
        );
        let fresh: Vec<Entry> = self.log.range(self.applied, zxid).cloned().collect();
        if let Some(last) = fresh.last() {
            self.applied = last.zxid;
        }
        self.ready.committed.extend(fresh);
    }

    fn count(&mut self, e: &Error) {
        let s = &mut self.stats;
        match e {
            Error::StaleConnection { .. } | Error::Duplicate { .. } | Error::UnknownPeer(_) => {
                s.stale += 1
            }
            Error::OutOfSequence { .. } => s.link_resets += 1,
            Error::OutOfPhase { .. } => s.out_of_phase += 1,
            Error::Violation { .. } => s.violations += 1,
            _ => {}
        }
    }

    pub(crate) fn quorum(&self) -> usize {
        self.cfg.quorum()
    }

    pub(crate) fn deadline(&self, ticks: u64) -> u64 {
        self.now_ms + ticks * self.cfg.tick_ms
    }

    /// Leaves any role and starts a new election round.
    pub(crate) fn go_looking(&mut self) {
        self.start_looking();
    }
}
