//! Snapshots, recovery and abandon: a fuzzy snapshot taken in chunks while writes go on,
//! loaded and brought forward by replaying the log, gives back the very same state; replay is
//! as lenient as ZooKeeper's; the tree digest matches ZooKeeper's.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use paddock_core::digest::node_digest;
use paddock_core::snapshot::{LoadError, SnapNode, SnapshotCursor, SnapshotLoader};
use paddock_core::state::{Action, Proposal, State, Step};
use paddock_core::tree::DataTree;
use paddock_core::CoreConfig;
use paddock_jute::proto::*;
use paddock_jute::txn::{CreateSessionTxn, CreateTxn, DeleteTxn, SetDataTxn, Txn, TxnHeader};
use paddock_jute::{perms, Acl, Id, OpCode, StatPersisted};

const NOW: i64 = 1_700_000_000_000;

/// splitmix64: a tiny seeded generator, so a failing seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn cfg() -> CoreConfig {
    CoreConfig {
        extended_types_enabled: true,
        container_check_interval_ms: 1_000,
        ..CoreConfig::default()
    }
}

fn acl_lists() -> Vec<Vec<Acl>> {
    let ip = |p| Acl {
        perms: p,
        id: Id::new("ip", "127.0.0.1"),
    };
    vec![
        Acl::open_unsafe(),
        vec![ip(perms::ALL)],
        vec![
            ip(perms::ALL),
            Acl {
                perms: perms::READ,
                id: Id::new("world", "anyone"),
            },
        ],
        Acl::read_unsafe(),
    ]
}

/// State A, every proposal it applied (the log), and the clients driving it.
struct Primary {
    st: State,
    log: Vec<Proposal>,
    now: i64,
    next_conn: u64,
    /// Live connections with their sessions.
    conns: BTreeMap<u64, i64>,
}

impl Primary {
    fn new() -> Self {
        Primary {
            st: State::new(cfg(), NOW),
            log: Vec::new(),
            now: NOW,
            next_conn: 0,
            conns: BTreeMap::new(),
        }
    }

    fn run(&mut self, step: Step) -> Vec<Action> {
        match step {
            Step::Done(actions) => actions,
            Step::Propose(p) => self.apply(p),
            Step::Forward(f) => panic!("a standalone server forwarded {f:?}"),
        }
    }

    fn apply(&mut self, p: Proposal) -> Vec<Action> {
        self.log.push(p.clone());
        self.st.apply(p)
    }

