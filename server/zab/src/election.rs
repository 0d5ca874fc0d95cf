//! Fast leader election as `FastLeaderElection.lookForLeader` and its `WorkerReceiver` run it.

use crate::message::{Message, Notification};
use crate::peer::{Peer, Role};
use crate::ready::RoleEvent;
use crate::types::{Epoch, PeerId, ServerState, Zxid};
use std::collections::BTreeMap;

/// A vote: who should lead, and the facts that rank it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Vote {
    pub leader: PeerId,
    pub zxid: Zxid,
    pub peer_epoch: Epoch,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    vote: Vote,
    state: ServerState,
}

pub(crate) struct Election {
    /// `logicalclock`: the election round.
    pub(crate) logical_clock: u64,
    /// The vote this member currently proposes (or, once settled, the elected one).
    pub(crate) proposal: Vote,
    /// Round in which the settled vote was decided (`Vote.electionEpoch`).
    settled_epoch: u64,
    recv: BTreeMap<PeerId, Received>,
    out_of_election: BTreeMap<PeerId, Received>,
    finalize_at: Option<u64>,
    resend_at: u64,
    interval_ms: u64,
}

impl Election {
    pub(crate) fn new(interval_ms: u64) -> Election {
        Election {
            logical_clock: 0,
            proposal: Vote {
                leader: 0,
                zxid: Zxid::ZERO,
                peer_epoch: 0,
            },
            settled_epoch: 0,
            recv: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            finalize_at: None,
            resend_at: 0,
            interval_ms,
        }
    }
}

impl Peer {
    /// This member's own vote: itself with its last logged zxid and current epoch. An observer
    /// proposes nobody (ZooKeeper: `Long.MIN_VALUE`), so any voter's vote beats it.
    fn init_vote(&self) -> Vote {
        if self.cfg.is_voter(self.cfg.my_id) {
            Vote {
                leader: self.cfg.my_id,
                zxid: self.log.last_zxid(),
                peer_epoch: self.current_epoch,
            }
        } else {
            Vote {
                leader: 0,
                zxid: Zxid::ZERO,
                peer_epoch: 0,
            }
        }
    }

    /// `totalOrderPredicate`: does `new` beat `cur`? Ordered by (peer epoch, zxid, server id);
    /// a non-voter never wins.
    fn beats(&self, new: Vote, cur: Vote) -> bool {
        if !self.cfg.is_voter(new.leader) {
            return false;
        }
        if !self.cfg.is_voter(cur.leader) {
            return true;
        }
        (new.peer_epoch, new.zxid, new.leader) > (cur.peer_epoch, cur.zxid, cur.leader)
    }

    pub(crate) fn start_looking(&mut self) {
        self.role = Role::Looking;
        self.stats.elections += 1;
        self.event(RoleEvent::Looking);
        let init = self.init_vote();
        let interval = self.cfg.min_notification_interval_ms;
        let e = &mut self.election;
        e.logical_clock += 1;
        e.proposal = init;
        e.recv.clear();
        e.out_of_election.clear();
        e.finalize_at = None;
        e.interval_ms = interval;
        self.record_own_vote();
        self.send_notifications();
        self.schedule_resend();
        // A single voter is its own quorum.
        self.check_proposal_quorum();
    }

    fn record_own_vote(&mut self) {
        if self.cfg.is_voter(self.cfg.my_id) {
            let own = Received {
                vote: self.election.proposal,
                state: ServerState::Looking,
            };
            self.election.recv.insert(self.cfg.my_id, own);
        }
    }

    fn schedule_resend(&mut self) {
        let jitter = self.rng.up_to(self.cfg.election_jitter_ms);
        self.election.resend_at = self.now_ms + self.election.interval_ms + jitter;
    }

    fn send_notifications(&mut self) {
        let n = Notification {
            state: ServerState::Looking,
            leader: self.election.proposal.leader,
            zxid: self.election.proposal.zxid,
            election_epoch: self.election.logical_clock,
            peer_epoch: self.election.proposal.peer_epoch,
        };
        let voters: Vec<PeerId> = self
            .cfg
            .voters
            .iter()
            .copied()
            .filter(|&v| v != self.cfg.my_id)
            .collect();
        for v in voters {
            self.send(v, Message::Election(n));
        }
    }

    /// The notification describing this member as it stands, sent back to a member that asks.
    fn current_notification(&self) -> Notification {
        let (state, epoch) = match &self.role {
            Role::Looking => (ServerState::Looking, self.election.logical_clock),
            Role::Leading(_) => (ServerState::Leading, self.election.settled_epoch),
            Role::Learning(l) => (l.server_state(), self.election.settled_epoch),
        };
        let v = self.election.proposal;
        Notification {
            state,
            leader: v.leader,
            zxid: v.zxid,
            election_epoch: epoch,
            peer_epoch: v.peer_epoch,
        }
    }

