//! The Prometheus endpoint of a running server: ZooKeeper's metric names and types
//! (`tests/data/zookeeper-3.8-metric-names.txt`, read from the 3.8.0 sources; Debian's
//! ZooKeeper has no Prometheus provider jar to compare a live scrape against), values that
//! move with client activity, and `promtool check metrics` finding nothing but the naming
//! lints ZooKeeper's own names trigger.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::{post_authorized, Client};
use paddock::config::ServerConfig;
use paddock::Server;
use paddock_jute::proto::{CreateRequest, PathWatchRequest, Request};
use paddock_jute::Acl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const DEADLINE: Duration = Duration::from_secs(20);

struct Running {
    addr: SocketAddr,
    metrics: SocketAddr,
    admin: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("stops within the deadline")
            .expect("the server task does not panic");
    }
}

/// A server with the Prometheus endpoint (and, if asked, the AdminServer) on free loopback
/// ports.
async fn start(admin: bool) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = ServerConfig {
        client_port: 0,
        data_dir: dir.path().to_owned(),
        data_log_dir: dir.path().to_owned(),
        metrics_provider_class: Some(paddock::config::PROMETHEUS_PROVIDER.to_owned()),
        metrics_http_host: "127.0.0.1".into(),
        metrics_http_port: 0,
        admin_enable_server: admin,
        admin_server_port: 0,
        pre_alloc_size_kb: 64,
        ..ServerConfig::default()
    };
    let server = Server::bind(cfg).await.expect("server binds");
    let addr = server.local_addr();
    let metrics = server.metrics_addr().expect("metrics enabled");
    let admin = server.admin_addr();
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
        metrics,
        admin,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

/// One HTTP request; returns the status and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.expect("read");
        raw
    };
    let raw = tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("answered");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = raw.split_once("\r\n\r\n").map(|b| b.1).unwrap_or("");
    (status, body.to_owned())
}

/// The exposition as families (name -> TYPE) and samples (series -> value).
struct Scrape {
    text: String,
    types: BTreeMap<String, String>,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn value(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no sample {series}"))
    }
}

async fn scrape(server: &Running) -> Scrape {
    let (status, text) = http(server.metrics, "GET", "/metrics", "").await;
    assert_eq!(status, 200);
    let mut types = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("TYPE line");
            types.insert(name.to_owned(), ty.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value = if value == "NaN" {
                f64::NAN
            } else {
                value.parse().expect("number")
            };
            samples.insert(series.to_owned(), value);
        }
    }
    Scrape {
        text,
        types,
        samples,
    }
}

fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `name type scope` rows of ZooKeeper 3.8's metric list.
fn zookeeper_metrics() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(data_file("zookeeper-3.8-metric-names.txt")).expect("names");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(b"v".to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

/// Every metric a standalone ZooKeeper 3.8 registers, by its name and Prometheus type
/// (`ZooKeeperServer.registerMetrics`, `ServerMetrics`); the quorum and leader gauges are
/// absent, as they are from a standalone ZooKeeper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_has_every_standalone_zookeeper_metric_with_its_type() {
    let server = start(false).await;
    let s = scrape(&server).await;
    for (name, ty, scope) in zookeeper_metrics() {
        match scope.as_str() {
            "all" | "labelled(key)" => {
                assert_eq!(s.types.get(&name), Some(&ty), "{name}: type");
            }
            _ => assert!(!s.types.contains_key(&name), "{name} is {scope}-only"),
        }
    }
    // Summaries: median for BASIC, 0.5/0.9/0.99 for ADVANCED, with _sum and _count.
    for series in [
        "fsynctime{quantile=\"0.5\"}",
        "fsynctime_count",
        "readlatency{quantile=\"0.99\"}",
        "updatelatency_sum",
    ] {
        assert!(s.samples.contains_key(series), "missing {series}");
    }
    assert!(!s.samples.contains_key("fsynctime{quantile=\"0.9\"}"));
    // Paddock's own, with HELP text.
    for name in [
        "paddock_fsync_duration_seconds",
        "paddock_snapshot_duration_seconds",
        "paddock_request_duration_seconds",
        "paddock_process_resident_memory_bytes",
        "paddock_log_memory_bytes",
        "paddock_log_batches_total",
        "paddock_build_info",
    ] {
        assert!(s.types.contains_key(name), "{name}");
        assert!(
            s.text
                .lines()
                .any(|l| l.starts_with(&format!("# HELP {name} ")) && l.len() > name.len() + 10),
            "{name} has HELP text"
        );
    }
    assert!(s.value("paddock_process_resident_memory_bytes") > 0.0);
    assert_eq!(s.value("paddock_log_memory_bytes"), 0.0, "standalone");
    server.stop().await;
}

