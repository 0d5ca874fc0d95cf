//! Unit tests of the core: vote order, the sync-mode table, the Ready contract's ordering,
//! and hostile input. Whole-ensemble behaviour under faults is the simulator's job
//! (`server/sim`).

use crate::leader::{sync_mode, SyncMode};
use crate::log::Log;
use crate::*;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

fn cfg(my_id: PeerId, voters: &[PeerId], observers: &[PeerId]) -> Config {
    Config {
        my_id,
        voters: voters.to_vec(),
        observers: observers.to_vec(),
        tick_ms: 100,
        election_jitter_ms: 0,
        rng_seed: 7,
        ..Config::default()
    }
}

fn entry(epoch: Epoch, counter: u32) -> Entry {
    Entry {
        zxid: Zxid::new(epoch, counter),
        payload: Bytes::from(format!("{epoch}/{counter}")),
    }
}

/// What a member that served in `epoch` with these entries finds on disk.
fn disk(epoch: Epoch, entries: &[(Epoch, u32)]) -> Persisted {
    Persisted {
        accepted_epoch: epoch,
        current_epoch: epoch,
        snapshot_zxid: Zxid::ZERO,
        log: entries.iter().map(|(e, c)| entry(*e, *c)).collect(),
    }
}

/// A lossless, in-order network where every append is durable at once. It records every
/// packet and storage op so tests can check their order.
struct Net {
    peers: BTreeMap<PeerId, Peer>,
    inflight: VecDeque<(PeerId, Envelope)>,
    log: Vec<(PeerId, String)>,
    committed: BTreeMap<PeerId, Vec<Zxid>>,
    /// Requests each leader surfaced for the host to prepare and propose.
    forwarded: BTreeMap<PeerId, usize>,
    /// Per member: how many entries it had committed when each SYNC answer reached its host.
    synced: BTreeMap<PeerId, Vec<usize>>,
    /// FOLLOWERINFO packets still to be lost in transit (as if they reached a member that
    /// had not settled the election yet).
    lose_follower_infos: usize,
    now: u64,
}

impl Net {
    fn new(voters: &[PeerId], observers: &[PeerId], disks: &[(PeerId, Persisted)]) -> Net {
        let mut peers = BTreeMap::new();
        for &id in voters.iter().chain(observers) {
            let disk = disks
                .iter()
                .find(|d| d.0 == id)
                .map(|d| d.1.clone())
                .unwrap_or_default();
            peers.insert(id, Peer::new(cfg(id, voters, observers), disk, 0).unwrap());
        }
        let mut net = Net {
            peers,
            inflight: VecDeque::new(),
            log: vec![],
            committed: BTreeMap::new(),
            forwarded: BTreeMap::new(),
            synced: BTreeMap::new(),
            lose_follower_infos: 0,
            now: 0,
        };
        let ids: Vec<PeerId> = net.peers.keys().copied().collect();
        for id in ids {
            net.drain(id);
        }
        net
    }

    fn drain(&mut self, id: PeerId) {
        while let Some(peer) = self.peers.get_mut(&id).filter(|p| p.has_ready()) {
            let ready = peer.take_ready();
            let mut last_write = None;
            for op in &ready.storage {
                self.log.push((
                    id,
                    format!("{op:?}")
                        .split(['(', ' '])
                        .next()
                        .unwrap()
                        .to_string(),
                ));
                if let StorageOp::Append { write_id, .. } = op {
                    last_write = Some(*write_id);
                }
            }
            for m in ready.messages {
                if let Message::Quorum { packet, .. } = &m.message {
                    self.log.push((id, packet.name().to_string()));
                }
                self.inflight.push_back((id, m));
            }
            let done = self.committed.entry(id).or_default();
            done.extend(ready.committed.iter().map(|e| e.zxid));
            let done = done.len();
            (self.synced.entry(id).or_default()).extend(ready.synced.iter().map(|_| done));
            let peer = self.peers.get_mut(&id).unwrap();
            if let Some(w) = last_write {
                peer.persisted(w);
            }
            // The host's part of forwarding: a leader proposes what learners forwarded.
            for request in ready.forwarded {
                *self.forwarded.entry(id).or_default() += 1;
                let _ = peer.propose(request.payload);
            }
        }
    }

