//! The request pipeline in an ensemble: a learner forwards writes to the leader and answers
//! them when the committed txn comes back; a session's reads wait behind its own pending
//! writes (`CommitProcessor`); sessions are created and expired by the leader, kept alive by
//! touches the learners relay. The "wire" between the two states here is the `Forward`
//! encoding and the committed `Proposal`s, applied on both members in zxid order.

use std::net::{IpAddr, Ipv4Addr};

use paddock_core::state::{Action, Proposal, State, Step};
use paddock_core::{CoreConfig, Forward, Role};
use paddock_jute::proto::*;
use paddock_jute::txn::{ErrorTxn, Txn};
use paddock_jute::{Acl, ErrorCode, Id};

const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const START_MS: i64 = 1_000_000;

/// A leader (server 1) and a learner (server 2), with the commit path between them.
struct Pair {
    leader: State,
    learner: State,
    now: i64,
}

impl Pair {
    fn new() -> Pair {
        let mut leader = State::new(CoreConfig::default(), START_MS);
        leader.become_leader(1, START_MS);
        let learner_cfg = CoreConfig {
            server_id: 2,
            ..CoreConfig::default()
        };
        let mut learner = State::new(learner_cfg, START_MS);
        learner.become_learner();
        Pair {
            leader,
            learner,
            now: START_MS,
        }
    }

    /// What the quorum layer does with a forwarded request: over the wire, prepared by the
    /// leader, committed, applied on the leader and then on the learner. Returns the
    /// learner's actions.
    fn commit_forward(&mut self, forward: Forward) -> Vec<Action> {
        let forward = Forward::decode(&forward.encode()).expect("decodes");
        let proposal = self
            .leader
            .prepare_forwarded(forward, self.now)
            .expect("a transaction");
        self.commit(proposal).1
    }

    /// Applies a committed proposal on both members: (leader's actions, learner's actions).
    fn commit(&mut self, proposal: Proposal) -> (Vec<Action>, Vec<Action>) {
        let remote = Proposal {
            origin: None,
            ..proposal.clone()
        };
        (self.leader.apply(proposal), self.learner.apply(remote))
    }

    /// Opens `conn` on the learner with a new session through the leader.
    fn open_on_learner(&mut self, conn: u64) -> i64 {
        self.learner.conn_opened(conn, ADDR);
        let req = ConnectRequest {
            time_out: 10_000,
            ..Default::default()
        };
        let Step::Forward(forward) = self.learner.connect(conn, req, self.now) else {
            panic!("a learner forwards createSession");
        };
        let session = forward.session();
        assert_eq!(
            session >> 56,
            2,
            "the learner allocates from its own id space"
        );
        match self.commit_forward(forward).as_slice() {
            [Action::Connected { resp, .. }] => assert_eq!(resp.session_id, session),
            other => panic!("unexpected {other:?}"),
        }
        session
    }
}

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: vec![Acl {
            perms: 31,
            id: Id::new("world", "anyone"),
        }],
        flags: 0,
    })
}

fn get(path: &str) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

fn replies(actions: &[Action]) -> Vec<(i32, i32, Response)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Reply { xid, err, body, .. } => Some((*xid, *err, body.clone())),
            _ => None,
        })
        .collect()
}

// FollowerRequestProcessor forwards writes; FinalRequestProcessor on the follower answers the
// client when the committed txn is applied there.
#[test]
fn a_learner_answers_a_forwarded_write_when_it_commits() {
    let mut p = Pair::new();
    let session = p.open_on_learner(7);
    let Step::Forward(forward) = p.learner.request(7, 1, create("/a", b"x"), p.now) else {
        panic!("a learner forwards writes");
    };
    assert!(matches!(&forward, Forward::Write { session: s, cxid: 1, .. } if *s == session));
    let actions = p.commit_forward(forward);
    assert_eq!(
        replies(&actions),
        vec![(1, 0, Response::Create { path: "/a".into() })]
    );
    assert_eq!(p.learner.last_zxid(), p.leader.last_zxid());
    assert_eq!(p.learner.last_zxid() >> 32, 1, "zxids of epoch 1");
}

