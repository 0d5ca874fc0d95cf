//! Differential test harness: the same scenario against Apache ZooKeeper 3.8 and Paddock.
//!
//! Map of the crate:
//! - [`server`]: generate a zoo.cfg, start/stop both servers (with a guard that stops them even
//!   when the test process dies), free ports, readiness via `srvr`.
//! - [`trace`]: what a scenario observed, normalised (zxids and times by rank, sessions by
//!   symbol) and compared.
//! - [`raw`]: a raw-socket protocol client for hostile and odd inputs.
//! - [`ensemble`]: ensembles of member processes with `server.N` configs, killed by pid and
//!   restarted on their data, on loopback or in namespaces.
//! - [`netns`]: network namespaces and veth links for ensemble tests, with cuts and heals.
//! - [`zkcli`]: running ZooKeeper's own `ZooKeeperMain` (zkCli.sh) and normalising its output.
//! - [`http`]: a minimal HTTP client for the AdminServer and `/metrics`.
//! - [`ops`]: the client activity the operations tests report on.
//! - this file: the scenario runner ([`compare`]) and JSON views of `zookeeper-client` results.
//!
//! Environment: `DIFFTEST_PRINT=1` (print each normalised reference trace), `PADDOCK_BIN` (else `<target>/debug/paddock`), `DIFFTEST_ONLY_ZK=1` (run the
//! scenarios on ZooKeeper alone to validate the harness), `ZOOKEEPER_JAVA_DIR` (jars, default
//! Debian's `/usr/share/java`), `JAVA`.

pub mod ensemble;
pub mod http;
pub mod netns;
pub mod ops;
pub mod raw;
pub mod server;
pub mod trace;
pub mod zkcli;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};
use zookeeper_client as zk;

pub use server::{only_zookeeper, ServerConfig, ServerKind, ServerPair, ServerProcess};
pub use trace::{assert_traces_eq, Trace};

/// How long a scenario waits for a watch event that must come.
pub const EVENT_WAIT: Duration = Duration::from_secs(10);

/// What a scenario gets: one server and a root path of its own.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The server's implementation.
    pub kind: ServerKind,
    /// `127.0.0.1:<port>`.
    pub connect: String,
    /// The client address.
    pub addr: SocketAddr,
    /// `/<scenario name>`, unique within one test binary's servers.
    pub root: String,
    /// The configuration the server runs with.
    pub config: ServerConfig,
}

impl Ctx {
    /// A connected client with the given session timeout.
    pub async fn client_with_timeout(&self, timeout: Duration) -> Result<zk::Client> {
        let client = zk::Client::connector()
            .with_session_timeout(timeout)
            .with_connection_timeout(Duration::from_secs(10))
            .connect(&self.connect)
            .await?;
        Ok(client)
    }

    /// A connected client with a 4 s session timeout (within the default 20-tick maximum).
    pub async fn client(&self) -> Result<zk::Client> {
        self.client_with_timeout(Duration::from_secs(4)).await
    }

    /// A connected client that has created the scenario's root node.
    pub async fn setup(&self) -> Result<zk::Client> {
        let client = self.client().await?;
        client
            .create(&self.root, b"", &persistent())
            .await
            .map_err(|err| anyhow::anyhow!("create root {}: {err}", self.root))?;
        Ok(client)
    }

    /// `<root>/<rel>`.
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }
}

/// Create options: persistent, open ACL.
pub fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Create options for `mode` with the open ACL.
pub fn mode(mode: zk::CreateMode) -> zk::CreateOptions<'static> {
    mode.with_acls(zk::Acls::anyone_all())
}

/// Runs `scenario` on ZooKeeper and (unless `DIFFTEST_ONLY_ZK=1`) on Paddock at the same time,
/// then checks the event zxids as each version defines them and compares the rest of the
/// normalised traces. Returns both raw traces (event zxids removed) for further assertions.
///
/// Notification zxids are an intended difference: ZooKeeper 3.8 sends -1, 3.9 sends the zxid
/// of the change that fired the watch (ZOOKEEPER-4655, apache/zookeeper commit 880f60641).
pub async fn compare<F, Fut>(pair: &ServerPair, name: &str, scenario: F) -> (Trace, Option<Trace>)
where
    F: Fn(Ctx) -> Fut,
    Fut: Future<Output = Result<Trace>>,
{
    let ctx = |server: &ServerProcess| Ctx {
        kind: server.kind(),
        connect: server.connect_string(),
        addr: server.addr(),
        root: format!("/{name}"),
        config: pair.config.clone(),
    };
    let zk_run = scenario(ctx(&pair.zookeeper));
    let pd_run = async {
        match &pair.paddock {
            Some(paddock) => Some(scenario(ctx(paddock)).await),
            None => None,
        }
    };
    let (zk_trace, pd_trace) = tokio::join!(zk_run, pd_run);
    let mut zk_trace = zk_trace.unwrap_or_else(|err| {
        panic!(
            "scenario {name} failed on ZooKeeper: {err:#}\nlog:\n{}",
            pair.zookeeper.log_tail()
        )
    });
    let zk_event_zxids = zk_trace.take_event_zxids();
    if std::env::var_os("DIFFTEST_PRINT").is_some() {
        eprintln!(
            "scenario {name} on ZooKeeper:\n{}",
            zk_trace.normalized().render()
        );
    }
    assert!(
        zk_event_zxids.iter().all(|&z| z == -1),
        "scenario {name}: ZooKeeper 3.8 should send event zxid -1, got {zk_event_zxids:?}"
    );
    let Some(pd_trace) = pd_trace else {
        return (zk_trace, None);
    };
    let mut pd_trace = pd_trace.unwrap_or_else(|err| {
        let log = pair
            .paddock
            .as_ref()
            .map(|p| p.log_tail())
            .unwrap_or_default();
        panic!("scenario {name} failed on Paddock: {err:#}\nlog:\n{log}")
    });
    let pd_event_zxids = pd_trace.take_event_zxids();
    assert!(
        pd_event_zxids.iter().all(|&z| z > 0),
        "scenario {name}: Paddock (3.9 semantics) should send the triggering zxid in events, got {pd_event_zxids:?}"
    );
    assert_traces_eq(name, &zk_trace, &pd_trace);
    (zk_trace, Some(pd_trace))
}