    /// Delivers messages and advances time in 10 ms steps until `done` holds or `ms` passes.
    fn run(&mut self, ms: u64, done: impl Fn(&Net) -> bool) -> bool {
        let end = self.now + ms;
        while self.now < end {
            let mut delivered = 0;
            while let Some((from, m)) = self.inflight.pop_front() {
                delivered += 1;
                assert!(
                    delivered < 100_000,
                    "a message storm: members answer each other forever"
                );
                let info = matches!(
                    m.message,
                    Message::Quorum {
                        packet: Packet::FollowerInfo { .. },
                        ..
                    }
                );
                if info && self.lose_follower_infos > 0 {
                    self.lose_follower_infos -= 1;
                    continue;
                }
                if let Some(p) = self.peers.get_mut(&m.to) {
                    let _ = p.step(from, m.message);
                    self.drain(m.to);
                }
            }
            if done(self) {
                return true;
            }
            self.now += 10;
            let ids: Vec<PeerId> = self.peers.keys().copied().collect();
            for id in ids {
                self.peers.get_mut(&id).unwrap().tick(self.now);
                self.drain(id);
            }
        }
        done(self)
    }

    fn all_serving(&self) -> bool {
        self.peers.values().all(|p| p.status().serving)
    }

    fn leader(&self) -> Option<PeerId> {
        self.peers
            .values()
            .find(|p| p.status().state == ServerState::Leading)
            .map(|p| p.status().id)
    }

    fn position(&self, id: PeerId, what: &str) -> usize {
        self.log
            .iter()
            .position(|(i, w)| *i == id && w == what)
            .unwrap_or(usize::MAX)
    }
}

#[test]
fn zxid_packs_epoch_and_counter_like_zxidutils() {
    // ZxidUtils.makeZxid / getEpochFromZxid / getCounterFromZxid.
    let z = Zxid::new(0x12, 0x3456);
    assert_eq!(z.0, 0x0000_0012_0000_3456);
    assert_eq!((z.epoch(), z.counter()), (0x12, 0x3456));
    assert!(Zxid::new(2, 0) > Zxid::new(1, u32::MAX));
}

#[test]
fn the_highest_epoch_then_zxid_then_id_wins_the_election() {
    // FastLeaderElection.totalOrderPredicate: peer epoch, then zxid, then server id.
    let disks = [
        (1, disk(2, &[(2, 1)])),
        (2, disk(1, &[(1, 9)])),
        (3, disk(2, &[(2, 1)])),
    ];
    let mut net = Net::new(&[1, 2, 3], &[], &disks);
    assert!(net.run(5_000, Net::all_serving));
    assert_eq!(
        net.leader(),
        Some(3),
        "epoch 2 and zxid tie: the higher id leads"
    );
    let disks = [(1, disk(2, &[(2, 5)])), (3, disk(2, &[(2, 1)]))];
    let mut net = Net::new(&[1, 2, 3], &[], &disks);
    assert!(net.run(5_000, Net::all_serving));
    assert_eq!(
        net.leader(),
        Some(1),
        "the longer log of the same epoch leads"
    );
}

#[test]
fn an_observer_never_leads_and_ends_up_observing() {
    // ZooKeeper: observers have weight 0 and never win (`totalOrderPredicate`).
    // The observer's log is the longest; a voter's vote would win with it.
    let disks = [
        (1, disk(2, &[(2, 1)])),
        (2, disk(2, &[(2, 1)])),
        (3, disk(2, &[(2, 1)])),
        (4, disk(2, &[(2, 1), (2, 2)])),
    ];
    let mut net = Net::new(&[1, 2, 3], &[4], &disks);
    assert!(net.run(5_000, Net::all_serving));
    assert_ne!(net.leader(), Some(4));
    assert_eq!(net.peers[&4].status().state, ServerState::Observing);
}

