//! Raw-socket scenarios: odd and hostile bytes, compared between ZooKeeper 3.8 and Paddock
//! (reply codes, response sizes, whether the connection is closed).

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};
use paddock_difftest::raw::{self, op, ConnectRequest, Jute, RawConn, Read};
use paddock_difftest::*;
use serde_json::{json, Value};

/// How long to watch a connection that should stay open or be closed by the server.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

fn pair() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| ServerPair::start(ServerConfig::default()))
}

/// `maxClientCnxns=10`, used by one test only so nothing else holds connections.
fn pair_limited() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        ServerPair::start(ServerConfig {
            max_client_cnxns: 10,
            ..ServerConfig::default()
        })
    })
}

/// `enforce.auth.enabled=true` with `enforce.auth.schemes=digest`, used by one test.
fn pair_enforced_auth() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        ServerPair::start(ServerConfig {
            extra: vec![
                ("enforce.auth.enabled".into(), "true".into()),
                ("enforce.auth.schemes".into(), "digest".into()),
            ],
            ..ServerConfig::default()
        })
    })
}

macro_rules! diff_test {
    ($name:ident, $pair:ident) => {
        #[tokio::test]
        async fn $name() {
            compare($pair(), stringify!($name), scenarios::$name).await;
        }
    };
}

fn reply_json(reply: Option<raw::Reply>) -> Value {
    match reply {
        Some(r) => json!({"xid": r.xid, "err": r.err, "body_len": r.body.len()}),
        None => json!("closed"),
    }
}

fn read_json(read: Read) -> Value {
    match read {
        Read::Frame(payload) => json!({"frame_len": payload.len()}),
        Read::Closed => json!("closed"),
        Read::Timeout => json!("open"),
    }
}

/// Events and replies on `conn` up to and including the reply to a ping sent as a barrier;
/// paths are written relative to `root` ("R/...").
async fn frames_until_ping(conn: &mut RawConn, root: &str) -> Result<Vec<Value>> {
    let mut frames = Vec::new();
    loop {
        let reply = conn.read_reply(raw::REPLY_WAIT).await?.context("closed")?;
        if reply.xid == -1 {
            let (ty, _, path) = reply.watcher_event()?;
            frames.push(json!({"event": ty, "path": path.replace(root, "R")}));
        } else {
            frames.push(json!({"xid": reply.xid, "err": reply.err}));
        }
        if reply.xid == -2 {
            return Ok(frames);
        }
    }
}

/// A raw session whose root node exists; returns the connection and the create's reply zxid.
async fn session_with_root(ctx: &Ctx) -> Result<(RawConn, i64)> {
    let (mut conn, _) = RawConn::session(ctx.addr).await?;
    let reply = conn
        .call(
            1,
            op::CREATE,
            &raw::create_body(ctx.root.as_bytes(), b"", 0),
        )
        .await?
        .context("closed on create")?;
    anyhow::ensure!(reply.err == 0, "create root: err {}", reply.err);
    Ok((conn, reply.zxid))
}

mod scenarios {
    use super::*;

    /// A pre-3.4 client omits `readOnly`; the server then omits it too: 36 bytes.
    /// ProtocolManager.java (3.9) / ZooKeeperServer.processConnectRequest (3.8).
    pub async fn connect_without_read_only_byte(ctx: Ctx) -> Result<Trace> {
        let mut conn = RawConn::open(ctx.addr).await?;
        let req = ConnectRequest {
            read_only: None,
            ..Default::default()
        };
        let resp = conn.handshake(&req).await?;
        let mut t = Trace::new();
        t.push("resp", json!({"len": resp.record_len, "read_only": resp.read_only, "timeout": resp.timeout_ms, "passwd_len": resp.passwd.len(), "session": resp.session_id, "version": resp.protocol_version}));
        t.push("ping", json!(conn.ping().await?));
        Ok(t)
    }

