//! The durable server against a model (STYLE.md rule 14): random operation sequences through
//! the wire protocol, interleaved with clean restarts, power losses with torn writes and
//! frequent snapshots, checked against a simple in-memory tree of acknowledged writes.
//!
//! Replay a failure with `PADDOCK_SEED=<seed>`; `PADDOCK_MODEL_OPS` lengthens the run and
//! `PADDOCK_TRACE=1` prints every operation with its answer.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{config, start, Client, Rng, Running};
use paddock_jute::proto::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, MultiOp, OpResult,
    PathRequest, Request, Response, SetAclRequest, SetDataRequest,
};
use paddock_jute::{Acl, Id};
use paddock_storage::FaultFs;

const NO_NODE: i32 = -101;
const BAD_VERSION: i32 = -103;
const NODE_EXISTS: i32 = -110;
const NOT_EMPTY: i32 = -111;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Persistent,
    Ephemeral,
    Container,
    Ttl,
}

/// What the model keeps per znode: what a client can read back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MNode {
    data: Vec<u8>,
    version: i32,
    /// Kept as ZooKeeper keeps it: the number of child creates (`StatPersisted.cversion`);
    /// clients see `cversion * 2 - numChildren` (`DataNode.copyStat`).
    cversion: i32,
    aversion: i32,
    acl: Vec<Acl>,
    kind: Kind,
    /// The owning session of an ephemeral node.
    owner: i64,
}

fn acl_choice(i: u64) -> Vec<Acl> {
    let mut acl = Acl::open_unsafe();
    if i % 2 == 1 {
        acl.push(Acl {
            perms: paddock_jute::perms::READ,
            id: Id::new("ip", "10.0.0.1"),
        });
    }
    acl
}

fn parent_of(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => path[..i].into(),
        None => "/".into(),
    }
}

/// One write, as the model predicts its outcome.
#[derive(Debug, Clone)]
enum Op {
    Create {
        parent: String,
        name: String,
        kind: Kind,
        sequential: bool,
        data: Vec<u8>,
        acl: u64,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        version: i32,
        data: Vec<u8>,
    },
    SetAcl {
        path: String,
        version: i32,
        acl: u64,
    },
    /// check(version) on one node, then setData of another: all or nothing.
    Multi {
        check: String,
        version: i32,
        set: String,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, Default)]
struct Model {
    nodes: BTreeMap<String, MNode>,
}

impl Model {
    fn children(&self, path: &str) -> usize {
        self.nodes.keys().filter(|p| parent_of(p) == path).count()
    }

    fn create_path(&self, parent: &str, name: &str, sequential: bool) -> String {
        let base = format!("{parent}/{name}");
        if sequential {
            // PrepRequestProcessor: the parent's stored cversion (its child creates), %010d.
            format!("{base}{:010}", self.nodes[parent].cversion)
        } else {
            base
        }
    }

    /// Applies `op` if it succeeds; returns the error code a server must answer.
    fn apply(&mut self, op: &Op, session: i64) -> i32 {
        match op {
            Op::Create {
                parent,
                name,
                kind,
                sequential,
                data,
                acl,
            } => {
                let path = self.create_path(parent, name, *sequential);
                if self.nodes.contains_key(&path) {
                    return NODE_EXISTS;
                }
                self.nodes.get_mut(parent).expect("parent").cversion += 1;
                let owner = if *kind == Kind::Ephemeral { session } else { 0 };
                self.nodes.insert(
                    path,
                    MNode {
                        data: data.clone(),
                        version: 0,
                        cversion: 0,
                        aversion: 0,
                        acl: acl_choice(*acl),
                        kind: *kind,
                        owner,
                    },
                );
                0
            }
            Op::Delete { path, version } => {
                let Some(node) = self.nodes.get(path) else {
                    return NO_NODE;
                };
                if *version != -1 && *version != node.version {
                    return BAD_VERSION;
                }
                if self.children(path) > 0 {
                    return NOT_EMPTY;
                }
                self.nodes.remove(path);
                0
            }
            Op::SetData {
                path,
                version,
                data,
            } => match self.nodes.get_mut(path) {
                None => NO_NODE,
                Some(n) if *version != -1 && *version != n.version => BAD_VERSION,
                Some(n) => {
                    n.data = data.clone();
                    n.version += 1;
                    0
                }
            },
            Op::SetAcl { path, version, acl } => match self.nodes.get_mut(path) {
                None => NO_NODE,
                Some(n) if *version != -1 && *version != n.aversion => BAD_VERSION,
                Some(n) => {
                    n.acl = acl_choice(*acl);
                    n.aversion += 1;
                    0
                }
            },
            Op::Multi {
                check,
                version,
                set,
                data,
            } => {
                let ok = self
                    .nodes
                    .get(check)
                    .is_some_and(|n| *version == -1 || n.version == *version)
                    && self.nodes.contains_key(set);
                if !ok {
                    // The reply header carries the first failing op's error; only success
                    // or failure is modelled here.
                    return i32::MIN;
                }
                let n = self.nodes.get_mut(set).expect("checked");
                n.data = data.clone();
                n.version += 1;
                0
            }
        }
    }