#[test]
fn discovery_and_sync_follow_zookeepers_packet_order() {
    // Learner.registerWithLeader / syncWithLeader, LearnerHandler.run.
    let mut net = Net::new(&[1, 2, 3], &[], &[]);
    assert!(net.run(5_000, Net::all_serving));
    let leader = net.leader().unwrap();
    let learner = *net.peers.keys().find(|id| **id != leader).unwrap();
    let order = ["FOLLOWERINFO", "ACKEPOCH", "ACK(NEWLEADER)"];
    let at: Vec<usize> = order.iter().map(|w| net.position(learner, w)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "learner packets out of order: {at:?}"
    );
    let order = ["LEADERINFO", "DIFF", "NEWLEADER", "UPTODATE"];
    let at: Vec<usize> = order.iter().map(|w| net.position(leader, w)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "leader packets out of order: {at:?}"
    );
    // The learner persists acceptedEpoch before ACKEPOCH and currentEpoch before ACK(NEWLEADER).
    assert!(net.position(learner, "AcceptedEpoch") < net.position(learner, "ACKEPOCH"));
    assert!(net.position(learner, "CurrentEpoch") < net.position(learner, "ACK(NEWLEADER)"));
    let s = net.peers[&leader].status();
    assert_eq!(
        (s.accepted_epoch, s.current_epoch),
        (1, 1),
        "first epoch is max(accepted)+1"
    );
}

#[test]
fn a_learner_repeats_followerinfo_until_the_leader_has_settled() {
    // A follower may settle the election and send FOLLOWERINFO before the leader-to-be has
    // finished its finalize wait; the leader drops it as out of phase. ZooKeeper's learner
    // retries its connection; without a repeat both would wait out initLimit and re-elect.
    let mut net = Net::new(&[1, 2, 3], &[], &[]);
    net.lose_follower_infos = 2;
    let init_limit_ms = 10 * 100;
    assert!(net.run(init_limit_ms - 100, Net::all_serving));
    assert_eq!(net.lose_follower_infos, 0, "the first two were lost");
    for p in net.peers.values() {
        assert_eq!(
            p.stats().elections,
            1,
            "member {} re-elected",
            p.status().id
        );
    }
}

#[test]
fn a_write_commits_everywhere_in_zxid_order_after_a_quorum_acks() {
    let mut net = Net::new(&[1, 2, 3], &[4], &[]);
    assert!(net.run(5_000, Net::all_serving));
    let leader = net.leader().unwrap();
    let follower = *net
        .peers
        .keys()
        .find(|id| **id != leader && **id != 4)
        .unwrap();
    for i in 0..5 {
        let via = if i % 2 == 0 { leader } else { follower };
        net.peers
            .get_mut(&via)
            .unwrap()
            .propose(Bytes::from(format!("w{i}")))
            .unwrap();
        net.drain(via);
    }
    assert!(net.run(1_000, |n| n.committed.values().all(|c| c.len() == 5)));
    let expected: Vec<Zxid> = (1..=5).map(|c| Zxid::new(1, c)).collect();
    for (id, c) in &net.committed {
        assert_eq!(c, &expected, "member {id} committed out of order");
    }
    // The follower's two writes reached the host of the leader as REQUESTs to prepare
    // (Learner.request / PrepRequestProcessor), not proposed by the core on its own.
    assert_eq!(net.forwarded.get(&leader), Some(&2));
    assert_eq!(
        net.forwarded.len(),
        1,
        "only the leader gets forwarded requests"
    );
    // Observers get INFORM, never PROPOSAL (Leader.inform).
    assert!(net.position(4, "ACK") == usize::MAX);
}

#[test]
fn a_sync_answer_waits_for_every_earlier_proposal_to_commit() {
    // Leader.processSync: with proposals outstanding, SYNC goes out after their COMMIT.
    let mut net = Net::new(&[1, 2, 3], &[4], &[]);
    assert!(net.run(5_000, Net::all_serving));
    let leader = net.leader().unwrap();
    let learners: Vec<PeerId> = net.peers.keys().copied().filter(|&i| i != leader).collect();
    let p = net.peers.get_mut(&leader).unwrap();
    for i in 0..3 {
        p.propose(Bytes::from(format!("w{i}"))).unwrap();
    }
    for &l in &learners {
        p.sync_barrier(l, Bytes::from_static(b"s")).unwrap();
    }
    net.drain(leader);
    assert!(
        !net.inflight.iter().any(|(_, m)| matches!(
            m.message,
            Message::Quorum {
                packet: Packet::Sync { .. },
                ..
            }
        )),
        "nothing is committed yet, so no SYNC may leave"
    );
    assert!(net.run(1_000, |n| learners
        .iter()
        .all(|l| n.synced.get(l).is_some_and(|s| !s.is_empty()))));
    for l in &learners {
        assert_eq!(
            net.synced[l],
            vec![3],
            "member {l} got SYNC before applying what preceded it"
        );
    }
    // With nothing outstanding the answer leaves at once.
    let p = net.peers.get_mut(&leader).unwrap();
    p.sync_barrier(learners[0], Bytes::from_static(b"t"))
        .unwrap();
    net.drain(leader);
    assert!(net.run(100, |n| n.synced[&learners[0]].len() == 2));
    assert_eq!(
        net.peers
            .get_mut(&learners[0])
            .unwrap()
            .sync_barrier(leader, Bytes::new()),
        Err(Error::NotServing),
        "only a leader answers syncs"
    );
}

