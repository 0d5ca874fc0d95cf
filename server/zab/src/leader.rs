//! The leader: discovery (`Leader.getEpochToPropose`, `waitForEpochAck`), synchronisation
//! (`LearnerHandler.syncFollower`, `waitForNewLeaderAck`) and broadcast (`Leader.propose`,
//! `processAck`, `commit`, `inform`), with one `Handler` per connected learner.

use crate::error::Error;
use crate::log::Log;
use crate::message::{Envelope, Message, Packet};
use crate::peer::{Peer, Role};
use crate::ready::{Forwarded, Ready, RoleEvent};
use crate::types::{Entry, Epoch, LearnerType, PeerId, Snapshot, Zxid};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Collecting accepted epochs from a quorum.
    Discovery,
    /// LEADERINFO sent; collecting ACKEPOCH from a quorum.
    AwaitAckEpoch,
    /// Learners synchronised; collecting ACK(NEWLEADER) from a quorum.
    Syncing,
    /// Established: proposing and committing.
    Broadcast,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HandlerPhase {
    /// FOLLOWERINFO received; LEADERINFO sent once the epoch is known.
    AwaitAckEpoch,
    /// ACKEPOCH received; waiting for the leader's quorum of ACKEPOCH.
    AwaitQuorum,
    /// Needs SNAP; waiting for the host's snapshot.
    AwaitSnapshot,
    /// Synchronisation and NEWLEADER sent; every proposal is forwarded from here on.
    AwaitNewLeaderAck,
    /// ACK(NEWLEADER) received, waiting for the leader to be established.
    AwaitEstablished,
    /// UPTODATE sent.
    Synced,
}

/// The leader's side of one learner connection (`LearnerHandler`).
#[derive(Debug)]
struct Handler {
    conn: u64,
    kind: LearnerType,
    phase: HandlerPhase,
    out_seq: u64,
    in_seq: u64,
    last_heard_ms: u64,
    peer_last_zxid: Zxid,
    /// Last zxid whose entry this learner has been sent.
    sent_up_to: Zxid,
    /// Last entry sent before NEWLEADER: what ACK(NEWLEADER) acknowledges.
    sync_end: Zxid,
    /// Highest zxid this learner acknowledged as durable (followers only).
    acked: Zxid,
    /// Highest commit point sent.
    commit_sent: Zxid,
}

impl Handler {
    fn send(&mut self, ready: &mut Ready, to: PeerId, packet: Packet) {
        let seq = self.out_seq;
        self.out_seq += 1;
        let message = Message::Quorum {
            conn: self.conn,
            seq,
            packet,
        };
        ready.messages.push(Envelope { to, message });
    }

    fn forwarding(&self) -> bool {
        matches!(
            self.phase,
            HandlerPhase::AwaitNewLeaderAck | HandlerPhase::AwaitEstablished | HandlerPhase::Synced
        )
    }

    fn newleader_acked(&self) -> bool {
        matches!(
            self.phase,
            HandlerPhase::AwaitEstablished | HandlerPhase::Synced
        )
    }
}

pub(crate) struct LeaderState {
    phase: Phase,
    started_ms: u64,
    /// (currentEpoch, last zxid) when elected: no learner may be ahead of it.
    summary: (Epoch, Zxid),
    new_epoch: Epoch,
    accepted: BTreeMap<PeerId, Epoch>,
    epoch_acks: BTreeSet<PeerId>,
    handlers: BTreeMap<PeerId, Handler>,
    next_counter: u32,
    next_ping_ms: u64,
    snapshot: Option<Snapshot>,
    /// `sync` barriers waiting for the commit point to reach their zxid:
    /// (zxid, learner, payload), in zxid order (`Leader.pendingSyncs`).
    pending_syncs: VecDeque<(Zxid, PeerId, Bytes)>,
    /// When the quorum acknowledged NEWLEADER.
    established_at_ms: Option<u64>,
}

