//! The request pipeline end to end: connect, requests, proposals applied in order, ticks.
//! Each test names the ZooKeeper source whose behaviour it pins.

use std::net::{IpAddr, Ipv4Addr};

use paddock_core::acl;
use paddock_core::state::{Action, State, Step};
use paddock_core::CoreConfig;
use paddock_jute::proto::*;
use paddock_jute::txn::Txn;
use paddock_jute::{perms, Acl, AddWatchMode, ErrorCode, EventType, Id, OpCode, Stat};

const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Server {
    st: State,
    now: i64,
    xid: i32,
}

impl Server {
    fn new(cfg: CoreConfig) -> Server {
        Server {
            st: State::new(cfg, 1_000_000),
            now: 1_000_000,
            xid: 0,
        }
    }

    fn standard() -> Server {
        Server::new(CoreConfig::default())
    }

    /// Feeds one step; proposals are applied at once, as the IO layer does after logging.
    fn step(&mut self, step: Step) -> Vec<Action> {
        match step {
            Step::Done(actions) => actions,
            Step::Propose(p) => self.st.apply(p),
            Step::Forward(f) => panic!("a standalone server forwarded {f:?}"),
        }
    }

    /// Opens `conn` with a new session and returns the session id.
    fn open(&mut self, conn: u64) -> i64 {
        self.st.conn_opened(conn, ADDR);
        let req = ConnectRequest {
            time_out: 30_000,
            read_only: Some(false),
            ..Default::default()
        };
        let step = self.st.connect(conn, req, self.now);
        match self.step(step).as_slice() {
            [Action::Connected {
                resp,
                close_after: false,
                ..
            }] => resp.session_id,
            other => panic!("unexpected connect answer {other:?}"),
        }
    }

    fn connect(&mut self, conn: u64, req: ConnectRequest) -> Vec<Action> {
        let step = self.st.connect(conn, req, self.now);
        self.step(step)
    }

    fn send(&mut self, conn: u64, req: Request) -> Vec<Action> {
        self.xid += 1;
        let step = self.st.request(conn, self.xid, req, self.now);
        self.step(step)
    }

    /// The reply to `conn` among `actions`: (err, body).
    fn call(&mut self, conn: u64, req: Request) -> (i32, Response) {
        let actions = self.send(conn, req);
        reply_of(&actions, conn)
    }

    fn ok(&mut self, conn: u64, req: Request) -> Response {
        let (err, body) = self.call(conn, req);
        assert_eq!(err, 0, "request failed with {err}");
        body
    }

    fn err(&mut self, conn: u64, req: Request) -> i32 {
        self.call(conn, req).0
    }

    fn create(&mut self, conn: u64, path: &str, flags: i32) -> (i32, Response) {
        self.call(conn, create2(path, b"x", flags))
    }

    fn stat(&mut self, conn: u64, path: &str) -> Stat {
        match self.ok(conn, Request::Exists(pw(path, false))) {
            Response::Stat(s) => s,
            other => panic!("{other:?}"),
        }
    }
}

fn reply_of(actions: &[Action], conn: u64) -> (i32, Response) {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Reply {
                conn: c, err, body, ..
            } if *c == conn => Some((*err, body.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reply for {conn} in {actions:?}"))
}

fn notifications(actions: &[Action], conn: u64) -> Vec<(i32, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify { conn: c, event, .. } if *c == conn => {
                Some((event.event_type, event.path.clone()))
            }
            _ => None,
        })
        .collect()
}

fn create_req(path: &str, data: &[u8], flags: i32, acl: Vec<Acl>) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl,
        flags,
    }
}

fn create2(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create2(create_req(path, data, flags, Acl::open_unsafe()))
}

fn pw(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.into(),
        watch,
    }
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set_data(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}

fn children(s: &mut Server, conn: u64, path: &str) -> Vec<String> {
    match s.ok(conn, Request::GetChildren(pw(path, false))) {
        Response::GetChildren { children } => children,
        other => panic!("{other:?}"),
    }
}

const NODE_CREATED: i32 = EventType::NodeCreated as i32;
const NODE_DELETED: i32 = EventType::NodeDeleted as i32;
const DATA_CHANGED: i32 = EventType::NodeDataChanged as i32;
const CHILDREN_CHANGED: i32 = EventType::NodeChildrenChanged as i32;