#[test]
fn the_sync_mode_follows_syncfollower() {
    // LearnerHandler.syncFollower (anchor 4.4).
    let log = Log::new(
        Zxid::new(1, 2),
        vec![entry(1, 3), entry(1, 4), entry(2, 1), entry(2, 2)],
    );
    let mode = |peer: Zxid| sync_mode(&log, peer);
    assert_eq!(
        mode(Zxid::new(2, 2)),
        SyncMode::Diff {
            from: Zxid::new(2, 2)
        },
        "equal: empty DIFF"
    );
    assert_eq!(
        mode(Zxid::new(2, 7)),
        SyncMode::Trunc {
            to: Zxid::new(2, 2)
        },
        "ahead: TRUNC"
    );
    assert_eq!(
        mode(Zxid::new(1, 4)),
        SyncMode::Diff {
            from: Zxid::new(1, 4)
        },
        "in the log: DIFF"
    );
    assert_eq!(
        mode(Zxid::new(1, 2)),
        SyncMode::Diff {
            from: Zxid::new(1, 2)
        },
        "at the base: DIFF"
    );
    assert_eq!(
        mode(Zxid::new(1, 9)),
        SyncMode::Trunc {
            to: Zxid::new(1, 4)
        },
        "an uncommitted tail of an old epoch: TRUNC to the last shared zxid, then DIFF"
    );
    assert_eq!(
        mode(Zxid::new(1, 1)),
        SyncMode::Snap,
        "behind the retained log: SNAP"
    );
}

#[test]
fn a_single_voter_leads_alone_and_commits_once_durable() {
    let mut p = Peer::new(cfg(1, &[1], &[]), Persisted::default(), 0).unwrap();
    let r = p.take_ready();
    assert!(r
        .events
        .contains(&RoleEvent::LeaderEstablished { epoch: 1 }));
    assert_eq!(
        r.storage,
        vec![StorageOp::AcceptedEpoch(1), StorageOp::CurrentEpoch(1)]
    );
    assert_eq!(
        p.propose(Bytes::from_static(b"x")).unwrap(),
        Proposed::Logged(Zxid::new(1, 1))
    );
    let r = p.take_ready();
    assert!(
        r.committed.is_empty(),
        "nothing commits before the leader's own log is durable"
    );
    let StorageOp::Append { write_id, .. } = r.storage[0] else {
        panic!("{:?}", r.storage)
    };
    p.persisted(write_id);
    assert_eq!(p.take_ready().committed.len(), 1);
}

#[test]
fn the_counter_limit_forces_a_new_election() {
    // Leader.propose: "zxid lower 32 bits have rolled over, forcing re-election" (ZOOKEEPER-1277).
    let mut c = cfg(1, &[1], &[]);
    c.zxid_counter_limit = 3;
    let mut p = Peer::new(c, Persisted::default(), 0).unwrap();
    p.take_ready();
    assert!(p.propose(Bytes::new()).is_ok());
    assert!(p.propose(Bytes::new()).is_ok());
    let StorageOp::Append { write_id, .. } = p.take_ready().storage[0] else {
        panic!()
    };
    p.persisted(write_id);
    p.take_ready();
    assert_eq!(p.propose(Bytes::new()), Err(Error::CounterExhausted(1)));
    assert!(p.take_ready().events.contains(&RoleEvent::Looking));
    p.tick(1_000);
    let s = p.status();
    assert_eq!(
        (s.state, s.current_epoch),
        (ServerState::Leading, 2),
        "re-elected in a new epoch"
    );
}