impl LeaderState {
    pub(crate) fn established(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    pub(crate) fn view(&self, now_ms: u64) -> crate::peer::LeaderView {
        let synced = |h: &&Handler| h.phase == HandlerPhase::Synced;
        let (observers, followers): (Vec<_>, Vec<_>) = (self.handlers.values())
            .filter(synced)
            .partition(|h| h.kind == LearnerType::Observer);
        crate::peer::LeaderView {
            learners: self.handlers.len(),
            synced_followers: followers.len(),
            synced_observers: observers.len(),
            pending_syncs: self.pending_syncs.len(),
            established_ms: self.established_at_ms.map(|at| now_ms.saturating_sub(at)),
            learner_ids: (self.handlers.iter())
                .map(|(id, h)| (*id, h.phase == HandlerPhase::Synced, h.acked))
                .collect(),
        }
    }

    /// Drops the handler of a learner whose connection broke; it reconnects with a new one.
    pub(crate) fn forget_learner(&mut self, id: PeerId) {
        self.handlers.remove(&id);
    }
}

/// How `syncFollower` brings a learner up to date.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SyncMode {
    /// DIFF, then the entries after `from`.
    Diff {
        from: Zxid,
    },
    /// TRUNC to `to`, then the entries after it.
    Trunc {
        to: Zxid,
    },
    Snap,
}

/// `syncFollower`'s choice (anchor 4.4), against the leader's whole log, which is its history:
/// every entry of it is or will be committed once NEWLEADER is acknowledged. ZooKeeper also
/// streams a DIFF from its on-disk log when the learner is behind the in-memory committed log;
/// here the in-memory log is the whole retained log, so behind it means SNAP.
pub(crate) fn sync_mode(log: &Log, peer_last: Zxid) -> SyncMode {
    let last = log.last_zxid();
    if peer_last == last {
        SyncMode::Diff { from: last }
    } else if peer_last > last {
        SyncMode::Trunc { to: last }
    } else if peer_last < log.base() {
        SyncMode::Snap
    } else if log.contains(peer_last) {
        SyncMode::Diff { from: peer_last }
    } else {
        SyncMode::Trunc {
            to: log.prev_before(peer_last),
        }
    }
}

impl Peer {
    fn leader(&self) -> &LeaderState {
        match &self.role {
            Role::Leading(l) => l,
            _ => unreachable!("leader code runs only while leading"),
        }
    }

    fn leader_mut(&mut self) -> &mut LeaderState {
        self.leader_and_ready().0
    }

    /// The leader's state and the pending output together, for loops that send to handlers.
    fn leader_and_ready(&mut self) -> (&mut LeaderState, &mut Ready) {
        match &mut self.role {
            Role::Leading(l) => (l, &mut self.ready),
            _ => unreachable!("leader code runs only while leading"),
        }
    }

    pub(crate) fn become_leader(&mut self) {
        let mut accepted = BTreeMap::new();
        accepted.insert(self.cfg.my_id, self.accepted_epoch);
        self.role = Role::Leading(Box::new(LeaderState {
            phase: Phase::Discovery,
            started_ms: self.now_ms,
            summary: (self.current_epoch, self.log.last_zxid()),
            new_epoch: 0,
            accepted,
            epoch_acks: BTreeSet::new(),
            handlers: BTreeMap::new(),
            next_counter: 1,
            next_ping_ms: self.now_ms,
            snapshot: None,
            pending_syncs: VecDeque::new(),
            established_at_ms: None,
        }));
        self.event(RoleEvent::Leading);
        self.leader_progress();
    }

    /// Moves through the phases as far as the collected acknowledgements allow.
    pub(crate) fn leader_progress(&mut self) {
        if !matches!(self.role, Role::Leading(_)) {
            return;
        }
        if self.leader().phase == Phase::Discovery && !self.try_decide_epoch() {
            return;
        }
        if self.leader().phase == Phase::AwaitAckEpoch {
            self.try_finish_ack_epoch();
        }
        if self.leader().phase == Phase::Syncing {
            self.try_establish();
        }
        if self.leader().phase == Phase::Broadcast {
            self.recompute_commit();
        }
    }

    /// `getEpochToPropose`: once a quorum (the leader included) reported its accepted epoch,
    /// the new epoch is one more than the largest reported by anyone.
    fn try_decide_epoch(&mut self) -> bool {
        let l = self.leader();
        let voters = l
            .accepted
            .keys()
            .filter(|id| self.cfg.is_voter(**id))
            .count();
        if voters < self.quorum() {
            return true;
        }
        let max = l.accepted.values().copied().max().unwrap_or(0);
        let Some(new_epoch) = max.checked_add(1) else {
            self.go_looking();
            return false;
        };
        self.set_accepted_epoch(new_epoch);
        let my_id = self.cfg.my_id;
        let (l, ready) = self.leader_and_ready();
        l.new_epoch = new_epoch;
        l.phase = Phase::AwaitAckEpoch;
        l.epoch_acks.insert(my_id);
        for (&id, h) in l.handlers.iter_mut() {
            h.send(ready, id, Packet::LeaderInfo { new_epoch });
        }
        true
    }