/// Values follow what clients do: znodes, connections, packets, read and update latency
/// summaries, fsyncs, bytes received (`ServerStats.updateLatency`, `FileTxnLog.commit`,
/// `ServerCnxn.packetReceived`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_move_with_client_activity() {
    let server = start(false).await;
    let before = scrape(&server).await;
    let mut client = Client::connect(server.addr).await.expect("session");
    for i in 0..5 {
        let reply = client
            .call(create(&format!("/m{i}")))
            .await
            .expect("create");
        assert_eq!(reply.err, 0);
    }
    for _ in 0..3 {
        let get = Request::GetData(PathWatchRequest {
            path: "/m0".into(),
            watch: false,
        });
        assert_eq!(client.call(get).await.expect("get").err, 0);
    }
    let after = scrape(&server).await;
    let delta = |series: &str| after.value(series) - before.value(series);
    assert_eq!(delta("znode_count"), 5.0);
    assert_eq!(after.value("num_alive_connections"), 1.0);
    assert_eq!(after.value("global_sessions"), 1.0);
    // createSession and five creates are updates; three getData are reads.
    assert_eq!(delta("updatelatency_count"), 6.0);
    assert_eq!(delta("readlatency_count"), 3.0);
    assert_eq!(delta("packets_received"), 9.0);
    assert_eq!(delta("packets_sent"), 9.0);
    assert!(delta("fsynctime_count") >= 1.0, "fsyncs are timed");
    assert!(delta("bytes_received_count") > 0.0);
    assert!(delta("approximate_data_size") >= 5.0 * 4.0);
    assert_eq!(
        delta("paddock_request_duration_seconds_count{type=\"update\"}"),
        6.0
    );
    assert!(delta("paddock_fsync_duration_seconds_count") >= 1.0);
    drop(client);
    server.stop().await;
}

/// `LONE_WRITES` creates one after another from one session; returns how many log batches
/// the log thread and the core task wrote meanwhile.
async fn lone_writer_batches() -> (f64, f64) {
    const LONE_WRITES: usize = 24;
    let server = start(false).await;
    let mut client = Client::connect(server.addr).await.expect("session");
    let before = scrape(&server).await;
    for i in 0..LONE_WRITES {
        let reply = client
            .call(create(&format!("/lone{i}")))
            .await
            .expect("create");
        assert_eq!(reply.err, 0);
    }
    let after = scrape(&server).await;
    let delta = |writer: &str| {
        let series = format!("paddock_log_batches_total{{writer=\"{writer}\"}}");
        after.value(&series) - before.value(&series)
    };
    let (thread, core) = (delta("thread"), delta("core"));
    assert_eq!(
        thread + core,
        LONE_WRITES as f64,
        "one batch per write of a lone writer"
    );
    drop(client);
    server.stop().await;
    (thread, core)
}

/// A lone writer's log is written by the core task itself once eight fsyncs in a row saw
/// nothing arrive, which saves two thread hand-offs per write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_writer_is_logged_by_the_core_task() {
    let (thread, core) = lone_writer_batches().await;
    assert!(
        core >= 8.0,
        "core task wrote {core} batches, the thread {thread}"
    );
}

/// With one runtime worker the core task never writes the log itself: its fsync would hold
/// the only worker, no connection would be read meanwhile, and concurrent writers would each
/// get an fsync of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn with_one_runtime_worker_the_log_thread_writes_every_batch() {
    let (thread, core) = lone_writer_batches().await;
    assert_eq!(core, 0.0, "the thread wrote {thread} batches");
}

/// The lints promtool raises on ZooKeeper's own names, which stay as ZooKeeper spells them
/// because dashboards and alert rules query them.
const ZOOKEEPER_NAMING_LINTS: [&str; 3] = [
    "counter metrics should have \"_total\" suffix",
    "non-histogram and non-summary metrics should not have \"_count\" suffix",
    "metric names should not contain abbreviated units",
];