// CommitProcessor: a session's read waits for the session's earlier writes, so a client reads
// its own writes on any member; other sessions' reads do not wait.
#[test]
fn a_read_waits_behind_its_sessions_pending_write() {
    let mut p = Pair::new();
    let _ = p.open_on_learner(7);
    let _ = p.open_on_learner(8);
    let Step::Forward(forward) = p.learner.request(7, 1, create("/a", b"x"), p.now) else {
        panic!("forwarded");
    };
    let Step::Done(waiting) = p.learner.request(7, 2, get("/a"), p.now) else {
        panic!("a read is not forwarded");
    };
    assert!(waiting.is_empty(), "the read waits: {waiting:?}");
    // Another session reads at once, and does not see the uncommitted node.
    let Step::Done(other) = p.learner.request(8, 1, get("/a"), p.now) else {
        panic!("a read");
    };
    assert_eq!(replies(&other)[0].1, ErrorCode::NoNode.code());

    let actions = p.commit_forward(forward);
    let got = replies(&actions);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, 1, "the write's reply comes first");
    assert!(
        matches!(&got[1], (2, 0, Response::GetData { data, .. }) if data.as_deref() == Some(&b"x"[..]))
    );
}

// Learner.sync / FollowerZooKeeperServer.sync: the reply comes when the leader says the sync
// passed, and reads behind it wait for it.
#[test]
fn a_sync_on_a_learner_answers_when_the_leader_is_done() {
    let mut p = Pair::new();
    let session = p.open_on_learner(7);
    let sync = Request::Sync(PathRequest { path: "/".into() });
    let Step::Forward(Forward::Sync { cxid: 1, .. }) = p.learner.request(7, 1, sync, p.now) else {
        panic!("a learner forwards sync");
    };
    let Step::Done(waiting) = p.learner.request(7, 2, get("/"), p.now) else {
        panic!("a read");
    };
    assert!(waiting.is_empty());
    assert!(
        p.learner.sync_done(session, 99).is_empty(),
        "another cxid is not this sync"
    );
    let got = replies(&p.learner.sync_done(session, 1));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], (1, 0, Response::Sync { path: "/".into() }));
    assert_eq!(got[1].0, 2);
}

// SessionTrackerImpl runs on the leader only; LearnerSessionTracker relays touches in PINGs.
#[test]
fn sessions_are_expired_by_the_leader_and_kept_alive_by_relayed_touches() {
    let mut p = Pair::new();
    let session = p.open_on_learner(7);
    let _ = p.learner.take_touched();
    // The client pings its learner every few seconds for 30 s; the learner relays.
    for _ in 0..10 {
        p.now += 3_000;
        let Step::Done(_) = p.learner.request(7, -2, Request::Ping, p.now) else {
            panic!("a ping is answered locally");
        };
        let touched = p.learner.take_touched();
        assert_eq!(touched, vec![(session, 10_000)]);
        p.leader.touch_sessions(&touched, p.now);
        assert!(p.leader.tick(p.now).is_empty(), "touched sessions live");
        assert!(
            p.learner.tick(p.now).is_empty(),
            "learners never expire sessions"
        );
    }
    // Silence: the leader expires the session through the log; both members drop it.
    p.now += 20_000;
    assert!(p.learner.tick(p.now).is_empty());
    let expired = p.leader.tick(p.now);
    assert_eq!(expired.len(), 1);
    let (_, learner_actions) = p.commit(expired.into_iter().next().unwrap());
    assert!(learner_actions.contains(&Action::Close { conn: 7 }));
    assert!(p.learner.sessions().is_empty() && p.leader.sessions().is_empty());
}