// DataTree constructor and addConfigNode: four built-in nodes with zero stats, /zookeeper/config
// readable by all only (ZOOKEEPER-2014); the node map holds the root twice.
#[test]
fn built_in_tree_matches_zookeeper() {
    let mut s = Server::standard();
    s.open(1);
    assert_eq!(children(&mut s, 1, "/"), vec!["zookeeper"]);
    assert_eq!(children(&mut s, 1, "/zookeeper"), vec!["config", "quota"]);
    let root = s.stat(1, "/");
    assert_eq!(
        root,
        Stat {
            cversion: -1,
            num_children: 1,
            ..Stat::default()
        }
    );
    match s.ok(
        1,
        Request::GetAcl(PathRequest {
            path: "/zookeeper/config".into(),
        }),
    ) {
        Response::GetAcl { acl, .. } => assert_eq!(acl, Acl::read_unsafe()),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.st.counts().znode_count, 5);
    match s.ok(
        1,
        Request::GetAllChildrenNumber(PathRequest { path: "/".into() }),
    ) {
        Response::GetAllChildrenNumber { total_number } => assert_eq!(total_number, 3),
        other => panic!("{other:?}"),
    }
    // isSpecialPath: the built-ins cannot be deleted.
    assert_eq!(
        s.err(1, delete("/zookeeper", -1)),
        ErrorCode::BadArguments.code()
    );
    assert_eq!(
        s.err(1, delete("/zookeeper/config", -1)),
        ErrorCode::BadArguments.code()
    );
}

// DataTree.createNode / deleteNode / setData and DataNode.copyStat: czxid, mzxid, pzxid,
// versions, and the client cversion = creates * 2 - numChildren.
#[test]
fn stats_after_create_set_delete() {
    let mut s = Server::standard();
    s.open(1);
    let (err, body) = s.create(1, "/a", 0);
    assert_eq!(err, 0);
    let Response::Create2 { path, stat } = body else {
        panic!("{body:?}")
    };
    assert_eq!(path, "/a");
    let z1 = stat.czxid;
    assert_eq!(
        (stat.mzxid, stat.pzxid, stat.version, stat.data_length),
        (z1, z1, 0, 1)
    );
    assert_eq!(s.st.last_zxid(), z1);

    s.create(1, "/a/b", 0);
    s.create(1, "/a/c", 0);
    let a = s.stat(1, "/a");
    assert_eq!((a.num_children, a.cversion, a.pzxid), (2, 2, z1 + 2));

    let stat = match s.ok(1, set_data("/a", b"hello", 0)) {
        Response::Stat(st) => st,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (stat.version, stat.mzxid, stat.czxid, stat.data_length),
        (1, z1 + 3, z1, 5)
    );

    assert_eq!(s.err(1, delete("/a/b", -1)), 0);
    let a = s.stat(1, "/a");
    // Delete moves pzxid and the visible cversion (2 creates * 2 - 1 child).
    assert_eq!((a.num_children, a.cversion, a.pzxid), (1, 3, z1 + 4));
}

// PrepRequestProcessor.pRequest2TxnCreate: the sequence suffix is the parent's create counter,
// which deletes do not lower; a failed create does not bump it but still uses a zxid.
#[test]
fn sequential_names_and_failed_create_zxids() {
    let mut s = Server::standard();
    s.open(1);
    s.create(1, "/q", 0);
    let name = |b: Response| match b {
        Response::Create2 { path, .. } => path,
        other => panic!("{other:?}"),
    };
    assert_eq!(name(s.create(1, "/q/n-", 2).1), "/q/n-0000000000");
    assert_eq!(s.err(1, delete("/q/n-0000000000", -1)), 0);
    assert_eq!(name(s.create(1, "/q/n-", 2).1), "/q/n-0000000001");
    let before = s.st.last_zxid();
    assert_eq!(s.create(1, "/nope/x", 2).0, ErrorCode::NoNode.code());
    assert_eq!(s.st.last_zxid(), before + 1, "an error txn consumes a zxid");
    assert_eq!(name(s.create(1, "/q/", 2).1), "/q/0000000002");
    // The suffix is appended before validation: "/q/" becomes valid.
    assert_eq!(s.create(1, "/q/", 0).0, ErrorCode::BadArguments.code());
}

