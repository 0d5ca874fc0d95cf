//! Fault injection through the filesystem seam, with the whole server running: a full disk,
//! a failed fsync, power loss at random moments under concurrent load, unreadable snapshots and
//! a corrupt log. Each test ends by recovering a new server from the same in-memory disk and
//! checking that every write a client saw acknowledged is there.
//!
//! The crash test is seeded: replay with `PADDOCK_SEED=<seed>`, lengthen with
//! `PADDOCK_CRASH_ROUNDS=<n>`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    config, four_letter_word, frame, logs, read_frame, snap_dir, snapshots, start, wait_until,
    Client, Rng, Running, DEADLINE,
};
use paddock::config::ServerConfig;
use paddock::core_task::{SESSION_WAIT_BYTES, SESSION_WAIT_MESSAGES};
use paddock::persist::{recover, Storage};
use paddock::ServerError;
use paddock_jute::codec::{Reader, Record};
use paddock_jute::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, MultiOp, PathWatchRequest,
    ReplyHeader, Request, Response, SetDataRequest,
};
use paddock_jute::{Acl, ErrorCode, OpCode};
use paddock_storage::{FaultFs, Fs};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SYSTEM_ERROR: i32 = -1;

fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags,
    })
}

fn set_data(path: &str, data: &[u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version: -1,
    })
}

fn created_path(body: &Option<Response>) -> String {
    match body {
        Some(Response::Create { path }) => path.clone(),
        other => panic!("not a create reply: {other:?}"),
    }
}

/// Children of `parent`, as a set, over the protocol.
async fn children_set(client: &mut Client, parent: &str) -> BTreeSet<String> {
    client
        .children(parent)
        .await
        .expect("getChildren")
        .expect("the parent exists")
        .into_iter()
        .collect()
}

/// Creates `/d/<prefix><i>` one at a time until `refusals` of them got SYSTEMERROR; returns
/// the names acknowledged and refused.
async fn write_until_refused(
    client: &mut Client,
    prefix: &str,
    refusals: usize,
) -> (Vec<String>, Vec<String>) {
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for i in 0..10_000 {
        let name = format!("{prefix}{i:05}");
        let reply = client
            .call(create(&format!("/d/{name}"), &[7; 100], 0))
            .await
            .unwrap_or_else(|e| panic!("{prefix}{i}: a full disk answers, never hangs: {e}"));
        match reply.err {
            0 => acked.push(name),
            SYSTEM_ERROR => {
                refused.push(name);
                if refused.len() == refusals {
                    return (acked, refused);
                }
            }
            err => panic!("unexpected error {err} while the disk fills"),
        }
    }
    panic!("the disk never filled up")
}

/// issue 3, "full disk (ENOSPC must stop writes with an error to clients, never corrupt the
/// log)". ZooKeeper itself exits on a failed log write (SyncRequestProcessor); Paddock finds
/// the full disk while preallocating ahead (FilePadding), refuses new writes with SYSTEMERROR,
/// keeps serving reads, and accepts writes again once space is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_writes_keeps_reads_and_the_log_valid() {
    full_disk_scenario(16).await;
}

/// The same with a 4 KiB preallocation block. `TxnLogWriter::flush_and_sync` grows the file
/// whenever the batch ends within 4 KiB of the allocated end (`padded_size`, after
/// `FilePadding.padFile`), so the log writer reserves the next block once less than half a
/// block plus 4 KiB is left; with a small block, reserving only below half a block let the
/// flush, not the reservation, meet the full disk, and the write waited in the retry loop
/// instead of being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_with_a_4k_prealloc_block_refuses_instead_of_hanging() {
    full_disk_scenario(4).await;
}

async fn full_disk_scenario(pre_alloc_size_kb: u64) {
    let fs = FaultFs::new(1);
    let cfg = || {
        config(|c| {
            c.pre_alloc_size_kb = pre_alloc_size_kb;
            c.snap_count = 1_000_000;
        })
    };
    let server = start(&fs, cfg()).await.expect("server starts");
    wait_until("the startup snapshot", || !snapshots(&fs).is_empty()).await;
    let mut writer = Client::connect(server.addr).await.unwrap();
    let mut other = Client::connect(server.addr).await.unwrap();
    assert_eq!(writer.call(create("/d", b"", 0)).await.unwrap().err, 0);

    fs.disk_full_after(0);
    let (mut acked, mut refused) = write_until_refused(&mut writer, "a", 3).await;
    assert!(
        !acked.is_empty(),
        "writes within the reserved block still succeed"
    );

    // Reads work on the refused connection and on another one.
    let (data, _) = writer.get_data("/d").await.unwrap().expect("/d readable");
    assert!(data.is_empty());
    let seen = children_set(&mut other, "/d").await;
    assert_eq!(
        seen,
        acked.iter().cloned().collect(),
        "reads show exactly the acked writes"
    );

    // Space comes back: writes succeed again on the same server, without a restart.
    fs.set_capacity(u64::MAX);
    let mut freed_ok = None;
    for i in 0..1_000 {
        let name = format!("b{i:05}");
        let reply = writer
            .call(create(&format!("/d/{name}"), b"x", 0))
            .await
            .unwrap();
        match reply.err {
            0 => {
                acked.push(name);
                freed_ok = Some(i);
                break;
            }
            // The refusal itself asks the log writer to retry its reservation, so a later
            // attempt succeeds; the loop is bounded.
            SYSTEM_ERROR => refused.push(name),
            err => panic!("unexpected error {err} after freeing space"),
        }
    }
    assert!(
        freed_ok.is_some(),
        "writes never succeeded after space was freed"
    );
    for i in 0..20 {
        let name = format!("c{i:05}");
        let reply = other
            .call(create(&format!("/d/{name}"), b"y", 0))
            .await
            .unwrap();
        assert_eq!(reply.err, 0, "write {name} after space was freed");
        acked.push(name);
    }

    // Fill the disk again and lose power while it is full.
    fs.disk_full_after(0);
    let (more_acked, more_refused) = write_until_refused(&mut writer, "e", 2).await;
    acked.extend(more_acked);
    refused.extend(more_refused);
    server.crash(&fs, false).await;

    // The log on the (still full) disk is valid: recovery reads it without needing space.
    let c = cfg();
    let recovered = recover(&storage(&fs, &c), c.core_config(), 0).expect("recovers when full");
    assert!(
        recovered.torn_tail.is_none(),
        "nothing torn: refused writes were never written"
    );

    // A new session needs a logged createSession, so serve reads after freeing space.
    fs.set_capacity(u64::MAX);
    let server = start(&fs, cfg()).await.expect("recovers");
    let mut reader = Client::connect(server.addr).await.unwrap();
    let recovered = children_set(&mut reader, "/d").await;
    let expected: BTreeSet<String> = acked.iter().cloned().collect();
    assert_eq!(
        recovered, expected,
        "every acked write survives, no refused one appears"
    );
    assert!(refused.iter().all(|r| !recovered.contains(r)));
    server.shutdown().await.expect("clean shutdown");
}