/// `promtool check metrics` (Debian's prometheus package) parses the exposition and finds
/// nothing beyond the naming lints of ZooKeeper's names; Paddock's own names trigger none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_finds_only_zookeepers_naming_lints() {
    let server = start(false).await;
    let s = scrape(&server).await;
    server.stop().await;
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {promtool} ({e}); scripts/install-test-deps.sh installs it")
        });
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(s.text.as_bytes())
            .expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool runs");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let zookeeper: BTreeSet<String> = zookeeper_metrics().into_iter().map(|m| m.0).collect();
    let mut lints = 0;
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let (name, problem) = line.split_once(' ').unwrap_or((line, ""));
        assert!(
            zookeeper.contains(name) && ZOOKEEPER_NAMING_LINTS.contains(&problem),
            "unexpected promtool finding: {line}"
        );
        lints += 1;
    }
    // 47 counters without _total, 25 names ending in _count, 15 with _ms: if ZooKeeper's
    // names change, this count tells.
    assert_eq!(lints, 87, "promtool report:\n{report}");
}

/// Every name dashboard 10465 queries is exported, except the ones only an ensemble or a
/// JVM has (listed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_10465_finds_its_standalone_series() {
    let server = start(false).await;
    let s = scrape(&server).await;
    server.stop().await;
    // Leader-only gauges, and summaries ZooKeeper exports with a `key` label that only an
    // ensemble fills in (ack_latency, learner_handler_qp_*).
    const QUORUM_ONLY: &[&str] = &[
        "ack_latency_sum",
        "last_proposal_size",
        "leader_uptime",
        "learner_handler_qp_size_sum",
        "learner_handler_qp_time_ms_sum",
        "learners",
        "max_proposal_size",
        "min_proposal_size",
        "pending_syncs",
        "quorum_size",
        "synced_followers",
        "synced_non_voting_followers",
        "synced_observers",
    ];
    // Per-namespace sets Paddock does not fill yet.
    const NOT_YET: &[&str] = &["read_per_namespace_sum", "write_per_namespace_sum"];
    let text =
        std::fs::read_to_string(data_file("dashboard-10465-metric-names.txt")).expect("names");
    let series: BTreeSet<&str> = s
        .samples
        .keys()
        .map(|k| k.split('{').next().unwrap_or(k))
        .collect();
    let mut missing = Vec::new();
    for name in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        if !series.contains(name) && !QUORUM_ONLY.contains(&name) && !NOT_YET.contains(&name) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "dashboard series missing: {missing:?}");
}

/// The admin port's probes and runtime log filter (Paddock's own endpoints).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_probes_and_log_level() {
    let server = start(true).await;
    let admin = server.admin.expect("admin enabled");
    assert_eq!(
        http(admin, "GET", "/healthz", "").await,
        (200, "ok\n".into())
    );
    assert_eq!(
        http(admin, "GET", "/readyz", "").await,
        (200, "ok\n".into())
    );
    let (status, body) = http(admin, "GET", "/commands/ruok", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"command\" : \"ruok\""), "{body}");
    // The process-wide subscriber of this test binary, as `main` installs it.
    paddock::logging::init(paddock::config::LogFormat::Json, None);
    let (status, _) = http(admin, "PUT", "/log_level", "warn,paddock=debug").await;
    assert_eq!(status, 200);
    assert_eq!(
        http(admin, "GET", "/log_level", "").await,
        (200, "warn,paddock=debug\n".into())
    );
    let (status, body) = http(admin, "PUT", "/log_level", "paddock=loud").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        http(admin, "GET", "/log_level", "").await,
        (200, "warn,paddock=debug\n".into()),
        "a refused filter changes nothing"
    );
    server.stop().await;
}

/// Before the server serves (while its data directory loads), liveness answers, readiness
/// does not, commands answer ZooKeeper's "not currently serving" error and `/metrics` is
/// unavailable (`CommandBase` with `serverRequired`, `AbstractFourLetterCommand.ZK_NOT_SERVING`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ports_answer_before_the_server_serves() {
    use paddock::http::HttpState;
    let state = std::sync::Arc::new(HttpState::new("/commands"));
    let mut addrs = Vec::new();
    for router in [
        paddock::admin::router(state.clone()),
        paddock::exporter::router(state.clone()),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addrs.push(listener.local_addr().expect("addr"));
        tokio::spawn(paddock::http::serve(listener, router, "test"));
    }
    let (admin, metrics) = (addrs[0], addrs[1]);
    assert_eq!(http(admin, "GET", "/healthz", "").await.0, 200);
    assert_eq!(http(admin, "GET", "/readyz", "").await.0, 503);
    let (status, body) = http(admin, "GET", "/commands/stats", "").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("\"error\" : \"This ZooKeeper instance is not currently serving requests\""),
        "{body}"
    );
    assert_eq!(http(metrics, "GET", "/metrics", "").await.0, 503);
}

