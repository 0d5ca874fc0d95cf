//! The AdminServer against Apache ZooKeeper 3.8's (Jetty, started with the servlet API on its
//! classpath) after the same client activity: every command by its primary name and its
//! aliases, the same top-level keys in the same order, the same JSON shape (types, nesting),
//! and the same values where they do not depend on the run. ZooKeeper source:
//! `server/admin/Commands.java`, `JettyAdminServer.java`, `CommandResponse.toMap`.
//!
//! Intended differences, each with its reason:
//! - Versions, ports, data directory paths, session ids, times, latencies, packet counts and
//!   directory sizes: values of the run (compared by type only).
//! - The order of sessions and paths inside `dump`, `watches`, `watches_by_path` and of the
//!   connections lists: ZooKeeper prints `HashMap` order; compared as sets.
//! - `environment`: ZooKeeper's `java.*` and `os.memory.*` entries describe the JVM.
//! - `system_properties`: the JVM's system properties; Paddock has none and answers `{}`.
//! - `initial_configuration`: ZooKeeper answers its zoo.cfg text; Paddock does not keep it
//!   and answers null.
//! - `monitor`: ZooKeeper's per-namespace summary sets (`*_read_per_namespace`,
//!   `*_write_per_namespace`) are not exported by Paddock yet.
//! - `hash`: the digests themselves hash node times (ctime, mtime) and differ; the zxids agree.
//! - `dump`: ZooKeeper keys sessions by its monotonic expiry time, Paddock by wall-clock
//!   expiry time; both are numbers of the run.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use paddock_difftest::http::{get, top_level_keys, HttpResponse};
use paddock_difftest::ops::activity;
use paddock_difftest::*;
use serde_json::Value;

fn pair() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        ServerPair::start(ServerConfig {
            admin_server: true,
            ..ServerConfig::default()
        })
    })
}

/// The type of every leaf; arrays as the set of their items' shapes; objects with keys.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if n.is_f64() => "double".into(),
        Value::Number(_) => "integer".into(),
        Value::String(_) => "string".into(),
        Value::Array(items) => {
            let shapes: BTreeSet<String> = items.iter().map(|i| shape(i).to_string()).collect();
            Value::Array(shapes.into_iter().map(Value::String).collect())
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

/// An object whose keys are data (session ids, paths, times): its keys masked, its values'
/// shapes kept as a set.
fn keyed_shape(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let shapes: BTreeSet<String> = map.values().map(|v| shape(v).to_string()).collect();
            serde_json::json!({ "*": shapes.into_iter().collect::<Vec<_>>(), "len": map.len() })
        }
        other => shape(other),
    }
}