    /// A session ends: its ephemerals go (`DataTree.killSession`), each a child deletion.
    fn close_session(&mut self, session: i64) {
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == Kind::Ephemeral && n.owner == session)
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            self.nodes.remove(&path);
        }
    }
}

fn request(op: &Op) -> Request {
    match op {
        Op::Create {
            parent,
            name,
            kind,
            sequential,
            data,
            acl,
        } => {
            let path = format!("{parent}/{name}");
            let seq = i32::from(*sequential) * 2;
            let req = CreateRequest {
                path,
                data: Some(data.clone()),
                acl: acl_choice(*acl),
                flags: 0,
            };
            match kind {
                Kind::Persistent => Request::Create(CreateRequest { flags: seq, ..req }),
                Kind::Ephemeral => Request::Create(CreateRequest {
                    flags: 1 + seq,
                    ..req
                }),
                Kind::Container => Request::CreateContainer(CreateRequest { flags: 4, ..req }),
                Kind::Ttl => Request::CreateTtl(CreateTtlRequest {
                    path: req.path,
                    data: req.data,
                    acl: req.acl,
                    flags: 5,
                    ttl: 3_600_000,
                }),
            }
        }
        Op::Delete { path, version } => Request::Delete(DeleteRequest {
            path: path.clone(),
            version: *version,
        }),
        Op::SetData {
            path,
            version,
            data,
        } => Request::SetData(SetDataRequest {
            path: path.clone(),
            data: Some(data.clone()),
            version: *version,
        }),
        Op::SetAcl { path, version, acl } => Request::SetAcl(SetAclRequest {
            path: path.clone(),
            acl: acl_choice(*acl),
            version: *version,
        }),
        Op::Multi {
            check,
            version,
            set,
            data,
        } => Request::Multi(vec![
            MultiOp::Check(CheckVersionRequest {
                path: check.clone(),
                version: *version,
            }),
            MultiOp::SetData(SetDataRequest {
                path: set.clone(),
                data: Some(data.clone()),
                version: -1,
            }),
        ]),
    }
}

/// A random write. Parents are persistent nodes no deeper than `/m/x`, so containers never
/// get children (the container sweep would then remove them on its own schedule).
fn random_op(rng: &mut Rng, model: &Model, counter: &mut u64) -> Op {
    let paths: Vec<&String> = model.nodes.keys().filter(|p| *p != "/m").collect();
    let pick_path = |rng: &mut Rng| -> String {
        if paths.is_empty() || rng.chance(5) {
            format!("/m/missing{}", rng.below(3))
        } else {
            paths[rng.below(paths.len() as u64) as usize].clone()
        }
    };
    // A version that is right most of the time, sometimes -1, sometimes wrong.
    let version = |rng: &mut Rng, current: Option<i32>| match rng.below(10) {
        0..=5 => current.unwrap_or(0),
        6..=7 => -1,
        _ => current.unwrap_or(0) + 1 + rng.below(2) as i32,
    };
    let data = format!("d{}", rng.below(1_000_000)).into_bytes();
    match rng.below(100) {
        0..=39 => {
            let parents: Vec<&String> = model
                .nodes
                .iter()
                .filter(|(p, n)| n.kind == Kind::Persistent && p.matches('/').count() <= 2)
                .map(|(p, _)| p)
                .collect();
            let parent = parents[rng.below(parents.len() as u64) as usize].clone();
            let kind = match rng.below(10) {
                0..=4 => Kind::Persistent,
                5..=6 => Kind::Ephemeral,
                7 => Kind::Container,
                _ => Kind::Ttl,
            };
            let sequential = matches!(kind, Kind::Persistent | Kind::Ephemeral) && rng.chance(30);
            // Mostly new names; now and then one that exists, for NodeExists.
            let name = if rng.chance(10) && *counter > 0 {
                format!("n{}", rng.below(*counter))
            } else {
                *counter += 1;
                format!("n{counter}")
            };
            Op::Create {
                parent,
                name,
                kind,
                sequential,
                data,
                acl: rng.below(2),
            }
        }
        40..=54 => {
            let path = pick_path(rng);
            let v = version(rng, model.nodes.get(&path).map(|n| n.version));
            Op::Delete { path, version: v }
        }
        55..=79 => {
            let path = pick_path(rng);
            let v = version(rng, model.nodes.get(&path).map(|n| n.version));
            Op::SetData {
                path,
                version: v,
                data,
            }
        }
        80..=89 => {
            let path = pick_path(rng);
            let v = version(rng, model.nodes.get(&path).map(|n| n.aversion));
            Op::SetAcl {
                path,
                version: v,
                acl: rng.below(2),
            }
        }
        _ => {
            let check = pick_path(rng);
            let v = version(rng, model.nodes.get(&check).map(|n| n.version));
            Op::Multi {
                check,
                version: v,
                set: pick_path(rng),
                data,
            }
        }
    }
}