    pub(crate) fn on_notification(&mut self, from: PeerId, n: Notification) {
        let looking = matches!(self.role, Role::Looking);
        // WorkerReceiver: a non-voter's vote is never counted, only answered; a member that has
        // settled answers a LOOKING member with the leader it follows; a LOOKING member answers
        // one from an older round with its own proposal. Only voters answer: an observer's
        // answer would be answered in turn, and nobody counts it anyway.
        let answers = self.cfg.is_voter(self.cfg.my_id);
        if !self.cfg.is_voter(from) {
            if answers {
                let reply = self.current_notification();
                self.send(from, Message::Election(reply));
            }
            return;
        }
        if !looking {
            if n.state == ServerState::Looking && answers {
                let reply = self.current_notification();
                self.send(from, Message::Election(reply));
            }
            return;
        }
        if n.state == ServerState::Looking
            && n.election_epoch < self.election.logical_clock
            && answers
        {
            let reply = self.current_notification();
            self.send(from, Message::Election(reply));
        }
        // Hearing from a peer resets the resend timer, as `recvqueue.poll(notTimeout)` does.
        self.schedule_resend();
        let vote = Vote {
            leader: n.leader,
            zxid: n.zxid,
            peer_epoch: n.peer_epoch,
        };
        match n.state {
            ServerState::Looking => self.on_looking_vote(from, n.election_epoch, vote),
            ServerState::Following | ServerState::Leading => {
                self.on_settled_vote(from, n.state, n.election_epoch, vote)
            }
            ServerState::Observing => {}
        }
    }

    fn on_looking_vote(&mut self, from: PeerId, round: u64, vote: Vote) {
        let clock = self.election.logical_clock;
        if round > clock {
            let init = self.init_vote();
            self.election.logical_clock = round;
            self.election.recv.clear();
            self.election.proposal = if self.beats(vote, init) { vote } else { init };
            self.election.finalize_at = None;
            self.record_own_vote();
            self.send_notifications();
        } else if round < clock {
            return;
        } else if self.beats(vote, self.election.proposal) {
            self.election.proposal = vote;
            self.election.finalize_at = None;
            self.record_own_vote();
            self.send_notifications();
        }
        let received = Received {
            vote,
            state: ServerState::Looking,
        };
        self.election.recv.insert(from, received);
        self.check_proposal_quorum();
    }

    /// Once a quorum agrees with the proposal, wait `finalizeWait` for a better vote; settle
    /// at once when every voter that can still vote agrees (ZooKeeper 3.4 settled when it had
    /// heard from every voter; a voter whose link is down cannot send a better vote).
    fn check_proposal_quorum(&mut self) {
        let proposal = self.election.proposal;
        if !self.has_quorum(&self.election.recv, |v| v == proposal) {
            return;
        }
        let everyone = self.cfg.voters.iter().all(|id| {
            self.unreachable.contains(id)
                || self
                    .election
                    .recv
                    .get(id)
                    .is_some_and(|r| r.vote == proposal)
        });
        if everyone {
            self.settle(proposal, self.election.logical_clock);
        } else if self.election.finalize_at.is_none() {
            self.election.finalize_at = Some(self.now_ms + self.cfg.finalize_wait_ms);
        }
    }

    fn on_settled_vote(&mut self, from: PeerId, state: ServerState, round: u64, vote: Vote) {
        let received = Received { vote, state };
        if round == self.election.logical_clock {
            self.election.recv.insert(from, received);
            if self.has_quorum(&self.election.recv, |v| v == vote)
                && self.check_leader(&self.election.recv, vote.leader, round)
            {
                self.settle(vote, round);
                return;
            }
        }
        // Members that settled in an earlier round: follow their leader once a quorum of them
        // and the leader itself say so.
        self.election.out_of_election.insert(from, received);
        let same = |v: Vote| v.leader == vote.leader && v.peer_epoch == vote.peer_epoch;
        if self.has_quorum(&self.election.out_of_election, same)
            && self.check_leader(&self.election.out_of_election, vote.leader, round)
        {
            self.election.logical_clock = round;
            self.settle(vote, round);
        }
    }

    fn has_quorum(&self, set: &BTreeMap<PeerId, Received>, agrees: impl Fn(Vote) -> bool) -> bool {
        let n = set
            .iter()
            .filter(|(id, r)| self.cfg.is_voter(**id) && agrees(r.vote))
            .count();
        n >= self.quorum()
    }

    /// `checkLeader`: a leader other than this member must itself have said it is LEADING;
    /// this member only leads from a vote of its current round.
    fn check_leader(&self, set: &BTreeMap<PeerId, Received>, leader: PeerId, round: u64) -> bool {
        if leader == self.cfg.my_id {
            return round == self.election.logical_clock;
        }
        set.get(&leader)
            .is_some_and(|r| r.state == ServerState::Leading)
    }

    pub(crate) fn election_tick(&mut self) {
        if let Some(at) = self.election.finalize_at {
            if self.now_ms >= at {
                let proposal = self.election.proposal;
                if self.has_quorum(&self.election.recv, |v| v == proposal) {
                    self.settle(proposal, self.election.logical_clock);
                    return;
                }
                self.election.finalize_at = None;
            }
        }
        if self.now_ms >= self.election.resend_at {
            self.send_notifications();
            let doubled = self.election.interval_ms.saturating_mul(2);
            self.election.interval_ms = doubled.min(self.cfg.max_notification_interval_ms);
            self.schedule_resend();
        }
    }

    /// `QuorumPeer.updateElectionVote` (ZOOKEEPER-1732): once serving in a new epoch, report
    /// that epoch in the vote, so every member of the ensemble answers a newcomer with the same
    /// (leader, peer epoch) and the newcomer can count a quorum of them.
    pub(crate) fn update_election_vote(&mut self, epoch: Epoch) {
        self.election.proposal.peer_epoch = epoch;
    }

    fn settle(&mut self, vote: Vote, round: u64) {
        let e = &mut self.election;
        e.proposal = vote;
        e.settled_epoch = round;
        e.finalize_at = None;
        e.recv.clear();
        e.out_of_election.clear();
        if vote.leader == self.cfg.my_id {
            self.become_leader();
        } else {
            self.become_learner(vote.leader);
        }
    }
}
