//! Followers and observers: `Learner.registerWithLeader`, `syncWithLeader`, and
//! `Follower.followLeader` / `Observer.observeLeader`.

use crate::error::Error;
use crate::message::{Message, Packet};
use crate::peer::{Peer, Role};
use crate::ready::RoleEvent;
use crate::types::{Entry, Epoch, LearnerType, PeerId, ServerState, Snapshot, Zxid};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// FOLLOWERINFO/OBSERVERINFO sent.
    AwaitLeaderInfo,
    /// ACKEPOCH sent; DIFF, TRUNC or SNAP comes next.
    AwaitSync,
    /// Receiving the history: proposals and commits until NEWLEADER.
    Syncing,
    /// NEWLEADER received; acknowledged once the log is durable.
    AwaitDurable { newleader: Zxid },
    /// ACK(NEWLEADER) sent.
    AwaitUpToDate,
    /// UPTODATE received: serving.
    Serving,
}

pub(crate) struct LearnerState {
    pub(crate) leader: PeerId,
    kind: LearnerType,
    conn: u64,
    out_seq: u64,
    in_seq: u64,
    phase: Phase,
    new_epoch: Epoch,
    /// Discovery and synchronisation must end by then (`initLimit`).
    init_deadline_ms: u64,
    last_heard_ms: u64,
    /// Highest zxid acknowledged to the leader.
    acked: Zxid,
    /// While awaiting LEADERINFO: when FOLLOWERINFO/OBSERVERINFO goes out again.
    next_info_ms: u64,
    /// How the leader brought this learner up to date: "DIFF", "TRUNC" or "SNAP".
    sync_kind: Option<&'static str>,
}

impl LearnerState {
    pub(crate) fn serving(&self) -> bool {
        self.phase == Phase::Serving
    }

    pub(crate) fn sync_kind(&self) -> Option<&'static str> {
        self.sync_kind
    }

    pub(crate) fn server_state(&self) -> ServerState {
        match self.kind {
            LearnerType::Participant => ServerState::Following,
            LearnerType::Observer => ServerState::Observing,
        }
    }
}

impl Peer {
    fn learner(&mut self) -> &mut LearnerState {
        match &mut self.role {
            Role::Learning(l) => l,
            _ => unreachable!("learner code runs only while learning"),
        }
    }

    pub(crate) fn become_learner(&mut self, leader: PeerId) {
        let kind = self.cfg.learner_type();
        self.role = Role::Learning(LearnerState {
            leader,
            kind,
            conn: self.rng.next_u64(),
            out_seq: 0,
            in_seq: 0,
            phase: Phase::AwaitLeaderInfo,
            new_epoch: 0,
            init_deadline_ms: self.deadline(self.cfg.init_limit_ticks),
            last_heard_ms: self.now_ms,
            acked: Zxid::ZERO,
            next_info_ms: self.now_ms + self.info_resend_ms(),
            sync_kind: None,
        });
        self.event(RoleEvent::Learning { leader });
        let info = self.learner_info();
        self.learner_send(info);
    }

    /// ZooKeeper's learner retries its connection to the leader (`Learner.connectToLeader`,
    /// every `leaderConnectDelayDuringRetryMs`, 100 ms) until the leader listens; here the
    /// first FOLLOWERINFO may reach the elected member before it has settled the election, so
    /// it is repeated, unchanged (the same connection and sequence number 0, which the leader
    /// takes once), until LEADERINFO.
    fn info_resend_ms(&self) -> u64 {
        (self.cfg.tick_ms / 2).clamp(1, 100)
    }

    fn learner_info(&self) -> Packet {
        let kind = self.cfg.learner_type();
        let (accepted_epoch, last_zxid) = (self.accepted_epoch, self.log.last_zxid());
        match kind {
            LearnerType::Participant => Packet::FollowerInfo {
                accepted_epoch,
                last_zxid,
            },
            LearnerType::Observer => Packet::ObserverInfo {
                accepted_epoch,
                last_zxid,
            },
        }
    }

    pub(crate) fn learner_send(&mut self, packet: Packet) {
        let l = self.learner();
        let (to, conn, seq) = (l.leader, l.conn, l.out_seq);
        l.out_seq += 1;
        self.send(to, Message::Quorum { conn, seq, packet });
    }

