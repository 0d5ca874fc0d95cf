//! Model test of a standalone server's pipeline: writes are prepared ahead of their apply (the
//! core task applies each once its fsync is done, and prepares the next meanwhile), against a
//! server that applies each write at once.
//!
//! - Every write is answered as if applied at once: same error, body and zxid.
//! - Every read, of whichever session, answers what the tree held at the zxid its reply
//!   carries: a durable prefix, never a half-applied one.
//! - A session's read is answered after the session's earlier writes (read your writes), and
//!   each connection's replies come in the order of its requests.
//!
//! A client may close its session; it connects again with a new one once every queued write
//! is applied. Writes prepared while the close is queued find its ephemerals gone.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use paddock_core::state::{Action, Proposal, State, Step};
use paddock_core::CoreConfig;
use paddock_jute::proto::*;
use paddock_jute::{Acl, OpCode};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;
const PATHS: [&str; 6] = ["/", "/a", "/b", "/a/x", "/a/y", "/b/x"];
const CLIENTS: u64 = 3;
/// The connection that observes the sequential server after each write (opened in both
/// servers, so that the zxids stay aligned).
const OBSERVER: u64 = 99;

#[derive(Debug, Clone)]
enum Op {
    Create {
        path: usize,
        ephemeral: bool,
    },
    Delete {
        path: usize,
    },
    SetData {
        path: usize,
        len: usize,
    },
    /// A multi of a create and a setData, or of a delete and a create.
    Multi {
        first: usize,
        second: usize,
        swap: bool,
    },
    GetData {
        path: usize,
    },
    Exists {
        path: usize,
    },
    GetChildren {
        path: usize,
    },
    /// closeSession: the session's ephemerals go.
    Close,
}

/// One client's request, or the log reporting the oldest `n` queued writes durable.
#[derive(Debug, Clone)]
enum Event {
    Request { client: u64, op: Op },
    Durable { n: usize },
}

fn step() -> impl Strategy<Value = Event> {
    let path = 1..PATHS.len();
    let client = 1..=CLIENTS;
    let op = prop_oneof![
        3 => (path.clone(), any::<bool>()).prop_map(|(path, ephemeral)| Op::Create { path, ephemeral }),
        2 => path.clone().prop_map(|path| Op::Delete { path }),
        3 => (path.clone(), 0..3usize).prop_map(|(path, len)| Op::SetData { path, len }),
        1 => (path.clone(), path.clone(), any::<bool>())
            .prop_map(|(first, second, swap)| Op::Multi { first, second, swap }),
        3 => (0..PATHS.len()).prop_map(|path| Op::GetData { path }),
        1 => (0..PATHS.len()).prop_map(|path| Op::Exists { path }),
        2 => (0..PATHS.len()).prop_map(|path| Op::GetChildren { path }),
        1 => Just(Op::Close),
    ];
    prop_oneof![
        4 => (client, op).prop_map(|(client, op)| Event::Request { client, op }),
        1 => (1..6usize).prop_map(|n| Event::Durable { n }),
    ]
}

fn create(path: &str, ephemeral: bool) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(vec![7]),
        acl: Acl::open_unsafe(),
        flags: i32::from(ephemeral),
    }
}