    /// `waitForEpochAck` done: persist currentEpoch (once the leader's own log is durable) and
    /// synchronise every learner that acknowledged.
    fn try_finish_ack_epoch(&mut self) {
        let l = self.leader();
        let acks = l
            .epoch_acks
            .iter()
            .filter(|id| self.cfg.is_voter(**id))
            .count();
        if acks < self.quorum() || self.durable != self.log.last_zxid() {
            return;
        }
        let epoch = l.new_epoch;
        self.set_current_epoch(epoch);
        self.leader_mut().phase = Phase::Syncing;
        let waiting: Vec<PeerId> = (self.leader().handlers.iter())
            .filter(|(_, h)| h.phase == HandlerPhase::AwaitQuorum)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.sync_learner(id);
        }
    }

    /// `waitForNewLeaderAck` done: the history is committed, the leader serves.
    fn try_establish(&mut self) {
        let l = self.leader();
        let mut acks = (l.handlers.iter())
            .filter(|(id, h)| self.cfg.is_voter(**id) && h.newleader_acked())
            .count();
        if self.current_epoch == l.new_epoch && self.durable == self.log.last_zxid() {
            acks += 1;
        }
        if acks < self.quorum() {
            return;
        }
        let epoch = l.new_epoch;
        let now = self.now_ms;
        let l = self.leader_mut();
        l.phase = Phase::Broadcast;
        l.established_at_ms = Some(now);
        self.update_election_vote(epoch);
        self.event(RoleEvent::LeaderEstablished { epoch });
        let history_end = self.log.last_zxid();
        self.leader_commit(history_end);
        let (l, ready) = self.leader_and_ready();
        for (&id, h) in l.handlers.iter_mut() {
            if h.phase == HandlerPhase::AwaitEstablished {
                h.phase = HandlerPhase::Synced;
                h.send(ready, id, Packet::UpToDate);
            }
        }
    }

    pub(crate) fn leader_on_packet(
        &mut self,
        from: PeerId,
        conn: u64,
        seq: u64,
        packet: Packet,
    ) -> Result<(), Error> {
        match packet {
            Packet::FollowerInfo { accepted_epoch, .. } if seq == 0 => {
                self.on_learner_info(from, conn, LearnerType::Participant, accepted_epoch)
            }
            Packet::ObserverInfo { accepted_epoch, .. } if seq == 0 => {
                self.on_learner_info(from, conn, LearnerType::Observer, accepted_epoch)
            }
            packet => {
                self.accept_sequenced(from, conn, seq)?;
                self.on_learner_packet(from, packet)
            }
        }
    }

    /// Checks the connection and sequence number of a packet from a learner.
    fn accept_sequenced(&mut self, from: PeerId, conn: u64, seq: u64) -> Result<(), Error> {
        let now = self.now_ms;
        let l = self.leader_mut();
        let Some(h) = l.handlers.get_mut(&from).filter(|h| h.conn == conn) else {
            return Err(Error::StaleConnection { from });
        };
        if seq < h.in_seq {
            return Err(Error::Duplicate { from, seq });
        }
        if seq > h.in_seq {
            let expected = h.in_seq;
            l.handlers.remove(&from);
            return Err(Error::OutOfSequence {
                from,
                expected,
                got: seq,
            });
        }
        h.in_seq += 1;
        h.last_heard_ms = now;
        Ok(())
    }

    fn on_learner_info(
        &mut self,
        from: PeerId,
        conn: u64,
        kind: LearnerType,
        accepted_epoch: Epoch,
    ) -> Result<(), Error> {
        let expected = if self.cfg.is_voter(from) {
            LearnerType::Participant
        } else {
            LearnerType::Observer
        };
        if kind != expected {
            return Err(Error::Violation {
                from,
                reason: format!("connected as {kind:?}"),
            });
        }
        if self
            .leader()
            .handlers
            .get(&from)
            .is_some_and(|h| h.conn == conn)
        {
            return Err(Error::Duplicate { from, seq: 0 });
        }
        let l = self.leader();
        if l.phase != Phase::Discovery
            && accepted_epoch > l.new_epoch
            && kind == LearnerType::Participant
        {
            // The voter promised a later epoch (to a leader that never got established, maybe
            // itself) and can never accept this one: ZooKeeper's learner fails with "Leaders
            // epoch is less than accepted epoch" and retries for as long as this leader lasts.
            // Stepping down lets the next discovery pick an epoch above that promise.
            let mine = l.new_epoch;
            self.go_looking();
            return Err(Error::StaleLeaderEpoch {
                offered: mine,
                accepted: accepted_epoch,
            });
        }
        let now = self.now_ms;
        let mut handler = Handler {
            conn,
            kind,
            phase: HandlerPhase::AwaitAckEpoch,
            out_seq: 0,
            in_seq: 1,
            last_heard_ms: now,
            peer_last_zxid: Zxid::ZERO,
            sent_up_to: Zxid::ZERO,
            sync_end: Zxid::ZERO,
            acked: Zxid::ZERO,
            commit_sent: Zxid::ZERO,
        };
        let (l, ready) = self.leader_and_ready();
        if l.phase == Phase::Discovery {
            l.accepted.insert(from, accepted_epoch);
            l.handlers.insert(from, handler);
            self.leader_progress();
        } else {
            handler.send(
                ready,
                from,
                Packet::LeaderInfo {
                    new_epoch: l.new_epoch,
                },
            );
            l.handlers.insert(from, handler);
        }
        Ok(())
    }

    fn on_learner_packet(&mut self, from: PeerId, packet: Packet) -> Result<(), Error> {
        let phase = self.leader().handlers[&from].phase;
        let name = packet.name();
        match (packet, phase) {
            (
                Packet::AckEpoch {
                    current_epoch,
                    last_zxid,
                },
                HandlerPhase::AwaitAckEpoch,
            ) => self.on_ack_epoch(from, current_epoch, last_zxid),
            (Packet::AckNewLeader { zxid }, HandlerPhase::AwaitNewLeaderAck) => {
                self.on_ack_newleader(from, zxid)
            }
            (Packet::Ack { zxid }, _) => self.on_ack(from, zxid),
            (Packet::Ping, _) => Ok(()),
            (Packet::Request { payload }, _) => {
                // The host prepares a forwarded request against its own state (ZooKeeper's
                // leader runs it through PrepRequestProcessor) and proposes the result.
                if self.leader().established() {
                    self.ready.forwarded.push(Forwarded { from, payload });
                } else {
                    self.stats.requests_dropped += 1;
                }
                Ok(())
            }
            _ => Err(Error::OutOfPhase { from, packet: name }),
        }
    }

    fn on_ack_epoch(
        &mut self,
        from: PeerId,
        current_epoch: Option<Epoch>,
        last_zxid: Zxid,
    ) -> Result<(), Error> {
        if let Some(epoch) = current_epoch {
            if (epoch, last_zxid) > self.leader().summary {
                // ZooKeeper's LearnerHandler throws and the leader gives up its leadership.
                self.go_looking();
                return Err(Error::FollowerAhead { from });
            }
        }
        let l = self.leader_mut();
        let h = l
            .handlers
            .get_mut(&from)
            .expect("checked by accept_sequenced");
        h.peer_last_zxid = last_zxid;
        h.phase = HandlerPhase::AwaitQuorum;
        l.epoch_acks.insert(from);
        if l.phase == Phase::Discovery || l.phase == Phase::AwaitAckEpoch {
            self.leader_progress();
        } else {
            self.sync_learner(from);
        }
        Ok(())
    }

    fn sync_learner(&mut self, id: PeerId) {
        let peer_last = self.leader().handlers[&id].peer_last_zxid;
        match sync_mode(&self.log, peer_last) {
            SyncMode::Diff { from } => {
                self.stats.diff_syncs += 1;
                let first = Packet::Diff {
                    last_zxid: self.log.last_zxid(),
                };
                self.send_sync(id, first, from);
            }
            SyncMode::Trunc { to } => {
                self.stats.trunc_syncs += 1;
                self.send_sync(id, Packet::Trunc { zxid: to }, to)
            }
            SyncMode::Snap => {
                self.stats.snap_syncs += 1;
                let usable = self
                    .leader()
                    .snapshot
                    .as_ref()
                    .filter(|s| s.zxid >= self.log.base());
                match usable.cloned() {
                    Some(snapshot) => {
                        let from = snapshot.zxid;
                        self.send_sync(id, Packet::Snap { snapshot }, from);
                    }
                    None => {
                        let h = self.leader_mut().handlers.get_mut(&id).expect("handler");
                        h.phase = HandlerPhase::AwaitSnapshot;
                        self.ready.snapshot_wanted = true;
                    }
                }
            }
        }
    }

    /// Sends the first sync packet, every entry after `from`, the commit point and NEWLEADER.
    fn send_sync(&mut self, id: PeerId, first: Packet, from: Zxid) {
        let commit = self.commit;
        let last = self.log.last_zxid();
        let entries: Vec<Entry> = self.log.range(from, last).cloned().collect();
        let (l, ready) = self.leader_and_ready();
        let newleader = Zxid::new(l.new_epoch, 0);
        let h = l.handlers.get_mut(&id).expect("handler");
        h.send(ready, id, first);
        for entry in entries {
            h.send(ready, id, Packet::Proposal { entry });
        }
        h.sent_up_to = last;
        h.sync_end = last;
        if commit > Zxid::ZERO {
            h.send(ready, id, Packet::Commit { zxid: commit });
            h.commit_sent = commit;
        }
        h.send(ready, id, Packet::NewLeader { zxid: newleader });
        h.phase = HandlerPhase::AwaitNewLeaderAck;
    }

    pub(crate) fn leader_on_snapshot(&mut self, snapshot: Snapshot) {
        self.leader_mut().snapshot = Some(snapshot.clone());
        let waiting: Vec<PeerId> = (self.leader().handlers.iter())
            .filter(|(_, h)| h.phase == HandlerPhase::AwaitSnapshot)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            let from = snapshot.zxid;
            self.send_sync(
                id,
                Packet::Snap {
                    snapshot: snapshot.clone(),
                },
                from,
            );
        }
    }

    fn on_ack_newleader(&mut self, from: PeerId, zxid: Zxid) -> Result<(), Error> {
        let (l, ready) = self.leader_and_ready();
        if zxid != Zxid::new(l.new_epoch, 0) {
            return Err(Error::Violation {
                from,
                reason: format!("ACK(NEWLEADER) for {zxid}"),
            });
        }
        let established = l.phase == Phase::Broadcast;
        let h = l.handlers.get_mut(&from).expect("handler");
        if h.kind == LearnerType::Participant {
            h.acked = h.acked.max(h.sync_end);
        }
        if established {
            h.phase = HandlerPhase::Synced;
            h.send(ready, from, Packet::UpToDate);
        } else {
            h.phase = HandlerPhase::AwaitEstablished;
        }
        self.leader_progress();
        Ok(())
    }

    fn on_ack(&mut self, from: PeerId, zxid: Zxid) -> Result<(), Error> {
        let h = self.leader_mut().handlers.get_mut(&from).expect("handler");
        if h.kind != LearnerType::Participant || !h.newleader_acked() {
            return Err(Error::OutOfPhase {
                from,
                packet: "ACK",
            });
        }
        if zxid > h.sent_up_to {
            return Err(Error::Violation {
                from,
                reason: format!("ACK of unsent {zxid}"),
            });
        }
        h.acked = h.acked.max(zxid);
        self.leader_progress();
        Ok(())
    }

    /// The commit point is the highest zxid a quorum of voters (the leader by its own durable
    /// log) has acknowledged. Acknowledgements are cumulative because each follower's log is a
    /// copy of a prefix of the leader's.
    fn recompute_commit(&mut self) {
        let l = self.leader();
        let mut acks: Vec<Zxid> = (l.handlers.iter())
            .filter(|(id, h)| self.cfg.is_voter(**id) && h.newleader_acked())
            .map(|(_, h)| h.acked)
            .collect();
        acks.push(self.durable);
        if acks.len() < self.quorum() {
            return;
        }
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let point = acks[self.quorum() - 1];
        if point > self.commit {
            self.leader_commit(point);
        }
    }

    /// Commits locally, then COMMIT to followers and INFORM to observers.
    fn leader_commit(&mut self, zxid: Zxid) {
        let before = self.commit;
        self.commit_to(zxid);
        if self.commit == before {
            return;
        }
        let Peer {
            role: Role::Leading(l),
            ready,
            log,
            ..
        } = self
        else {
            unreachable!()
        };
        for (&id, h) in l.handlers.iter_mut().filter(|(_, h)| h.forwarding()) {
            let part = zxid.min(h.sent_up_to);
            if part > h.commit_sent {
                h.send(ready, id, Packet::Commit { zxid: part });
                h.commit_sent = part;
            }
            if h.kind == LearnerType::Observer && zxid > h.sent_up_to {
                let fresh: Vec<Entry> = log.range(h.sent_up_to, zxid).cloned().collect();
                for entry in fresh {
                    h.sent_up_to = entry.zxid;
                    h.send(ready, id, Packet::Inform { entry });
                }
                h.commit_sent = zxid;
            }
        }
        while let Some((z, to, payload)) = l.pending_syncs.pop_front() {
            if z > zxid {
                l.pending_syncs.push_front((z, to, payload));
                break;
            }
            if let Some(h) = l.handlers.get_mut(&to).filter(|h| h.forwarding()) {
                h.send(ready, to, Packet::Sync { payload });
            }
        }
    }

    /// `Leader.processSync`: answers a learner's forwarded `sync` with SYNC once everything
    /// proposed so far is committed, so the learner has applied it by the time the answer
    /// arrives (COMMIT and INFORM travel on the same ordered connection, ahead of it).
    pub(crate) fn leader_sync_barrier(&mut self, to: PeerId, payload: Bytes) -> Result<(), Error> {
        if !self.leader().established() {
            return Err(Error::NotServing);
        }
        let zxid = self.log.last_zxid();
        if zxid <= self.commit {
            self.send_sync_reply(to, payload);
        } else {
            self.leader_mut()
                .pending_syncs
                .push_back((zxid, to, payload));
        }
        Ok(())
    }

    fn send_sync_reply(&mut self, to: PeerId, payload: Bytes) {
        let (l, ready) = self.leader_and_ready();
        // A learner that went away since is dropped with its request, as ZooKeeper does.
        if let Some(h) = l.handlers.get_mut(&to).filter(|h| h.forwarding()) {
            h.send(ready, to, Packet::Sync { payload });
        }
    }

    /// `Leader.propose`: the next zxid of the epoch, logged and sent to every forwarding
    /// follower. At the counter limit the leader gives up its epoch (ZOOKEEPER-1277).
    pub(crate) fn leader_propose(&mut self, payload: Bytes) -> Result<Zxid, Error> {
        let l = self.leader();
        if l.phase != Phase::Broadcast {
            return Err(Error::NotServing);
        }
        if l.next_counter >= self.cfg.zxid_counter_limit {
            let epoch = self.current_epoch;
            self.go_looking();
            return Err(Error::CounterExhausted(epoch));
        }
        let zxid = Zxid::new(self.current_epoch, l.next_counter);
        self.leader_mut().next_counter += 1;
        let entry = Entry { zxid, payload };
        self.append(entry.clone());
        let (l, ready) = self.leader_and_ready();
        for (&id, h) in l.handlers.iter_mut() {
            if h.forwarding() && h.kind == LearnerType::Participant {
                h.sent_up_to = zxid;
                h.send(
                    ready,
                    id,
                    Packet::Proposal {
                        entry: entry.clone(),
                    },
                );
            }
        }
        Ok(zxid)
    }

    /// PINGs every half tick; drops silent learners; gives up leadership without a quorum.
    pub(crate) fn leader_tick(&mut self) {
        let now = self.now_ms;
        let tick = self.cfg.tick_ms;
        let init_ms = self.cfg.init_limit_ticks * tick;
        let sync_ms = self.cfg.sync_limit_ticks * tick;
        let Peer {
            role: Role::Leading(l),
            ready,
            cfg,
            ..
        } = self
        else {
            unreachable!()
        };
        if now >= l.next_ping_ms {
            l.next_ping_ms = now + tick / 2;
            for (&id, h) in l.handlers.iter_mut() {
                h.send(ready, id, Packet::Ping);
            }
        }
        l.handlers.retain(|_, h| {
            let limit = if h.phase == HandlerPhase::Synced {
                sync_ms
            } else {
                init_ms
            };
            now.saturating_sub(h.last_heard_ms) <= limit
        });
        let lost = if l.phase == Phase::Broadcast {
            let synced = (l.handlers.iter())
                .filter(|(id, h)| cfg.is_voter(**id) && h.newleader_acked())
                .filter(|(_, h)| now.saturating_sub(h.last_heard_ms) <= sync_ms)
                .count();
            synced + 1 < cfg.quorum()
        } else {
            now.saturating_sub(l.started_ms) > init_ms
        };
        if lost {
            self.go_looking();
        }
    }
}