    /// With the byte the response has it too: 37 bytes, readOnly false.
    pub async fn connect_with_read_only_byte(ctx: Ctx) -> Result<Trace> {
        let mut conn = RawConn::open(ctx.addr).await?;
        let resp = conn.handshake(&ConnectRequest::default()).await?;
        let mut t = Trace::new();
        t.push("resp", json!({"len": resp.record_len, "read_only": resp.read_only, "timeout": resp.timeout_ms, "passwd_len": resp.passwd.len()}));
        // Timeouts are clamped to [2, 20] ticks. ZooKeeperServer.processConnectRequest.
        for asked in [1, 100_000] {
            let mut c = RawConn::open(ctx.addr).await?;
            let r = c
                .handshake(&ConnectRequest {
                    timeout_ms: asked,
                    ..Default::default()
                })
                .await?;
            t.push(format!("clamp_{asked}"), json!(r.timeout_ms));
        }
        Ok(t)
    }

    /// Reattaching with the right password keeps the session id; with a wrong one the server
    /// answers timeout 0 / session 0 and closes. ZooKeeperServer.reopenSession.
    pub async fn reattach_session(ctx: Ctx) -> Result<Trace> {
        let (first, resp) = RawConn::session(ctx.addr).await?;
        drop(first);
        let mut t = Trace::new();
        let mut again = RawConn::open(ctx.addr).await?;
        let req = ConnectRequest {
            session_id: resp.session_id,
            passwd: resp.passwd.clone(),
            ..Default::default()
        };
        let r = again.handshake(&req).await?;
        t.push("right", json!({"same_session": r.session_id == resp.session_id, "timeout": r.timeout_ms, "same_passwd": r.passwd == resp.passwd, "len": r.record_len}));
        t.push("right_ping", json!(again.ping().await?));
        let mut wrong = RawConn::open(ctx.addr).await?;
        let mut bad = resp.passwd.clone();
        bad[0] ^= 0xff;
        let req = ConnectRequest {
            session_id: resp.session_id,
            passwd: bad,
            ..Default::default()
        };
        let r = wrong.handshake(&req).await?;
        t.push("wrong", json!({"session": r.session_id, "timeout": r.timeout_ms, "passwd": r.passwd, "len": r.record_len}));
        t.push("wrong_closed", json!(wrong.closed_within(CLOSE_WAIT).await));
        let mut unknown = RawConn::open(ctx.addr).await?;
        let req = ConnectRequest {
            session_id: 0x7f00_0000_0000_0001,
            ..Default::default()
        };
        let r = unknown.handshake(&req).await?;
        t.push(
            "unknown",
            json!({"session": r.session_id, "timeout": r.timeout_ms}),
        );
        t.push(
            "unknown_closed",
            json!(unknown.closed_within(CLOSE_WAIT).await),
        );
        Ok(t)
    }

    /// A client that has seen a newer zxid than the server is refused without a response.
    /// ZooKeeperServer.processConnectRequest ("client must try another server").
    pub async fn last_zxid_seen_ahead_of_server(ctx: Ctx) -> Result<Trace> {
        let mut conn = RawConn::open(ctx.addr).await?;
        let req = ConnectRequest {
            last_zxid_seen: 1 << 40,
            ..Default::default()
        };
        conn.send_frame(&req.encode()).await?;
        let mut t = Trace::new();
        t.push("read", read_json(conn.read_frame(CLOSE_WAIT).await));
        Ok(t)
    }

    /// Ping is answered with xid -2; unknown opcode 999 gets -6 and the connection closes.
    /// UnimplementedRequestProcessor.java, Request.isValid.
    pub async fn ping_and_unknown_opcode(ctx: Ctx) -> Result<Trace> {
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let mut t = Trace::new();
        t.push("ping", reply_json(conn.call(-2, op::PING, &[]).await?));
        let unknown = conn.call(7, 999, &[]).await?;
        // UnimplementedRequestProcessor answers with the request's unset zxid, -1.
        t.push("unknown_zxid", json!(unknown.as_ref().map(|r| r.zxid)));
        t.push("unknown", reply_json(unknown));
        t.push("closed", json!(conn.closed_within(CLOSE_WAIT).await));
        Ok(t)
    }