    pub(crate) fn learner_on_packet(
        &mut self,
        from: PeerId,
        conn: u64,
        seq: u64,
        packet: Packet,
    ) -> Result<(), Error> {
        let now = self.now_ms;
        let l = self.learner();
        if from != l.leader || conn != l.conn {
            return Err(Error::StaleConnection { from });
        }
        if seq < l.in_seq {
            return Err(Error::Duplicate { from, seq });
        }
        if seq > l.in_seq {
            let expected = l.in_seq;
            self.go_looking();
            return Err(Error::OutOfSequence {
                from,
                expected,
                got: seq,
            });
        }
        l.in_seq += 1;
        l.last_heard_ms = now;
        let result = self.learner_dispatch(from, packet);
        if matches!(
            result,
            Err(Error::Violation { .. } | Error::StaleLeaderEpoch { .. })
        ) {
            // ZooKeeper's learner throws, closes the socket and looks for a leader again.
            self.go_looking();
        }
        result
    }

    fn learner_dispatch(&mut self, from: PeerId, packet: Packet) -> Result<(), Error> {
        let (phase, kind) = {
            let l = self.learner();
            (l.phase, l.kind)
        };
        let observer = kind == LearnerType::Observer;
        let receiving = matches!(
            phase,
            Phase::Syncing | Phase::AwaitDurable { .. } | Phase::AwaitUpToDate | Phase::Serving
        );
        let name = packet.name();
        match (packet, phase) {
            (Packet::LeaderInfo { new_epoch }, Phase::AwaitLeaderInfo) => {
                self.on_leader_info(new_epoch)
            }
            (Packet::Diff { .. }, Phase::AwaitSync) => {
                let l = self.learner();
                l.phase = Phase::Syncing;
                l.sync_kind = Some("DIFF");
                Ok(())
            }
            (Packet::Trunc { zxid }, Phase::AwaitSync) => {
                self.learner().sync_kind = Some("TRUNC");
                self.on_trunc(from, zxid)
            }
            (Packet::Snap { snapshot }, Phase::AwaitSync) => {
                self.learner().sync_kind = Some("SNAP");
                self.on_snap(from, snapshot)
            }
            (Packet::Proposal { entry }, _)
                if receiving && (!observer || phase == Phase::Syncing) =>
            {
                self.on_proposal(from, entry)
            }
            (Packet::Commit { zxid }, _) if receiving => self.on_commit(from, zxid),
            (Packet::Inform { entry }, _) if receiving && observer => self.on_inform(from, entry),
            (Packet::NewLeader { zxid }, Phase::Syncing) => self.on_newleader(from, zxid),
            (Packet::UpToDate, Phase::AwaitUpToDate) => {
                let l = self.learner();
                l.phase = Phase::Serving;
                let (leader, epoch) = (l.leader, l.new_epoch);
                self.update_election_vote(epoch);
                self.event(RoleEvent::LearnerServing { leader, epoch });
                Ok(())
            }
            (Packet::Ping, _) => {
                self.learner_send(Packet::Ping);
                Ok(())
            }
            (Packet::Sync { payload }, Phase::Serving) => {
                self.ready.synced.push(payload);
                Ok(())
            }
            _ => Err(Error::OutOfPhase { from, packet: name }),
        }
    }

    /// `registerWithLeader`: accept the epoch (persisting acceptedEpoch) and answer ACKEPOCH.
    fn on_leader_info(&mut self, new_epoch: Epoch) -> Result<(), Error> {
        let current_epoch = if new_epoch > self.accepted_epoch {
            self.set_accepted_epoch(new_epoch);
            Some(self.current_epoch)
        } else if new_epoch == self.accepted_epoch {
            None
        } else {
            let accepted = self.accepted_epoch;
            return Err(Error::StaleLeaderEpoch {
                offered: new_epoch,
                accepted,
            });
        };
        let last_zxid = self.log.last_zxid();
        let l = self.learner();
        l.new_epoch = new_epoch;
        l.phase = Phase::AwaitSync;
        self.learner_send(Packet::AckEpoch {
            current_epoch,
            last_zxid,
        });
        Ok(())
    }