/// Session ids replaced by their client's index, so that maps can be compared.
fn name_sessions(v: &Value, sessions: &[i64]) -> Value {
    let name = |id: i64| {
        sessions
            .iter()
            .position(|&s| s == id)
            .map_or_else(|| format!("session {id}"), |i| format!("S{i}"))
    };
    match v {
        Value::Number(n) => n.as_i64().map_or(v.clone(), |id| {
            if sessions.contains(&id) {
                Value::String(name(id))
            } else {
                v.clone()
            }
        }),
        Value::Array(items) => {
            let mut named: Vec<Value> = items.iter().map(|i| name_sessions(i, sessions)).collect();
            named.sort_by_key(|a| a.to_string());
            Value::Array(named)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let k = k
                        .parse::<i64>()
                        .ok()
                        .filter(|id| sessions.contains(id))
                        .map_or(k.clone(), name);
                    (k, name_sessions(v, sessions))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

struct Answer {
    http: HttpResponse,
    json: Value,
    keys: Vec<String>,
}

fn ask(server: &ServerProcess, name: &str) -> Answer {
    let addr = server.admin_addr().expect("AdminServer enabled");
    let http = get(addr, &format!("/commands/{name}"))
        .unwrap_or_else(|e| panic!("{} {name}: {e:#}", server.kind().name()));
    let json = serde_json::from_str(&http.body).unwrap_or_else(|e| {
        panic!(
            "{} {name}: not JSON ({e}): {}",
            server.kind().name(),
            http.body
        )
    });
    let keys = top_level_keys(&http.body);
    Answer { http, json, keys }
}

/// Removes the keys of intended differences before comparison.
fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Value::Object(map) = &mut v {
        for k in keys {
            map.remove(*k);
        }
    }
    v
}

#[tokio::test]
async fn every_admin_command_has_zookeepers_json_shape() {
    let pair = pair();
    let Some(paddock) = pair.paddock.as_ref() else {
        return;
    };
    let zk_act = activity(&pair.zookeeper, "/adm")
        .await
        .expect("activity on ZooKeeper");
    let pd_act = activity(paddock, "/adm")
        .await
        .expect("activity on Paddock");
    let (zs, ps) = (&zk_act.sessions, &pd_act.sessions);

    // The listing: the same primary names, as links under /commands.
    let zk_list = get(pair.zookeeper.admin_addr().expect("admin"), "/commands").expect("list");
    let pd_list = get(paddock.admin_addr().expect("admin"), "/commands").expect("list");
    assert_eq!(zk_list.status, 200);
    // Intended difference: ZooKeeper 3.9 added `snapshot` and `restore` (ZOOKEEPER-4570);
    // 3.8 has neither.
    let pd_listing: String = (pd_list.body.split_inclusive("<br/>"))
        .filter(|link| !link.contains("/snapshot\"") && !link.contains("/restore\""))
        .collect();
    assert_ne!(pd_listing, pd_list.body, "Paddock lists the 3.9 commands");
    assert_eq!(zk_list.body, pd_listing, "/commands listing");

    // Replies compared whole (after naming sessions), apart from the keys of the run.
    let exact: &[(&str, &[&str])] = &[
        ("ruok", &[]),
        ("is_read_only", &[]),
        ("watch_summary", &[]),
        ("observers", &[]),
        ("voting_view", &[]),
        ("zabstate", &[]),
        ("leader", &[]),
        ("get_trace_mask", &[]),
        ("watches", &[]),
        ("watches_by_path", &[]),
        ("observer_connection_stat_reset", &[]),
        (
            "configuration",
            &["client_port", "data_dir", "data_log_dir"],
        ),
        ("nosuch", &[]),
    ];
    for &(name, varying) in exact {
        let (z, p) = (ask(&pair.zookeeper, name), ask(paddock, name));
        assert_eq!(z.keys, p.keys, "{name}: key order");
        assert_eq!(
            without(name_sessions(&z.json, zs), varying),
            without(name_sessions(&p.json, ps), varying),
            "{name}"
        );
        assert_eq!(z.http.status, p.http.status, "{name}: status");
        assert_eq!(
            p.http.header("content-type"),
            Some("application/json"),
            "{name}"
        );
    }

    // Replies compared by shape and key order.
    for name in [
        "connections",
        "server_stats",
        "stats",
        "dirs",
        "last_snapshot",
    ] {
        let (z, p) = (ask(&pair.zookeeper, name), ask(paddock, name));
        assert_eq!(z.keys, p.keys, "{name}: key order");
        assert_eq!(
            shape(&z.json),
            shape(&p.json),
            "{name}:\n{}\n---\n{}",
            z.http.body,
            p.http.body
        );
    }
    let (z, p) = (
        ask(&pair.zookeeper, "server_stats"),
        ask(paddock, "server_stats"),
    );
    for key in ["node_count", "read_only"] {
        assert_eq!(z.json[key], p.json[key], "server_stats {key}");
    }
    for key in [
        "server_state",
        "last_processed_zxid",
        "num_alive_client_connections",
    ] {
        assert_eq!(
            z.json["server_stats"][key], p.json["server_stats"][key],
            "server_stats {key}"
        );
    }

    // dump: sessions by expiry time, ephemerals by session.
    let (z, p) = (ask(&pair.zookeeper, "dump"), ask(paddock, "dump"));
    assert_eq!(z.keys, p.keys, "dump: key order");
    let ephemerals =
        |a: &Answer, s: &[i64]| name_sessions(&a.json["session_id_to_ephemeral_paths"], s);
    assert_eq!(ephemerals(&z, zs), ephemerals(&p, ps), "dump ephemerals");
    let sessions = |a: &Answer, s: &[i64]| -> BTreeSet<String> {
        let by_time = name_sessions(&a.json["expiry_time_to_session_ids"], s);
        by_time
            .as_object()
            .map(|m| {
                m.values()
                    .flat_map(|ids| ids.as_array().cloned().unwrap_or_default())
            })
            .into_iter()
            .flatten()
            .map(|v| v.to_string())
            .collect()
    };
    assert_eq!(sessions(&z, zs), sessions(&p, ps), "dump sessions");
    // ZooKeeper keeps a bucket whose sessions moved on until its time passes: empty buckets
    // are its own bookkeeping, not a shape to match.
    let bucket_shapes = |a: &Answer| -> Vec<Value> {
        let shapes = keyed_shape(&a.json["expiry_time_to_session_ids"]);
        shapes["*"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s.as_str() != Some("[]"))
            .cloned()
            .collect()
    };
    assert_eq!(bucket_shapes(&z), bucket_shapes(&p), "dump buckets");

    // environment: ZooKeeper's entries without the JVM's, in order.
    let (z, p) = (
        ask(&pair.zookeeper, "environment"),
        ask(paddock, "environment"),
    );
    let jvm = |k: &String| k.starts_with("java.") || k.starts_with("os.memory.");
    let zk_keys: Vec<&String> = z.keys.iter().filter(|k| !jvm(k)).collect();
    assert_eq!(
        zk_keys,
        p.keys.iter().collect::<Vec<_>>(),
        "environment keys"
    );

    // monitor: mntr's keys without the prefix, in order, without the per-namespace sets.
    let (z, p) = (ask(&pair.zookeeper, "monitor"), ask(paddock, "monitor"));
    let per_ns =
        |k: &String| k.ends_with("_read_per_namespace") || k.ends_with("_write_per_namespace");
    let zk_keys: Vec<&String> = z.keys.iter().filter(|k| !per_ns(k)).collect();
    assert_eq!(zk_keys, p.keys.iter().collect::<Vec<_>>(), "monitor keys");
    for key in [
        "znode_count",
        "ephemerals_count",
        "watch_count",
        "global_sessions",
        "server_state",
    ] {
        assert_eq!(z.json[key], p.json[key], "monitor {key}");
    }
    let types = |a: &Answer| without(shape(&a.json), &[]);
    let pd_types = types(&p);
    for (key, ty) in types(&z).as_object().into_iter().flatten() {
        if !per_ns(key) {
            assert_eq!(Some(ty), pd_types.get(key), "monitor {key} type");
        }
    }

    // hash: the same zxids in the digest log.
    let (z, p) = (ask(&pair.zookeeper, "hash"), ask(paddock, "hash"));
    let zxids = |a: &Answer| -> Vec<Value> {
        a.json["digests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["zxid"].clone())
            .collect()
    };
    assert!(!zxids(&z).is_empty(), "ZooKeeper logged a digest");
    assert_eq!(zxids(&z), zxids(&p), "hash zxids");
    assert_eq!(shape(&z.json), shape(&p.json), "hash shape");

    // Aliases answer under the primary name.
    for (alias, primary) in [
        ("mntr", "monitor"),
        ("conf", "configuration"),
        ("wchs", "watch_summary"),
        ("lsnp", "last_snapshot"),
    ] {
        for server in [&pair.zookeeper, paddock] {
            assert_eq!(
                ask(server, alias).json["command"],
                primary,
                "{} {alias}",
                server.kind().name()
            );
        }
    }

    // set_trace_mask: missing and malformed arguments, then a good one.
    for query in [
        "set_trace_mask",
        "set_trace_mask?traceMask=abc",
        "set_trace_mask?traceMask=306",
    ] {
        let (z, p) = (ask(&pair.zookeeper, query), ask(paddock, query));
        assert_eq!((z.keys, z.json), (p.keys, p.json), "{query}");
    }

    // The resets answer empty and reset (StatResetCommand, CnxnStatResetCommand).
    for name in ["stat_reset", "connection_stat_reset"] {
        let (z, p) = (ask(&pair.zookeeper, name), ask(paddock, name));
        assert_eq!((z.keys, z.json), (p.keys, p.json), "{name}");
    }
    let p = ask(paddock, "server_stats");
    assert_eq!(
        p.json["server_stats"]["max_latency"], 0,
        "stat_reset reset the latency"
    );
    drop((zk_act, pd_act));
}

/// Paddock's own probes on the admin port: liveness and readiness for Kubernetes.
#[test]
fn health_probes_answer_ok_while_serving() {
    let pair = pair();
    let Some(paddock) = pair.paddock.as_ref() else {
        return;
    };
    let addr = paddock.admin_addr().expect("admin");
    for path in ["/healthz", "/readyz"] {
        let r = get(addr, path).expect(path);
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"), "{path}");
    }
}