/// No periodic snapshots and a small log preallocation: recovery scans a torn tail's
/// preallocated rest byte by byte (see the report on `valid_entry_after`), which takes seconds
/// over 64 MiB in debug builds.
fn small_log() -> ServerConfig {
    config(|c| {
        c.snap_count = 1_000_000;
        c.pre_alloc_size_kb = 64;
    })
}

/// Starts a server on `fs` and waits for its startup snapshot.
async fn start_settled(fs: &FaultFs, cfg: ServerConfig) -> Running {
    let server = start(fs, cfg).await.expect("server starts");
    wait_until("the startup snapshot", || !snapshots(fs).is_empty()).await;
    server
}

/// A write too big for the log space reserved ahead meets the full disk in its own flush,
/// after a run of lone writes (which the core task writes to the log itself): it waits for
/// space without holding the server, which keeps answering `srvr`, then is acknowledged
/// once space is freed and survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_write_that_meets_a_full_disk_waits_without_holding_the_server() {
    let fs = FaultFs::new(4);
    let server = start_settled(&fs, small_log()).await;
    let mut writer = Client::connect(server.addr).await.unwrap();
    for i in 0..20 {
        let reply = writer
            .call(create(&format!("/n{i}"), b"v", 0))
            .await
            .unwrap();
        assert_eq!(reply.err, 0);
    }

    fs.disk_full_after(0);
    let big = vec![9u8; 512 * 1024];
    let pending = tokio::spawn({
        let big = big.clone();
        async move { writer.call(create("/big", &big, 0)).await }
    });
    // The server answers while the write waits (a held core task would answer "not
    // currently serving" after its 2 s wait).
    let waiting = tokio::time::timeout(DEADLINE, async {
        loop {
            let srvr = four_letter_word(server.addr, "srvr").await;
            assert!(srvr.contains("Mode: standalone"), "srvr while full: {srvr}");
            if srvr.contains("Outstanding: 1") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    waiting.await.expect("the big write reaches the server");
    for _ in 0..3 {
        let srvr = four_letter_word(server.addr, "srvr").await;
        assert!(srvr.contains("Outstanding: 1"), "srvr while full: {srvr}");
    }
    assert!(
        !pending.is_finished(),
        "the big write was answered on a full disk"
    );

    fs.set_capacity(u64::MAX);
    let reply = pending.await.unwrap().expect("the big write is answered");
    assert_eq!(reply.err, 0, "the big write succeeds once space is freed");
    server.crash(&fs, false).await;

    let server = start(&fs, small_log()).await.expect("recovers");
    let mut reader = Client::connect(server.addr).await.unwrap();
    let (data, _) = reader
        .get_data("/big")
        .await
        .unwrap()
        .expect("/big survives");
    assert_eq!(data, big);
    server.shutdown().await.expect("clean shutdown");
}

/// A stalled disk holds only the writes waiting for it: a write is applied once its fsync is
/// done, so another session reads the durable tree meanwhile (standalone ZooKeeper queues
/// such a read behind the flush), while the writer's own read waits for its write. The
/// writer is not a lone writer (see `LogMode`): that one's fsync is made by the core task,
/// which holds everything while it lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_fsync_holds_the_writer_and_not_other_sessions_reads() {
    let fs = FaultFs::new(5);
    let server = start_settled(&fs, small_log()).await;
    let mut writer = Client::connect(server.addr).await.unwrap();
    let mut reader = Client::connect(server.addr).await.unwrap();
    let created = reader.call(create("/a", b"v0", 0)).await.unwrap();
    assert_eq!(created.err, 0);

    fs.stall_fsyncs();
    let pending = tokio::spawn(async move {
        let set = writer.send(&set_data("/a", b"v1")).await?;
        let get = writer
            .send(&Request::GetData(PathWatchRequest {
                path: "/a".into(),
                watch: false,
            }))
            .await?;
        let set = writer.reply(set, OpCode::SetData).await?;
        let get = writer.reply(get, OpCode::GetData).await?;
        Ok::<_, std::io::Error>((set, get))
    });
    wait_until("the setData's fsync to stall", || fs.stalled_fsyncs() > 0).await;

    let (data, stat) = reader
        .get_data("/a")
        .await
        .expect("another session's read is answered while the fsync stalls")
        .expect("/a exists");
    assert_eq!(data, b"v0", "a read sees only durable writes");
    assert_eq!(stat.version, 0);
    assert!(
        !pending.is_finished(),
        "the writer was answered before its write was durable"
    );

    fs.resume_fsyncs();
    let (set, get) = tokio::time::timeout(DEADLINE, pending)
        .await
        .expect("the writer is answered once the fsync completes")
        .unwrap()
        .unwrap();
    assert_eq!(set.err, 0);
    match get.body {
        Some(Response::GetData { data, stat }) => {
            assert_eq!(
                data.as_deref(),
                Some(&b"v1"[..]),
                "the writer reads its write"
            );
            assert_eq!(stat.version, 1);
            assert_eq!(get.zxid, set.zxid, "the read follows the write");
        }
        other => panic!("getData after the write: {} {other:?}", get.err),
    }
    let (data, _) = reader.get_data("/a").await.unwrap().expect("/a exists");
    assert_eq!(data, b"v1");
    server.shutdown().await.expect("clean shutdown");
}

/// A request the server cannot decode is answered MarshallingError in its turn: after the
/// reply to the write the session sent before it, which waits for its fsync, and with that
/// write's zxid, the last one applied when it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_request_is_answered_after_the_writes_before_it() {
    let fs = FaultFs::new(7);
    let server = start_settled(&fs, small_log()).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    assert_eq!(client.call(create("/a", b"v0", 0)).await.unwrap().err, 0);

    // `Received` counts each four-letter word too, this one included.
    let received = || async {
        let srvr = four_letter_word(server.addr, "srvr").await;
        let line = srvr.lines().find_map(|l| l.strip_prefix("Received: "));
        line.expect("srvr has Received")
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = received().await;
    fs.stall_fsyncs();
    let set = client.send(&set_data("/a", b"v1")).await.unwrap();
    wait_until("the setData's fsync to stall", || fs.stalled_fsyncs() > 0).await;
    // A getData whose path length runs past the end of the body.
    let bad = client
        .send_raw(OpCode::GetData as i32, &100i32.to_be_bytes())
        .await
        .unwrap();
    // Both reached the core task while the write waits.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    for polls in 1.. {
        if received().await >= before + polls + 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bad request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    fs.resume_fsyncs();
    let first = tokio::time::timeout(DEADLINE, client.next_reply_header())
        .await
        .expect("answered once the fsync completes")
        .unwrap();
    assert_eq!(
        (first.xid, first.err),
        (set, 0),
        "the write ahead is answered first"
    );
    let second = tokio::time::timeout(DEADLINE, client.next_reply_header())
        .await
        .expect("the bad request is answered")
        .unwrap();
    assert_eq!(second.xid, bad);
    assert_eq!(second.err, ErrorCode::MarshallingError.code());
    assert_eq!(
        second.zxid, first.zxid,
        "the last zxid applied when it is answered"
    );
    server.shutdown().await.expect("clean shutdown");
}

/// A new session exists once its createSession is durable. What a client sends behind its
/// ConnectRequest (ZooKeeper's Netty client does not wait for the ConnectResponse) waits for
/// it and is answered in order, up to `SESSION_WAIT_MESSAGES` requests or
/// `SESSION_WAIT_BYTES` of frames; a connection that sends more is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_behind_a_connect_wait_for_the_durable_session_within_bounds() {
    let fs = FaultFs::new(6);
    let server = start_settled(&fs, small_log()).await;
    let connect = frame(
        &ConnectRequest {
            time_out: 30_000,
            passwd: vec![0; 16],
            ..Default::default()
        }
        .to_bytes(),
    );
    let exists = |xid: i32| {
        Request::Exists(PathWatchRequest {
            path: "/".into(),
            watch: false,
        })
        .encode_frame(xid)
    };
    let mut within = connect.clone();
    let mut over_count = connect.clone();
    for xid in 1..=SESSION_WAIT_MESSAGES as i32 {
        within.extend(exists(xid));
        over_count.extend(exists(xid));
    }
    over_count.extend(exists(SESSION_WAIT_MESSAGES as i32 + 1));
    let mut over_bytes = connect;
    let big = vec![1u8; 900_000];
    let mut sent = 0;
    for xid in 1.. {
        let f = set_data("/", &big).encode_frame(xid);
        sent += f.len();
        over_bytes.extend(f);
        if sent > SESSION_WAIT_BYTES {
            break;
        }
    }

    fs.stall_fsyncs();
    let mut patient = TcpStream::connect(server.addr).await.unwrap();
    patient.write_all(&within).await.unwrap();
    wait_until("the createSession's fsync to stall", || {
        fs.stalled_fsyncs() > 0
    })
    .await;
    for (what, bytes) in [("requests", over_count), ("bytes", over_bytes)] {
        let mut eager = TcpStream::connect(server.addr).await.unwrap();
        // The server may close while the bytes are still going out.
        let _ = eager.write_all(&bytes).await;
        let read = tokio::time::timeout(DEADLINE, read_frame(&mut eager))
            .await
            .unwrap_or_else(|_| panic!("too many {what}: the connection is held, not closed"));
        assert!(
            read.is_err(),
            "too many {what}: no ConnectResponse, the connection closes; got {read:?}"
        );
    }

    fs.resume_fsyncs();
    let answers = async {
        let resp = read_frame(&mut patient).await?;
        let resp = ConnectResponse::read(&mut Reader::new(&resp)).map_err(std::io::Error::other)?;
        let mut xids = Vec::new();
        for _ in 0..SESSION_WAIT_MESSAGES {
            let reply = read_frame(&mut patient).await?;
            let hdr = ReplyHeader::read(&mut Reader::new(&reply)).map_err(std::io::Error::other)?;
            assert_eq!(hdr.err, 0, "exists / answered");
            xids.push(hdr.xid);
        }
        Ok::<_, std::io::Error>((resp, xids))
    };
    let (resp, xids) = tokio::time::timeout(DEADLINE, answers)
        .await
        .expect("answered once the session is durable")
        .expect("the connection stays open");
    assert_ne!(resp.session_id, 0);
    let expected: Vec<i32> = (1..=SESSION_WAIT_MESSAGES as i32).collect();
    assert_eq!(xids, expected, "answered in the order sent");
    server.shutdown().await.expect("clean shutdown");
}