// PrepRequestProcessor create/delete/setData check order and codes.
#[test]
fn write_errors_follow_zookeeper() {
    let mut s = Server::standard();
    s.open(1);
    s.create(1, "/p", 0);
    s.create(1, "/p/c", 0);
    s.create(1, "/e", 1);
    assert_eq!(s.create(1, "/p", 0).0, ErrorCode::NodeExists.code());
    assert_eq!(
        s.create(1, "/e/x", 0).0,
        ErrorCode::NoChildrenForEphemerals.code()
    );
    assert_eq!(s.err(1, delete("/p", -1)), ErrorCode::NotEmpty.code());
    assert_eq!(s.err(1, delete("/p/c", 3)), ErrorCode::BadVersion.code());
    assert_eq!(
        s.err(1, set_data("/p", b"", 7)),
        ErrorCode::BadVersion.code()
    );
    assert_eq!(
        s.err(1, set_data("/p/", b"", -1)),
        ErrorCode::BadArguments.code()
    );
    assert_eq!(s.err(1, delete("/missing", -1)), ErrorCode::NoNode.code());
    // The parent is looked up before the path is validated.
    assert_eq!(s.create(1, "/p//x", 0).0, ErrorCode::NoNode.code());
    assert_eq!(s.create(1, "/p/./x", 0).0, ErrorCode::NoNode.code());
    assert_eq!(s.create(1, "/p/.", 0).0, ErrorCode::BadArguments.code());
    assert_eq!(s.create(1, "/x", 9).0, ErrorCode::BadArguments.code());
    // TTL needs extendedTypesEnabled.
    let ttl = Request::CreateTtl(CreateTtlRequest {
        path: "/t".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 100,
    });
    assert_eq!(s.err(1, ttl), ErrorCode::Unimplemented.code());
    let empty_acl = Request::Create(create_req("/y", b"", 0, vec![]));
    assert_eq!(s.err(1, empty_acl), ErrorCode::InvalidAcl.code());
}

// DataTree.killSession through closeSession: ephemerals go, their watches fire, the client gets
// its reply and the connection closes.
#[test]
fn ephemerals_removed_on_close_session() {
    let mut s = Server::standard();
    let sid = s.open(1);
    s.open(2);
    s.create(1, "/e1", 1);
    s.create(1, "/e2", 3);
    assert_eq!(s.st.tree().ephemerals(sid).len(), 2);
    match s.ok(1, Request::GetEphemerals(PathRequest { path: "/".into() })) {
        // ZooKeeper's HashSet order (checked against Java 17 in javahash's tests).
        Response::GetEphemerals { ephemerals } => {
            assert_eq!(ephemerals, vec!["/e20000000001", "/e1"])
        }
        other => panic!("{other:?}"),
    }
    s.ok(2, Request::Exists(pw("/e1", true)));
    let actions = s.send(1, Request::CloseSession);
    assert_eq!(
        notifications(&actions, 2),
        vec![(NODE_DELETED, "/e1".to_owned())]
    );
    let close_pos = actions
        .iter()
        .position(|a| *a == Action::Close { conn: 1 })
        .unwrap();
    let reply_pos = actions
        .iter()
        .position(|a| matches!(a, Action::Reply { conn: 1, .. }))
        .unwrap();
    assert!(reply_pos < close_pos);
    assert_eq!(s.st.tree().ephemerals_count(), 0);
    assert_eq!(s.st.counts().sessions, 1);
}

// PrepRequestProcessor, closeSession: while a close waits for its fsync (or its commit), a
// write prepared behind it sees the closing session's ephemerals deleted, including one whose
// create is itself still waiting; the deleted node's parent keeps its child count.
#[test]
fn writes_prepared_behind_a_queued_close_see_its_ephemerals_gone() {
    let mut s = Server::standard();
    s.open(1);
    s.open(2);
    s.create(1, "/p", 0);
    s.create(1, "/p/e", 1);
    s.xid += 1;
    let Step::Propose(late) = s.st.request(1, s.xid, create2("/late", b"x", 1), s.now) else {
        panic!("a create is a proposal");
    };
    s.xid += 1;
    let Step::Propose(close) = s.st.request(1, s.xid, Request::CloseSession, s.now) else {
        panic!("a close is a proposal");
    };
    match &close.txn {
        Txn::CloseSession(t) => assert_eq!(t.paths2_delete, vec!["/p/e", "/late"]),
        other => panic!("{other:?}"),
    }
    s.xid += 1;
    let Step::Propose(again) = s.st.request(2, s.xid, create2("/p/e", b"y", 1), s.now) else {
        panic!("a create is a proposal");
    };
    assert!(matches!(again.txn, Txn::Create2(_)), "{:?}", again.txn);
    s.xid += 1;
    let Step::Propose(parent) = s.st.request(2, s.xid, delete("/p", -1), s.now) else {
        panic!("a delete is a proposal");
    };
    assert!(
        matches!(&parent.txn, Txn::Error(e) if e.err == ErrorCode::NotEmpty.code()),
        "{:?}",
        parent.txn
    );
    for p in [late, close, again, parent] {
        s.st.apply(p);
    }
    assert!(s.st.tree().node("/late").is_none());
    assert_eq!(s.st.tree().node("/p/e").unwrap().data(), Some(&b"y"[..]));
}