/// Runs a scenario whose result is an intended difference between ZooKeeper 3.8 (the
/// reference binary) and 3.9 (what Paddock follows): asserts that ZooKeeper gives
/// `zookeeper_38` (recorded for the record, so a changed reference is noticed) and Paddock
/// gives `zookeeper_39`. Each server gets the root `/<name>_<kind>`.
pub async fn intended_difference<F, Fut>(
    pair: &ServerPair,
    name: &str,
    scenario: F,
    zookeeper_38: Value,
    zookeeper_39: Value,
) where
    F: Fn(Ctx) -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    for server in pair.servers() {
        let ctx = Ctx {
            kind: server.kind(),
            connect: server.connect_string(),
            addr: server.addr(),
            root: format!("/{name}_{}", server.kind().name()),
            config: pair.config.clone(),
        };
        let observed = scenario(ctx)
            .await
            .unwrap_or_else(|err| panic!("{name} failed on {}: {err:#}", server.kind().name()));
        let expected = match server.kind() {
            ServerKind::ZooKeeper => &zookeeper_38,
            ServerKind::Paddock => &zookeeper_39,
        };
        assert_eq!(&observed, expected, "{name} on {}", server.kind().name());
    }
}

/// JSON view of a `Stat`, with the key names the normaliser knows.
pub fn stat_json(stat: &zk::Stat) -> Value {
    json!({
        "czxid": stat.czxid,
        "mzxid": stat.mzxid,
        "ctime": stat.ctime,
        "mtime": stat.mtime,
        "version": stat.version,
        "cversion": stat.cversion,
        "aversion": stat.aversion,
        "ephemeral_owner": stat.ephemeral_owner,
        "data_length": stat.data_length,
        "num_children": stat.num_children,
        "pzxid": stat.pzxid,
    })
}

/// JSON view of a client error: its variant, which maps one-to-one to a wire error code.
pub fn err_json(err: &zk::Error) -> Value {
    json!({ "err": format!("{err:?}") })
}

/// `{"ok": view(value)}` or `{"err": ...}`.
pub fn res_json<T, E: Into<zk::Error>>(
    result: Result<T, E>,
    view: impl FnOnce(T) -> Value,
) -> Value {
    match result {
        Ok(value) => json!({ "ok": view(value) }),
        Err(err) => err_json(&err.into()),
    }
}

/// JSON view of a watch event. The zxid goes under [`trace::EVENT_ZXID_KEY`] for
/// [`compare`] to check separately.
pub fn event_json(event: &zk::WatchedEvent) -> Value {
    json!({
        "type": format!("{:?}", event.event_type),
        "state": format!("{:?}", event.session_state),
        "path": event.path,
        trace::EVENT_ZXID_KEY: event.zxid,
    })
}

/// Waits for the next event of a persistent watcher, at most [`EVENT_WAIT`].
pub async fn next_persistent(watcher: &mut zk::PersistentWatcher) -> Result<zk::WatchedEvent> {
    tokio::time::timeout(EVENT_WAIT, watcher.changed())
        .await
        .map_err(|_| anyhow::anyhow!("no watch event within {EVENT_WAIT:?}"))
}

/// Waits for a one-shot watcher to fire, at most [`EVENT_WAIT`].
pub async fn oneshot(watcher: zk::OneshotWatcher) -> Result<zk::WatchedEvent> {
    tokio::time::timeout(EVENT_WAIT, watcher.changed())
        .await
        .map_err(|_| anyhow::anyhow!("no watch event within {EVENT_WAIT:?}"))
}

/// Collects the events a persistent watcher received before `barrier` fired. The barrier is
/// a one-shot watch on the same session set on a node outside the watched tree and triggered
/// by the scenario's last write: the server delivers events in zxid order on a connection and
/// the client library dispatches them in that order, so once the barrier has fired every
/// earlier event is already queued and anything missing was never sent.
pub async fn events_before(
    watcher: &mut zk::PersistentWatcher,
    barrier: zk::OneshotWatcher,
) -> Result<Vec<Value>> {
    oneshot(barrier).await?;
    let mut events = Vec::new();
    // Draining an already-filled queue: each wait returns at once; the last one finds it empty.
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(100), watcher.changed()).await
    {
        events.push(event_json(&event));
    }
    Ok(events)
}

/// Polls `probe` until it returns `Some`, at most `wait`; for conditions that depend on the
/// passage of time (session expiry, TTL and container sweeps).
pub async fn eventually<T, F, Fut>(wait: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("condition not met within {wait:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