/// issue 3, "failed fsync": after a failed fsync the kernel may have dropped the pages
/// (PostgreSQL's "fsyncgate"), so the server stops: `run` returns an error and no client is
/// told OK for a write that was not fsynced. After a power loss, every acked write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fsync_stops_the_server_and_loses_no_acked_write() {
    log_failure_scenario(2, |fs| fs.fail_next_fsyncs(1), false).await;
}

/// issue 3, "short write": a log write that stores only part of its bytes and fails stops the
/// server the same way; the partial entry is a torn tail that recovery cuts off, and every
/// acked write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_write_stops_the_server_and_recovery_cuts_the_partial_entry() {
    log_failure_scenario(3, |fs| fs.short_write_next(21), true).await;
}

/// Concurrent writers, then `inject` fails the log; the server must stop with an error, no
/// client may see OK for what was not fsynced, and after a power loss (torn or not) a new
/// server has every acknowledged write.
async fn log_failure_scenario(seed: u64, inject: impl FnOnce(&FaultFs), torn: bool) {
    let fs = FaultFs::new(seed);
    let server = start_settled(&fs, small_log()).await;
    let mut setup = Client::connect(server.addr).await.unwrap();
    assert_eq!(setup.call(create("/f", b"", 0)).await.unwrap().err, 0);

    let acks = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (acks, acked) = (acks.clone(), acked.clone());
        let mut client = Client::connect(server.addr).await.unwrap();
        workers.push(tokio::spawn(async move {
            for i in 0..100_000 {
                let name = format!("w{w}-{i:06}");
                let Ok(reply) = client.call(create(&format!("/f/{name}"), b"v", 0)).await else {
                    return;
                };
                assert_eq!(reply.err, 0, "no error reply before the server stops");
                acked.lock().unwrap().push(name);
                acks.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    wait_until("some acknowledged writes", || {
        acks.load(Ordering::SeqCst) >= 40
    })
    .await;
    inject(&fs);

    let Running { task, fence, .. } = server;
    let result = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("the server stops after the failed fsync")
        .expect("no panic");
    assert!(
        matches!(result, Err(ServerError::Core(_))),
        "run reports the log failure: {result:?}"
    );
    for worker in workers {
        tokio::time::timeout(DEADLINE, worker)
            .await
            .expect("clients see their connections end")
            .expect("no worker assertion failed");
    }
    fence.crash(&fs, torn);

    let server = start(&fs, small_log()).await.expect("recovers");
    let mut reader = Client::connect(server.addr).await.unwrap();
    let recovered = children_set(&mut reader, "/f").await;
    let acked = acked.lock().unwrap().clone();
    let missing: Vec<_> = acked.iter().filter(|a| !recovered.contains(*a)).collect();
    assert!(missing.is_empty(), "acked writes lost: {missing:?}");
    server.shutdown().await.expect("clean shutdown");
}

/// One write a crash-test worker may have in flight.
#[derive(Debug, Clone)]
enum Op {
    Create {
        path: String,
        data: Vec<u8>,
    },
    Set {
        path: String,
        data: Vec<u8>,
    },
    Delete {
        path: String,
    },
    /// Two creates and a setData of the worker's root, all or nothing.
    Multi {
        a: String,
        b: String,
        root: String,
        data: Vec<u8>,
    },
    /// A sequential create under the shared `/seq`.
    Seq {
        data: Vec<u8>,
    },
}

impl Op {
    fn request(&self) -> Request {
        match self {
            Op::Create { path, data } => create(path, data, 0),
            Op::Set { path, data } => set_data(path, data),
            Op::Delete { path } => Request::Delete(DeleteRequest {
                path: path.clone(),
                version: -1,
            }),
            Op::Multi { a, b, root, data } => {
                let mk = |path: &String| MultiOp::Create {
                    op: OpCode::Create,
                    req: CreateRequest {
                        path: path.clone(),
                        data: Some(data.clone()),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                    },
                };
                Request::Multi(vec![
                    mk(a),
                    mk(b),
                    MultiOp::SetData(SetDataRequest {
                        path: root.clone(),
                        data: Some(data.clone()),
                        version: -1,
                    }),
                ])
            }
            Op::Seq { data } => create("/seq/s-", data, 2),
        }
    }

    /// The worker's subtree after this op succeeded.
    fn apply(&self, tree: &mut BTreeMap<String, Vec<u8>>) {
        match self {
            Op::Create { path, data } | Op::Set { path, data } => {
                tree.insert(path.clone(), data.clone());
            }
            Op::Delete { path } => {
                tree.remove(path);
            }
            Op::Multi { a, b, root, data } => {
                for p in [a, b, root] {
                    tree.insert(p.clone(), data.clone());
                }
            }
            Op::Seq { .. } => {}
        }
    }
}

/// What one worker knows: its subtree as acknowledged, the op it may have in flight, and the
/// sequential nodes it was told about.
#[derive(Debug, Default)]
struct WorkerModel {
    tree: BTreeMap<String, Vec<u8>>,
    pending: Option<Op>,
    seq_acked: Vec<String>,
    next_name: u64,
}

fn next_op(rng: &mut Rng, id: usize, m: &mut WorkerModel, round: usize) -> Op {
    let root = format!("/w{id}");
    let data = format!("r{round}-{}", rng.next_u64() % 1000).into_bytes();
    let leaves: Vec<String> = m.tree.keys().filter(|p| **p != root).cloned().collect();
    let pick = rng.below(100);
    if pick < 30 || leaves.is_empty() {
        m.next_name += 1;
        Op::Create {
            path: format!("{root}/n{}", m.next_name),
            data,
        }
    } else if pick < 55 {
        let path = leaves[rng.below(leaves.len() as u64) as usize].clone();
        Op::Set { path, data }
    } else if pick < 70 {
        let path = leaves[rng.below(leaves.len() as u64) as usize].clone();
        Op::Delete { path }
    } else if pick < 85 {
        m.next_name += 1;
        Op::Multi {
            a: format!("{root}/m{}a", m.next_name),
            b: format!("{root}/m{}b", m.next_name),
            root,
            data,
        }
    } else {
        Op::Seq { data }
    }
}

/// Runs writes until its connection breaks, recording each acknowledgement at once.
async fn crash_worker(
    mut client: Client,
    id: usize,
    round: usize,
    seed: u64,
    model: Arc<Mutex<WorkerModel>>,
    acks: Arc<AtomicU64>,
) {
    let mut rng = Rng(seed ^ ((id as u64) << 32) ^ round as u64);
    loop {
        let op = {
            let mut m = model.lock().unwrap();
            let op = next_op(&mut rng, id, &mut m, round);
            m.pending = Some(op.clone());
            op
        };
        let Ok(reply) = client.call(op.request()).await else {
            return;
        };
        let mut m = model.lock().unwrap();
        assert_eq!(reply.err, 0, "seed {seed}: worker {id} {op:?} failed");
        op.apply(&mut m.tree);
        if let Op::Seq { .. } = op {
            m.seq_acked.push(created_path(&reply.body));
        }
        m.pending = None;
        drop(m);
        acks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Checks one worker's recovered subtree: exactly the acknowledged state, or that state plus
/// the one write that was in flight at the crash. Never anything in between.
async fn check_worker(
    client: &mut Client,
    id: usize,
    m: &mut WorkerModel,
    seed: u64,
    round: usize,
) {
    let root = format!("/w{id}");
    let dump: BTreeMap<String, Vec<u8>> = client
        .dump(&root)
        .await
        .expect("dump")
        .into_iter()
        .map(|(p, (d, _))| (p, d))
        .collect();
    if dump == m.tree {
        m.pending = None;
        return;
    }
    let mut with_pending = m.tree.clone();
    if let Some(op) = m.pending.take() {
        op.apply(&mut with_pending);
        if dump == with_pending {
            m.tree = with_pending;
            return;
        }
    }
    panic!(
        "seed {seed} round {round}: worker {id} recovered {dump:?}, acknowledged {:?}, \
         with the in-flight write {with_pending:?}",
        m.tree
    );
}

/// issue 3, crash tests: power loss at random moments under concurrent writes (creates,
/// setData, deletes, sequential creates, multi). After each restart: every acknowledged write
/// is present with its value, no multi is half applied, sequence numbers never repeat
/// (`DataTree.createNode` names sequential nodes from the parent's cversion), and the server
/// always starts: a torn tail is truncated, never reported as corruption
/// (`FileTxnLog`/`Util.readTxnBytes` treat a partial last entry as the end of the log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_at_random_moments_lose_no_acknowledged_write() {
    crash_rounds(4, 0x5EED_0003).await;
}

/// The same with one writer, whose writes the core task fsyncs itself (a lone writer) once a
/// few have gone through the log thread: crashes then strike during the core's own writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_writer_crashing_at_random_moments_loses_no_acknowledged_write() {
    crash_rounds(1, 0x5EED_0004).await;
}

async fn crash_rounds(workers: usize, default_seed: u64) {
    let seed = common::seed(default_seed);
    let rounds: usize = std::env::var("PADDOCK_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    eprintln!("crash test seed {seed} ({rounds} rounds; replay with PADDOCK_SEED={seed})");
    let fs = FaultFs::new(seed);
    let cfg = || {
        config(|c| {
            c.snap_count = 40;
            c.pre_alloc_size_kb = 8;
        })
    };
    let mut rng = Rng(seed);
    let models: Vec<Arc<Mutex<WorkerModel>>> = (0..workers)
        .map(|id| {
            let mut m = WorkerModel::default();
            m.tree.insert(format!("/w{id}"), Vec::new());
            Arc::new(Mutex::new(m))
        })
        .collect();
    let mut seq_seen: BTreeSet<String> = BTreeSet::new();
    let mut torn_tails = 0;

    let server = start(&fs, cfg()).await.expect("first start");
    let mut setup = Client::connect(server.addr).await.unwrap();
    let paths = (0..workers).map(|id| format!("/w{id}"));
    for path in std::iter::once("/seq".to_owned()).chain(paths) {
        assert_eq!(setup.call(create(&path, b"", 0)).await.unwrap().err, 0);
    }
    drop(setup);
    let mut server = Some(server);

    for round in 0..rounds {
        let running = match server.take() {
            Some(s) => s,
            None => start(&fs, cfg())
                .await
                .unwrap_or_else(|e| panic!("seed {seed} round {round}: restart failed: {e}")),
        };
        let acks = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for (id, model) in models.iter().enumerate() {
            let client = Client::connect(running.addr).await.unwrap();
            workers.push(tokio::spawn(crash_worker(
                client,
                id,
                round,
                seed,
                model.clone(),
                acks.clone(),
            )));
        }
        // Half the rounds crash after a number of acknowledgements, half right after a
        // number of writes reached the disk (before their fsync: the torn-tail moment).
        if round % 2 == 0 {
            let crash_after = 1 + rng.below(80);
            wait_until("acks before the crash", || {
                acks.load(Ordering::SeqCst) >= crash_after
                    || workers.iter().any(|w| w.is_finished())
            })
            .await;
        } else {
            running.fence.crash_after_writes(&fs, 1 + rng.below(40));
            wait_until("the armed crash", || {
                running.fence.is_dead() || workers.iter().any(|w| w.is_finished())
            })
            .await;
        }
        running.crash(&fs, true).await;
        for w in workers {
            // A worker that already stopped on its own failed an assertion: surface it.
            if w.is_finished() {
                w.await
                    .unwrap_or_else(|e| panic!("seed {seed} round {round}: worker failed: {e}"));
            } else {
                w.abort();
                let _ = w.await;
            }
        }

        // Recover once by hand to see what the crash left: a torn tail is cut here (the
        // server's own recovery below then finds a clean log).
        let c = cfg();
        let recovered = recover(&storage(&fs, &c), c.core_config(), 0)
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: recovery failed: {e}"));
        torn_tails += usize::from(recovered.torn_tail.is_some());
        let restarted = start(&fs, cfg())
            .await
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: restart failed: {e}"));
        let mut checker = Client::connect(restarted.addr).await.unwrap();
        for (id, model) in models.iter().enumerate() {
            // The workers are gone: take the model out while checking, put it back after.
            let mut m = std::mem::take(&mut *model.lock().unwrap_or_else(|e| e.into_inner()));
            check_worker(&mut checker, id, &mut m, seed, round).await;
            *model.lock().unwrap() = m;
        }
        let seq_now = children_set(&mut checker, "/seq").await;
        for model in &models {
            for acked in &model.lock().unwrap().seq_acked {
                let name = acked.trim_start_matches("/seq/");
                assert!(
                    seq_now.contains(name),
                    "seed {seed} round {round}: acked sequential node {acked} lost"
                );
            }
        }
        // Sequence numbers continue after everything that ever existed.
        seq_seen.extend(seq_now.iter().cloned());
        let probe = checker.call(create("/seq/s-", b"probe", 2)).await.unwrap();
        assert_eq!(probe.err, 0, "seed {seed} round {round}: sequential create");
        let name = created_path(&probe.body);
        let name = name.trim_start_matches("/seq/").to_string();
        assert!(
            seq_seen.iter().all(|s| *s < name),
            "seed {seed} round {round}: sequence number {name} repeats or goes back"
        );
        seq_seen.insert(name);
        drop(checker);
        server = Some(restarted);
    }
    eprintln!("{torn_tails} of {rounds} crashes left a torn log tail");
    assert!(
        rounds < 10 || torn_tails > 0,
        "seed {seed}: no crash tore the log; the test did not exercise torn tails"
    );
    if let Some(s) = server {
        s.shutdown().await.expect("clean shutdown");
    }
}

/// Writes `n` nodes `/r/k<i>` through a server with frequent snapshots, then stops it cleanly.
async fn populate(fs: &FaultFs, cfg: ServerConfig, n: usize) -> BTreeSet<String> {
    let server = start(fs, cfg).await.expect("server starts");
    let mut client = Client::connect(server.addr).await.unwrap();
    assert_eq!(client.call(create("/r", b"", 0)).await.unwrap().err, 0);
    let mut names = BTreeSet::new();
    for i in 0..n {
        let name = format!("k{i:04}");
        let reply = client
            .call(create(&format!("/r/{name}"), b"v", 0))
            .await
            .unwrap();
        assert_eq!(reply.err, 0);
        names.insert(name);
        // Let a snapshot in progress finish before the next write, so that one starts every
        // few writes and several are on disk.
        wait_until("the snapshot in progress", || !snapshot_in_progress(fs)).await;
    }
    server.shutdown().await.expect("clean shutdown");
    names
}

/// A configuration with `snapCount` and a 64 KiB log preallocation: the default 64 MiB per
/// log file would make every in-memory roll-over allocate and scan 64 MiB.
fn small_config(snap_count: u64) -> ServerConfig {
    config(|c| {
        c.snap_count = snap_count;
        c.pre_alloc_size_kb = 64;
    })
}

fn snapshot_in_progress(fs: &FaultFs) -> bool {
    fs.list(&snap_dir())
        .unwrap_or_default()
        .iter()
        .any(|n| n.ends_with(".tmp"))
}

fn storage(fs: &FaultFs, cfg: &ServerConfig) -> Storage {
    Storage::new(cfg, Arc::new(fs.clone()))
}

/// `snapSizeLimitInKb` (`SyncRequestProcessor.shouldSnapshot`): a snapshot is also due once
/// the log since the last one passes a random size in (limit/2, limit]. 60 setData of 4 KiB
/// against a 64 KiB limit make at least three, where snapCount (1,000,000) makes none; with
/// the limit off (0, as ZooKeeper reads any value of 0 or less) they make none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_come_by_log_size_under_snap_size_limit() {
    for (limit_kb, at_least, at_most) in [(64, 3, usize::MAX), (0, 0, 0)] {
        let fs = FaultFs::new(11);
        let server = start(
            &fs,
            config(|c| {
                c.snap_count = 1_000_000;
                c.snap_size_limit_kb = limit_kb;
                c.pre_alloc_size_kb = 64;
            }),
        )
        .await
        .expect("server starts");
        let mut client = Client::connect(server.addr).await.unwrap();
        wait_until("the startup snapshot", || !snapshot_in_progress(&fs)).await;
        let before = snapshots(&fs).len();
        assert_eq!(client.call(create("/big", b"", 0)).await.unwrap().err, 0);
        for i in 0..60u8 {
            let reply = client.call(set_data("/big", &[i; 4096])).await.unwrap();
            assert_eq!(reply.err, 0);
            wait_until("the snapshot in progress", || !snapshot_in_progress(&fs)).await;
        }
        server.shutdown().await.expect("clean shutdown");
        let made = snapshots(&fs).len() - before;
        assert!(
            (at_least..=at_most).contains(&made),
            "limit {limit_kb} KiB: {made} snapshots"
        );
    }
}

/// issue 3, "read errors": an unreadable newest snapshot makes recovery fall back to an older
/// one plus the logs after it (`FileSnap.findNValidSnapshots` skips a snapshot it cannot read
/// and `FileSnap.deserialize` tries the next), and the server serves the whole tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_newest_snapshot_falls_back_to_an_older_one() {
    let fs = FaultFs::new(5);
    let cfg = || small_config(10);
    let names = populate(&fs, cfg(), 60).await;
    let snaps = snapshots(&fs);
    assert!(
        snaps.len() >= 2,
        "several snapshots were written: {snaps:?}"
    );
    let newest = snaps
        .iter()
        .max_by_key(|n| i64::from_str_radix(n.trim_start_matches("snapshot."), 16).unwrap())
        .unwrap()
        .clone();
    fs.fail_reads(&snap_dir().join(&newest), true);

    let c = cfg();
    let recovered = recover(&storage(&fs, &c), c.core_config(), 0).expect("recovers");
    let loaded = recovered
        .snapshot_path
        .expect("an older snapshot was loaded");
    assert_ne!(loaded, snap_dir().join(&newest));
    assert!(
        recovered.replayed > 0,
        "the log after the older snapshot is replayed"
    );

    let server = start(&fs, cfg()).await.expect("server starts");
    let mut client = Client::connect(server.addr).await.unwrap();
    assert_eq!(children_set(&mut client, "/r").await, names);
    server.shutdown().await.expect("clean shutdown");

    // No snapshot readable at all, but every log since the first transaction is there: the
    // logs alone rebuild the whole tree; never an empty one.
    for snap in snapshots(&fs) {
        fs.fail_reads(&snap_dir().join(snap), true);
    }
    let server = start(&fs, cfg())
        .await
        .expect("server starts from the logs");
    let mut client = Client::connect(server.addr).await.unwrap();
    assert_eq!(children_set(&mut client, "/r").await, names);
    server.shutdown().await.expect("clean shutdown");
}

/// With every snapshot unreadable and the oldest log purged, the logs alone cannot rebuild the
/// tree. ZooKeeper refuses to start ("No snapshot found, but there are log entries. Something
/// is broken!", `FileTxnSnapLog.restore`); Paddock must fail too rather than serve a partial
/// tree as if it were whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_readable_snapshot_and_a_purged_log_refuses_to_start() {
    let fs = FaultFs::new(6);
    let cfg = || small_config(10);
    populate(&fs, cfg(), 60).await;
    for snap in snapshots(&fs) {
        fs.fail_reads(&snap_dir().join(snap), true);
    }
    let logs = logs(&fs);
    assert!(logs.len() >= 2, "the log rolled at snapshots: {logs:?}");
    fs.remove_file(&snap_dir().join(&logs[0])).unwrap();

    let c = cfg();
    let result = recover(&storage(&fs, &c), c.core_config(), 0);
    assert!(
        result.is_err(),
        "recovery must not start from a partial log: replayed {:?}",
        result.map(|r| r.replayed)
    );
}

/// Offsets of the entries of a log file (`FileTxnLog`: a 16-byte header, then per entry an
/// 8-byte checksum, a 4-byte length, the bytes and the 'B' end-of-record byte).
fn entry_offsets(file: &[u8]) -> Vec<u64> {
    let mut offsets = Vec::new();
    let mut at = 16usize;
    while at + 12 <= file.len() {
        let len = i32::from_be_bytes(file[at + 8..at + 12].try_into().unwrap());
        if len <= 0 {
            break;
        }
        offsets.push(at as u64);
        at += 12 + len as usize + 1;
    }
    offsets
}

/// issue 3, "refuse to start (with a clear message naming the file and offset) on corruption in
/// the middle of the log rather than silently dropping committed data".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_in_the_middle_of_the_log_stops_startup_naming_file_and_offset() {
    let fs = FaultFs::new(7);
    let cfg = || small_config(1_000_000);
    populate(&fs, cfg(), 30).await;
    let log = logs(&fs).into_iter().next().expect("a log file");
    let path = snap_dir().join(&log);
    let file = fs.read(&path).unwrap();
    let offsets = entry_offsets(&file);
    assert!(offsets.len() >= 30, "entries: {}", offsets.len());
    let victim = offsets[offsets.len() / 2];
    // A flipped byte inside the entry's bytes (in the session id, which is different every
    // run, so the byte is flipped rather than set): its checksum no longer matches.
    let at = victim + 12 + 5;
    fs.corrupt(&path, at, &[!file[at as usize]]).unwrap();

    let err = match start(&fs, cfg()).await {
        Ok(_) => panic!("the server started on a log corrupt in the middle"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&log), "names the file: {err}");
    assert!(
        err.contains(&format!("offset {victim}")),
        "names the offset {victim}: {err}"
    );
}

/// A log that cannot be read at all stops startup with the file named, rather than starting
/// without its transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_log_stops_startup() {
    let fs = FaultFs::new(8);
    let cfg = || small_config(1_000_000);
    populate(&fs, cfg(), 5).await;
    let log = logs(&fs).into_iter().next().expect("a log file");
    fs.fail_reads(&snap_dir().join(&log), true);
    let err = match start(&fs, cfg()).await {
        Ok(_) => panic!("the server started without reading its log"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&log), "names the file: {err}");
}