// AuthenticationHelper.enforceAuthentication (zookeeper.enforce.auth.enabled): a connection
// without an id of a required scheme gets SessionClosedRequireSaslAuth (-124, zxid 0) for any
// request but auth, and is closed; after a digest auth its requests are served.
#[test]
fn enforced_authentication_refuses_and_closes_unauthenticated_connections() {
    let mut s = Server::new(CoreConfig {
        enforce_auth_schemes: vec!["digest".into()],
        ..CoreConfig::default()
    });
    s.open(1);
    s.open(2);
    for req in [Request::Ping, Request::GetData(pw("/", false))] {
        let actions = s.send(1, req);
        assert_eq!(
            actions,
            vec![
                Action::Reply {
                    conn: 1,
                    xid: s.xid,
                    zxid: 0,
                    err: ErrorCode::SessionClosedRequireSaslAuth.code(),
                    body: Response::Empty,
                },
                Action::Close { conn: 1 },
            ]
        );
    }
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"alice:pw".to_vec(),
    });
    assert_eq!(s.err(2, auth), 0);
    s.ok(2, Request::GetData(pw("/", false)));
    s.ok(2, Request::Ping);

    // Every connection holds its `ip` id.
    let mut s = Server::new(CoreConfig {
        enforce_auth_schemes: vec!["ip".into()],
        ..CoreConfig::default()
    });
    s.open(1);
    s.ok(1, Request::GetData(pw("/", false)));
}

// SessionTrackerImpl expiry + FinalRequestProcessor closing the expired session's connection.
#[test]
fn ephemerals_removed_on_expiry() {
    let mut s = Server::standard();
    let sid = s.open(1);
    s.create(1, "/e", 1);
    s.st.conn_closed(1);
    let later = s.now + 60_000 + 6_000;
    let proposals = s.st.tick(later);
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].hdr.client_id, sid);
    assert_eq!(proposals[0].hdr.txn_type, OpCode::CloseSession as i32);
    for p in proposals {
        s.st.apply(p);
    }
    assert!(s.st.tree().node("/e").is_none());
    assert!(s.st.sessions().is_empty());
}

// ZooKeeperServer.processConnectRequest / reopenSession / finishSessionInit.
#[test]
fn reattach_with_right_and_wrong_password() {
    let mut s = Server::standard();
    let sid = s.open(1);
    let passwd = paddock_core::session::session_password(sid).to_vec();
    s.st.conn_opened(2, ADDR);
    let req = ConnectRequest {
        time_out: 10_000,
        session_id: sid,
        passwd,
        ..Default::default()
    };
    let actions = s.connect(2, req.clone());
    assert_eq!(
        actions[0],
        Action::Close { conn: 1 },
        "old connection closed first"
    );
    match &actions[1] {
        Action::Connected {
            conn: 2,
            resp,
            close_after: false,
        } => {
            assert_eq!(
                (resp.session_id, resp.time_out, resp.read_only),
                (sid, 10_000, None)
            );
        }
        other => panic!("{other:?}"),
    }
    s.st.conn_closed(1);
    s.ok(2, Request::Ping);

    s.st.conn_opened(3, ADDR);
    let bad = ConnectRequest {
        passwd: vec![1; 16],
        read_only: Some(false),
        ..req
    };
    let actions = s.connect(3, bad);
    assert_eq!(actions[0], Action::Close { conn: 2 });
    match &actions[1] {
        Action::Connected {
            conn: 3,
            resp,
            close_after: true,
        } => {
            assert_eq!((resp.session_id, resp.time_out), (0, 0));
            assert_eq!(
                (resp.passwd.clone(), resp.read_only),
                (vec![0; 16], Some(false))
            );
        }
        other => panic!("{other:?}"),
    }
    // A client that saw a later zxid is refused without a response.
    s.st.conn_opened(4, ADDR);
    let ahead = ConnectRequest {
        last_zxid_seen: 1 << 40,
        ..Default::default()
    };
    assert_eq!(s.connect(4, ahead), vec![Action::Close { conn: 4 }]);
}

