//! Model test: random create / delete / setData / closeSession sequences against a plain map.
//! After every step the tree's own invariants hold (children and parents agree, the ephemeral
//! index matches the nodes) and its answers match the model's.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use paddock_core::state::{Action, State, Step};
use paddock_core::CoreConfig;
use paddock_jute::proto::*;
use paddock_jute::{Acl, ErrorCode};
use proptest::prelude::*;

/// A realistic clock: session ids are derived from it, and id 0 would mean "no owner".
const NOW: i64 = 1_700_000_000_000;
const PATHS: [&str; 7] = ["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/b/x/z"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        path: usize,
        conn: u64,
        ephemeral: bool,
    },
    Delete {
        path: usize,
        conn: u64,
    },
    SetData {
        path: usize,
        conn: u64,
        len: usize,
    },
    Reconnect {
        conn: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let path = 0..PATHS.len();
    let conn = 1..3u64;
    prop_oneof![
        4 => (path.clone(), conn.clone(), any::<bool>())
            .prop_map(|(path, conn, ephemeral)| Op::Create { path, conn, ephemeral }),
        3 => (path.clone(), conn.clone()).prop_map(|(path, conn)| Op::Delete { path, conn }),
        2 => (path, conn.clone(), 0..4usize).prop_map(|(path, conn, len)| Op::SetData { path, conn, len }),
        1 => conn.prop_map(|conn| Op::Reconnect { conn }),
    ]
}

/// What the model keeps per node: data length and owning connection (for ephemerals).
type Model = BTreeMap<String, (usize, Option<u64>)>;

struct Harness {
    st: State,
    sessions: BTreeMap<u64, i64>,
    next_conn: u64,
    /// Logical client -> current connection id.
    conns: BTreeMap<u64, u64>,
}

impl Harness {
    fn run(&mut self, step: Step) -> Vec<Action> {
        match step {
            Step::Done(a) => a,
            Step::Propose(p) => self.st.apply(p),
            Step::Forward(f) => panic!("a standalone server forwarded {f:?}"),
        }
    }

    fn open(&mut self, client: u64) {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.st.conn_opened(conn, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let req = ConnectRequest {
            time_out: 30_000,
            ..Default::default()
        };
        let step = self.st.connect(conn, req, NOW);
        let actions = self.run(step);
        let Some(Action::Connected { resp, .. }) = actions.first() else {
            panic!("{actions:?}")
        };
        self.sessions.insert(client, resp.session_id);
        self.conns.insert(client, conn);
    }

    fn err(&mut self, client: u64, req: Request) -> i32 {
        let conn = self.conns[&client];
        let step = self.st.request(conn, 1, req, NOW);
        let actions = self.run(step);
        actions
            .iter()
            .find_map(|a| match a {
                Action::Reply { conn: c, err, .. } if *c == conn => Some(*err),
                _ => None,
            })
            .expect("a reply")
    }
}

fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => "/",
    }
}

fn expected_create(model: &Model, path: &str) -> ErrorCode {
    let par = parent(path);
    if par != "/" && !model.contains_key(par) {
        ErrorCode::NoNode
    } else if model.contains_key(path) {
        ErrorCode::NodeExists
    } else if par != "/" && model[par].1.is_some() {
        ErrorCode::NoChildrenForEphemerals
    } else {
        ErrorCode::Ok
    }
}

fn has_children(model: &Model, path: &str) -> bool {
    model.keys().any(|k| parent(k) == path)
}

fn check(h: &Harness, model: &Model) {
    let tree = h.st.tree();
    tree.check_invariants();
    for (path, (len, _)) in model {
        let node = tree.node(path).unwrap_or_else(|| panic!("{path} missing"));
        let stat = tree.client_stat(node);
        let kids: Vec<&str> = model
            .keys()
            .filter(|k| parent(k) == path)
            .map(|k| &k[k.rfind('/').unwrap() + 1..])
            .collect();
        assert_eq!(stat.num_children as usize, kids.len(), "{path}");
        let mut names = tree.child_names(path);
        names.sort_unstable();
        assert_eq!(names, kids);
        assert_eq!(stat.data_length as usize, *len);
    }
    for p in PATHS {
        assert_eq!(tree.node(p).is_some(), model.contains_key(p), "{p}");
    }
    for (client, sid) in &h.sessions {
        let conn = h.conns[client];
        let want: Vec<String> = model
            .iter()
            .filter(|(_, v)| v.1 == Some(conn))
            .map(|(k, _)| k.clone())
            .collect();
        // The tree lists them in ZooKeeper's HashSet order; the model only knows the set.
        let mut got = tree.ephemerals(*sid);
        got.sort();
        assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    // DataTree invariants under random writes (STYLE.md "Model tests").
    #[test]
    fn tree_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut h = Harness {
            st: State::new(CoreConfig::default(), NOW),
            sessions: BTreeMap::new(),
            next_conn: 0,
            conns: BTreeMap::new(),
        };
        h.open(1);
        h.open(2);
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Create { path, conn: client, ephemeral } => {
                    let p = PATHS[path];
                    let want = expected_create(&model, p);
                    let req = CreateRequest {
                        path: p.into(),
                        data: Some(vec![7]),
                        acl: Acl::open_unsafe(),
                        flags: i32::from(ephemeral),
                    };
                    prop_assert_eq!(h.err(client, Request::Create(req)), want.code());
                    if want == ErrorCode::Ok {
                        model.insert(p.to_owned(), (1, ephemeral.then(|| h.conns[&client])));
                    }
                }
                Op::Delete { path, conn: client } => {
                    let p = PATHS[path];
                    let want = if !model.contains_key(p) {
                        ErrorCode::NoNode
                    } else if has_children(&model, p) {
                        ErrorCode::NotEmpty
                    } else {
                        ErrorCode::Ok
                    };
                    let req = Request::Delete(DeleteRequest { path: p.into(), version: -1 });
                    prop_assert_eq!(h.err(client, req), want.code());
                    if want == ErrorCode::Ok {
                        model.remove(p);
                    }
                }
                Op::SetData { path, conn: client, len } => {
                    let p = PATHS[path];
                    let want = if model.contains_key(p) { 0 } else { ErrorCode::NoNode.code() };
                    let req = Request::SetData(SetDataRequest { path: p.into(), data: Some(vec![1; len]), version: -1 });
                    prop_assert_eq!(h.err(client, req), want);
                    if let Some(entry) = model.get_mut(p) {
                        entry.0 = len;
                    }
                }
                Op::Reconnect { conn: client } => {
                    let old = h.conns[&client];
                    prop_assert_eq!(h.err(client, Request::CloseSession), 0);
                    h.st.conn_closed(old);
                    model.retain(|_, v| v.1 != Some(old));
                    h.open(client);
                }
            }
            check(&h, &model);
        }
    }
}
