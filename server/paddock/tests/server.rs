//! The tokio layer in-process: shutdown, slow consumers, connection limits, four-letter words.
//! Protocol behaviour itself is compared against Apache ZooKeeper in `server/difftest`.

use std::net::SocketAddr;
use std::time::Duration;

use paddock::config::ServerConfig;
use paddock::Server;
use paddock_jute::codec::{Reader, Record, Writer};
use paddock_jute::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, PathWatchRequest, ReplyHeader,
};
use paddock_jute::{Acl, OpCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(20);

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start(tune: impl FnOnce(&mut ServerConfig)) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = ServerConfig {
        client_port: 0,
        data_dir: dir.path().to_owned(),
        data_log_dir: dir.path().to_owned(),
        // No AdminServer on the fixed port 8080: tests run side by side.
        admin_enable_server: false,
        ..ServerConfig::default()
    };
    tune(&mut cfg);
    let server = Server::bind(cfg).await.expect("server binds");
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .expect("the server stops cleanly");
    });
    Running {
        addr,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

async fn session(addr: SocketAddr) -> (TcpStream, ConnectResponse) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = ConnectRequest {
        time_out: 30_000,
        passwd: vec![0; 16],
        ..Default::default()
    };
    s.write_all(&frame(&req.to_bytes())).await.unwrap();
    let resp = read_frame(&mut s).await.expect("a ConnectResponse");
    (s, ConnectResponse::read(&mut Reader::new(&resp)).unwrap())
}

fn get_data_request(xid: i32, path: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.write_i32(xid);
    w.write_i32(OpCode::GetData as i32);
    PathWatchRequest {
        path: path.into(),
        watch: false,
    }
    .write(&mut w);
    frame(&w.into_inner())
}

async fn ping(s: &mut TcpStream) -> bool {
    let mut w = Writer::new();
    w.write_i32(-2);
    w.write_i32(OpCode::Ping as i32);
    if s.write_all(&frame(&w.into_inner())).await.is_err() {
        return false;
    }
    match tokio::time::timeout(DEADLINE, read_frame(s)).await {
        Ok(Some(reply)) => ReplyHeader::read(&mut Reader::new(&reply)).unwrap().xid == -2,
        _ => false,
    }
}

/// STYLE.md rule 10: shutdown stops accepting, ends every connection and returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_connections_and_stops_accepting() {
    let mut server = start(|_| {}).await;
    let (mut client, resp) = session(server.addr).await;
    assert_ne!(resp.session_id, 0);
    assert!(ping(&mut client).await);

    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(DEADLINE, &mut server.task)
        .await
        .expect("run() returns after the shutdown signal")
        .unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, client.read(&mut buf))
        .await
        .expect("not hung");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the client sees its connection end"
    );
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "the port no longer accepts"
    );
}

/// A client that sends requests but never reads its replies is closed once its bounded
/// outbox is full; it cannot make the server hold unbounded memory, and other sessions are
/// served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_without_harming_others() {
    let server = start(|_| {}).await;
    let (mut other, _) = session(server.addr).await;
    let (mut greedy, _) = session(server.addr).await;
    // Replies of 512 KiB: a few hundred of them are more than socket buffers and the outbox's
    // byte bound can hold.
    let mut w = Writer::new();
    w.write_i32(1);
    w.write_i32(OpCode::Create as i32);
    CreateRequest {
        path: "/big".into(),
        data: Some(vec![7; 512 * 1024]),
        acl: Acl::open_unsafe(),
        flags: 0,
    }
    .write(&mut w);
    greedy.write_all(&frame(&w.into_inner())).await.unwrap();
    let created = read_frame(&mut greedy).await.expect("create reply");
    assert_eq!(
        ReplyHeader::read(&mut Reader::new(&created)).unwrap().err,
        0
    );
    let (mut greedy_read, mut greedy_write) = greedy.into_split();

    const REQUESTS: i32 = 2_000;
    let writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        for xid in 1..=REQUESTS {
            batch.extend_from_slice(&get_data_request(xid, "/big"));
            if batch.len() > 64 * 1024 {
                if greedy_write.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
        let _ = greedy_write.write_all(&batch).await;
    });
    // While the greedy client floods, the other one is answered.
    for _ in 0..5 {
        assert!(ping(&mut other).await, "the well-behaved session is served");
    }
    let _ = tokio::time::timeout(DEADLINE, writer)
        .await
        .expect("the flood ends");
    // Now drain what the server had sent before it gave up: it ends early with a close.
    let mut replies = 0;
    let drained = tokio::time::timeout(DEADLINE, async {
        let mut s = Vec::new();
        greedy_read.read_to_end(&mut s).await.map(|_| s)
    })
    .await
    .expect("the greedy connection is closed, not left hanging");
    if let Ok(bytes) = drained {
        let mut rest = &bytes[..];
        while rest.len() >= 4 {
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            if rest.len() < 4 + len {
                break;
            }
            rest = &rest[4 + len..];
            replies += 1;
        }
    }
    assert!(
        replies < REQUESTS as usize,
        "got all {replies} replies: the outbox was not bounded"
    );
    assert!(ping(&mut other).await, "the other session still works");
}