// PrepRequestProcessor: checkSession fails a write of an unknown session with SessionExpired,
// as an error txn that still consumes a zxid.
#[test]
fn a_forwarded_write_of_an_unknown_session_fails_with_session_expired() {
    let mut p = Pair::new();
    let forward = Forward::Write {
        session: 0x0200_0000_0000_0042,
        cxid: 3,
        request: create("/x", b""),
        ids: Vec::new(),
    };
    let proposal = p.leader.prepare_forwarded(forward, p.now).unwrap();
    assert_eq!(
        proposal.hdr.zxid,
        (1 << 32) | 1,
        "the error consumes a zxid"
    );
    let expired = ErrorCode::SessionExpired.code();
    assert_eq!(proposal.txn, Txn::Error(ErrorTxn { err: expired }));
    let _ = p.commit(proposal);
    assert!(p.leader.tree().node("/x").is_none());
}

// Leader.lead: the new epoch's zxids start at epoch << 32, counter 1.
#[test]
fn a_new_leader_numbers_zxids_in_its_epoch() {
    let mut leader = State::new(CoreConfig::default(), START_MS);
    leader.become_leader(5, START_MS);
    assert_eq!(leader.role(), Role::Leader);
    leader.conn_opened(1, ADDR);
    let Step::Propose(p) = leader.connect(1, ConnectRequest::default(), START_MS) else {
        panic!("a leader prepares createSession itself");
    };
    assert_eq!(p.hdr.zxid, (5 << 32) | 1);
}

// A closed connection's queued reads are dropped, and its session's later commits answer
// nobody, without disturbing other sessions.
#[test]
fn closing_a_connection_drops_its_queue() {
    let mut p = Pair::new();
    let _ = p.open_on_learner(7);
    let Step::Forward(forward) = p.learner.request(7, 1, create("/a", b"x"), p.now) else {
        panic!("forwarded");
    };
    let _ = p.learner.request(7, 2, get("/a"), p.now);
    p.learner.conn_closed(7);
    let actions = p.commit_forward(forward);
    assert!(replies(&actions).is_empty(), "{actions:?}");
    assert!(
        p.learner.tree().node("/a").is_some(),
        "the write still applies"
    );
}

fn sequential(path: &str) -> Request {
    match create(path, b"") {
        Request::Create(mut r) => {
            r.flags = 2;
            Request::Create(r)
        }
        _ => unreachable!(),
    }
}

// PrepRequestProcessor.getRecordForPath reads outstandingChanges: a leader prepares a write
// against the writes before it that are still waiting for their quorum.
#[test]
fn a_leader_prepares_against_writes_not_yet_applied() {
    let mut leader = State::new(CoreConfig::default(), START_MS);
    leader.become_leader(1, START_MS);
    leader.conn_opened(1, ADDR);
    let Step::Propose(s) = leader.connect(1, ConnectRequest::default(), START_MS) else {
        panic!("createSession");
    };
    let _ = leader.apply(s);
    let mut pending = Vec::new();
    let requests = [
        create("/a", b""),
        create("/a/b", b""),
        sequential("/a/s-"),
        sequential("/a/s-"),
        create("/a", b""),
    ];
    for (i, req) in requests.into_iter().enumerate() {
        let Step::Propose(p) = leader.request(1, i as i32 + 1, req, START_MS) else {
            panic!("a write");
        };
        pending.push(p);
    }
    let kinds: Vec<String> = pending.iter().map(|p| format!("{:?}", p.txn)).collect();
    assert!(
        kinds[1].starts_with("Create("),
        "/a/b sees /a: {}",
        kinds[1]
    );
    assert!(kinds[2].contains("/a/s-0000000001"), "{}", kinds[2]);
    assert!(kinds[3].contains("/a/s-0000000002"), "{}", kinds[3]);
    let exists = ErrorCode::NodeExists.code();
    assert_eq!(pending[4].txn, Txn::Error(ErrorTxn { err: exists }));
    let mut answers = Vec::new();
    for p in pending {
        answers.extend(replies(&leader.apply(p)));
    }
    let errs: Vec<i32> = answers.iter().map(|(_, err, _)| *err).collect();
    assert_eq!(errs, vec![0, 0, 0, 0, exists]);
    // Once applied, nothing outstanding shadows the tree: deleting /a/b works as usual.
    let del = Request::Delete(DeleteRequest {
        path: "/a/b".into(),
        version: -1,
    });
    let Step::Propose(p) = leader.request(1, 9, del, START_MS) else {
        panic!("a write");
    };
    assert_eq!(replies(&leader.apply(p)), vec![(9, 0, Response::Empty)]);
}