// PrepRequestProcessor multi + DataTree.processTxn multi: the failing op has its code,
// earlier ops 0, later ops RuntimeInconsistency; nothing applies; the header err stays 0.
#[test]
fn multi_failure_padding_and_rollback() {
    let mut s = Server::standard();
    s.open(1);
    let ops = vec![
        MultiOp::Create {
            op: OpCode::Create,
            req: create_req("/m", b"", 0, Acl::open_unsafe()),
        },
        MultiOp::Create {
            op: OpCode::Create2,
            req: create_req("/m/a", b"", 0, Acl::open_unsafe()),
        },
        MultiOp::Check(CheckVersionRequest {
            path: "/m/a".into(),
            version: 5,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: None,
            version: -1,
        }),
    ];
    let before = s.st.last_zxid();
    let (err, body) = s.call(1, Request::Multi(ops.clone()));
    assert_eq!(err, 0);
    let e = |err: ErrorCode| OpResult::Error { err: err.code() };
    assert_eq!(
        body,
        Response::Multi(vec![
            e(ErrorCode::Ok),
            e(ErrorCode::Ok),
            e(ErrorCode::BadVersion),
            e(ErrorCode::RuntimeInconsistency)
        ])
    );
    assert_eq!(s.st.last_zxid(), before + 1);
    assert!(s.st.tree().node("/m").is_none());

    // Later ops see earlier ones: create /m then /m/a then check it.
    let mut ops = ops;
    ops[2] = MultiOp::Check(CheckVersionRequest {
        path: "/m/a".into(),
        version: 0,
    });
    let (err, body) = s.call(1, Request::Multi(ops));
    assert_eq!(err, 0);
    let Response::Multi(results) = body else {
        panic!()
    };
    assert_eq!(results[0], OpResult::Create { path: "/m".into() });
    assert!(matches!(&results[1], OpResult::Create2 { path, .. } if path == "/m/a"));
    assert_eq!(results[2], OpResult::Check);
    assert!(matches!(results[3], OpResult::SetData { stat } if stat.version == 1));
    assert_eq!(s.ok(1, Request::Multi(vec![])), Response::Multi(vec![]));
}

// FinalRequestProcessor multiRead: per-op results, errors never abort.
#[test]
fn multi_read_answers_each_op() {
    let mut s = Server::standard();
    s.open(1);
    s.create(1, "/r", 0);
    let body = s.ok(
        1,
        Request::MultiRead(vec![
            MultiOp::GetData(pw("/r", false)),
            MultiOp::GetChildren(pw("/missing", false)),
            MultiOp::GetChildren(pw("/", false)),
        ]),
    );
    let Response::Multi(r) = body else { panic!() };
    assert!(matches!(&r[0], OpResult::GetData { data: Some(d), .. } if d == b"x"));
    assert_eq!(
        r[1],
        OpResult::Error {
            err: ErrorCode::NoNode.code()
        }
    );
    assert_eq!(
        r[2],
        OpResult::GetChildren {
            children: vec!["r".into(), "zookeeper".into()]
        }
    );
}

// Request.isValid(check) is false: UnimplementedRequestProcessor answers -6 and closes.
#[test]
fn standalone_check_is_unimplemented() {
    let mut s = Server::standard();
    s.open(1);
    let actions = s.send(
        1,
        Request::Check(CheckVersionRequest {
            path: "/".into(),
            version: 0,
        }),
    );
    assert_eq!(reply_of(&actions, 1).0, ErrorCode::Unimplemented.code());
    assert_eq!(actions.last(), Some(&Action::Close { conn: 1 }));
}

// checkACL, FinalRequestProcessor getACL masking, exists READ (3.9.2), super digest.
#[test]
fn acl_denials_and_super() {
    let cfg = CoreConfig {
        super_digest: Some(acl::digest("super:secret")),
        ..CoreConfig::default()
    };
    let mut s = Server::new(cfg);
    s.open(1);
    s.open(2);
    s.open(3);
    let auth = |who: &str| {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: who.as_bytes().to_vec(),
        })
    };
    assert_eq!(s.err(1, auth("alice:pw")), 0);
    let only_alice = vec![Acl {
        perms: perms::READ | perms::WRITE,
        id: Id::new("auth", ""),
    }];
    assert_eq!(
        s.err(
            1,
            Request::Create(create_req("/secret", b"s", 0, only_alice))
        ),
        0
    );
    assert_eq!(
        s.err(2, Request::GetData(pw("/secret", false))),
        ErrorCode::NoAuth.code()
    );
    assert_eq!(
        s.err(2, Request::Exists(pw("/secret", true))),
        ErrorCode::NoAuth.code()
    );
    assert_eq!(
        s.err(2, set_data("/secret", b"", -1)),
        ErrorCode::NoAuth.code()
    );
    // Without ADMIN, alice's own getACL hides the digest.
    match s.ok(
        1,
        Request::GetAcl(PathRequest {
            path: "/secret".into(),
        }),
    ) {
        Response::GetAcl { acl, .. } => assert_eq!(acl[0].id, Id::new("digest", "alice:x")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.err(
            2,
            Request::GetAcl(PathRequest {
                path: "/secret".into()
            })
        ),
        ErrorCode::NoAuth.code()
    );
    assert_eq!(s.err(3, auth("super:secret")), 0);
    assert_eq!(s.err(3, Request::GetData(pw("/secret", false))), 0);
    match s.ok(3, Request::WhoAmI) {
        Response::WhoAmI { client_info } => {
            assert!(client_info.iter().any(|c| c.auth_scheme == "super"));
        }
        other => panic!("{other:?}"),
    }
    // An unknown scheme: AUTHFAILED then the connection closes (processPacket).
    let bogus = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "bogus".into(),
        auth: vec![],
    });
    let actions = s.send(2, bogus);
    assert_eq!(reply_of(&actions, 2).0, ErrorCode::AuthFailed.code());
    assert_eq!(actions.last(), Some(&Action::Close { conn: 2 }));
}