/// Reads `/m` back over the protocol, in the model's terms.
async fn read_tree(client: &mut Client) -> BTreeMap<String, MNode> {
    let mut out = BTreeMap::new();
    for (path, (data, stat)) in client.dump("/m").await.expect("dump") {
        let reply = client
            .call(Request::GetAcl(PathRequest { path: path.clone() }))
            .await
            .expect("getACL");
        let acl = match reply.body {
            Some(Response::GetAcl { acl, .. }) => acl,
            other => panic!("getACL {path}: {} {other:?}", reply.err),
        };
        // Containers and TTL nodes encode their type in ephemeralOwner (EphemeralType); the
        // model tells them apart by its own record.
        let owner = if stat.ephemeral_owner < 0 {
            0
        } else {
            stat.ephemeral_owner
        };
        out.insert(
            path,
            MNode {
                data,
                version: stat.version,
                cversion: stat.cversion,
                aversion: stat.aversion,
                acl,
                kind: Kind::Persistent,
                owner,
            },
        );
    }
    out
}

/// The model's view in the shape `read_tree` produces.
fn expected(model: &Model) -> BTreeMap<String, MNode> {
    model
        .nodes
        .iter()
        .map(|(p, n)| {
            let children = model.children(p) as i32;
            (
                p.clone(),
                MNode {
                    kind: Kind::Persistent,
                    cversion: n.cversion * 2 - children,
                    ..n.clone()
                },
            )
        })
        .collect()
}

fn diff(got: &BTreeMap<String, MNode>, want: &BTreeMap<String, MNode>) -> String {
    let mut out = String::new();
    for (p, n) in want {
        match got.get(p) {
            None => out += &format!("\n  missing {p}: {n:?}"),
            Some(g) if g != n => out += &format!("\n  {p}: got {g:?}, want {n:?}"),
            _ => {}
        }
    }
    for p in got.keys().filter(|p| !want.contains_key(*p)) {
        out += &format!("\n  unexpected {p}");
    }
    out
}

struct Session {
    client: Client,
    id: i64,
    passwd: Vec<u8>,
}

