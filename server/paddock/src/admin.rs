//! The AdminServer (`server/admin/JettyAdminServer.java`, `Commands.java`): HTTP on
//! `admin.serverAddress:admin.serverPort`, `GET <admin.commandURL>/<name>` answering JSON
//! objects with ZooKeeper's command names, aliases, keys and key order, and
//! `<admin.commandURL>` listing the commands. Beside them, Paddock's own: `/healthz`
//! (liveness: the process answers) and `/readyz` (readiness: the server serves clients and,
//! in an ensemble, is in a quorum) for Kubernetes probes, and `/log_level` (GET the log
//! filter, PUT a new one).
//!
//! Quorum commands (`leader`, `voting_view`, `zabstate`, `observers`, `is_read_only`) answer
//! from the member's ZAB state, or as a standalone ZooKeeper does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::core_task::{inspect, inspect_within, CoreView, CORE_WAIT};
use crate::fourlw::{self, SERVER_STATE, VERSION_LINE};
use crate::http::HttpState;
use crate::metrics::{Gauges, Kind, ServerMetrics, LAYOUT};
use crate::server::Shared;
use crate::stats::ConnStats;

/// A JSON value whose objects keep their keys in insertion order, as ZooKeeper's
/// `LinkedHashMap`s do (serde_json's default map sorts its keys).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Leaf(Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn obj() -> Json {
        Json::Object(Vec::new())
    }

    /// Adds `key` (or replaces its value, keeping its place, as `LinkedHashMap.put` does).
    fn put(&mut self, key: &str, value: impl Into<Json>) {
        if let Json::Object(entries) = self {
            let value = value.into();
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key.to_owned(), value)),
            }
        }
    }

    fn has(&self, key: &str) -> bool {
        matches!(self, Json::Object(e) if e.iter().any(|(k, _)| k == key))
    }

    /// Indented text as Jackson's default pretty printer writes it, which is what
    /// ZooKeeper's AdminServer sends.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth + 1);
        let close = "  ".repeat(depth);
        match self {
            Json::Leaf(v) => out.push_str(&v.to_string()),
            Json::Array(items) if items.is_empty() => out.push_str("[ ]"),
            Json::Object(entries) if entries.is_empty() => out.push_str("{ }"),
            // Jackson's DefaultPrettyPrinter keeps array items on one line: `[ 1, 2 ]`,
            // `[ {` ... `}, {` ... `} ]`.
            Json::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push_str(" ]");
            }
            Json::Object(entries) => {
                out.push_str("{\n");
                for (i, (key, value)) in entries.iter().enumerate() {
                    let _ = write!(out, "{pad}{} : ", Value::from(key.as_str()));
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
                }
                let _ = write!(out, "{close}}}");
            }
        }
    }

    /// The same value as a `serde_json::Value` (key order lost), for tests and callers that
    /// only read it.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Leaf(v) => v.clone(),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl<T: Into<Value>> From<T> for Json {
    fn from(v: T) -> Json {
        Json::Leaf(v.into())
    }
}

/// Every command: its primary name, then its aliases (`Commands.java`, 3.8).
pub const COMMANDS: &[&[&str]] = &[
    &["configuration", "conf", "config"],
    &["connection_stat_reset", "crst"],
    &["connections", "cons"],
    &["dirs"],
    &["dump"],
    &["environment", "env", "envi"],
    &["get_trace_mask", "gtmk"],
    &["hash"],
    &["initial_configuration", "icfg"],
    &["is_read_only", "isro"],
    &["last_snapshot", "lsnp"],
    &["leader", "lead"],
    &["monitor", "mntr"],
    &["observer_connection_stat_reset", "orst"],
    &["observers", "obsr"],
    &["ruok"],
    &["server_stats", "srvr"],
    &["set_trace_mask", "stmk"],
    &["stat_reset", "srst"],
    &["stats", "stat"],
    &["system_properties", "sysp"],
    &["voting_view"],
    &["watch_summary", "wchs"],
    &["watches", "wchc"],
    &["watches_by_path", "wchp"],
    &["zabstate"],
    // ZooKeeper 3.9 (ZOOKEEPER-4570): intended differences from 3.8.
    &["snapshot", "snap"],
    &["restore", "rest"],
];

/// The primary name of `name` (itself or an alias).
pub fn primary_name(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|names| names.contains(&name))
        .map(|names| names[0])
}