// DataTree triggers + the ordering guarantee: the watcher's event precedes the writer's reply,
// and carries the txn zxid (ZOOKEEPER-4655).
#[test]
fn watch_events_precede_replies() {
    let mut s = Server::standard();
    s.open(1);
    s.open(2);
    s.create(1, "/w", 0);
    s.ok(2, Request::GetData(pw("/w", true)));
    s.ok(2, Request::GetChildren(pw("/", true)));
    s.ok(1, Request::GetData(pw("/w", true)));
    let actions = s.send(1, set_data("/w", b"y", -1));
    let zxid = s.st.last_zxid();
    let reply_pos = actions
        .iter()
        .position(|a| matches!(a, Action::Reply { .. }))
        .unwrap();
    let notify_pos: Vec<usize> = actions
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Action::Notify { .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(notify_pos.len(), 2);
    assert!(notify_pos.iter().all(|p| *p < reply_pos));
    assert!(actions
        .iter()
        .all(|a| !matches!(a, Action::Notify { zxid: z, .. } if *z != zxid)));
    // One-shot: a second change fires nothing for the data watch; delete fires the child watch.
    let actions = s.send(1, delete("/w", -1));
    assert_eq!(
        notifications(&actions, 2),
        vec![(CHILDREN_CHANGED, "/".to_owned())]
    );
}

// DataTree.addWatch + WatchManager: a recursive watch sees the subtree, never ChildrenChanged.
#[test]
fn persistent_recursive_stream() {
    let mut s = Server::standard();
    s.open(1);
    s.open(2);
    let add = Request::AddWatch(AddWatchRequest {
        path: "/a".into(),
        mode: AddWatchMode::PersistentRecursive as i32,
    });
    assert_eq!(s.ok(2, add), Response::ErrorBody { err: 0 });
    let mut seen = Vec::new();
    for req in [
        create2("/a", b"", 0),
        create2("/a/b", b"", 0),
        set_data("/a/b", b"1", -1),
        delete("/a/b", -1),
    ] {
        let actions = s.send(1, req);
        seen.extend(notifications(&actions, 2));
    }
    assert_eq!(
        seen,
        vec![
            (NODE_CREATED, "/a".to_owned()),
            (NODE_CREATED, "/a/b".to_owned()),
            (DATA_CHANGED, "/a/b".to_owned()),
            (NODE_DELETED, "/a/b".to_owned()),
        ]
    );
    let remove = WatchesRequest {
        path: "/a".into(),
        watcher_type: 5,
    };
    assert_eq!(s.err(2, Request::RemoveWatches(remove.clone())), 0);
    assert_eq!(
        s.err(2, Request::RemoveWatches(remove)),
        ErrorCode::NoWatcher.code()
    );
}

// NIOServerCnxn.process since 3.9.2: events are delivered only to READers of the node.
#[test]
fn notifications_filtered_by_read_acl() {
    let mut s = Server::standard();
    s.open(1);
    s.open(2);
    let add = Request::AddWatch(AddWatchRequest {
        path: "/".into(),
        mode: 1,
    });
    s.ok(2, add);
    let no_read = vec![Acl {
        perms: perms::ALL & !perms::READ,
        id: Id::new("world", "anyone"),
    }];
    let actions = s.send(1, Request::Create(create_req("/hidden", b"", 0, no_read)));
    assert!(notifications(&actions, 2).is_empty());
}

// The ACL each event is checked against: the node the event names. NodeCreated,
// NodeDataChanged and NodeDeleted name the changed node (a deleted node's ACL as it was),
// NodeChildrenChanged its parent, whatever the child's ACL.
#[test]
fn each_event_is_filtered_by_the_acl_of_the_node_it_names() {
    let mut s = Server::standard();
    s.open(1);
    s.open(2);
    let no_read = vec![Acl {
        perms: perms::ALL & !perms::READ,
        id: Id::new("world", "anyone"),
    }];
    s.create(1, "/open", 0);
    s.create(1, "/closed", 0);
    let watch = |path: &str, mode| {
        Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode,
        })
    };
    // Recursive on / (created, changed, deleted below it), persistent on both parents
    // (their children changing), set while /closed could still be read.
    s.ok(2, watch("/", 1));
    s.ok(2, watch("/open", 0));
    s.ok(2, watch("/closed", 0));
    s.ok(
        1,
        Request::SetAcl(SetAclRequest {
            path: "/closed".into(),
            acl: no_read.clone(),
            version: -1,
        }),
    );

    // An unreadable child of a readable parent: only the parent's event.
    let a = s.send(1, Request::Create(create_req("/open/x", b"", 0, no_read)));
    assert_eq!(
        notifications(&a, 2),
        [(CHILDREN_CHANGED, "/open".to_owned())]
    );
    let a = s.send(1, set_data("/open/x", b"1", -1));
    assert_eq!(notifications(&a, 2), []);
    let a = s.send(1, delete("/open/x", -1));
    assert_eq!(
        notifications(&a, 2),
        [(CHILDREN_CHANGED, "/open".to_owned())]
    );

    // A readable child of an unreadable parent: only the child's events.
    let a = s.send(1, create2("/closed/y", b"", 0));
    assert_eq!(
        notifications(&a, 2),
        [(NODE_CREATED, "/closed/y".to_owned())]
    );
    let a = s.send(1, set_data("/closed/y", b"1", -1));
    assert_eq!(
        notifications(&a, 2),
        [(DATA_CHANGED, "/closed/y".to_owned())]
    );
    let a = s.send(1, delete("/closed/y", -1));
    assert_eq!(
        notifications(&a, 2),
        [(NODE_DELETED, "/closed/y".to_owned())]
    );
}