/// An HTTP client that keeps its connection open does not keep the server from shutting
/// down: handlers hold the server only weakly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_http_connection_does_not_block_shutdown() {
    let server = start(true).await;
    let admin = server.admin.expect("admin enabled");
    let mut kept = TcpStream::connect(admin).await.expect("connect");
    kept.write_all(b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(DEADLINE, kept.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "keep-alive answer");
    // `stop` fails the test if the server does not stop within the deadline.
    server.stop().await;
    drop(kept);
}

/// One GET with an optional `Authorization` header: (status, headers, body bytes).
async fn get_authorized(
    addr: SocketAddr,
    path: &str,
    auth: Option<&str>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .expect("answered")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = (lines.next().expect("status line").split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

/// ZooKeeper 3.9's `snapshot` command: ALL on `/` for the identity in the `Authorization`
/// header, one per 300 ms, the snapshot streamed with `last_zxid` and `snapshot_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_restore_serve_an_authorized_caller() {
    let server = start(true).await;
    let admin = server.admin.expect("admin enabled");
    let mut client = Client::connect(server.addr).await.expect("session");
    for i in 0..5 {
        client
            .call(create(&format!("/snap{i}")))
            .await
            .expect("create");
    }
    let (status, _, body) = get_authorized(admin, "/commands/snapshot", None).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = get_authorized(admin, "/commands/snapshot", Some("nosuch x")).await;
    assert_eq!(status, 401, "an unknown scheme does not authenticate");
    // The root's default ACL (world:anyone ALL) grants ALL to any authenticated caller.
    let (status, headers, body) =
        get_authorized(admin, "/commands/snap", Some("digest bob:secret")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
    };
    assert_eq!(header("snapshot_size"), body.len().to_string());
    let zxid = i64::from_str_radix(header("last_zxid").trim_start_matches("0x"), 16).unwrap();
    assert_eq!(zxid, 6, "one session and five creates");
    assert_eq!(&body[..4], b"ZKSN", "a ZooKeeper snapshot file");
    let snap = body.clone();
    // RateLimiter(1, 300 ms).
    let (status, _, _) =
        get_authorized(admin, "/commands/snapshot", Some("digest bob:secret")).await;
    assert_eq!(status, 429);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, headers, body) = get_authorized(
        admin,
        "/commands/snapshot?streaming=false",
        Some("digest bob:secret"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty(), "streaming=false sends the headers only");
    assert!(headers.iter().any(|(k, _)| k == "last_zxid"));
    // Only alice may now do everything on `/`: bob is authenticated but not authorized.
    let alice = paddock_core::acl::digest("alice:pw");
    let acl = vec![Acl {
        perms: 31,
        id: paddock_jute::Id::new("digest", &alice),
    }];
    let set = Request::SetAcl(paddock_jute::proto::SetAclRequest {
        path: "/".into(),
        acl,
        version: -1,
    });
    client.call(set).await.expect("setAcl");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, _, _) =
        get_authorized(admin, "/commands/snapshot", Some("digest bob:secret")).await;
    assert_eq!(status, 403);
    let (status, _, body) =
        get_authorized(admin, "/commands/snapshot", Some("digest alice:pw")).await;
    assert_eq!(status, 200);
    assert_eq!(&body[..4], b"ZKSN");

    // restore (3.9): the snapshot taken at zxid 6 replaces what came after it.
    client.call(create("/after-backup")).await.expect("create");
    let (status, reply) =
        post_authorized(admin, "/commands/restore", "digest bob:secret", &snap).await;
    assert_eq!(status, 403, "bob is not authorized on / any more: {reply}");
    let (status, reply) = post_authorized(admin, "/commands/rest", "digest alice:pw", &snap).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("\"last_zxid\" : 6"), "{reply}");
    // The old files went aside; no staging file or directory is left in the data dir.
    let left: Vec<String> = std::fs::read_dir(server._dir.path())
        .expect("list the data dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("before-restore-"))
        .collect();
    assert_eq!(
        left,
        ["version-2"],
        "restore leaves only version-2 beside the old files"
    );
    let mut fresh = Client::connect(server.addr).await.expect("a new session");
    for i in 0..5 {
        assert!(fresh
            .get_data(&format!("/snap{i}"))
            .await
            .expect("read")
            .is_some());
    }
    assert!(
        fresh
            .get_data("/after-backup")
            .await
            .expect("read")
            .is_none(),
        "the restored tree is the snapshot's"
    );
    let (status, _) = post_authorized(admin, "/commands/restore", "digest alice:pw", &snap).await;
    assert_eq!(status, 429, "one restore per 5 minutes");
    server.stop().await;
}