    /// Garbage instead of a ConnectRequest, and a negative frame length, close the
    /// connection without a response. NIOServerCnxn.readLength / readConnectRequest.
    pub async fn garbage_and_bad_lengths(ctx: Ctx) -> Result<Trace> {
        let mut t = Trace::new();
        let mut conn = RawConn::open(ctx.addr).await?;
        conn.send_frame(b"\x01\x02garbage!").await?;
        t.push(
            "garbage_handshake",
            read_json(conn.read_frame(CLOSE_WAIT).await),
        );
        let mut conn = RawConn::open(ctx.addr).await?;
        conn.send_raw(&(-5i32).to_be_bytes()).await?;
        t.push(
            "negative_len_first",
            read_json(conn.read_frame(CLOSE_WAIT).await),
        );
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        conn.send_raw(&(-1i32).to_be_bytes()).await?;
        t.push(
            "negative_len_session",
            read_json(conn.read_frame(CLOSE_WAIT).await),
        );
        // jute.maxbuffer is 0xfffff; a longer frame is refused from its length alone.
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        conn.send_raw(&(0x10_0000i32 + 1).to_be_bytes()).await?;
        t.push("too_long", read_json(conn.read_frame(CLOSE_WAIT).await));
        // A frame whose record ends early: a path claiming 10 bytes, giving 3.
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let mut body = Jute::new().int(10).into_bytes();
        body.extend_from_slice(b"/ab");
        t.push(
            "truncated",
            reply_json(conn.call(5, op::GET_DATA, &body).await.unwrap_or(None)),
        );
        t.push(
            "truncated_closed",
            json!(conn.closed_within(CLOSE_WAIT).await),
        );
        Ok(t)
    }