// PrepRequestProcessor.rollbackPendingChanges: a failed multi leaves nothing outstanding.
#[test]
fn a_failed_multi_leaves_no_outstanding_changes() {
    let mut leader = State::new(CoreConfig::default(), START_MS);
    leader.become_leader(1, START_MS);
    leader.conn_opened(1, ADDR);
    let Step::Propose(s) = leader.connect(1, ConnectRequest::default(), START_MS) else {
        panic!("createSession");
    };
    let _ = leader.apply(s);
    let Request::Create(c) = create("/m", b"") else {
        unreachable!()
    };
    let multi = Request::Multi(vec![
        MultiOp::Create {
            op: paddock_jute::OpCode::Create,
            req: c,
        },
        MultiOp::Delete(DeleteRequest {
            path: "/missing".into(),
            version: -1,
        }),
    ]);
    let Step::Propose(failed) = leader.request(1, 1, multi, START_MS) else {
        panic!("a write");
    };
    // Prepared before the failed multi is applied: /m must not look created.
    let Step::Propose(next) = leader.request(1, 2, create("/m/child", b""), START_MS) else {
        panic!("a write");
    };
    assert_eq!(
        next.txn,
        Txn::Error(ErrorTxn {
            err: ErrorCode::NoNode.code()
        })
    );
    let _ = leader.apply(failed);
    let _ = leader.apply(next);
}

// QuorumPeer shuts its ZooKeeperServer down when it stops following: every client connection
// closes, pending work is dropped, and the sessions stay in the tree for clients to reattach.
#[test]
fn stopping_to_serve_closes_connections_and_forgets_pending_work() {
    let mut p = Pair::new();
    let _ = p.open_on_learner(7);
    let session = p.open_on_learner(8);
    let Step::Forward(_) = p.learner.request(7, 1, create("/lost", b"x"), p.now) else {
        panic!("forwarded");
    };
    let Step::Forward(_) = p.learner.request(8, 1, Request::CloseSession, p.now) else {
        panic!("forwarded");
    };
    let closes = p.learner.stop_serving();
    assert_eq!(
        closes,
        vec![Action::Close { conn: 7 }, Action::Close { conn: 8 }]
    );
    for conn in [7, 8] {
        p.learner.conn_closed(conn);
    }
    // The forwarded close never committed: its session can still be reattached.
    p.learner.conn_opened(9, ADDR);
    let req = ConnectRequest {
        time_out: 10_000,
        session_id: session,
        passwd: paddock_core::session::session_password(session).to_vec(),
        ..Default::default()
    };
    let Step::Done(actions) = p.learner.connect(9, req, p.now) else {
        panic!("a reattach is answered locally");
    };
    assert!(
        matches!(&actions[..], [Action::Connected { resp, close_after: false, .. }] if resp.session_id == session),
        "{actions:?}"
    );
    // A write on the new connection is forwarded and answered when it commits.
    let Step::Forward(forward) = p.learner.request(9, 2, create("/kept", b"y"), p.now) else {
        panic!("forwarded");
    };
    let got = replies(&p.commit_forward(forward));
    assert_eq!(
        got,
        vec![(
            2,
            0,
            Response::Create {
                path: "/kept".into()
            }
        )]
    );
}