// DataTree.setWatches: missed changes fire at once with zxid -1, the rest are registered.
#[test]
fn set_watches_relative_zxid_rules() {
    let mut s = Server::standard();
    s.open(1);
    s.create(1, "/same", 0);
    s.create(1, "/changed", 0);
    let rel = s.st.last_zxid();
    s.ok(1, set_data("/changed", b"2", -1));
    s.create(1, "/changed/kid", 0);
    let w = SetWatches {
        relative_zxid: rel,
        data_watches: vec!["/same".into(), "/changed".into(), "/gone".into()],
        exist_watches: vec!["/same".into(), "/absent".into()],
        child_watches: vec!["/changed".into(), "/same".into()],
    };
    let actions = s.send(1, Request::SetWatches(w));
    assert_eq!(
        notifications(&actions, 1),
        vec![
            (DATA_CHANGED, "/changed".to_owned()),
            (NODE_DELETED, "/gone".to_owned()),
            (NODE_CREATED, "/same".to_owned()),
            (CHILDREN_CHANGED, "/changed".to_owned()),
        ]
    );
    assert!(actions
        .iter()
        .all(|a| !matches!(a, Action::Notify { zxid, .. } if *zxid != -1)));
    assert!(matches!(actions.last(), Some(Action::Reply { err: 0, .. })));
    let actions = s.send(1, create2("/absent", b"", 0));
    assert_eq!(
        notifications(&actions, 1),
        vec![(NODE_CREATED, "/absent".to_owned())]
    );
}

// ContainerManager.getCandidates: a used, empty container and an expired TTL node are swept;
// a never-used container stays.
#[test]
fn container_and_ttl_sweeping() {
    let cfg = CoreConfig {
        extended_types_enabled: true,
        ..CoreConfig::default()
    };
    let mut s = Server::new(cfg);
    s.open(1);
    let container = |p: &str| Request::CreateContainer(create_req(p, b"", 4, Acl::open_unsafe()));
    assert_eq!(s.err(1, container("/c")), 0);
    assert_eq!(s.err(1, container("/never")), 0);
    s.create(1, "/c/kid", 0);
    s.ok(1, delete("/c/kid", -1));
    let ttl = Request::CreateTtl(CreateTtlRequest {
        path: "/t".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 1_000,
    });
    let (err, body) = s.call(1, ttl);
    assert_eq!(err, 0);
    assert!(matches!(body, Response::Create2 { stat, .. } if stat.ephemeral_owner == 0));
    assert!(s.st.next_tick_ms().is_some());
    // Keep the session alive while time passes.
    s.now += 60_000;
    s.ok(1, Request::Ping);
    let proposals = s.st.tick(s.now);
    let paths: Vec<_> = proposals
        .iter()
        .filter(|p| p.hdr.txn_type == OpCode::DeleteContainer as i32)
        .map(|p| format!("{:?}", p.txn))
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    for p in proposals {
        s.st.apply(p);
    }
    assert!(s.st.tree().node("/c").is_none());
    assert!(s.st.tree().node("/t").is_none());
    assert!(s.st.tree().node("/never").is_some());
}