    fn open(&mut self) {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.st.conn_opened(conn, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let req = ConnectRequest {
            time_out: 10_000,
            ..Default::default()
        };
        let step = self.st.connect(conn, req, self.now);
        let actions = self.run(step);
        if let Some(Action::Connected { resp, .. }) = actions.first() {
            self.conns.insert(conn, resp.session_id);
        }
    }

    fn request(&mut self, conn: u64, req: Request) {
        let step = self.st.request(conn, 1, req, self.now);
        self.run(step);
    }

    fn tick(&mut self) {
        for p in self.st.tick(self.now) {
            self.apply(p);
        }
        let live: Vec<i64> = self.st.sessions().iter().map(|s| s.0).collect();
        self.conns.retain(|_, s| live.contains(s));
    }

    /// Every node path of the tree, parents first.
    fn paths(&self) -> Vec<String> {
        all_paths(self.st.tree())
    }

    /// One random operation.
    fn step(&mut self, rng: &mut Rng) {
        self.now += rng.below(300) as i64;
        if self.conns.is_empty() || rng.chance(4) {
            self.open();
            return;
        }
        let conns: Vec<u64> = self.conns.keys().copied().collect();
        let conn = conns[rng.below(conns.len())];
        let paths = self.paths();
        let existing = paths[rng.below(paths.len())].clone();
        let target = if existing == "/" || existing.starts_with("/zookeeper") {
            format!("/{}", (b'a' + rng.below(4) as u8) as char)
        } else {
            existing.clone()
        };
        let child = format!(
            "{}/{}",
            if target == "/" { "" } else { &target },
            (b'a' + rng.below(4) as u8) as char
        );
        let acls = acl_lists();
        match rng.below(100) {
            0..=29 => {
                let flags = [0, 0, 1, 2, 3, 4, 5][rng.below(7)];
                let req = CreateRequest {
                    path: child,
                    data: Some(vec![b'x'; rng.below(6)]),
                    acl: acls[rng.below(acls.len())].clone(),
                    flags,
                };
                let req = match flags {
                    4 => Request::CreateContainer(req),
                    5 => Request::CreateTtl(CreateTtlRequest {
                        path: req.path,
                        data: req.data,
                        acl: req.acl,
                        flags,
                        ttl: 500 + rng.below(3000) as i64,
                    }),
                    _ if rng.chance(50) => Request::Create2(req),
                    _ => Request::Create(req),
                };
                self.request(conn, req);
            }
            30..=44 => self.request(
                conn,
                Request::Delete(DeleteRequest {
                    path: existing,
                    version: -1,
                }),
            ),
            45..=64 => self.request(
                conn,
                Request::SetData(SetDataRequest {
                    path: target,
                    data: if rng.chance(10) {
                        None
                    } else {
                        Some(vec![b'y'; rng.below(9)])
                    },
                    version: -1,
                }),
            ),
            65..=72 => self.request(
                conn,
                Request::SetAcl(SetAclRequest {
                    path: target,
                    acl: acls[rng.below(acls.len() - 1)].clone(),
                    version: -1,
                }),
            ),
            73..=84 => {
                let ops = [
                    MultiOp::Create {
                        op: OpCode::Create,
                        req: CreateRequest {
                            path: child.clone(),
                            data: Some(b"m".to_vec()),
                            acl: Acl::open_unsafe(),
                            flags: 0,
                        },
                    },
                    MultiOp::SetData(SetDataRequest {
                        path: child.clone(),
                        data: Some(b"mm".to_vec()),
                        version: -1,
                    }),
                    MultiOp::Create {
                        op: OpCode::Create2,
                        req: CreateRequest {
                            path: format!("{child}/z"),
                            data: None,
                            acl: Acl::open_unsafe(),
                            flags: [0, 1][rng.below(2)],
                        },
                    },
                    MultiOp::Delete(DeleteRequest {
                        path: existing,
                        version: -1,
                    }),
                ];
                let n = 1 + rng.below(ops.len());
                self.request(conn, Request::Multi(ops[..n].to_vec()));
            }
            85..=89 => {
                self.request(conn, Request::CloseSession);
                self.st.conn_closed(conn);
                self.conns.remove(&conn);
            }
            90..=93 => {
                // The client goes away; its session expires later.
                self.st.conn_closed(conn);
                self.conns.remove(&conn);
            }
            _ => {
                self.now += rng.below(12_000) as i64;
                for (&c, _) in self.conns.clone().iter() {
                    self.request(c, Request::Ping);
                }
                self.tick();
            }
        }
    }
}

/// Every path of `tree` in pre-order, the root as "/".
fn all_paths(tree: &DataTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec!["/".to_owned()];
    while let Some(p) = stack.pop() {
        assert!(tree.node(&p).is_some(), "listed child exists");
        let mut names = tree.child_names(&p);
        names.sort_unstable();
        for name in names.iter().rev() {
            stack.push(if p == "/" {
                format!("/{name}")
            } else {
                format!("{p}/{name}")
            });
        }
        out.push(p);
    }
    out
}

/// The digest recomputed from scratch, to check the incremental one.
fn full_digest(tree: &DataTree) -> i64 {
    all_paths(tree).iter().fold(0i64, |sum, p| {
        let n = tree.node(p).unwrap();
        sum.wrapping_add(i64::from(node_digest(p, n.data(), n.stat())))
    })
}

/// Everything observable about two states must agree (children order aside: it depends on
/// insertion order, which a reload changes in ZooKeeper too).
fn assert_same(a: &State, b: &State, seed: u64) {
    let (ta, tb) = (a.tree(), b.tree());
    tb.check_invariants();
    let pa = all_paths(ta);
    assert_eq!(pa, all_paths(tb), "seed {seed}: paths");
    for p in &pa {
        let (na, nb) = (ta.node(p).unwrap(), tb.node(p).unwrap());
        assert_eq!(na.data(), nb.data(), "seed {seed}: data of {p}");
        assert_eq!(na.stat(), nb.stat(), "seed {seed}: stat of {p}");
        assert_eq!(ta.client_stat(na), tb.client_stat(nb), "seed {seed}: {p}");
        assert_eq!(ta.node_acl(p), tb.node_acl(p), "seed {seed}: ACL of {p}");
        let sorted = |t: &'_ DataTree| {
            let mut names: Vec<String> = t.child_names(p).into_iter().map(str::to_owned).collect();
            names.sort_unstable();
            names
        };
        assert_eq!(sorted(ta), sorted(tb), "seed {seed}: children of {p}");
    }
    assert_eq!(a.sessions(), b.sessions(), "seed {seed}: sessions");
    assert_eq!(
        a.ephemerals_by_session(),
        b.ephemerals_by_session(),
        "seed {seed}"
    );
    assert_eq!(a.last_zxid(), b.last_zxid(), "seed {seed}: last zxid");
    let set = |t: &DataTree| -> (Vec<String>, Vec<String>, Vec<String>) {
        (
            t.containers().map(str::to_owned).collect(),
            t.ttls().map(str::to_owned).collect(),
            t.quota_paths().map(str::to_owned).collect(),
        )
    };
    assert_eq!(set(ta), set(tb), "seed {seed}: containers, TTLs, quotas");
    assert_eq!(ta.node_count(), tb.node_count(), "seed {seed}");
    // approximate_data_size is not compared: ZooKeeper does not count quota stat rewrites in
    // nodeDataSize but recounts every node on load, so it differs after a restart there too.
    assert_eq!(a.tree_digest(), full_digest(ta), "seed {seed}: A's digest");
    assert_eq!(a.tree_digest(), b.tree_digest(), "seed {seed}: digest");
}