    fn on_trunc(&mut self, from: PeerId, zxid: Zxid) -> Result<(), Error> {
        if zxid < self.commit || zxid < self.log.base() {
            let reason = format!("TRUNC to {zxid} below the commit point {}", self.commit);
            return Err(Error::Violation { from, reason });
        }
        self.truncate_after(zxid);
        self.learner().phase = Phase::Syncing;
        Ok(())
    }

    fn on_snap(&mut self, from: PeerId, snapshot: Snapshot) -> Result<(), Error> {
        if snapshot.zxid < self.commit {
            let reason = format!(
                "SNAP at {} below the commit point {}",
                snapshot.zxid, self.commit
            );
            return Err(Error::Violation { from, reason });
        }
        self.install_snapshot(snapshot);
        self.learner().phase = Phase::Syncing;
        Ok(())
    }

    fn on_proposal(&mut self, from: PeerId, entry: Entry) -> Result<(), Error> {
        if entry.zxid <= self.log.last_zxid() {
            let reason = format!("PROPOSAL {} not after {}", entry.zxid, self.log.last_zxid());
            return Err(Error::Violation { from, reason });
        }
        self.append(entry);
        Ok(())
    }

    fn on_commit(&mut self, from: PeerId, zxid: Zxid) -> Result<(), Error> {
        if zxid > self.log.last_zxid() {
            let reason = format!("COMMIT {zxid} beyond the log end {}", self.log.last_zxid());
            return Err(Error::Violation { from, reason });
        }
        self.commit_to(zxid);
        Ok(())
    }

    fn on_inform(&mut self, from: PeerId, entry: Entry) -> Result<(), Error> {
        let zxid = entry.zxid;
        self.on_proposal(from, entry)?;
        self.commit_to(zxid);
        Ok(())
    }

    fn on_newleader(&mut self, from: PeerId, zxid: Zxid) -> Result<(), Error> {
        if zxid != Zxid::new(self.learner().new_epoch, 0) {
            let reason = format!("NEWLEADER {zxid} for another epoch");
            return Err(Error::Violation { from, reason });
        }
        self.learner().phase = Phase::AwaitDurable { newleader: zxid };
        self.learner_on_durable();
        Ok(())
    }

    /// Once the synchronised history is durable, persist currentEpoch and acknowledge
    /// NEWLEADER, in that order (ZOOKEEPER-4646); later durable entries are acknowledged as ACK.
    pub(crate) fn learner_on_durable(&mut self) {
        let (durable, last) = (self.durable, self.log.last_zxid());
        let l = self.learner();
        match l.phase {
            Phase::AwaitDurable { newleader } if durable == last => {
                l.phase = Phase::AwaitUpToDate;
                l.acked = last;
                self.set_current_epoch(newleader.epoch());
                self.learner_send(Packet::AckNewLeader { zxid: newleader });
            }
            Phase::AwaitUpToDate | Phase::Serving
                if l.kind == LearnerType::Participant && durable > l.acked =>
            {
                l.acked = durable;
                self.learner_send(Packet::Ack { zxid: durable });
            }
            _ => {}
        }
    }

    /// Gives up on a leader that fell silent (`syncLimit`) or on a sync that took too long
    /// (`initLimit`).
    pub(crate) fn learner_tick(&mut self) {
        let now = self.now_ms;
        let sync_ms = self.cfg.sync_limit_ticks * self.cfg.tick_ms;
        let l = self.learner();
        let expired = if l.phase == Phase::Serving {
            now.saturating_sub(l.last_heard_ms) > sync_ms
        } else {
            now > l.init_deadline_ms
        };
        if expired {
            self.go_looking();
            return;
        }
        let resend =
            self.learner().phase == Phase::AwaitLeaderInfo && now >= self.learner().next_info_ms;
        if resend {
            let every = self.info_resend_ms();
            let info = self.learner_info();
            let l = self.learner();
            l.next_info_ms = now + every;
            let (to, conn) = (l.leader, l.conn);
            self.send(
                to,
                Message::Quorum {
                    conn,
                    seq: 0,
                    packet: info,
                },
            );
        }
    }
}