#[test]
fn hostile_packets_are_errors_not_panics() {
    let mut net = Net::new(&[1, 2, 3], &[], &[]);
    assert!(net.run(5_000, Net::all_serving));
    let leader = net.leader().unwrap();
    let learner = *net.peers.keys().find(|id| **id != leader).unwrap();
    let p = net.peers.get_mut(&learner).unwrap();
    assert_eq!(
        p.step(99, Message::Election(p_notification())),
        Err(Error::UnknownPeer(99))
    );
    let forged = Message::Quorum {
        conn: 1,
        seq: 0,
        packet: Packet::UpToDate,
    };
    assert!(matches!(
        p.step(leader, forged),
        Err(Error::StaleConnection { .. })
    ));
    let leader_peer = net.peers.get_mut(&leader).unwrap();
    let bogus = Message::Quorum {
        conn: 5,
        seq: 3,
        packet: Packet::Ack {
            zxid: Zxid(u64::MAX),
        },
    };
    assert!(leader_peer.step(learner, bogus).is_err());
    assert_eq!(leader_peer.status().state, ServerState::Leading);
}

fn p_notification() -> Notification {
    Notification {
        state: ServerState::Looking,
        leader: 1,
        zxid: Zxid::ZERO,
        election_epoch: 1,
        peer_epoch: 0,
    }
}

#[test]
fn a_commit_past_the_log_end_is_a_violation_and_the_learner_looks_again() {
    let mut net = Net::new(&[1, 2, 3], &[], &[]);
    assert!(net.run(5_000, Net::all_serving));
    let leader = net.leader().unwrap();
    // Capture the learner connection from the leader's next PING.
    net.peers.get_mut(&leader).unwrap().tick(net.now + 1_000);
    let ping = net
        .peers
        .get_mut(&leader)
        .unwrap()
        .take_ready()
        .messages
        .remove(0);
    let Message::Quorum { conn, seq, .. } = ping.message else {
        panic!()
    };
    let learner = net.peers.get_mut(&ping.to).unwrap();
    let bad = Message::Quorum {
        conn,
        seq,
        packet: Packet::Commit {
            zxid: Zxid::new(1, 50),
        },
    };
    assert!(matches!(
        learner.step(leader, bad),
        Err(Error::Violation { .. })
    ));
    assert_eq!(learner.status().state, ServerState::Looking);
    assert_eq!(learner.stats().violations, 1);
}

#[test]
fn an_accepted_epoch_below_the_current_epoch_is_rejected() {
    let disk = Persisted {
        accepted_epoch: 1,
        current_epoch: 2,
        ..Default::default()
    };
    assert!(matches!(
        Peer::new(cfg(1, &[1], &[]), disk, 0),
        Err(Error::InvalidEpochs {
            accepted: 1,
            current: 2
        })
    ));
}

#[test]
fn a_persisted_log_out_of_order_is_rejected() {
    let disk = Persisted {
        log: vec![entry(1, 2), entry(1, 1)],
        ..Default::default()
    };
    assert_eq!(
        Peer::new(cfg(1, &[1], &[]), disk, 0).err(),
        Some(Error::InvalidLog(Zxid::new(1, 1)))
    );
}

#[test]
fn invalid_configurations_are_rejected() {
    assert!(cfg(1, &[1, 2, 3], &[]).validate().is_ok());
    assert!(
        cfg(4, &[1, 2, 3], &[]).validate().is_err(),
        "myid must be a member"
    );
    assert!(
        cfg(1, &[1, 2], &[2]).validate().is_err(),
        "voter and observer at once"
    );
    assert!(cfg(1, &[], &[1]).validate().is_err(), "no voters");
}

#[test]
fn a_broken_link_to_the_leader_starts_an_election_at_once() {
    // Follower.followLeader ends when its socket to the leader fails; so does the leader's
    // LearnerHandler for that follower.
    let mut net = Net::new(&[1, 2, 3], &[], &[]);
    assert!(net.run(5_000, Net::all_serving));
    let leader = net.leader().unwrap();
    let learners: Vec<PeerId> = net.peers.keys().copied().filter(|&i| i != leader).collect();
    let p = net.peers.get_mut(&learners[0]).unwrap();
    p.link_down(learners[1]);
    assert!(
        p.status().serving,
        "a link to another follower does not matter"
    );
    p.link_down(leader);
    assert_eq!(p.status().state, ServerState::Looking);
    let l = net.peers.get_mut(&leader).unwrap();
    l.link_down(learners[1]);
    assert!(
        l.status().serving,
        "one learner left with the leader is still a quorum"
    );
}