/// The state the snapshot `cursor` walked over `a` loads into.
fn load(
    a: &Primary,
    cursor: &SnapshotCursor,
    nodes: Vec<(String, SnapNode)>,
) -> Result<State, LoadError> {
    State::from_snapshot(
        cfg(),
        a.now,
        cursor.zxid(),
        cursor.sessions(),
        cursor.acls().to_vec(),
        nodes,
    )
}

/// Puts a quota on /a, as `setquota -n 100 /a` does.
fn add_quota(p: &mut Primary) {
    let conn = *p.conns.keys().next().unwrap();
    for (path, data) in [
        ("/zookeeper/quota/a", ""),
        ("/zookeeper/quota/a/zookeeper_limits", "count=100,bytes=-1"),
        ("/zookeeper/quota/a/zookeeper_stats", "count=0,bytes=0"),
    ] {
        p.request(
            conn,
            Request::Create(CreateRequest {
                path: path.to_owned(),
                data: Some(data.as_bytes().to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
        );
    }
}

/// How the txns after a fuzzy snapshot reach the state loaded from it.
#[derive(Clone, Copy, PartialEq)]
enum CatchUp {
    /// Recovery: replayed from the log, then `recovery_done`.
    Replay,
    /// A learner that installed a leader's snapshot: `recovery_done` first, then each txn
    /// applied as the leader commits it.
    Apply,
    /// A learner that stopped while catching up: on restart it replays the txns it had
    /// logged (a random number of them), `recovery_done`, then applies the rest as the
    /// leader commits them.
    Interrupted,
}

/// One model run: random writes; a snapshot in random chunks with writes between them; more
/// writes; then load + catching up must equal the primary.
fn fuzzy_round_trip(seed: u64, catch_up: CatchUp, seen: &mut Coverage) {
    let mut rng = Rng(seed);
    let mut a = Primary::new();
    a.open();
    a.request(
        1,
        Request::Create(CreateRequest {
            path: "/a".to_owned(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        }),
    );
    add_quota(&mut a);
    for _ in 0..rng.below(300) {
        a.step(&mut rng);
    }
    let mut cursor = a.st.snapshot_begin();
    let mut nodes = Vec::new();
    while !cursor.is_done() {
        nodes.extend(a.st.snapshot_next(&mut cursor, 1 + rng.below(8)));
        for _ in 0..rng.below(6) {
            a.step(&mut rng);
        }
    }
    for _ in 0..rng.below(50) {
        a.step(&mut rng);
    }
    // The ACL map is written before the nodes: every key a node names must be in it.
    let keys: BTreeSet<i64> = cursor.acls().iter().map(|(k, _)| *k).collect();
    for (path, node) in &nodes {
        assert!(
            node.acl == -1 || keys.contains(&node.acl),
            "seed {seed}: {path} names ACL key {} missing from the map",
            node.acl
        );
    }
    let mut b = load(&a, &cursor, nodes).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let after: Vec<&Proposal> = a
        .log
        .iter()
        .filter(|p| p.hdr.zxid > cursor.zxid())
        .collect();
    // How many of them are replayed before `recovery_done`; the rest are applied.
    let total = after.len();
    let replayed = match catch_up {
        CatchUp::Replay => total,
        CatchUp::Apply => 0,
        CatchUp::Interrupted => rng.below(total + 1),
    };
    for (i, p) in after.into_iter().enumerate() {
        if i == replayed {
            b.recovery_done(a.now);
        }
        if i < replayed {
            b.replay(&p.hdr, &p.txn);
        } else {
            let _ = b.apply(committed(p));
        }
        seen.replayed += 1;
        match &p.txn {
            Txn::Multi(_) => seen.multis += 1,
            Txn::CloseSession(_) if p.origin.is_none() => seen.expiries += 1,
            Txn::DeleteContainer(_) => seen.sweeps += 1,
            Txn::SetAcl(_) => seen.set_acls += 1,
            _ => {}
        }
    }
    if replayed == total {
        b.recovery_done(a.now);
    }
    seen.nodes += a.paths().len() as u64;
    seen.ephemerals += a.st.tree().ephemerals_count();
    assert_same(&a.st, &b, seed);
}

/// What the runs exercised, so the model test cannot pass vacuously.
#[derive(Debug, Default)]
struct Coverage {
    replayed: u64,
    multis: u64,
    expiries: u64,
    sweeps: u64,
    set_acls: u64,
    nodes: u64,
    ephemerals: u64,
}

// DataTree.serialize + FileTxnSnapLog.restore: a fuzzy snapshot plus the log after its zxid
// restores the exact tree, sessions, indexes, quota stats and digest.
#[test]
fn fuzzy_snapshot_plus_replay_equals_primary() {
    fuzzy_snapshot_catches_up(CatchUp::Replay);
}

// A learner given a fuzzy snapshot by its leader (ZooKeeper's leader serializes its tree while
// it changes) loads it, `recovery_done` included, and then applies the txns after its zxid as
// they commit: changes the walk already caught must come out as on the leader.
#[test]
fn fuzzy_snapshot_plus_committed_txns_equals_primary() {
    fuzzy_snapshot_catches_up(CatchUp::Apply);
}

// The same learner stopped halfway: its restart replays the part of those txns it had logged
// over the installed snapshot, and the leader sends the rest.
#[test]
fn fuzzy_snapshot_plus_a_partial_log_plus_committed_txns_equals_primary() {
    fuzzy_snapshot_catches_up(CatchUp::Interrupted);
}

// The case DataTree.processTxn repairs for every txn, not only in recovery: the walk has
// passed /p when /p/e, an ephemeral, goes with its session and another session creates it
// again. ZooKeeper's walk looks children up by name and catches the new node, so the create
// later finds it present and must repair /p's cversion and pzxid. This walk follows the
// children /p had when it was written, so the new node is not in the snapshot and applying
// the create is all a learner needs.
#[test]
fn a_node_made_again_after_the_walk_passed_its_parent_is_left_to_the_txns() {
    let mut a = Primary::new();
    a.open();
    a.open();
    let create = |path: &str, flags| {
        Request::Create(CreateRequest {
            path: path.to_owned(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
        })
    };
    a.request(1, create("/p", 0));
    a.request(1, create("/p/e", 1));
    let mut cursor = a.st.snapshot_begin();
    let mut nodes = Vec::new();
    while nodes
        .last()
        .is_none_or(|(p, _): &(String, SnapNode)| p != "/p")
    {
        nodes.extend(a.st.snapshot_next(&mut cursor, 1));
    }
    a.request(1, Request::CloseSession);
    a.request(2, create("/p/e", 1));
    while !cursor.is_done() {
        nodes.extend(a.st.snapshot_next(&mut cursor, 1));
    }
    assert!(
        !nodes.iter().any(|(p, _)| p == "/p/e"),
        "the walk skips the new /p/e"
    );
    let mut b = load(&a, &cursor, nodes).unwrap();
    b.recovery_done(a.now);
    for p in a.log.iter().filter(|p| p.hdr.zxid > cursor.zxid()) {
        let _ = b.apply(committed(p));
    }
    assert_same(&a.st, &b, 0);
}

/// `p` as a learner gets it from its leader: no client of its own waits for it.
fn committed(p: &Proposal) -> Proposal {
    Proposal {
        hdr: p.hdr,
        txn: p.txn.clone(),
        origin: None,
    }
}

fn fuzzy_snapshot_catches_up(catch_up: CatchUp) {
    let mut seen = Coverage::default();
    for seed in 0..300 {
        fuzzy_round_trip(seed, catch_up, &mut seen);
    }
    let c = &seen;
    let all = [
        c.replayed,
        c.multis,
        c.expiries,
        c.sweeps,
        c.set_acls,
        c.ephemerals,
    ];
    assert!(all.iter().all(|&n| n >= 20), "{seen:?}");
}

// A snapshot of a quiet tree needs no replay: loading it alone gives the same state, and the
// nodes come root first ("" as in DataTree.serializeNode), parents before children, with the
// /zookeeper subtree included.
#[test]
fn quiet_snapshot_is_exact_and_in_pre_order() {
    let mut rng = Rng(7);
    let mut a = Primary::new();
    a.open();
    for _ in 0..200 {
        a.step(&mut rng);
    }
    let mut cursor = a.st.snapshot_begin();
    let nodes = a.st.snapshot_next(&mut cursor, usize::MAX);
    assert!(cursor.is_done());
    assert_eq!(nodes[0].0, "");
    let paths: Vec<&str> = nodes.iter().map(|(p, _)| p.as_str()).collect();
    for p in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert!(paths.contains(&p), "{p} is written");
    }
    let mut seen = BTreeSet::new();
    for p in &paths[1..] {
        let parent = &p[..p.rfind('/').unwrap()];
        assert!(
            seen.contains(parent) || parent.is_empty(),
            "{p} after parent"
        );
        seen.insert(*p);
    }
    let b = load(&a, &cursor, nodes).unwrap();
    assert_same(&a.st, &b, 7);
}

fn hdr(zxid: i64, op: OpCode) -> TxnHeader {
    TxnHeader {
        client_id: 0x77,
        cxid: 1,
        zxid,
        time: NOW + zxid,
        txn_type: op as i32,
    }
}

fn create(path: &str, parent_cversion: i32) -> Txn {
    Txn::Create(CreateTxn {
        path: path.to_owned(),
        data: Some(b"d".to_vec()),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_c_version: parent_cversion,
    })
}

// FileTxnSnapLog.processTransaction: failures (NoNode, NodeExists) are ignored, zxids at or
// below the last applied one are skipped, and replay yields no actions (it has no return).
#[test]
fn replay_ignores_failures_and_old_zxids() {
    let mut st = State::new(cfg(), NOW);
    st.replay(&hdr(1, OpCode::Create), &create("/a", 1));
    st.replay(&hdr(2, OpCode::Create), &create("/missing/b", 1));
    st.replay(
        &hdr(3, OpCode::Delete),
        &Txn::Delete(DeleteTxn {
            path: "/nope".to_owned(),
        }),
    );
    st.replay(
        &hdr(4, OpCode::SetData),
        &Txn::SetData(SetDataTxn {
            path: "/a".to_owned(),
            data: Some(b"new".to_vec()),
            version: 1,
        }),
    );
    // Already applied: skipped, though it would change the data.
    st.replay(
        &hdr(4, OpCode::SetData),
        &Txn::SetData(SetDataTxn {
            path: "/a".to_owned(),
            data: Some(b"again".to_vec()),
            version: 2,
        }),
    );
    assert_eq!(st.last_zxid(), 4);
    let a = st.tree().node("/a").unwrap();
    assert_eq!(a.data(), Some(&b"new"[..]));
    assert_eq!((a.stat().version, a.stat().mzxid), (1, 4));
    assert!(st.tree().node("/missing/b").is_none());
    // A multi holding an error txn is not applied.
    st.replay(
        &hdr(5, OpCode::Multi),
        &Txn::Multi(vec![
            create("/m", 2),
            Txn::Error(paddock_jute::txn::ErrorTxn { err: -101 }),
        ]),
    );
    assert!(st.tree().node("/m").is_none());
    assert_eq!(st.last_zxid(), 5);
    st.tree().check_invariants();
}

// DataTree.processTxn "Adjusting parent cversion": a create that finds its node present still
// raises the parent's cversion and pzxid to the txn's; create2 does not; lower values never
// move them back (DataTree.setCversionPzxid).
#[test]
fn replayed_create_of_existing_node_fixes_parent_cversion() {
    let mut st = State::new(cfg(), NOW);
    st.replay(&hdr(1, OpCode::Create), &create("/p", 1));
    st.replay(&hdr(2, OpCode::Create), &create("/p/c", 1));
    let p = |st: &State| {
        let s = *st.tree().node("/p").unwrap().stat();
        (s.cversion, s.pzxid)
    };
    assert_eq!(p(&st), (1, 2));
    st.replay(&hdr(3, OpCode::Create), &create("/p/c", 5));
    assert_eq!(p(&st), (5, 3), "NodeExists on create adjusts the parent");
    let Txn::Create(t) = create("/p/c", 9) else {
        unreachable!()
    };
    st.replay(&hdr(4, OpCode::Create2), &Txn::Create2(t));
    assert_eq!(p(&st), (5, 3), "create2 is not adjusted");
    st.replay(&hdr(5, OpCode::Create), &create("/p/c", 2));
    assert_eq!(p(&st), (5, 3), "cversion never moves back");
    st.replay(&hdr(6, OpCode::Multi), &Txn::Multi(vec![create("/p/c", 7)]));
    assert_eq!(p(&st), (7, 6), "sub-txns of a multi are adjusted too");
    assert_eq!(st.tree_digest(), full_digest(st.tree()));
}

// FileTxnSnapLog.processTransaction + SessionTrackerImpl: sessions from the snapshot and from
// replayed createSession txns are live again with a full timeout from the restart; a client
// reattaching in time keeps its ephemerals, others expire; closeSession in the log kills.
#[test]
fn restored_sessions_live_again_and_expire_normally() {
    let later = NOW + 3_600_000;
    let nodes = vec![
        ("".to_owned(), snap(0, 0)),
        ("/e1".to_owned(), snap(1, 0x11)),
        ("/e2".to_owned(), snap(2, 0x22)),
        ("/orphan".to_owned(), snap(3, 0x99)),
    ];
    let mut st = State::from_snapshot(
        cfg(),
        later,
        3,
        &[(0x11, 6000), (0x22, 6000)],
        vec![],
        nodes,
    )
    .unwrap();
    let mut h = hdr(4, OpCode::CreateSession);
    h.client_id = 0x33;
    st.replay(&h, &Txn::CreateSession(CreateSessionTxn { time_out: 9000 }));
    let mut h = hdr(5, OpCode::CloseSession);
    h.client_id = 0x22;
    st.replay(
        &h,
        &Txn::CloseSession(paddock_jute::txn::CloseSessionTxn {
            paths2_delete: vec!["/e2".to_owned()],
        }),
    );
    st.recovery_done(later);
    assert_eq!(st.sessions(), vec![(0x11, 6000), (0x33, 9000)]);
    assert!(st.tree().node("/e2").is_none(), "closed in the log");
    assert!(
        st.tree().node("/orphan").is_none(),
        "ZooKeeperServer.loadData kills sessions that are not live"
    );
    // 0x11 reattaches in time and keeps /e1.
    st.conn_opened(1, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let req = ConnectRequest {
        session_id: 0x11,
        passwd: paddock_core::session::session_password(0x11).to_vec(),
        time_out: 6000,
        last_zxid_seen: 5,
        ..Default::default()
    };
    let Step::Done(actions) = st.connect(1, req, later + 1000) else {
        panic!("reattach is answered at once")
    };
    assert!(matches!(
        actions[0],
        Action::Connected {
            close_after: false,
            ..
        }
    ));
    assert!(st.tick(later + 5000).is_empty(), "nothing expires early");
    // 0x33 never comes back and expires one timeout (and a tick) after the restart.
    let expired: Vec<i64> = st
        .tick(later + 12_000)
        .iter()
        .map(|p| p.hdr.client_id)
        .collect();
    assert!(expired.contains(&0x33), "{expired:x?}");
}

fn snap(czxid: i64, owner: i64) -> SnapNode {
    SnapNode {
        data: Some(Vec::new()),
        acl: -1,
        stat: StatPersisted {
            czxid,
            mzxid: czxid,
            pzxid: czxid,
            ephemeral_owner: owner,
            ..StatPersisted::default()
        },
    }
}

// DataTree.deserialize: "Invalid Datatree, unable to find parent"; a node naming an ACL key
// the map lacks denies everyone until replay repairs it.
#[test]
fn loading_checks_parents_and_tolerates_missing_acl_keys() {
    let mut loader = SnapshotLoader::new(cfg(), NOW, 1, &[], vec![(1, Acl::read_unsafe())]);
    loader.add_node(String::new(), snap(0, 0)).unwrap();
    let err = loader.add_node("/a/b".to_owned(), snap(1, 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "snapshot node \"/a/b\" comes before its parent"
    );
    let mut node = snap(1, 0);
    node.acl = 42;
    loader.add_node("/a".to_owned(), node).unwrap();
    let st = loader.finish().unwrap();
    let acl = st.tree().node_acl("/a").unwrap();
    assert_eq!(acl[0].perms, 0, "unknown key grants nothing");
    assert!(st.tree().acl_cache().is_empty(), "unused key 1 purged");

    let mut loader = SnapshotLoader::new(cfg(), NOW, 1, &[], vec![]);
    let err = loader.add_node("/a".to_owned(), snap(1, 0)).unwrap_err();
    assert_eq!(err, paddock_core::snapshot::LoadError::RootNotFirst);
}

// Group commit on a full disk: the last prepared proposal is taken back; the next one reuses
// its zxid, a new session's id is handed out again, a client's closing session works again.
#[test]
fn abandon_undoes_the_last_preparation() {
    let mut a = Primary::new();
    a.open();
    let Step::Propose(p) = a.st.request(
        1,
        1,
        Request::Create(CreateRequest {
            path: "/x".to_owned(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        }),
        NOW,
    ) else {
        panic!("a write is proposed")
    };
    let digest = a.st.tree_digest();
    a.st.abandon(&p);
    assert_eq!(a.st.tree_digest(), digest);
    assert!(a.st.tree().node("/x").is_none());
    let Step::Propose(q) = a.st.request(1, 2, Request::CloseSession, NOW) else {
        panic!("close is proposed")
    };
    assert_eq!(q.hdr.zxid, p.hdr.zxid, "zxid reused");
    a.st.abandon(&q);
    let Step::Propose(r) = a.st.request(
        1,
        3,
        Request::SetData(SetDataRequest {
            path: "/".to_owned(),
            data: None,
            version: -1,
        }),
        NOW,
    ) else {
        panic!("the session takes requests again")
    };
    a.st.apply(r);
    a.st.conn_opened(2, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let Step::Propose(s1) = a.st.connect(2, ConnectRequest::default(), NOW) else {
        panic!()
    };
    a.st.abandon(&s1);
    let Step::Propose(s2) = a.st.connect(2, ConnectRequest::default(), NOW) else {
        panic!()
    };
    assert_eq!(
        s1.hdr.client_id, s2.hdr.client_id,
        "session id handed out again"
    );
}

#[test]
#[should_panic(expected = "abandoning")]
fn abandon_of_an_applied_proposal_is_a_bug() {
    let mut a = Primary::new();
    a.open();
    let p = a.log[0].clone();
    a.st.abandon(&p);
}

// Golden values printed by ZooKeeper 3.8.0's DataTree.getTreeDigest after the same calls
// (createNode with parentCVersion -1, setData, setACL, deleteNode).
#[test]
fn tree_digest_matches_zookeeper_3_8() {
    let mut t = DataTree::new(Vec::new(), false);
    assert_eq!(t.digest(), 1371985504, "fresh tree");
    let open = Acl::open_unsafe();
    t.create_node("/a", Some(b"x".to_vec()), &open, 0, -1, 5, 1000)
        .unwrap();
    assert_eq!(t.digest(), 2241852252);
    t.create_node("/a/b", None, &open, 0x1234, -1, 6, 1001)
        .unwrap();
    assert_eq!(t.digest(), 5999226182);
    t.set_data("/a", Some(b"yy".to_vec()), 1, 7, 1002).unwrap();
    assert_eq!(t.digest(), 4554303054);
    t.set_acl("/a", &Acl::read_unsafe(), 1).unwrap();
    assert_eq!(t.digest(), 4375329421);
    t.delete_node("/a/b", 8).unwrap();
    assert_eq!(t.digest(), 3538406220);
    t.set_data("/", Some(b"r".to_vec()), 1, 9, 1003).unwrap();
    assert_eq!(t.digest(), 5754267891);
    t.create_node("/zookeeper/x", None, &open, 0, -1, 10, 1004)
        .unwrap();
    assert_eq!(t.digest(), 6968569207, "/zookeeper itself counts");
}