async fn reattach(server: &Running, s: &Session, last_zxid: i64, seed: u64) -> Session {
    let client = Client::attach(server.addr, s.id, s.passwd.clone(), last_zxid, 30_000)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: session {:#x} did not survive: {e}", s.id));
    Session {
        client,
        id: s.id,
        passwd: s.passwd.clone(),
    }
}

/// Random writes of every kind against the model with clean restarts, power losses (one
/// write possibly in flight) and snapshots every few transactions. After every restart the
/// server's tree equals the model: data, versions, cversions, ACLs and ephemeral owners
/// (sessions and their ephemerals survive a restart within their timeout, as in ZooKeeper).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_with_restarts_match_the_model() {
    let seed = common::seed(0x00DE_1004);
    let ops: usize = std::env::var("PADDOCK_MODEL_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(800);
    eprintln!("model test seed {seed}, {ops} ops (replay with PADDOCK_SEED={seed})");
    let fs = FaultFs::new(seed);
    let cfg = || {
        config(|c| {
            c.snap_count = 10;
            c.pre_alloc_size_kb = 16;
            c.extended_types_enabled = true;
        })
    };
    let mut rng = Rng(seed);
    let mut model = Model::default();
    let mut counter = 0u64;
    let mut server = start(&fs, cfg()).await.expect("first start");
    let client = Client::connect(server.addr).await.unwrap();
    let mut session = Session {
        id: client.session_id,
        passwd: client.passwd.clone(),
        client,
    };
    let created = session
        .client
        .call(Request::Create(CreateRequest {
            path: "/m".into(),
            data: Some(Vec::new()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }))
        .await
        .unwrap();
    assert_eq!(created.err, 0);
    model.nodes.insert(
        "/m".into(),
        MNode {
            data: Vec::new(),
            version: 0,
            cversion: 0,
            aversion: 0,
            acl: Acl::open_unsafe(),
            kind: Kind::Persistent,
            owner: 0,
        },
    );
    let (mut restarts, mut crashes) = (0, 0);

    for step in 0..ops {
        let roll = rng.below(100);
        if roll < 8 {
            // Before any restart, the live tree already matches the model.
            let got = read_tree(&mut session.client).await;
            let want = expected(&model);
            assert!(
                got == want,
                "seed {seed} step {step}: the live tree differs from the model:{}",
                diff(&got, &want)
            );
        }
        if roll < 4 {
            // Clean restart: the shutdown signal, then a new server on the same disk.
            server.shutdown().await.expect("clean shutdown");
            server = start(&fs, cfg()).await.expect("restart");
            let zxid = session.client.last_zxid;
            session = reattach(&server, &session, zxid, seed).await;
            restarts += 1;
        } else if roll < 8 {
            // Power loss, maybe with a write in flight whose outcome is unknown.
            let in_flight = rng
                .chance(70)
                .then(|| random_op(&mut rng, &model, &mut counter));
            if let Some(op) = &in_flight {
                // Half the time the power fails right after the write's log entry reached
                // the disk, before its fsync: the moment that leaves a torn tail.
                let torn_moment = rng.chance(50);
                if torn_moment {
                    server.fence.crash_after_writes(&fs, 1);
                }
                let _ = session.client.send(&request(op)).await;
                if torn_moment {
                    // Bounded: an answer that needs no log write never trips the crash.
                    let fence = server.fence.clone();
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while !fence.is_dead() {
                            tokio::task::yield_now().await;
                        }
                    })
                    .await;
                }
            }
            let zxid = session.client.last_zxid;
            server.crash(&fs, true).await;
            server = start(&fs, cfg())
                .await
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: restart failed: {e}"));
            session = reattach(&server, &session, zxid, seed).await;
            let got = read_tree(&mut session.client).await;
            let before = expected(&model);
            if got != before {
                let mut after = model.clone();
                let applied = in_flight
                    .as_ref()
                    .is_some_and(|op| after.apply(op, session.id) == 0);
                assert!(
                    applied && got == expected(&after),
                    "seed {seed} step {step}: after a crash the tree is neither the acked \
                     state nor that plus the in-flight {in_flight:?}:{}",
                    diff(&got, &before)
                );
                model = after;
            }
            crashes += 1;
        } else if roll < 10 {
            // Close the session: its ephemerals go. Then open a new one.
            let reply = session.client.call(Request::CloseSession).await.unwrap();
            assert_eq!(reply.err, 0, "seed {seed} step {step}: closeSession");
            model.close_session(session.id);
            let client = Client::connect(server.addr).await.unwrap();
            session = Session {
                id: client.session_id,
                passwd: client.passwd.clone(),
                client,
            };
            continue;
        } else {
            let op = random_op(&mut rng, &model, &mut counter);
            let want = model.clone().apply(&op, session.id);
            let reply = session
                .client
                .call(request(&op))
                .await
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: {op:?}: {e}"));
            let ok = match (&op, &reply.body) {
                // A failed multi still answers err 0; its results carry the errors
                // (FinalRequestProcessor does not throw the multi's exception).
                (Op::Multi { .. }, Some(Response::Multi(results))) => {
                    let failed = results.iter().any(|r| matches!(r, OpResult::Error { .. }));
                    failed == (want == i32::MIN)
                }
                _ => reply.err == want,
            };
            assert!(
                ok,
                "seed {seed} step {step}: {op:?} answered {}, the model says {want}",
                reply.err
            );
            model.apply(&op, session.id);
            if std::env::var("PADDOCK_TRACE").is_ok() {
                eprintln!("step {step}: {op:?} -> {} {:?}", reply.err, reply.body);
            }
            if let (Op::Create { .. }, Some(Response::Create { path })) = (&op, &reply.body) {
                assert!(
                    model.nodes.contains_key(path),
                    "seed {seed} step {step}: created {path}, the model expected another \
                     name:{}",
                    diff(&read_tree(&mut session.client).await, &expected(&model))
                );
            }
            continue;
        }
        let got = read_tree(&mut session.client).await;
        let want = expected(&model);
        assert!(
            got == want,
            "seed {seed} step {step}: the recovered tree differs from the model:{}",
            diff(&got, &want)
        );
    }
    let got = read_tree(&mut session.client).await;
    let want = expected(&model);
    assert!(got == want, "seed {seed}: final tree:{}", diff(&got, &want));
    eprintln!(
        "{restarts} clean restarts, {crashes} crashes, {} nodes",
        model.nodes.len()
    );
    assert!(restarts > 0 && crashes > 0, "the run exercised restarts");
    server.shutdown().await.expect("clean shutdown");
}