/// The router of the admin port.
pub fn router(state: Arc<HttpState>) -> Router {
    let base = state.admin_command_url.trim_end_matches('/').to_owned();
    let base = if base.is_empty() {
        "/".to_owned()
    } else {
        base
    };
    let mut router = Router::new()
        .route("/healthz", get(liveness))
        .route("/readyz", get(readiness))
        .route("/log_level", get(log_level).put(set_log_level))
        .route(
            &format!("{}/{{name}}", base.trim_end_matches('/')),
            get(command)
                .post(command_post)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_RESTORE_BYTES)),
        );
    router = router.route(&base, get(listing));
    if base != "/" {
        router = router.route(&format!("{base}/"), get(listing));
    }
    router.with_state(state)
}

/// `JettyAdminServer.commandLinks`: one link per primary name, sorted.
async fn listing(State(state): State<Arc<HttpState>>) -> Response {
    let base = state.admin_command_url.trim_end_matches('/');
    let mut names: Vec<&str> = COMMANDS.iter().map(|n| n[0]).collect();
    names.sort_unstable();
    let mut body = String::new();
    for name in names {
        let _ = writeln!(body, "<a href=\"{base}/{name}\">{name}</a>\n<br/>");
    }
    ([(CONTENT_TYPE, "text/html;charset=utf-8")], body).into_response()
}

/// Liveness: the process answers HTTP, also while it recovers its data directory (a large
/// snapshot must not get the pod restarted in a loop).
async fn liveness() -> &'static str {
    "ok\n"
}

/// Readiness: recovery is done and the core task answers, so client requests are served. The
/// ensemble will add "and this server is in a quorum".
async fn readiness(State(state): State<Arc<HttpState>>) -> Response {
    // Ready: the core answers and, for an ensemble member, it is in a quorum (leading an
    // established one or synchronised with its leader; read-only mode is not ready).
    let answered = match state.serving() {
        Some(shared) => {
            inspect_within(&shared.core, |v| {
                v.quorum.as_ref().is_none_or(|q| q.serving)
            })
            .await
        }
        None => None,
    };
    match answered {
        Some(true) => (StatusCode::OK, "ok\n").into_response(),
        Some(false) => (StatusCode::SERVICE_UNAVAILABLE, "not in a quorum\n").into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "not serving\n").into_response(),
    }
}

/// The log filter in force (Paddock's own endpoint, not ZooKeeper's).
async fn log_level() -> Response {
    match crate::logging::current_filter() {
        Some(filter) => (StatusCode::OK, format!("{filter}\n")).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "logging is not managed by this process\n",
        )
            .into_response(),
    }
}