/// maxClientCnxns: ZooKeeper closes the connection over the per-address limit at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_max_client_cnxns_are_closed() {
    let server = start(|c| c.max_client_connections_per_ip = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(session(server.addr).await.0);
    }
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, extra.read(&mut buf))
        .await
        .expect("not hung");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the fourth connection is closed"
    );
    drop(held.pop());
    // The slot comes back once the server has seen the close.
    let again = tokio::time::timeout(DEADLINE, async {
        loop {
            let mut s = TcpStream::connect(server.addr).await.unwrap();
            let req = ConnectRequest {
                time_out: 30_000,
                passwd: vec![0; 16],
                ..Default::default()
            };
            if s.write_all(&frame(&req.to_bytes())).await.is_ok()
                && read_frame(&mut s).await.is_some()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(again.is_ok(), "a freed slot is reusable");
}

/// Four-letter words outside `4lw.commands.whitelist` get ZooKeeper's refusal line
/// (NIOServerCnxn.checkFourLetterWord); `srvr` is always allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_letter_words_follow_the_whitelist() {
    let server = start(|_| {}).await;
    let ask = |cmd: &'static str| async move {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(cmd.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    assert_eq!(
        ask("ruok").await,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    let srvr = ask("srvr").await;
    assert!(srvr.starts_with("Zookeeper version: "), "{srvr}");
    assert!(srvr.contains("\nMode: standalone\n"), "{srvr}");
    assert!(srvr.contains("\nNode count: 5\n"), "{srvr}");
}

/// Hostile input end to end: after a valid handshake, clients send frames whose headers name
/// every opcode (known or not) followed by random bodies, and some send raw garbage. The
/// server answers or closes each of them and keeps serving everyone else; nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_frames_after_the_handshake_never_take_the_server_down() {
    let server = start(|_| {}).await;
    let (mut control, _) = session(server.addr).await;
    // xorshift64*: a fixed seed keeps the run reproducible.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let opcodes: Vec<i32> = (-12..=23)
        .chain(100..=108)
        .chain([999, i32::MIN, i32::MAX])
        .collect();
    for round in 0..60 {
        let (mut s, _) = session(server.addr).await;
        let mut bytes = Vec::new();
        for _ in 0..20 {
            let len = (next() % 64) as usize;
            let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 3 != 0 {
                // A well-formed header with a random opcode, then a random body.
                let mut head = ((next() % 1000) as i32).to_be_bytes().to_vec();
                let op = opcodes[(next() as usize) % opcodes.len()];
                head.extend_from_slice(&op.to_be_bytes());
                head.append(&mut body);
                body = head;
            }
            bytes.extend_from_slice(&frame(&body));
        }
        if round % 10 == 0 {
            // Raw garbage, including lengths that lie.
            bytes.extend((0..32).map(|_| next() as u8));
        }
        let _ = s.write_all(&bytes).await;
        // Half-close and read to the end: the server has then dealt with every frame.
        let _ = s.shutdown().await;
        let mut sink = Vec::new();
        let drained = tokio::time::timeout(DEADLINE, s.read_to_end(&mut sink)).await;
        assert!(
            drained.is_ok(),
            "round {round}: the server neither answered nor closed"
        );
    }
    assert!(
        ping(&mut control).await,
        "the control session is still served"
    );
    let (mut fresh, resp) = session(server.addr).await;
    assert_ne!(resp.session_id, 0);
    assert!(ping(&mut fresh).await, "new sessions are still accepted");
    assert!(!server.task.is_finished(), "the server is still running");
}