    /// Invalid paths are BadArguments (-8) for writes. PathUtils.validatePath via
    /// PrepRequestProcessor; reads do not validate and answer NoNode.
    pub async fn bad_paths(ctx: Ctx) -> Result<Trace> {
        let (mut conn, _) = session_with_root(&ctx).await?;
        let mut t = Trace::new();
        let r = &ctx.root;
        let paths: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            format!("{r}/").into_bytes(),
            format!("{r}//b").into_bytes(),
            format!("{r}/.").into_bytes(),
            format!("{r}/..").into_bytes(),
            format!("{r}/a\u{0}b").into_bytes(),
            [r.as_bytes(), b"/\xff\xfe"].concat(),
        ];
        for (i, path) in paths.iter().enumerate() {
            let reply = conn
                .call(10 + i as i32, op::CREATE, &raw::create_body(path, b"", 0))
                .await?;
            t.push(
                format!(
                    "create_{}",
                    String::from_utf8_lossy(path).replace(r.as_str(), "R")
                ),
                reply_json(reply),
            );
        }
        let reply = conn
            .call(
                30,
                op::GET_DATA,
                &raw::path_watch_body(&format!("{r}//b"), false),
            )
            .await?;
        t.push("get_double_slash", reply_json(reply));
        t.push("still_open", json!(conn.ping().await?));
        Ok(t)
    }

    /// closeSession is answered (xid echoed, err 0) and then the connection closes.
    pub async fn close_session(ctx: Ctx) -> Result<Trace> {
        let (mut conn, resp) = RawConn::session(ctx.addr).await?;
        let mut t = Trace::new();
        t.push(
            "close",
            reply_json(conn.call(9, op::CLOSE_SESSION, &[]).await?),
        );
        t.push("closed", json!(conn.closed_within(CLOSE_WAIT).await));
        let mut again = RawConn::open(ctx.addr).await?;
        let req = ConnectRequest {
            session_id: resp.session_id,
            passwd: resp.passwd,
            ..Default::default()
        };
        let r = again.handshake(&req).await?;
        t.push(
            "reattach_closed",
            json!({"session": r.session_id, "timeout": r.timeout_ms}),
        );
        Ok(t)
    }

    /// auth with an unknown scheme: reply xid -4, err -115, then close.
    /// ZooKeeperServer.processPacket (auth).
    pub async fn auth_unknown_scheme(ctx: Ctx) -> Result<Trace> {
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let body = raw::auth_body("nosuchscheme", b"x");
        let mut t = Trace::new();
        t.push("auth", reply_json(conn.call(-4, op::AUTH, &body).await?));
        t.push("closed", json!(conn.closed_within(CLOSE_WAIT).await));
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let body = raw::auth_body("digest", b"bob:pw");
        t.push("digest", reply_json(conn.call(-4, op::AUTH, &body).await?));
        t.push("digest_open", json!(conn.ping().await?));
        Ok(t)
    }

    /// zookeeper.enforce.auth.schemes=digest (AuthenticationHelper.enforceAuthentication):
    /// an unauthenticated ping or getData gets SessionClosedRequireSaslAuth (-124) with zxid
    /// 0 and the connection closes, and so does an unknown opcode or a body that does not
    /// decode; after a digest auth the same requests are served.
    pub async fn enforced_auth(ctx: Ctx) -> Result<Trace> {
        let with_zxid = |reply: Option<raw::Reply>| match reply {
            Some(r) => json!({"xid": r.xid, "err": r.err, "zxid_is_0": r.zxid == 0}),
            None => json!("closed"),
        };
        let get = raw::path_watch_body("/", false);
        let mut t = Trace::new();
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        t.push("ping", with_zxid(conn.call(-2, op::PING, &[]).await?));
        t.push("ping_closed", json!(conn.closed_within(CLOSE_WAIT).await));
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        t.push("get", with_zxid(conn.call(1, op::GET_DATA, &get).await?));
        t.push("get_closed", json!(conn.closed_within(CLOSE_WAIT).await));
        // Checked before the opcode or the body is read.
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        t.push("unknown_op", with_zxid(conn.call(2, 999, &[]).await?));
        t.push(
            "unknown_op_closed",
            json!(conn.closed_within(CLOSE_WAIT).await),
        );
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        t.push(
            "bad_body",
            with_zxid(conn.call(3, op::GET_DATA, &[0, 0]).await?),
        );
        t.push(
            "bad_body_closed",
            json!(conn.closed_within(CLOSE_WAIT).await),
        );
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let auth = raw::auth_body("digest", b"bob:pw");
        t.push("auth", reply_json(conn.call(-4, op::AUTH, &auth).await?));
        t.push(
            "get_authed",
            reply_json(conn.call(1, op::GET_DATA, &get).await?),
        );
        t.push("ping_authed", json!(conn.ping().await?));
        Ok(t)
    }

    /// An auth packet whose body does not decode (ZooKeeperServer.processPacket reads it
    /// with byteBuffer2Record).
    pub async fn auth_bad_body(ctx: Ctx) -> Result<Trace> {
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let mut t = Trace::new();
        t.push(
            "auth",
            reply_json(conn.call(-4, op::AUTH, &[0, 0, 0]).await?),
        );
        t.push("closed", json!(conn.closed_within(CLOSE_WAIT).await));
        Ok(t)
    }

    /// setWatches replays what changed after relativeZxid: data watch + node changed ->
    /// NodeDataChanged, node gone -> NodeDeleted, exist watch + node now present ->
    /// NodeCreated, child watch + pzxid newer -> NodeChildrenChanged; unchanged ones stay
    /// registered and fire later. DataTree.setWatches.
    /// setWatches2 re-adds persistent and persistent-recursive watches after a reconnect;
    /// unlike one-shot watches, what changed while disconnected is not replayed
    /// (DataTree.setWatches: persistent paths are only re-registered). Later changes fire
    /// them as before, and one-shot watches in the same packet still replay.
    pub async fn set_watches2_readds_persistent_watches(ctx: Ctx) -> Result<Trace> {
        let (mut conn, _) = session_with_root(&ctx).await?;
        let p = |s: &str| format!("{}/{s}", ctx.root);
        for (i, name) in ["pers", "tree", "once"].iter().enumerate() {
            conn.call(
                2 + i as i32,
                op::CREATE,
                &raw::create_body(p(name).as_bytes(), b"", 0),
            )
            .await?;
        }
        let rel = conn
            .call(
                9,
                op::CREATE,
                &raw::create_body(p("tree/a").as_bytes(), b"", 0),
            )
            .await?
            .context("closed")?
            .zxid;
        // Changes the watcher "missed" while it was away.
        let set = |path: String, v: &'static [u8]| {
            Jute::new().string(&path).bytes(v).int(-1).into_bytes()
        };
        conn.call(10, op::SET_DATA, &set(p("pers"), b"1")).await?;
        conn.call(11, op::SET_DATA, &set(p("tree/a"), b"1")).await?;
        conn.call(12, op::SET_DATA, &set(p("once"), b"1")).await?;

        let (mut watcher, _) = RawConn::session(ctx.addr).await?;
        let body = Jute::new()
            .long(rel)
            .strings(&[&p("once")])
            .strings(&[])
            .strings(&[])
            .strings(&[&p("pers")])
            .strings(&[&p("tree")])
            .into_bytes();
        watcher.send_request(-8, op::SET_WATCHES2, &body).await?;
        watcher.send_request(-2, op::PING, &[]).await?;
        let mut t = Trace::new();
        t.push(
            "on_reconnect",
            json!(frames_until_ping(&mut watcher, &ctx.root).await?),
        );
        // New changes: the persistent watch and the recursive one fire (and stay).
        conn.call(13, op::SET_DATA, &set(p("pers"), b"2")).await?;
        conn.call(
            14,
            op::CREATE,
            &raw::create_body(p("tree/a/b").as_bytes(), b"", 0),
        )
        .await?;
        conn.call(15, op::SET_DATA, &set(p("pers"), b"3")).await?;
        watcher.send_request(-2, op::PING, &[]).await?;
        let later = frames_until_ping(&mut watcher, &ctx.root).await?;
        t.push("after", json!(later));
        Ok(t)
    }

    pub async fn set_watches_replay(ctx: Ctx) -> Result<Trace> {
        let (mut conn, rel) = session_with_root(&ctx).await?;
        let p = |s: &str| format!("{}/{s}", ctx.root);
        for (i, name) in ["changed", "deleted", "same", "kids"].iter().enumerate() {
            conn.call(
                2 + i as i32,
                op::CREATE,
                &raw::create_body(p(name).as_bytes(), b"", 0),
            )
            .await?;
        }
        let (mut setup, _) = RawConn::session(ctx.addr).await?;
        let last = setup
            .call(1, op::CREATE, &raw::create_body(p("zz").as_bytes(), b"", 0))
            .await?
            .context("closed")?;
        let rel2 = last.zxid;
        setup
            .call(
                2,
                op::SET_DATA,
                &Jute::new()
                    .string(&p("changed"))
                    .bytes(b"x")
                    .int(-1)
                    .into_bytes(),
            )
            .await?;
        setup
            .call(
                3,
                op::DELETE,
                &Jute::new().string(&p("deleted")).int(-1).into_bytes(),
            )
            .await?;
        setup
            .call(
                4,
                op::CREATE,
                &raw::create_body(p("appeared").as_bytes(), b"", 0),
            )
            .await?;
        setup
            .call(
                5,
                op::CREATE,
                &raw::create_body(p("kids/k").as_bytes(), b"", 0),
            )
            .await?;
        let (mut watcher, _) = RawConn::session(ctx.addr).await?;
        let body = Jute::new()
            .long(rel2)
            .strings(&[&p("changed"), &p("deleted"), &p("same")])
            .strings(&[&p("appeared"), &p("never")])
            .strings(&[&p("kids"), &ctx.root])
            .into_bytes();
        watcher.send_request(-8, op::SET_WATCHES, &body).await?;
        // Barrier: the ping reply comes after everything setWatches produced.
        watcher.send_request(-2, op::PING, &[]).await?;
        let mut t = Trace::new();
        t.push("rel_before_root", json!(rel < rel2));
        let mut frames = Vec::new();
        loop {
            let reply = watcher
                .read_reply(raw::REPLY_WAIT)
                .await?
                .context("closed")?;
            if reply.xid == -1 {
                let (ty, state, path) = reply.watcher_event()?;
                frames.push(
                    json!({"event": ty, "state": state, "path": path.replace(&ctx.root, "R")}),
                );
            } else {
                frames.push(json!({"xid": reply.xid, "err": reply.err}));
            }
            if reply.xid == -2 {
                break;
            }
        }
        t.push("frames", json!(frames));
        // The untouched data watch is still registered and fires on the next change.
        setup
            .call(
                6,
                op::SET_DATA,
                &Jute::new()
                    .string(&p("same"))
                    .bytes(b"y")
                    .int(-1)
                    .into_bytes(),
            )
            .await?;
        let reply = watcher
            .read_reply(raw::REPLY_WAIT)
            .await?
            .context("closed")?;
        let (ty, _, path) = reply.watcher_event()?;
        t.push(
            "later",
            json!({"xid": reply.xid, "event": ty, "path": path.replace(&ctx.root, "R")}),
        );
        Ok(t)
    }

    /// 200 connections opened and dropped (some mid-handshake) do not disturb a session.
    pub async fn connection_flood_leaves_session_alone(ctx: Ctx) -> Result<Trace> {
        let (mut conn, _) = session_with_root(&ctx).await?;
        for i in 0..200 {
            let mut c = RawConn::open(ctx.addr).await?;
            match i % 3 {
                0 => {}
                1 => c.send_raw(&[0, 0, 0, 44, 0, 0]).await?,
                _ => {
                    c.handshake(&ConnectRequest::default()).await?;
                }
            }
        }
        let mut t = Trace::new();
        t.push("ping", json!(conn.ping().await?));
        let reply = conn
            .call(5, op::EXISTS, &raw::path_watch_body(&ctx.root, false))
            .await?;
        t.push("exists", reply_json(reply));
        Ok(t)
    }

    /// With maxClientCnxns=10 the 11th connection from 127.0.0.1 is closed at once.
    /// NIOServerCnxnFactory.AcceptThread.doAccept ("Too many connections").
    pub async fn max_client_connections(ctx: Ctx) -> Result<Trace> {
        let mut t = Trace::new();
        // The readiness probe's `srvr` connection may still hold a slot for a moment after
        // it ended (ZooKeeper frees it asynchronously): retry the first ten until they fit.
        let mut open = eventually(CLOSE_WAIT, || async {
            let mut conns = Vec::new();
            for _ in 0..10 {
                conns.push(RawConn::session(ctx.addr).await.ok()?.0);
            }
            Some(conns)
        })
        .await?;
        // The server may close the refused connection so fast that the connect itself
        // reports the reset (tokio reads SO_ERROR), or before the ConnectRequest is written;
        // both are the same outcome as reading end-of-stream.
        let eleventh = match RawConn::open(ctx.addr).await {
            Ok(mut extra) => match extra.send_frame(&ConnectRequest::default().encode()).await {
                Ok(()) => read_json(extra.read_frame(CLOSE_WAIT).await),
                Err(_) => read_json(Read::Closed),
            },
            Err(_) => read_json(Read::Closed),
        };
        t.push("eleventh", eleventh);
        let mut alive = 0;
        for c in &mut open {
            alive += usize::from(c.ping().await?);
        }
        t.push("alive", json!(alive));
        drop(open.pop());
        // The freed slot is usable once the server has seen the close.
        let again = eventually(CLOSE_WAIT, || async {
            let mut c = RawConn::open(ctx.addr).await.ok()?;
            c.handshake(&ConnectRequest::default())
                .await
                .ok()
                .map(|_| true)
        })
        .await?;
        t.push("after_close", json!(again));
        Ok(t)
    }
}

