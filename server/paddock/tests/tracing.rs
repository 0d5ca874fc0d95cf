//! OpenTelemetry traces, checked with the SDK's in-memory exporter: a span per client request
//! with its session, opcode, path and zxid; the proposal of a write linked to the request that
//! caused it, and its commit inside the proposal; on a standalone server and on the leader of a
//! 3-member ensemble running in this process.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{four_letter_word, loopback_members, Client};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use paddock::config::ServerConfig;
use paddock::Server;
use paddock_jute::proto::{CreateRequest, PathWatchRequest, Request};
use paddock_jute::{Acl, Id};
use tokio::sync::oneshot;
use tracing_subscriber::layer::SubscriberExt;

/// The exporter every test of this binary reads (the subscriber is process-wide, since the
/// server's tasks run on the runtime's threads).
fn exporter() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = paddock::logging::trace_layer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        (exporter, provider)
    })
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(b"v".to_vec()),
        acl: vec![Acl {
            perms: 31,
            id: Id::new("world", "anyone"),
        }],
        flags: 0,
    })
}

/// Waits for the spans whose `path` or `zxid` attributes concern `path`'s write to finish.
async fn spans_for(path: &str, want: impl Fn(&[SpanData]) -> bool) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = exporter().1.force_flush();
        let all = exporter().0.get_finished_spans().expect("spans");
        let request = all
            .iter()
            .find(|s| s.name == "request" && attr(s, "path") == Some(Value::from(path.to_owned())));
        if let Some(request) = request {
            let zxid = attr(request, "zxid");
            let related: Vec<SpanData> = all
                .iter()
                .filter(|s| {
                    s.span_context == request.span_context
                        || (s.name != "request" && zxid.is_some() && attr(s, "zxid") == zxid)
                })
                .cloned()
                .collect();
            if want(&related) {
                return related;
            }
        }
        assert!(Instant::now() < deadline, "spans for {path} did not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a proposal and a commit inside it have both finished.
fn has_commit_in_proposal(spans: &[SpanData]) -> bool {
    spans.iter().any(|p| {
        p.name == "proposal"
            && spans
                .iter()
                .any(|c| c.name == "commit" && c.parent_span_id == p.span_context.span_id())
    })
}

/// Checks the request, proposal and commit spans of one write.
fn check_write_spans(spans: &[SpanData], session: i64, path: &str) {
    let request = spans.iter().find(|s| s.name == "request").expect("request");
    assert_eq!(
        attr(request, "session"),
        Some(Value::from(format!("0x{session:x}")))
    );
    assert_eq!(
        attr(request, "opcode"),
        Some(Value::from("Create".to_owned()))
    );
    assert_eq!(attr(request, "path"), Some(Value::from(path.to_owned())));
    let Some(Value::I64(zxid)) = attr(request, "zxid") else {
        panic!("the request span has no zxid: {request:?}");
    };
    assert!(zxid > 0);
    let proposal = spans
        .iter()
        .find(|s| s.name == "proposal")
        .expect("proposal");
    assert_eq!(attr(proposal, "zxid"), Some(Value::I64(zxid)));
    assert!(
        proposal
            .links
            .iter()
            .any(|l| l.span_context == request.span_context),
        "the proposal is linked to the request that caused it: {proposal:?}"
    );
    // Learners of an ensemble (in this process too) trace their commits without a parent.
    assert!(
        spans
            .iter()
            .any(|s| s.name == "commit" && s.parent_span_id == proposal.span_context.span_id()),
        "the commit runs inside the proposal: {spans:?}"
    );
}

async fn run(cfg: ServerConfig) -> (SocketAddr, oneshot::Sender<()>) {
    let server = Server::bind(cfg).await.expect("binds");
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_write_traces_request_proposal_and_commit() {
    exporter();
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServerConfig {
        client_port: 0,
        data_dir: dir.path().to_owned(),
        data_log_dir: dir.path().to_owned(),
        admin_enable_server: false,
        ..ServerConfig::default()
    };
    let (addr, stop) = run(cfg).await;
    let mut c = Client::connect(addr).await.unwrap();
    c.call(create("/traced")).await.unwrap();
    let read = Request::GetData(PathWatchRequest {
        path: "/traced".into(),
        watch: false,
    });
    c.call(read).await.unwrap();
    let spans = spans_for("/traced", has_commit_in_proposal).await;
    check_write_spans(&spans, c.session_id, "/traced");
    let all = exporter().0.get_finished_spans().unwrap();
    assert!(
        all.iter()
            .any(|s| s.name == "request"
                && attr(s, "opcode") == Some(Value::from("GetData".to_owned()))),
        "reads are traced too"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_of_an_ensemble_traces_its_proposals() {
    exporter();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let lines = loopback_members(3);
    let mut members = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        std::fs::write(dir.path().join("myid"), format!("{}\n", i + 1)).unwrap();
        let cfg = ServerConfig {
            client_port: 0,
            tick_ms: 200,
            data_dir: dir.path().to_owned(),
            data_log_dir: dir.path().to_owned(),
            admin_enable_server: false,
            servers: lines.clone(),
            server_id: Some(i as u64 + 1),
            init_limit: Some(10),
            sync_limit: Some(5),
            ..ServerConfig::default()
        };
        members.push(run(cfg).await);
    }
    // Find the leader: the member whose srvr says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        let mut found = None;
        for (addr, _) in &members {
            if four_letter_word(*addr, "srvr")
                .await
                .contains("Mode: leader")
            {
                found = Some(*addr);
            }
        }
        if let Some(addr) = found {
            break addr;
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut c = Client::connect(leader).await.unwrap();
    c.call(create("/traced-ensemble")).await.unwrap();
    let spans = spans_for("/traced-ensemble", has_commit_in_proposal).await;
    check_write_spans(&spans, c.session_id, "/traced-ensemble");
    for (_, stop) in members {
        let _ = stop.send(());
    }
}