#[test]
fn relayed_touches_travel_as_a_forward() {
    let touch = Forward::Touch {
        sessions: vec![(1, 4000), (2, 6000)],
    };
    assert_eq!(Forward::decode(&touch.encode()).unwrap(), touch);
    let mut p = Pair::new();
    assert_eq!(p.leader.prepare_forwarded(touch, p.now), None);
}

#[test]
fn stopping_to_serve_leaves_connections_still_in_their_handshake() {
    let mut p = Pair::new();
    let _ = p.open_on_learner(7);
    p.learner.conn_opened(8, ADDR);
    assert_eq!(p.learner.stop_serving(), vec![Action::Close { conn: 7 }]);
}

// ReadOnlyZooKeeperServer and ReadOnlyRequestProcessor: only clients that accept a read-only
// server get a session; reads are served, writes fail with NotReadOnly; the sessions are
// local and go when the member rejoins a quorum.
#[test]
fn read_only_mode_serves_reads_to_read_only_clients_only() {
    let mut p = Pair::new();
    let _ = p.commit_forward(Forward::CreateSession {
        session: 0x0200_0000_0000_0099,
        timeout_ms: 10_000,
    });
    let session = p.open_on_learner(7);
    let Step::Forward(f) = p.learner.request(7, 1, create("/a", b"x"), p.now) else {
        panic!("forwarded");
    };
    let _ = p.commit_forward(f);
    let _ = p.learner.stop_serving();
    p.learner.conn_closed(7);
    p.learner.enter_read_only();
    assert!(p.learner.is_read_only());

    p.learner.conn_opened(8, ADDR);
    let plain = ConnectRequest {
        time_out: 10_000,
        read_only: Some(false),
        ..Default::default()
    };
    let Step::Done(refused) = p.learner.connect(8, plain, p.now) else {
        panic!("answered locally");
    };
    assert_eq!(refused, vec![Action::Close { conn: 8 }]);

    p.learner.conn_opened(9, ADDR);
    let ro = ConnectRequest {
        time_out: 10_000,
        read_only: Some(true),
        ..Default::default()
    };
    let Step::Done(actions) = p.learner.connect(9, ro, p.now) else {
        panic!("a read-only session is made locally");
    };
    let local = match &actions[..] {
        [Action::Connected {
            resp,
            close_after: false,
            ..
        }] => {
            assert_eq!(resp.read_only, Some(true));
            resp.session_id
        }
        other => panic!("unexpected {other:?}"),
    };
    let Step::Done(read) = p.learner.request(9, 1, get("/a"), p.now) else {
        panic!("a read");
    };
    assert_eq!(replies(&read)[0].1, 0);
    let Step::Done(write) = p.learner.request(9, 2, create("/b", b""), p.now) else {
        panic!("a write is refused locally");
    };
    assert_eq!(replies(&write)[0].1, ErrorCode::NotReadOnly.code());

    // A session of the ensemble reattaches read-only.
    p.learner.conn_opened(10, ADDR);
    let back = ConnectRequest {
        time_out: 10_000,
        session_id: session,
        passwd: paddock_core::session::session_password(session).to_vec(),
        read_only: Some(true),
        ..Default::default()
    };
    let Step::Done(actions) = p.learner.connect(10, back, p.now) else {
        panic!("reattached locally");
    };
    assert!(
        matches!(&actions[..], [Action::Connected { resp, close_after: false, .. }] if resp.session_id == session && resp.read_only == Some(true)),
        "{actions:?}"
    );

    let closes = p.learner.leave_read_only();
    assert_eq!(
        closes,
        vec![Action::Close { conn: 9 }, Action::Close { conn: 10 }]
    );
    assert!(!p.learner.is_read_only());
    assert!(
        !p.learner.sessions().iter().any(|(id, _)| *id == local),
        "the local session is forgotten"
    );
    assert!(p.learner.sessions().iter().any(|(id, _)| *id == session));
}