diff_test!(connect_without_read_only_byte, pair);
diff_test!(connect_with_read_only_byte, pair);
diff_test!(reattach_session, pair);
diff_test!(last_zxid_seen_ahead_of_server, pair);
diff_test!(ping_and_unknown_opcode, pair);
diff_test!(garbage_and_bad_lengths, pair);
diff_test!(bad_paths, pair);
diff_test!(close_session, pair);
diff_test!(auth_unknown_scheme, pair);
diff_test!(enforced_auth, pair_enforced_auth);
diff_test!(auth_bad_body, pair);
diff_test!(set_watches_replay, pair);
diff_test!(set_watches2_readds_persistent_watches, pair);
diff_test!(connection_flood_leaves_session_alone, pair);
diff_test!(max_client_connections, pair_limited);

/// Intended difference (ZOOKEEPER-4471, apache/zookeeper b8d458f5c, in 3.9.0): removeWatches
/// and checkWatches take Persistent (4) / PersistentRecursive (5), and Data/Children only
/// match standard watches (DataTree.removeWatch in 3.9). Debian's 3.8.0 fails `WatcherType
/// .fromInt(4)` with MarshallingError (-5) and lets Data (2) strip the data half of a
/// persistent watch, so the child half still fires.
#[tokio::test]
async fn remove_persistent_watches() {
    let zookeeper_38 = json!({
        "check_persistent": -5, "remove_data": 0, "remove_persistent": -5,
        "remove_again": -5, "check_recursive": -5, "remove_recursive": -5,
        "events_after": 1
    });
    let zookeeper_39 = json!({
        "check_persistent": 0, "remove_data": -121, "remove_persistent": 0,
        "remove_again": -121, "check_recursive": 0, "remove_recursive": 0,
        "events_after": 0
    });
    intended_difference(
        pair(),
        "remove_persistent_watches",
        remove_watches_run,
        zookeeper_38,
        zookeeper_39,
    )
    .await;
}