// DataTree.updateQuotaStat / updateQuotaForPath and ZooKeeperServer.checkQuota hard limits.
#[test]
fn quota_stats_and_enforcement() {
    let cfg = CoreConfig {
        enforce_quota: true,
        ..CoreConfig::default()
    };
    let mut s = Server::new(cfg);
    s.open(1);
    s.create(1, "/app", 0);
    s.create(1, "/app/one", 0);
    // What zkCli setquota -N 3 does: the quota path, then limits, then stats.
    s.create(1, "/zookeeper/quota/app", 0);
    let limits = b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3";
    s.ok(
        1,
        Request::Create(create_req(
            "/zookeeper/quota/app/zookeeper_limits",
            limits,
            0,
            Acl::open_unsafe(),
        )),
    );
    s.ok(
        1,
        Request::Create(create_req(
            "/zookeeper/quota/app/zookeeper_stats",
            b"count=0,bytes=0",
            0,
            Acl::open_unsafe(),
        )),
    );
    let stats = |s: &mut Server| match s.ok(
        1,
        Request::GetData(pw("/zookeeper/quota/app/zookeeper_stats", false)),
    ) {
        Response::GetData { data, .. } => String::from_utf8(data.unwrap()).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(stats(&mut s), "count=2,bytes=2");
    s.create(1, "/app/two", 0);
    assert_eq!(stats(&mut s), "count=3,bytes=3");
    assert_eq!(
        s.create(1, "/app/three", 0).0,
        ErrorCode::QuotaExceeded.code()
    );
    s.ok(1, set_data("/app/two", b"12345", -1));
    assert_eq!(stats(&mut s), "count=3,bytes=7");
    s.ok(1, delete("/app/two", -1));
    assert_eq!(stats(&mut s), "count=2,bytes=2");
    assert_eq!(s.create(1, "/app/three", 0).0, 0);
}

// Requests before the handshake and on a closing session (ZooKeeperServer.touch).
#[test]
fn requests_without_live_session() {
    let mut s = Server::standard();
    s.st.conn_opened(1, ADDR);
    assert_eq!(s.send(1, Request::Ping), vec![Action::Close { conn: 1 }]);
    s.open(2);
    let step = s.st.request(2, 5, Request::CloseSession, s.now);
    let Step::Propose(p) = step else { panic!() };
    // The session is closing before its closeSession is applied: requests are dropped.
    assert_eq!(s.send(2, Request::Ping), vec![]);
    s.st.apply(p);
}

// ZooKeeperServer.submitRequest -> touch(cnxn) -> touchSession(id, cnxn.getSessionTimeout()):
// after a reattach, expiry follows the timeout negotiated by the new connection.
#[test]
fn reattach_with_a_longer_timeout_moves_expiry_out() {
    let mut s = Server::standard();
    let sid = s.open(1); // 30 s, within the default [6 s, 60 s]
    let passwd = paddock_core::session::session_password(sid).to_vec();
    s.st.conn_closed(1);
    s.st.conn_opened(2, ADDR);
    let req = ConnectRequest {
        time_out: 60_000,
        session_id: sid,
        passwd,
        ..Default::default()
    };
    let actions = s.connect(2, req);
    assert!(matches!(
        actions.as_slice(),
        [Action::Connected {
            close_after: false,
            ..
        }]
    ));
    s.st.conn_closed(2);
    // Past the original 30 s (rounded to a tick), within the new 60 s.
    assert!(
        s.st.tick(s.now + 40_000).is_empty(),
        "expired on the old timeout"
    );
    let proposals = s.st.tick(s.now + 66_000);
    assert_eq!(proposals.len(), 1, "expires on the new timeout");
    assert_eq!(proposals[0].hdr.client_id, sid);
}

// Session expiry runs on the state machine's clock (ZooKeeper: Time.currentElapsedTime);
// znode times are wall-clock (Time.currentWallTime), `now_ms` plus the offset.
#[test]
fn znode_times_use_the_wall_clock_offset_and_expiry_does_not() {
    let mut s = Server::standard();
    s.st.set_wall_clock_offset_ms(3_600_000);
    let sid = s.open(1);
    s.create(1, "/t", 0);
    let stat = s.stat(1, "/t");
    assert_eq!(stat.ctime, s.now + 3_600_000);
    s.st.conn_closed(1);
    // An hour of wall-clock offset does not expire the 30 s session early.
    assert!(s.st.tick(s.now + 10_000).is_empty());
    let expired = s.st.tick(s.now + 40_000);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].hdr.client_id, sid);
}