/// A snapshot still being written when the server stopped is left as `snapshot.<zxid>.tmp`;
/// recovery never reads it and removes it, and leaves finished snapshots alone.
#[test]
fn unfinished_snapshots_are_removed_at_startup() {
    let fs = FaultFs::new(9);
    let c = config(|_| {});
    let first = recover(&storage(&fs, &c), c.core_config(), 0).expect("a new data directory");
    let kept = first
        .snapshot_path
        .expect("snapshot.0 is written for a new directory");
    let mut tmp = fs.create(&snap_dir().join("snapshot.7.tmp")).unwrap();
    tmp.write_at(0, b"half a snapshot").unwrap();
    drop(tmp);
    assert!(snapshot_in_progress(&fs));
    recover(&storage(&fs, &c), c.core_config(), 0).expect("recovers");
    assert!(!snapshot_in_progress(&fs), "the .tmp file is gone");
    assert!(fs
        .list(&snap_dir())
        .unwrap()
        .iter()
        .any(|n| snap_dir().join(n) == kept));
}

/// ZooKeeper 3.9's AdminServer `restore`: a restore that moved the history aside and could
/// then move neither the upload into place nor the history back leaves a data directory that
/// a restart would recover wrongly (the open log file included). The caller gets the error
/// naming where the files are, and the server stops, as after a failed log write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_strands_the_history_stops_the_server() {
    let fs = FaultFs::new(23);
    let cfg = config(|c| {
        c.admin_enable_server = true;
        c.admin_server_port = 0;
        // A snapshot within a few transactions, to upload (snapshot.0 records no zxid).
        c.snap_count = 4;
    });
    let running = start(&fs, cfg).await.expect("starts");
    let mut client = Client::connect(running.addr).await.expect("session");
    for i in 0..8 {
        let reply = client.call(create(&format!("/n{i}"), b"v", 0)).await;
        assert_eq!(reply.expect("create").err, 0);
    }
    wait_until("a snapshot after snapshot.0", || snapshots(&fs).len() > 1).await;
    let newest = snapshots(&fs).pop().expect("a snapshot");
    let upload = fs
        .read(&snap_dir().join(newest))
        .expect("the snapshot reads");
    fs.fail_renames_from("data/restore-upload.tmp");
    fs.fail_renames_from("data/before-restore-");
    let admin = running.admin.expect("the AdminServer is enabled");
    let (status, body) =
        common::post_authorized(admin, "/commands/restore", "digest bob:secret", &upload).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("data/before-restore-"), "{body}");
    let ended = tokio::time::timeout(DEADLINE, running.task)
        .await
        .expect("the server stops within the deadline")
        .expect("the server task does not panic");
    let err = ended.expect_err("the server stops with an error");
    assert!(err.to_string().contains("failed restore"), "{err}");
}