fn request(op: &Op) -> Request {
    let watch = false;
    match *op {
        // Ephemerals only under the root: ZooKeeper's closeSession records each parent of its
        // ephemerals without lowering the child count (PrepRequestProcessor, with the
        // digest on, its default), so deleting that parent while the close is queued is
        // refused NotEmpty, as it is by Paddock; the sequential server would allow it.
        Op::Create { path, ephemeral } => {
            let top = PATHS[path].rfind('/') == Some(0);
            Request::Create(create(PATHS[path], ephemeral && top))
        }
        Op::Delete { path } => Request::Delete(DeleteRequest {
            path: PATHS[path].into(),
            version: -1,
        }),
        Op::SetData { path, len } => Request::SetData(SetDataRequest {
            path: PATHS[path].into(),
            data: Some(vec![1; len]),
            version: -1,
        }),
        Op::Multi {
            first,
            second,
            swap,
        } => {
            let ops = if swap {
                vec![
                    MultiOp::Delete(DeleteRequest {
                        path: PATHS[first].into(),
                        version: -1,
                    }),
                    MultiOp::Create {
                        op: OpCode::Create,
                        req: create(PATHS[second], false),
                    },
                ]
            } else {
                vec![
                    MultiOp::Create {
                        op: OpCode::Create,
                        req: create(PATHS[first], false),
                    },
                    MultiOp::SetData(SetDataRequest {
                        path: PATHS[second].into(),
                        data: Some(vec![2; 2]),
                        version: -1,
                    }),
                ]
            };
            Request::Multi(ops)
        }
        Op::GetData { path } => Request::GetData(PathWatchRequest {
            path: PATHS[path].into(),
            watch,
        }),
        Op::Exists { path } => Request::Exists(PathWatchRequest {
            path: PATHS[path].into(),
            watch,
        }),
        Op::GetChildren { path } => Request::GetChildren2(PathWatchRequest {
            path: PATHS[path].into(),
            watch,
        }),
        Op::Close => Request::CloseSession,
    }
}

fn is_read(op: &Op) -> bool {
    matches!(
        op,
        Op::GetData { .. } | Op::Exists { .. } | Op::GetChildren { .. }
    )
}

/// A reply as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    zxid: i64,
    err: i32,
    body: Option<Response>,
}

/// Opens connection `conn` and its session; the createSession is applied at once.
fn open(st: &mut State, conn: u64) {
    st.conn_opened(conn, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let req = ConnectRequest {
        time_out: 30_000,
        ..Default::default()
    };
    let Step::Propose(p) = st.connect(conn, req, NOW) else {
        panic!("a new session is a proposal");
    };
    let actions = st.apply(p);
    assert!(matches!(actions.first(), Some(Action::Connected { .. })));
}

fn replies(actions: Vec<Action>) -> Vec<(u64, i32, Reply)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Reply {
                conn,
                xid,
                zxid,
                err,
                body,
            } => Some((
                conn,
                xid,
                Reply {
                    zxid,
                    err,
                    body: (err == 0).then_some(body),
                },
            )),
            _ => None,
        })
        .collect()
}

/// What each read would answer on `st` now, by (op, path): read through the observer.
fn observe(st: &mut State, xid: &mut i32) -> BTreeMap<(u8, usize), Reply> {
    let mut out = BTreeMap::new();
    for path in 0..PATHS.len() {
        for (kind, op) in [
            (0, Op::GetData { path }),
            (1, Op::Exists { path }),
            (2, Op::GetChildren { path }),
        ] {
            *xid += 1;
            let Step::Done(actions) = st.request(OBSERVER, *xid, request(&op), NOW) else {
                panic!("a read is answered at once");
            };
            let (_, _, reply) = replies(actions).pop().expect("a reply");
            out.insert((kind, path), reply);
        }
    }
    out
}