/// Intended difference (ZOOKEEPER-2623, apache/zookeeper 6ed7cc75b, in 3.9.2): `check` (13)
/// outside multi is not a valid request type, so it gets Unimplemented (-6) and the close,
/// as an unknown opcode does (Request.isValid, UnimplementedRequestProcessor). Debian's
/// 3.8.0 closes the connection without a reply.
#[tokio::test]
async fn check_outside_multi() {
    async fn run(ctx: Ctx) -> Result<Value> {
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        let body = Jute::new().string("/").int(-1).into_bytes();
        let reply = reply_json(conn.call(3, op::CHECK, &body).await?);
        Ok(json!({"check": reply, "closed": conn.closed_within(CLOSE_WAIT).await}))
    }
    let zookeeper_38 = json!({"check": "closed", "closed": true});
    let zookeeper_39 = json!({"check": {"xid": 3, "err": -6, "body_len": 0}, "closed": true});
    intended_difference(
        pair(),
        "check_outside_multi",
        run,
        zookeeper_38,
        zookeeper_39,
    )
    .await;
}

async fn remove_watches_run(ctx: Ctx) -> Result<Value> {
    let ctx = &ctx;
    let (mut conn, _) = session_with_root(ctx).await?;
    let p = format!("{}/w", ctx.root);
    let q = format!("{}/r", ctx.root);
    let add = |path: &str, mode: i32| Jute::new().string(path).int(mode).into_bytes();
    let typed = |path: &str, ty: i32| Jute::new().string(path).int(ty).into_bytes();
    conn.call(2, op::ADD_WATCH, &add(&p, 0)).await?;
    conn.call(3, op::ADD_WATCH, &add(&q, 1)).await?;
    let mut out = serde_json::Map::new();
    let code = |reply: Option<raw::Reply>| reply.map(|r| json!(r.err)).unwrap_or(json!("closed"));
    let steps: [(&str, i32, &str, i32); 6] = [
        ("check_persistent", op::CHECK_WATCHES, &p, 4),
        ("remove_data", op::REMOVE_WATCHES, &p, 2),
        ("remove_persistent", op::REMOVE_WATCHES, &p, 4),
        ("remove_again", op::REMOVE_WATCHES, &p, 4),
        ("check_recursive", op::CHECK_WATCHES, &q, 5),
        ("remove_recursive", op::REMOVE_WATCHES, &q, 5),
    ];
    let mut closed = false;
    for (i, (name, opcode, path, ty)) in steps.into_iter().enumerate() {
        let reply = if closed {
            None
        } else {
            conn.call(10 + i as i32, opcode, &typed(path, ty)).await?
        };
        closed = reply.is_none();
        out.insert(name.to_string(), code(reply));
    }
    // After removal, changes under both paths must not notify this session.
    let mut events = 0;
    if !closed {
        let (mut other, _) = RawConn::session(ctx.addr).await?;
        other
            .call(1, op::CREATE, &raw::create_body(p.as_bytes(), b"", 0))
            .await?;
        other
            .call(2, op::CREATE, &raw::create_body(q.as_bytes(), b"", 0))
            .await?;
        conn.send_request(-2, op::PING, &[]).await?;
        while let Some(reply) = conn.read_reply(raw::REPLY_WAIT).await? {
            if reply.xid == -2 {
                break;
            }
            events += 1;
        }
    }
    out.insert("events_after".into(), json!(events));
    Ok(Value::Object(out))
}