/// Replaces the log filter with the request body (`EnvFilter` syntax, e.g. `debug` or
/// `info,paddock=trace`).
async fn set_log_level(body: String) -> Response {
    match crate::logging::set_filter(body.trim()) {
        Ok(()) => (StatusCode::OK, format!("{}\n", body.trim())).into_response(),
        Err(e @ crate::logging::LogError::BadFilter { .. }) => {
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    }
}

async fn command(
    State(state): State<Arc<HttpState>>,
    Path(name): Path<String>,
    Query(args): Query<BTreeMap<String, String>>,
    ConnectInfo(crate::http::PeerAddr(peer)): ConnectInfo<crate::http::PeerAddr>,
    headers: HeaderMap,
) -> Response {
    if let (Some("snapshot"), Some(shared)) = (primary_name(&name), state.serving()) {
        let auth = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        return snapshot(&shared, auth, peer, &args).await;
    }
    let body = match (primary_name(&name), state.serving()) {
        // The read commands wait on the core for at most CORE_WAIT, then answer as a server
        // that is not running.
        (Some(primary), Some(shared)) => {
            match tokio::time::timeout(CORE_WAIT, run(primary, &args, &shared)).await {
                Ok(mut response) => {
                    finish(&mut response, primary, None);
                    response
                }
                Err(_) => not_running(primary),
            }
        }
        (Some(primary), None) => not_running(primary),
        // `Commands.runCommand` answers an unknown name with an error, status 200.
        (None, _) => {
            let mut response = Json::obj();
            finish(
                &mut response,
                &name,
                Some(format!("Unknown command: {name}")),
            );
            response
        }
    };
    ([(CONTENT_TYPE, "application/json")], body.render()).into_response()
}

/// ZooKeeper 3.9's `SnapshotCommand` (`GET <url>/snapshot`, alias `snap`): writes a snapshot
/// of the tree as it stands and streams it (unless `streaming=false`), with the headers
/// `last_zxid` and `snapshot_size`. It needs ALL on `/` for the identity in the
/// `Authorization: <scheme> [<auth>]` header (401 without one or for bad credentials, 403
/// without the rights) and is rate limited to one per 300 ms (429), as in ZooKeeper.
async fn snapshot(
    shared: &Arc<Shared>,
    auth: Option<String>,
    peer: std::net::SocketAddr,
    args: &BTreeMap<String, String>,
) -> Response {
    let fail = |status: StatusCode, error: &str| {
        let mut r = Json::obj();
        finish(&mut r, "snapshot", Some(error.to_owned()));
        (status, [(CONTENT_TYPE, "application/json")], r.render()).into_response()
    };
    if let Err((status, error)) = authorize(shared, auth.as_deref(), peer).await {
        return fail(status, error);
    }
    let taken = inspect(&shared.core, move |v| {
        if !SNAPSHOT_LIMIT.allow() {
            return None;
        }
        let zxid = v.state.last_zxid();
        Some(crate::persist::write_snapshot_now(v.storage, v.state).map(|p| (p, zxid)))
    })
    .await;
    let written = match taken {
        None => return fail(StatusCode::OK, fourlw::ZK_NOT_SERVING),
        Some(None) => {
            tracing::warn!("snapshot request was rate limited");
            return fail(StatusCode::TOO_MANY_REQUESTS, "rate limited");
        }
        Some(Some(written)) => written,
    };
    let (path, zxid) = match written {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("the snapshot command failed: {e}");
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "snapshot failed");
        }
    };
    let data = match tokio::fs::read(&path).await {
        Ok(data) => data,
        Err(e) => {
            tracing::warn!("reading back {}: {e}", path.display());
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "snapshot failed");
        }
    };
    let streaming = args
        .get("streaming")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let headers = [
        ("last_zxid", format!("0x{:x}", zxid as u64)),
        ("snapshot_size", data.len().to_string()),
        (CONTENT_TYPE.as_str(), "application/octet-stream".to_owned()),
    ];
    let mut response = if streaming {
        data.into_response()
    } else {
        ().into_response()
    };
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::try_from(name),
            axum::http::HeaderValue::try_from(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

/// `Commands.runCommand`'s `AuthRequest` check for the 3.9 commands: the identity of the
/// `Authorization: <scheme> [<auth>]` header (`AUTH_INFO_SEPARATOR` is a space) must have ALL
/// on `/`. The error is ZooKeeper's status and message.
async fn authorize(
    shared: &Arc<Shared>,
    auth: Option<&str>,
    peer: std::net::SocketAddr,
) -> Result<(), (StatusCode, &'static str)> {
    let missing = (
        StatusCode::UNAUTHORIZED,
        "Auth info is missing for the command",
    );
    let auth = auth.ok_or(missing)?;
    let mut parts = auth.splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default().to_owned();
    let credential = parts.next().map(|c| c.as_bytes().to_vec());
    let ip = peer.ip();
    let checked = inspect(&shared.core, move |v| {
        let perm = paddock_jute::perms::ALL;
        v.state
            .authorize_admin(&scheme, credential.as_deref(), ip, "/", perm)
    })
    .await;
    match checked {
        None => Err((StatusCode::OK, fourlw::ZK_NOT_SERVING)),
        Some(Err(paddock_core::AdminAuth::NotAuthenticated)) => {
            Err((StatusCode::UNAUTHORIZED, "Not authenticated"))
        }
        Some(Err(paddock_core::AdminAuth::NotAuthorized)) => {
            Err((StatusCode::FORBIDDEN, "Not authorized"))
        }
        Some(Ok(())) => Ok(()),
    }
}

/// The largest snapshot `restore` takes in one request.
const MAX_RESTORE_BYTES: usize = 1 << 30;

/// POST commands: ZooKeeper 3.9's `restore` (alias `rest`). The body is a snapshot stream as
/// `snapshot` sends it; the caller needs ALL on `/` as for `snapshot`; one restore per
/// 300 000 ms, ZooKeeper's limit (its `RateLimiter` counts this one in milliseconds). The
/// reply is `{"last_zxid": <zxid of the restored snapshot>}`. A standalone server only.
async fn command_post(
    State(state): State<Arc<HttpState>>,
    Path(name): Path<String>,
    ConnectInfo(crate::http::PeerAddr(peer)): ConnectInfo<crate::http::PeerAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fail = |status: StatusCode, error: &str| {
        let mut r = Json::obj();
        finish(&mut r, "restore", Some(error.to_owned()));
        (status, [(CONTENT_TYPE, "application/json")], r.render()).into_response()
    };
    if primary_name(&name) != Some("restore") {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Some(shared) = state.serving() else {
        return fail(StatusCode::OK, fourlw::ZK_NOT_SERVING);
    };
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Err((status, error)) = authorize(&shared, auth, peer).await {
        return fail(status, error);
    }
    let distributed = shared.config.is_distributed();
    if let Err((status, error)) = admit_restore(distributed, &body, &RESTORE_LIMIT) {
        return fail(status, error);
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    // The upload moves into the message: a snapshot may be large, and is not copied.
    let msg = crate::core_task::CoreMsg::Restore { data: body, reply };
    if shared.core.send(msg).await.is_err() {
        return fail(StatusCode::OK, fourlw::ZK_NOT_SERVING);
    }
    match answer.await {
        Ok(Ok(zxid)) => {
            let mut r = Json::obj();
            r.put("last_zxid", zxid);
            finish(&mut r, "restore", None);
            ([(CONTENT_TYPE, "application/json")], r.render()).into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!("restore failed: {e}");
            fail(StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
        Err(_) => fail(StatusCode::OK, fourlw::ZK_NOT_SERVING),
    }
}

/// The checks `restore` makes before the core task sees the upload. The permit is taken
/// last, so that a request refused for another reason does not use up the one restore per
/// interval.
fn admit_restore(
    distributed: bool,
    body: &[u8],
    limit: &RateLimit,
) -> Result<(), (StatusCode, &'static str)> {
    if distributed {
        let error = crate::core_task::RESTORE_STANDALONE_ONLY;
        return Err((StatusCode::INTERNAL_SERVER_ERROR, error));
    }
    if body.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "no snapshot in the request body"));
    }
    if !limit.allow() {
        return Err((StatusCode::TOO_MANY_REQUESTS, "rate limited"));
    }
    Ok(())
}

/// ZooKeeper's `RateLimiter(1, interval)`: one permit per interval.
struct RateLimit {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    every: std::time::Duration,
}

impl RateLimit {
    const fn new(every: std::time::Duration) -> RateLimit {
        RateLimit {
            last: std::sync::Mutex::new(None),
            every,
        }
    }

    fn allow(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.every) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// `SnapshotCommand`'s limit: 300000 µs.
static SNAPSHOT_LIMIT: RateLimit = RateLimit::new(std::time::Duration::from_millis(300));
/// `RestoreCommand`'s limit: 300000 ms (its `RateLimiter` counts in milliseconds).
static RESTORE_LIMIT: RateLimit = RateLimit::new(std::time::Duration::from_secs(300));

/// `CommandBase` of a command that needs the server, while it is not running.
fn not_running(command: &str) -> Json {
    let mut response = Json::obj();
    finish(
        &mut response,
        command,
        Some(fourlw::ZK_NOT_SERVING.to_owned()),
    );
    response
}

/// `CommandResponse.toMap`: the command's entries, then `command` and `error` (a command
/// that put its own `error` keeps it in its place).
fn finish(response: &mut Json, command: &str, error: Option<String>) {
    let had_error = response.has("error");
    response.put("command", command);
    if !had_error {
        response.put("error", error.map_or(Value::Null, Value::from));
    }
}

async fn run(primary: &str, args: &BTreeMap<String, String>, shared: &Arc<Shared>) -> Json {
    let connections = shared.open_connections();
    let not_serving = || {
        let mut r = Json::obj();
        r.put("error", fourlw::ZK_NOT_SERVING);
        r
    };
    let mut r = Json::obj();
    match primary {
        "configuration" => configuration(&mut r, shared),
        "connection_stat_reset" => {
            let done = inspect(&shared.core, |v| {
                v.conns.values_mut().for_each(ConnStats::reset)
            });
            if done.await.is_none() {
                return not_serving();
            }
        }
        "connections" => {
            let Some(list) = inspect(&shared.core, |v| connection_list(v, false)).await else {
                return not_serving();
            };
            r.put("connections", list);
            r.put("secure_connections", Json::Array(Vec::new()));
        }
        "dirs" => {
            let (data, log) = fourlw::dir_sizes(shared).await;
            r.put("datadir_size", data);
            r.put("logdir_size", log);
        }
        "dump" => {
            let Some(dump) = inspect(&shared.core, dump).await else {
                return not_serving();
            };
            r = dump;
        }
        "environment" => {
            for (key, value) in fourlw::environment() {
                r.put(key, value);
            }
        }
        "get_trace_mask" => r.put("tracemask", shared.trace_mask.load(Ordering::Relaxed)),
        "hash" => {
            let Some(digests) = inspect(&shared.core, |v| {
                let list = v.state.digest_log().recorded().map(|(zxid, digest)| {
                    let mut d = Json::obj();
                    // ZooKeeper's order (Jackson on ZxidDigest's getters).
                    d.put("zxid", zxid);
                    d.put("digest", digest);
                    d.put("digest_version", paddock_core::digest::DIGEST_VERSION);
                    d
                });
                Json::Array(list.collect())
            })
            .await
            else {
                return not_serving();
            };
            r.put("digests", digests);
        }
        // Paddock does not keep the text of the file it started from.
        "initial_configuration" => r.put("initial_configuration", Value::Null),
        "is_read_only" => {
            let Some(ro) = inspect(&shared.core, |v| v.read_only()).await else {
                return not_serving();
            };
            r.put("read_only", ro);
        }
        "last_snapshot" => {
            let last = *shared
                .metrics
                .last_snapshot
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let (zxid, secs) = last.unwrap_or((-1, -1));
            r.put("zxid", format!("{:x}", zxid as u64));
            r.put("timestamp", secs);
        }
        "leader" => {
            let view = inspect(&shared.core, |v| v.quorum.clone()).await.flatten();
            match view {
                Some(q) => {
                    let leader = q.status.leader;
                    r.put("is_leader", leader == Some(q.status.id));
                    r.put("leader_id", leader.map_or(-1, |l| l as i64));
                    let host = (shared.config.servers.iter())
                        .find(|s| Some(s.id) == leader)
                        .map_or(String::new(), |s| s.host.clone());
                    r.put("leader_ip", host);
                }
                None => r.put("error", "server is not initialized"),
            }
        }
        "monitor" => {
            let metrics = shared.metrics.clone();
            let Some(m) = inspect(&shared.core, move |v| {
                monitor(&v.gauges(connections), &metrics)
            })
            .await
            else {
                return not_serving();
            };
            r = m;
        }
        "observer_connection_stat_reset" | "ruok" => {}
        "observers" => {
            let view = inspect(&shared.core, |v| v.quorum.clone()).await.flatten();
            let leader = view.and_then(|q| q.leader);
            let observers: Vec<Json> = (leader.iter())
                .flat_map(|l| l.learner_ids.iter())
                .filter(|(id, synced, _)| {
                    *synced
                        && (shared.config.servers.iter())
                            .any(|s| s.id == *id && s.role == crate::config::Role::Observer)
                })
                .map(|(id, _, _)| {
                    let mut o = Json::obj();
                    o.put("sid", *id as i64);
                    o
                })
                .collect();
            r.put("synced_observers", observers.len() as i64);
            r.put("observers", Json::Array(observers));
        }
        "server_stats" | "stats" => {
            let (data, log) = fourlw::dir_sizes(shared).await;
            let with_conns = primary == "stats";
            let Some(s) = inspect(&shared.core, move |v| {
                server_stats(v, connections, (data, log), with_conns)
            })
            .await
            else {
                return not_serving();
            };
            r = s;
        }
        "set_trace_mask" => match args.get("traceMask") {
            None => r.put("error", "setTraceMask requires long traceMask argument"),
            Some(raw) => match raw.parse::<i64>() {
                Ok(mask) => {
                    shared.trace_mask.store(mask, Ordering::Relaxed);
                    r.put("tracemask", mask);
                }
                Err(_) => r.put(
                    "error",
                    format!("setTraceMask requires long traceMask argument, got {raw}"),
                ),
            },
        },
        "stat_reset" => {
            let metrics = shared.metrics.clone();
            let done = inspect(&shared.core, move |v| {
                v.stats.reset();
                metrics.reset();
            });
            if done.await.is_none() {
                return not_serving();
            }
        }
        // ZooKeeper lists the JVM's system properties; Paddock has none.
        "system_properties" => {}
        "voting_view" => r.put("current_config", voting_view(&shared.config)),
        "watch_summary" => {
            let Some(s) = inspect(&shared.core, |v| v.state.watches().summary()).await else {
                return not_serving();
            };
            r.put("num_connections", s.connections);
            r.put("num_paths", s.paths);
            r.put("num_total_watches", s.watches);
        }
        "watches" => {
            let Some(w) = inspect(&shared.core, watches_by_session).await else {
                return not_serving();
            };
            r.put("session_id_to_watched_paths", w);
        }
        "watches_by_path" => {
            let Some(w) = inspect(&shared.core, watches_by_path).await else {
                return not_serving();
            };
            r.put("path_to_session_ids", w);
        }
        "zabstate" => {
            let view = inspect(&shared.core, |v| (v.quorum.clone(), v.state.last_zxid())).await;
            match view {
                Some((Some(q), zxid)) => zab_state(&mut r, shared, &q, zxid),
                _ => {
                    r.put("voting", false);
                    r.put("zabstate", "");
                }
            }
        }
        _ => {}
    }
    r
}

/// `VotingViewCommand`: every voting member's addresses (`QuorumServerView`).
fn voting_view(cfg: &crate::config::ServerConfig) -> Json {
    let mut view = Json::obj();
    for s in cfg
        .servers
        .iter()
        .filter(|s| s.role == crate::config::Role::Participant)
    {
        let mut m = Json::obj();
        m.put(
            "server_addresses",
            Json::Array(vec![format!("{}:{}", s.host, s.quorum_port).into()]),
        );
        m.put(
            "election_addresses",
            Json::Array(vec![format!("{}:{}", s.host, s.election_port).into()]),
        );
        let client = match &s.client_addr {
            Some((host, port)) => format!("{host}:{port}"),
            None => String::new(),
        };
        m.put("client_address", client);
        m.put("learner_type", "participant");
        view.put(&s.id.to_string(), m);
    }
    view
}

/// `ZabStateCommand`: this member, its addresses and where it is in ZAB's phases.
fn zab_state(r: &mut Json, shared: &Shared, q: &crate::quorum::QuorumView, zxid: i64) {
    let cfg = &shared.config;
    let me = cfg.servers.iter().find(|s| s.id == q.status.id);
    let addr = |port: u16| me.map_or(String::new(), |s| format!("{}:{port}", s.host));
    r.put("myid", q.status.id as i64);
    r.put("is_leader", q.status.leader == Some(q.status.id));
    r.put("quorum_address", addr(me.map_or(0, |s| s.quorum_port)));
    r.put("election_address", addr(me.map_or(0, |s| s.election_port)));
    r.put(
        "client_address",
        format!("{}:{}", cfg.client_port_address, cfg.client_port),
    );
    r.put(
        "voting",
        me.is_some_and(|s| s.role == crate::config::Role::Participant),
    );
    r.put("last_zxid", format!("0x{:x}", zxid as u64));
    r.put("zab_epoch", zxid >> 32);
    r.put("zab_counter", zxid & 0xffff_ffff);
    // QuorumPeer.ZabState: ELECTION, DISCOVERY, SYNCHRONIZATION, BROADCAST.
    let state = match (q.status.state, q.serving) {
        (_, true) => "broadcast",
        (paddock_zab::ServerState::Looking, _) => "election",
        _ => "synchronization",
    };
    r.put("zabstate", state);
}

/// `ZooKeeperServerConf.toMap`.
fn configuration(r: &mut Json, shared: &Shared) {
    let cfg = &shared.config;
    let core = cfg.core_config();
    r.put("client_port", cfg.client_port);
    r.put(
        "data_dir",
        fourlw::absolute(&cfg.data_dir.join("version-2")),
    );
    r.put(
        "data_log_dir",
        fourlw::absolute(&cfg.data_log_dir.join("version-2")),
    );
    r.put("tick_time", cfg.tick_ms);
    r.put("max_client_cnxns", cfg.max_client_connections_per_ip);
    r.put("min_session_timeout", core.session_timeout_ms_min);
    r.put("max_session_timeout", core.session_timeout_ms_max);
    r.put("server_id", cfg.server_id.unwrap_or(0));
    r.put("client_port_listen_backlog", -1);
}

/// `ServerCnxn.getConnectionInfo` for every client connection.
fn connection_list(v: &mut CoreView<'_>, brief: bool) -> Json {
    let mut list = Vec::new();
    for info in v.state.conn_infos() {
        let Some(c) = v.conns.get(&info.conn) else {
            continue;
        };
        let mut m = Json::obj();
        m.put("remote_socket_address", c.peer.to_string());
        m.put("interest_ops", 1);
        m.put("outstanding_requests", c.in_flight.len());
        m.put("packets_received", c.packets_received);
        m.put("packets_sent", c.packets_sent);
        if !brief {
            m.put("session_id", info.session.unwrap_or(0));
            m.put("last_operation", c.last_op);
            m.put("established", c.established_ms);
            m.put("session_timeout", info.timeout_ms);
            m.put("last_cxid", c.last_cxid);
            m.put("last_zxid", c.last_zxid);
            m.put("last_response_time", c.last_response_ms);
            m.put("last_latency", c.last_latency_ms);
            m.put("min_latency", c.latency.min());
            m.put("avg_latency", c.latency.avg_integer());
            m.put("max_latency", c.latency.max_ms);
        }
        list.push(m);
    }
    Json::Array(list)
}

/// `DumpCommand`: sessions by expiry time, ephemeral paths by session.
fn dump(v: &mut CoreView<'_>) -> Json {
    let mut by_time: BTreeMap<i64, Vec<Json>> = BTreeMap::new();
    for (id, at) in v.state.session_expiries() {
        if let Some(at) = at {
            by_time.entry(at).or_default().push(id.into());
        }
    }
    let mut expiry = Json::obj();
    for (at, ids) in by_time {
        expiry.put(&at.to_string(), Json::Array(ids));
    }
    let mut ephemerals = Json::obj();
    for (session, paths) in v.state.ephemerals_by_session() {
        let paths = paths.into_iter().map(Json::from).collect();
        ephemerals.put(&session.to_string(), Json::Array(paths));
    }
    let mut r = Json::obj();
    r.put("expiry_time_to_session_ids", expiry);
    r.put("session_id_to_ephemeral_paths", ephemerals);
    r
}

fn sessions_of_conns(v: &CoreView<'_>) -> std::collections::HashMap<paddock_core::ConnId, i64> {
    v.state
        .conn_infos()
        .into_iter()
        .map(|i| (i.conn, i.session.unwrap_or(0)))
        .collect()
}

/// `WatchesReport.toMap`: session id to the paths it watches (data watches).
fn watches_by_session(v: &mut CoreView<'_>) -> Json {
    let sessions = sessions_of_conns(v);
    let mut m = Json::obj();
    for (conn, paths) in v.state.watches().by_conn() {
        let sid = sessions.get(&conn).copied().unwrap_or(0);
        m.put(
            &sid.to_string(),
            Json::Array(paths.into_iter().map(Json::from).collect()),
        );
    }
    m
}

/// `WatchesPathReport.toMap`: path to the sessions watching it.
fn watches_by_path(v: &mut CoreView<'_>) -> Json {
    let sessions = sessions_of_conns(v);
    let mut m = Json::obj();
    for (path, conns) in v.state.watches().by_path() {
        let sids = conns
            .into_iter()
            .map(|c| Json::from(sessions.get(&c).copied().unwrap_or(0)))
            .collect();
        m.put(&path, Json::Array(sids));
    }
    m
}

/// `SrvrCommand` / `StatCommand`: the version, `ServerStats` as Jackson writes it, the
/// response sizes, the node count and, for `stats`, the connections in brief.
fn server_stats(
    v: &mut CoreView<'_>,
    connections: u64,
    dirs: (u64, u64),
    with_conns: bool,
) -> Json {
    let s = &v.stats;
    let mut sizes = Json::obj();
    sizes.put("last_buffer_size", s.response_sizes.last);
    sizes.put("min_buffer_size", s.response_sizes.min);
    sizes.put("max_buffer_size", s.response_sizes.max);
    let mut stats = Json::obj();
    stats.put("packets_sent", s.packets_sent);
    stats.put("packets_received", s.packets_received);
    stats.put("fsync_threshold_exceed_count", 0);
    stats.put("client_response_stats", sizes.clone());
    stats.put("data_dir_size", dirs.0);
    stats.put("log_dir_size", dirs.1);
    stats.put("provider_null", false);
    stats.put("server_state", SERVER_STATE);
    stats.put("last_processed_zxid", v.state.last_zxid());
    stats.put("outstanding_requests", v.outstanding());
    stats.put("avg_latency", s.latency.avg());
    stats.put("max_latency", s.latency.max_ms);
    stats.put("min_latency", s.latency.min());
    stats.put("num_alive_client_connections", connections);
    stats.put("auth_failed_count", s.auth_failed);
    stats.put("non_mtlsremote_conn_count", 0);
    stats.put("non_mtlslocal_conn_count", 0);
    stats.put("uptime", v.started.elapsed().as_millis() as u64);
    let mut r = Json::obj();
    r.put("version", VERSION_LINE);
    r.put("read_only", false);
    r.put("server_stats", stats);
    r.put("client_response", sizes);
    r.put("node_count", v.state.counts().znode_count);
    if with_conns {
        let list = connection_list(v, true);
        r.put("connections", list);
        r.put("secure_connections", Json::Array(Vec::new()));
    }
    r
}

/// `MonitorCommand`: the `mntr` keys without the `zk_` prefix, in the same order.
fn monitor(gauges: &Gauges, metrics: &ServerMetrics) -> Json {
    let mut r = Json::obj();
    r.put("version", VERSION_LINE);
    r.put("server_state", SERVER_STATE);
    for &(name, kind) in LAYOUT {
        match kind {
            Kind::Gauge => {
                let value = match gauges.get(name) {
                    Some(crate::metrics::Value::Float(f)) => Json::from(f),
                    Some(crate::metrics::Value::Int(i)) => Json::from(i),
                    None => Json::from(0),
                };
                r.put(name, value);
            }
            Kind::Counter => r.put(name, metrics.counter(name)),
            Kind::Summary | Kind::SummaryPercentiles => {
                let s = metrics.summary(name);
                r.put(&format!("avg_{name}"), s.avg());
                r.put(&format!("min_{name}"), s.min.unwrap_or(0));
                r.put(&format!("max_{name}"), s.max.unwrap_or(0));
                r.put(&format!("cnt_{name}"), s.count);
                r.put(&format!("sum_{name}"), s.sum);
                if kind == Kind::SummaryPercentiles {
                    for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)]
                    {
                        r.put(&format!("{label}_{name}"), s.quantile(q));
                    }
                }
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    // RestoreCommand allows one restore per interval: a request refused before the restore
    // starts (an ensemble member, an empty body) must not use that one up.
    #[test]
    fn a_refused_restore_does_not_spend_the_permit() {
        let limit = RateLimit::new(std::time::Duration::from_secs(300));
        let refused = admit_restore(true, b"ZKSN", &limit).expect_err("a member refuses");
        assert_eq!(refused.1, crate::core_task::RESTORE_STANDALONE_ONLY);
        let empty = admit_restore(false, b"", &limit).expect_err("no snapshot");
        assert_eq!(empty.0, StatusCode::BAD_REQUEST);
        assert!(
            admit_restore(false, b"ZKSN", &limit).is_ok(),
            "the permit is left"
        );
        let again = admit_restore(false, b"ZKSN", &limit).expect_err("spent");
        assert_eq!(again.0, StatusCode::TOO_MANY_REQUESTS);
    }

    // CommandResponse.toMap: a command's own "error" stays first; otherwise "command" and
    // "error": null close the object (both seen from ZooKeeper 3.8's AdminServer).
    #[test]
    fn responses_end_with_command_and_error_as_zookeeper_orders_them() {
        let mut ok = Json::obj();
        ok.put("read_only", false);
        finish(&mut ok, "is_read_only", None);
        assert_eq!(
            ok.render(),
            "{\n  \"read_only\" : false,\n  \"command\" : \"is_read_only\",\n  \"error\" : null\n}"
        );
        let mut failed = Json::obj();
        failed.put("error", "server is not initialized");
        finish(&mut failed, "leader", None);
        let keys: Vec<_> = match &failed {
            Json::Object(e) => e.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        };
        assert_eq!(keys, ["error", "command"]);
    }

    // The layout of ZooKeeper 3.8's `connections` reply (Jackson's default pretty printer).
    #[test]
    fn rendering_matches_jacksons_pretty_printer() {
        let item = |n: i64| {
            let mut o = Json::obj();
            o.put("a", n);
            o
        };
        let mut r = Json::obj();
        r.put("connections", Json::Array(vec![item(1), item(2)]));
        r.put("ids", Json::Array(vec![1.into(), 2.into()]));
        r.put("empty", Json::Array(Vec::new()));
        r.put("none", Json::obj());
        finish(&mut r, "x", None);
        let expected =
            "{\n  \"connections\" : [ {\n    \"a\" : 1\n  }, {\n    \"a\" : 2\n  } ],\n  \
             \"ids\" : [ 1, 2 ],\n  \"empty\" : [ ],\n  \"none\" : { },\n  \"command\" : \"x\",\n  \
             \"error\" : null\n}";
        assert_eq!(r.render(), expected);
    }

    #[test]
    fn aliases_resolve_to_primary_names() {
        assert_eq!(primary_name("mntr"), Some("monitor"));
        assert_eq!(primary_name("config"), Some("configuration"));
        assert_eq!(primary_name("stats"), Some("stats"));
        assert_eq!(primary_name("nosuch"), None);
    }
}