fn read_key(op: &Op) -> (u8, usize) {
    match *op {
        Op::GetData { path } => (0, path),
        Op::Exists { path } => (1, path),
        Op::GetChildren { path } => (2, path),
        _ => unreachable!("not a read"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pipelined_writes_answer_as_applied_at_once(steps in proptest::collection::vec(step(), 1..80)) {
        let mut piped = State::new(CoreConfig::default(), NOW);
        let mut seq = State::new(CoreConfig::default(), NOW);
        for conn in (1..=CLIENTS).chain([OBSERVER]) {
            open(&mut piped, conn);
            open(&mut seq, conn);
        }
        prop_assert_eq!(piped.last_zxid(), seq.last_zxid());
        let mut observer_xid = 0;
        // The sequential server's answers to every read, after each zxid it applied.
        let mut history = BTreeMap::new();
        history.insert(seq.last_zxid(), observe(&mut seq, &mut observer_xid));

        let mut queued: VecDeque<Proposal> = VecDeque::new();
        // Per request, in order: (client, xid, op, what the sequential server answered).
        let mut sent: BTreeMap<(u64, i32), (Op, Reply)> = BTreeMap::new();
        let mut next_xid: BTreeMap<u64, i32> = BTreeMap::new();
        // Per client: the zxid of its last write answered by the sequential server, as of
        // each of its requests; and the last xid answered by the pipelined one.
        let mut last_write: BTreeMap<u64, i64> = BTreeMap::new();
        let mut write_before: BTreeMap<(u64, i32), i64> = BTreeMap::new();
        let mut answered: BTreeMap<u64, i32> = BTreeMap::new();
        let mut got = Vec::new();
        // Each client's connection now, and the clients whose session is closed: they connect
        // again (a new connection and session, on both servers) once nothing is queued.
        let mut conn_of: BTreeMap<u64, u64> = (1..=CLIENTS).map(|c| (c, c)).collect();
        let mut closed = Vec::new();
        let mut next_conn = 1000;

        for s in steps.iter().chain([&Event::Durable { n: usize::MAX }]) {
            match s {
                Event::Request { client, op } => {
                    if closed.contains(client) {
                        continue;
                    }
                    if matches!(op, Op::Close) {
                        closed.push(*client);
                    }
                    // From here on a client is known by its connection now.
                    let client = &conn_of[client];
                    let xid = next_xid.entry(*client).or_insert(0);
                    *xid += 1;
                    let xid = *xid;
                    write_before.insert((*client, xid), last_write.get(client).copied().unwrap_or(0));
                    // The sequential server applies a write at once.
                    let actions = match seq.request(*client, xid, request(op), NOW) {
                        Step::Done(a) => a,
                        Step::Propose(p) => {
                            let a = seq.apply(p);
                            history.insert(seq.last_zxid(), observe(&mut seq, &mut observer_xid));
                            a
                        }
                        Step::Forward(f) => panic!("forwarded {f:?}"),
                    };
                    let mut r = replies(actions);
                    prop_assert_eq!(r.len(), 1, "one reply to {:?}", op);
                    let (_, _, reply) = r.pop().unwrap();
                    if !is_read(op) {
                        last_write.insert(*client, reply.zxid);
                    }
                    sent.insert((*client, xid), (op.clone(), reply));
                    // The pipelined one prepares it and answers only reads now.
                    match piped.request(*client, xid, request(op), NOW) {
                        Step::Done(a) => got.extend(replies(a)),
                        Step::Propose(p) => queued.push_back(p),
                        Step::Forward(f) => panic!("forwarded {f:?}"),
                    }
                }
                Event::Durable { n } => {
                    for _ in 0..(*n).min(queued.len()) {
                        let p = queued.pop_front().unwrap();
                        got.extend(replies(piped.apply(p)));
                    }
                    if queued.is_empty() {
                        for client in closed.drain(..) {
                            next_conn += 1;
                            open(&mut piped, next_conn);
                            open(&mut seq, next_conn);
                            history.insert(seq.last_zxid(), observe(&mut seq, &mut observer_xid));
                            conn_of.insert(client, next_conn);
                        }
                    }
                }
            }
            for (conn, xid, reply) in got.drain(..) {
                let prev = answered.insert(conn, xid).unwrap_or(0);
                prop_assert!(xid > prev, "client {} answered {} after {}", conn, xid, prev);
                let (op, want) = &sent[&(conn, xid)];
                if is_read(op) {
                    let at = history.get(&reply.zxid);
                    prop_assert!(at.is_some(), "read {:?} at zxid {:#x}, never a tree", op, reply.zxid);
                    prop_assert_eq!(&reply, &at.unwrap()[&read_key(op)], "{:?} by {}", op, conn);
                    prop_assert!(
                        reply.zxid >= write_before[&(conn, xid)],
                        "{:?} by {} does not see its own write", op, conn
                    );
                } else {
                    prop_assert_eq!(&reply, want, "{:?} by {}", op, conn);
                }
            }
        }
        // Everything was answered, and both servers hold the same tree.
        for (client, xid) in next_xid {
            prop_assert_eq!(answered.get(&client).copied().unwrap_or(0), xid);
        }
        prop_assert_eq!(piped.last_zxid(), seq.last_zxid());
        let mut x = observer_xid;
        prop_assert_eq!(observe(&mut piped, &mut x), observe(&mut seq, &mut observer_xid));
    }
}
