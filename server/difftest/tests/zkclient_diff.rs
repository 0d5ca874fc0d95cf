//! Differential scenarios through kezhuw's `zookeeper-client` crate (a client we did not
//! write), run against ZooKeeper 3.8 and Paddock with traces compared after normalisation.
//! Focus: what kazoo cannot drive — TTL and container nodes, persistent watches, multiRead,
//! getEphemerals, getAllChildrenNumber, whoAmI, create2 stats, event zxids.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Result;
use paddock_difftest::raw::{self, RawConn};
use paddock_difftest::*;
use serde_json::{json, Value};
use zookeeper_client as zk;

/// Container/TTL sweep interval for the main configuration: short so sweeps are quick.
const SWEEP_MS: u64 = 300;

/// The main configuration: extended types on (TTL nodes), fast container sweeps.
fn pair() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        ServerPair::start(ServerConfig {
            extended_types: true,
            container_check_interval_ms: Some(SWEEP_MS),
            ..ServerConfig::default()
        })
    })
}

/// Extended types off: createTTL must be refused.
fn pair_no_ttl() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        ServerPair::start(ServerConfig {
            extended_types: false,
            ..ServerConfig::default()
        })
    })
}

macro_rules! diff_test {
    ($(#[$doc:meta])* $name:ident, $pair:ident) => {
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            compare($pair(), stringify!($name), scenarios::$name).await;
        }
    };
}

fn stat_of(r: Result<zk::Stat, zk::Error>) -> Value {
    res_json(r, |s| stat_json(&s))
}

fn created(r: Result<(zk::Stat, zk::CreateSequence), zk::Error>) -> Value {
    res_json(
        r,
        |(s, seq)| json!({"stat": stat_json(&s), "seq": seq.to_string()}),
    )
}

fn data_of(r: Result<(Vec<u8>, zk::Stat), zk::Error>) -> Value {
    res_json(
        r,
        |(d, s)| json!({"data": String::from_utf8_lossy(&d), "stat": stat_json(&s)}),
    )
}

fn unit(r: Result<(), zk::Error>) -> Value {
    res_json(r, |()| json!(null))
}

fn opt_stat(r: Result<Option<zk::Stat>, zk::Error>) -> Value {
    res_json(r, |s| s.map(|s| stat_json(&s)).unwrap_or(json!(null)))
}

fn sorted(mut v: Vec<String>) -> Value {
    v.sort();
    json!(v)
}

fn multi_write(r: Result<Vec<zk::MultiWriteResult>, zk::MultiWriteError>) -> Value {
    match r {
        Ok(results) => json!({"ok": results.iter().map(|r| match r {
            zk::MultiWriteResult::Check => json!("check"),
            zk::MultiWriteResult::Delete => json!("delete"),
            zk::MultiWriteResult::Create { path, stat } => json!({"create": path, "stat": stat_json(stat)}),
            zk::MultiWriteResult::SetData { stat } => json!({"set": stat_json(stat)}),
            other => json!(format!("{other:?}")),
        }).collect::<Vec<_>>()}),
        Err(zk::MultiWriteError::OperationFailed { index, source }) => {
            json!({"failed_at": index, "err": format!("{source:?}")})
        }
        Err(zk::MultiWriteError::RequestFailed { source }) => err_json(&source),
    }
}

mod scenarios {
    use super::*;

    /// create2 returns the new node's Stat; setData bumps version and mzxid only.
    /// DataTree.java createNode / setData; ZooKeeperServer create2 response.
    pub async fn create2_stats_and_set_data(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        let p = ctx.path("n");
        t.push(
            "create",
            created(c.create(&p, b"hello", &persistent()).await),
        );
        t.push("get", data_of(c.get_data(&p).await));
        t.push("set", stat_of(c.set_data(&p, b"world!", None).await));
        t.push("set_v1", stat_of(c.set_data(&p, b"", Some(1)).await));
        t.push(
            "set_bad_version",
            stat_of(c.set_data(&p, b"x", Some(7)).await),
        );
        t.push("get_after", data_of(c.get_data(&p).await));
        t.push("root", data_of(c.get_data(&ctx.root).await));
        Ok(t)
    }

    /// Ephemeral, sequential and ephemeral-sequential names and owners.
    /// PrepRequestProcessor.java: sequence suffix = "%010d" of the parent's cversion.
    pub async fn create_modes_and_sequence_names(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        t.push(
            "eph",
            created(
                c.create(&ctx.path("e"), b"", &mode(zk::CreateMode::Ephemeral))
                    .await,
            ),
        );
        for i in 0..3 {
            let r = c
                .create(
                    &ctx.path("s-"),
                    b"",
                    &mode(zk::CreateMode::PersistentSequential),
                )
                .await;
            t.push(format!("seq{i}"), created(r));
        }
        let r = c
            .create(
                &ctx.path("es-"),
                b"",
                &mode(zk::CreateMode::EphemeralSequential),
            )
            .await;
        t.push("eph_seq", created(r));
        t.push(
            "children",
            res_json(
                c.get_children(&ctx.root).await,
                |(ch, s)| json!({"children": sorted(ch), "stat": stat_json(&s)}),
            ),
        );
        Ok(t)
    }

    /// Error codes of create/delete/setData. DataTree.java, PrepRequestProcessor.java.
    pub async fn write_error_codes(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        let a = ctx.path("a");
        t.push("create", created(c.create(&a, b"", &persistent()).await));
        t.push("exists", created(c.create(&a, b"", &persistent()).await));
        t.push(
            "no_parent",
            created(c.create(&ctx.path("x/y"), b"", &persistent()).await),
        );
        t.push(
            "child",
            created(c.create(&ctx.path("a/c"), b"", &persistent()).await),
        );
        t.push("delete_not_empty", unit(c.delete(&a, None).await));
        t.push(
            "delete_bad_version",
            unit(c.delete(&ctx.path("a/c"), Some(3)).await),
        );
        t.push(
            "delete_missing",
            unit(c.delete(&ctx.path("nope"), None).await),
        );
        t.push(
            "set_missing",
            stat_of(c.set_data(&ctx.path("nope"), b"", None).await),
        );
        t.push(
            "eph",
            created(
                c.create(&ctx.path("e"), b"", &mode(zk::CreateMode::Ephemeral))
                    .await,
            ),
        );
        t.push(
            "child_of_eph",
            created(c.create(&ctx.path("e/c"), b"", &persistent()).await),
        );
        t.push("get_missing", data_of(c.get_data(&ctx.path("nope")).await));
        t.push(
            "children_missing",
            res_json(c.list_children(&ctx.path("nope")).await, sorted),
        );
        Ok(t)
    }

    /// Client-visible cversion counts creates and deletes; pzxid follows both; sequence
    /// numbers continue from the internal create counter. DataNode.java copyStat.
    pub async fn cversion_pzxid_and_sequence_after_delete(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        for i in 0..3 {
            c.create(&ctx.path(&format!("c{i}")), b"", &persistent())
                .await?;
        }
        t.push("after_creates", opt_stat(c.check_stat(&ctx.root).await));
        c.delete(&ctx.path("c1"), None).await?;
        t.push("after_delete", opt_stat(c.check_stat(&ctx.root).await));
        let r = c
            .create(
                &ctx.path("q-"),
                b"",
                &mode(zk::CreateMode::PersistentSequential),
            )
            .await;
        t.push("seq", created(r));
        t.push(
            "failed_create",
            created(c.create(&ctx.path("c0"), b"", &persistent()).await),
        );
        let r = c
            .create(
                &ctx.path("q-"),
                b"",
                &mode(zk::CreateMode::PersistentSequential),
            )
            .await;
        t.push("seq_after_failed", created(r));
        t.push("final", opt_stat(c.check_stat(&ctx.root).await));
        Ok(t)
    }

    /// One-shot data watch fires once with NodeDataChanged, then NodeDeleted on a new watch.
    /// DataTree.java setData / deleteNode trigger WatchManager.
    pub async fn oneshot_data_watch(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let other = ctx.client().await?;
        let mut t = Trace::new();
        let p = ctx.path("w");
        c.create(&p, b"0", &persistent()).await?;
        let (_, _, w) = c.get_and_watch_data(&p).await?;
        t.push("set", stat_of(other.set_data(&p, b"1", None).await));
        t.push("event", event_json(&oneshot(w).await?));
        let (_, _, w) = c.get_and_watch_data(&p).await?;
        t.push("delete", unit(other.delete(&p, None).await));
        t.push("event2", event_json(&oneshot(w).await?));
        Ok(t)
    }

    /// exists on a missing node leaves a watch that fires NodeCreated.
    /// ZooKeeper Programmer's Guide, "Watches"; FinalRequestProcessor exists.
    pub async fn exists_watch_on_missing_node(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let other = ctx.client().await?;
        let mut t = Trace::new();
        let p = ctx.path("later");
        let (stat, w) = c.check_and_watch_stat(&p).await?;
        t.push("stat", json!(stat.map(|s| stat_json(&s))));
        t.push(
            "create",
            created(other.create(&p, b"x", &persistent()).await),
        );
        t.push("event", event_json(&oneshot(w).await?));
        Ok(t)
    }

    /// Child watches fire NodeChildrenChanged on create and delete of a child, and
    /// NodeDeleted when the watched node goes. DataTree.java deleteNode.
    pub async fn child_watch_events(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let other = ctx.client().await?;
        let mut t = Trace::new();
        let p = ctx.path("p");
        c.create(&p, b"", &persistent()).await?;
        let (ch, stat, w) = c.get_and_watch_children(&p).await?;
        t.push(
            "children",
            json!({"children": sorted(ch), "stat": stat_json(&stat)}),
        );
        other.create(&ctx.path("p/a"), b"", &persistent()).await?;
        t.push("event_create", event_json(&oneshot(w).await?));
        let (_, _, w) = c.get_and_watch_children(&p).await?;
        other.delete(&ctx.path("p/a"), None).await?;
        t.push("event_delete_child", event_json(&oneshot(w).await?));
        let (_, _, w) = c.get_and_watch_children(&p).await?;
        other.delete(&p, None).await?;
        t.push("event_delete_self", event_json(&oneshot(w).await?));
        Ok(t)
    }

    /// A PERSISTENT watch sees the node's own changes and its child list changes, is not
    /// consumed, and ignores grandchildren. DataTree.java addWatch, WatchManager.
    pub async fn persistent_watch_stream(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let w_client = ctx.client().await?;
        let p = ctx.path("pw");
        let barrier = ctx.path("barrier");
        let mut w = w_client.watch(&p, zk::AddWatchMode::Persistent).await?;
        let (_, b) = w_client.check_and_watch_stat(&barrier).await?;
        c.create(&p, b"", &persistent()).await?;
        c.set_data(&p, b"1", None).await?;
        c.create(&ctx.path("pw/a"), b"", &persistent()).await?;
        c.set_data(&ctx.path("pw/a"), b"1", None).await?;
        c.create(&ctx.path("pw/a/deep"), b"", &persistent()).await?;
        c.set_data(&p, b"2", None).await?;
        c.delete(&ctx.path("pw/a/deep"), None).await?;
        c.delete(&ctx.path("pw/a"), None).await?;
        c.delete(&p, None).await?;
        c.create(&p, b"again", &persistent()).await?;
        c.set_data(&p, b"end", None).await?;
        c.create(&barrier, b"", &persistent()).await?;
        let mut t = Trace::new();
        t.push("events", json!(events_before(&mut w, b).await?));
        Ok(t)
    }

    /// PERSISTENT_RECURSIVE sees create/set/delete anywhere below, never NodeChildrenChanged.
    /// DataTree.java addWatch mode PERSISTENT_RECURSIVE; WatchManager walks parent paths.
    pub async fn persistent_recursive_watch_stream(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let w_client = ctx.client().await?;
        let p = ctx.path("rw");
        c.create(&p, b"", &persistent()).await?;
        let mut w = w_client
            .watch(&p, zk::AddWatchMode::PersistentRecursive)
            .await?;
        let barrier = ctx.path("barrier");
        let (_, b) = w_client.check_and_watch_stat(&barrier).await?;
        c.create(&ctx.path("rw/a"), b"", &persistent()).await?;
        c.create(&ctx.path("rw/a/b"), b"", &persistent()).await?;
        c.create(&ctx.path("rw/a/b/c"), b"", &mode(zk::CreateMode::Ephemeral))
            .await?;
        c.set_data(&ctx.path("rw/a/b"), b"x", None).await?;
        c.set_data(&p, b"x", None).await?;
        c.delete(&ctx.path("rw/a/b/c"), None).await?;
        c.create(&ctx.path("rwsibling"), b"", &persistent()).await?;
        c.delete(&ctx.path("rw/a/b"), None).await?;
        c.create(&ctx.path("rw/end"), b"", &persistent()).await?;
        c.create(&barrier, b"", &persistent()).await?;
        let mut t = Trace::new();
        t.push("events", json!(events_before(&mut w, b).await?));
        Ok(t)
    }

    /// A recursive watch on a missing path fires NodeCreated/NodeDeleted for the path itself.
    pub async fn persistent_recursive_on_missing_path(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let w_client = ctx.client().await?;
        let p = ctx.path("missing");
        let mut w = w_client
            .watch(&p, zk::AddWatchMode::PersistentRecursive)
            .await?;
        let barrier = ctx.path("barrier");
        let (_, b) = w_client.check_and_watch_stat(&barrier).await?;
        c.create(&p, b"", &persistent()).await?;
        c.create(&ctx.path("missing/kid"), b"", &persistent())
            .await?;
        c.delete(&ctx.path("missing/kid"), None).await?;
        c.delete(&p, None).await?;
        c.create(&p, b"", &persistent()).await?;
        c.create(&barrier, b"", &persistent()).await?;
        let mut t = Trace::new();
        t.push("events", json!(events_before(&mut w, b).await?));
        Ok(t)
    }

    /// multi: all ops applied in one zxid, per-op results. DataTree.java processTxn (multi).
    pub async fn multi_success(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        c.create(&ctx.path("old"), b"", &persistent()).await?;
        let mut m = c.new_multi_writer();
        m.add_create(&ctx.path("m1"), b"a", &persistent())?;
        m.add_create(
            &ctx.path("m-"),
            b"",
            &mode(zk::CreateMode::PersistentSequential),
        )?;
        m.add_set_data(&ctx.path("m1"), b"b", Some(0))?;
        m.add_check_version(&ctx.path("m1"), 1)?;
        m.add_delete(&ctx.path("old"), None)?;
        let mut t = Trace::new();
        // The create results' stats are the subject of `multi_create2_returns_stat` (an
        // intended difference); here only their paths are compared.
        let mut results = multi_write(m.commit().await);
        if let Some(items) = results.get_mut("ok").and_then(Value::as_array_mut) {
            for item in items {
                if let Some(obj) = item.as_object_mut() {
                    if obj.contains_key("create") {
                        obj.remove("stat");
                    }
                }
            }
        }
        t.push("multi", results);
        t.push(
            "children",
            res_json(c.list_children(&ctx.root).await, sorted),
        );
        Ok(t)
    }

    /// A failing op aborts the whole multi: earlier ops report 0, later -2, nothing applied.
    /// DataTree.java processTxn (multi error padding).
    pub async fn multi_failure_results(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        for (label, bad) in [("bad_version", 0), ("no_node", 1), ("exists", 2)] {
            let mut m = c.new_multi_writer();
            m.add_create(&ctx.path(&format!("ok{bad}")), b"", &persistent())?;
            match bad {
                0 => m.add_check_version(&ctx.root, 42)?,
                1 => m.add_set_data(&ctx.path("missing"), b"", None)?,
                _ => m.add_create(&ctx.root, b"", &persistent())?,
            }
            m.add_delete(&ctx.path("whatever"), None)?;
            t.push(label, multi_write(m.commit().await));
        }
        t.push(
            "children",
            res_json(c.list_children(&ctx.root).await, sorted),
        );
        t.push("root", opt_stat(c.check_stat(&ctx.root).await));
        Ok(t)
    }

    /// multiRead reports errors per op and never aborts. FinalRequestProcessor multiRead.
    pub async fn multi_read_partial_errors(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        c.create(&ctx.path("a"), b"data-a", &persistent()).await?;
        c.create(&ctx.path("a/k"), b"", &persistent()).await?;
        let mut r = c.new_multi_reader();
        r.add_get_data(&ctx.path("a"))?;
        r.add_get_data(&ctx.path("missing"))?;
        r.add_get_children(&ctx.path("a"))?;
        r.add_get_children(&ctx.path("missing"))?;
        r.add_get_data(&ctx.path("a/k"))?;
        let results = r.commit().await?;
        let view: Vec<Value> = results
            .into_iter()
            .map(|r| match r {
                zk::MultiReadResult::Data { data, stat } => {
                    json!({"data": String::from_utf8_lossy(&data), "stat": stat_json(&stat)})
                }
                zk::MultiReadResult::Children { children } => json!({"children": sorted(children)}),
                zk::MultiReadResult::Error { err } => err_json(&err),
                other => json!(format!("{other:?}")),
            })
            .collect();
        let mut t = Trace::new();
        t.push("multi_read", json!(view));
        Ok(t)
    }

    /// getEphemerals lists only the caller's ephemerals under a path *prefix* (a string
    /// prefix, not a node). FinalRequestProcessor getEphemerals.
    pub async fn get_ephemerals_by_prefix(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let other = ctx.client().await?;
        let eph = mode(zk::CreateMode::Ephemeral);
        c.create(&ctx.path("dir"), b"", &persistent()).await?;
        c.create(&ctx.path("dir/e1"), b"", &eph).await?;
        c.create(&ctx.path("dir/e2"), b"", &eph).await?;
        c.create(&ctx.path("dix"), b"", &eph).await?;
        c.create(&ctx.path("other"), b"", &eph).await?;
        other.create(&ctx.path("dir/theirs"), b"", &eph).await?;
        let mut t = Trace::new();
        // Unsorted: ZooKeeper lists a clone of the session's HashSet (DataTree.getEphemerals).
        t.push(
            "root",
            res_json(c.list_ephemerals(&ctx.root).await, |v| json!(v)),
        );
        t.push(
            "prefix_di",
            res_json(c.list_ephemerals(&ctx.path("di")).await, sorted),
        );
        t.push(
            "dir",
            res_json(c.list_ephemerals(&ctx.path("dir")).await, |v| json!(v)),
        );
        t.push(
            "none",
            res_json(c.list_ephemerals(&ctx.path("zzz")).await, sorted),
        );
        t.push(
            "other",
            res_json(other.list_ephemerals(&ctx.root).await, sorted),
        );
        Ok(t)
    }

    /// getAllChildrenNumber counts all descendants, not the node. DataTree.getAllChildrenNumber.
    pub async fn all_children_number(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        for p in ["a", "a/b", "a/b/c", "a/d", "e"] {
            c.create(&ctx.path(p), b"", &persistent()).await?;
        }
        let mut t = Trace::new();
        for p in ["a", "a/b", "a/b/c", "missing"] {
            let r = c.count_descendants_number(&ctx.path(p)).await;
            t.push(p, res_json(r, |n| json!(n)));
        }
        t.push(
            "root",
            res_json(c.count_descendants_number(&ctx.root).await, |n| json!(n)),
        );
        Ok(t)
    }

    /// whoAmI lists the session's auth infos: ip first, digest after addauth.
    /// FinalRequestProcessor whoAmI (ZOOKEEPER-3969).
    pub async fn who_am_i_and_digest_acl(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let stranger = ctx.client().await?;
        let users = |v: Vec<zk::AuthUser>| {
            let mut v: Vec<String> = v
                .iter()
                .map(|u| format!("{}:{}", u.scheme(), u.user()))
                .collect();
            v.sort();
            json!(v)
        };
        let mut t = Trace::new();
        t.push("before", res_json(c.list_auth_users().await, users));
        t.push("auth", unit(c.auth("digest", b"alice:secret").await));
        t.push("after", res_json(c.list_auth_users().await, users));
        let p = ctx.path("private");
        let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
        t.push("create", created(c.create(&p, b"s", &opts).await));
        let acl_view = |(acl, s): (Vec<zk::Acl>, zk::Stat)| {
            let a: Vec<String> = acl.iter().map(|a| format!("{:?}", a)).collect();
            json!({"acl": a, "stat": stat_json(&s)})
        };
        t.push("get_acl", res_json(c.get_acl(&p).await, acl_view));
        t.push("owner_read", data_of(c.get_data(&p).await));
        t.push("stranger_read", data_of(stranger.get_data(&p).await));
        t.push(
            "stranger_set",
            stat_of(stranger.set_data(&p, b"x", None).await),
        );
        t.push(
            "stranger_acl",
            res_json(stranger.get_acl(&p).await, acl_view),
        );
        let open = zk::Acls::anyone_read();
        t.push(
            "set_acl_bad_version",
            stat_of(c.set_acl(&p, &open, Some(5)).await),
        );
        t.push("set_acl", stat_of(c.set_acl(&p, &open, Some(0)).await));
        t.push("stranger_read_after", data_of(stranger.get_data(&p).await));
        t.push(
            "stranger_set_after",
            stat_of(stranger.set_data(&p, b"x", None).await),
        );
        Ok(t)
    }

    /// TTL nodes: create with a TTL gives ephemeralOwner 0 in the returned Stat; TTL with
    /// sequential works. EphemeralType.java (owner masked), PrepRequestProcessor createTTL.
    pub async fn ttl_create(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        let ttl = Duration::from_secs(3600);
        let r = c
            .create(&ctx.path("ttl"), b"t", &persistent().with_ttl(ttl))
            .await;
        t.push("ttl", created(r));
        let opts = mode(zk::CreateMode::PersistentSequential).with_ttl(ttl);
        t.push(
            "ttl_seq",
            created(c.create(&ctx.path("ttls-"), b"", &opts).await),
        );
        t.push("get", data_of(c.get_data(&ctx.path("ttl")).await));
        t.push(
            "ephemerals",
            res_json(c.list_ephemerals(&ctx.root).await, sorted),
        );
        Ok(t)
    }

    /// A TTL node with no children is deleted once `now - mtime > ttl`; one with a child stays.
    /// ContainerManager.java getCandidates.
    pub async fn ttl_expiry_sweep(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let ttl = Duration::from_millis(200);
        c.create(&ctx.path("short"), b"", &persistent().with_ttl(ttl))
            .await?;
        c.create(&ctx.path("parent"), b"", &persistent().with_ttl(ttl))
            .await?;
        c.create(&ctx.path("parent/kid"), b"", &persistent())
            .await?;
        // The wait is about the passage of time: ttl plus a few sweep intervals.
        let wait = ttl + Duration::from_millis(10 * SWEEP_MS);
        let p = ctx.path("short");
        eventually(wait, || async {
            c.check_stat(&p).await.ok().filter(Option::is_none)
        })
        .await?;
        let mut t = Trace::new();
        t.push(
            "short_gone",
            opt_stat(c.check_stat(&ctx.path("short")).await),
        );
        t.push(
            "children",
            res_json(c.list_children(&ctx.root).await, sorted),
        );
        t.push(
            "parent_kids",
            res_json(c.list_children(&ctx.path("parent")).await, sorted),
        );
        Ok(t)
    }

    /// Containers: deleted by the sweep once they had a child and are empty again; a
    /// never-used container stays (maxNeverUsedIntervalMs = 0). ContainerManager.java.
    pub async fn container_sweep(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        let cm = mode(zk::CreateMode::Container);
        t.push(
            "create_used",
            created(c.create(&ctx.path("used"), b"", &cm).await),
        );
        t.push(
            "create_unused",
            created(c.create(&ctx.path("unused"), b"", &cm).await),
        );
        c.create(&ctx.path("used/kid"), b"", &persistent()).await?;
        t.push("used_stat", opt_stat(c.check_stat(&ctx.path("used")).await));
        c.delete(&ctx.path("used/kid"), None).await?;
        let wait = Duration::from_millis(20 * SWEEP_MS);
        let p = ctx.path("used");
        eventually(wait, || async {
            c.check_stat(&p).await.ok().filter(Option::is_none)
        })
        .await?;
        t.push(
            "children",
            res_json(c.list_children(&ctx.root).await, sorted),
        );
        t.push(
            "child_of_container",
            created(c.create(&ctx.path("unused/k"), b"", &persistent()).await),
        );
        Ok(t)
    }

    /// sync answers with OK; getChildren2 returns the parent's Stat. FinalRequestProcessor.
    pub async fn sync_and_get_children2(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        c.create(&ctx.path("b"), b"", &persistent()).await?;
        c.create(&ctx.path("a"), b"", &persistent()).await?;
        let mut t = Trace::new();
        t.push("sync", unit(c.sync(&ctx.root).await));
        t.push("sync_missing", unit(c.sync(&ctx.path("missing")).await));
        t.push(
            "children2",
            res_json(
                c.get_children(&ctx.root).await,
                |(ch, s)| json!({"children": sorted(ch), "stat": stat_json(&s)}),
            ),
        );
        t.push(
            "zookeeper_children",
            res_json(c.list_children("/zookeeper").await, sorted),
        );
        t.push("config_acl", res_json(c.get_acl("/zookeeper/config").await, |(a, s)| {
            json!({"acl": a.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(), "stat": stat_json(&s)})
        }));
        t.push(
            "delete_zookeeper",
            unit(c.delete("/zookeeper/quota", None).await),
        );
        Ok(t)
    }

    /// A session that stops pinging expires; its ephemerals go and their watches fire.
    /// SessionTrackerImpl / ExpiryQueue; DataTree.killSession.
    pub async fn session_expiry_deletes_ephemerals(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let p = ctx.path("eph");
        // A raw session that never pings, with the minimum timeout (2 ticks).
        let min = ctx.config.min_session_timeout();
        let mut conn = RawConn::open(ctx.addr).await?;
        let req = raw::ConnectRequest {
            timeout_ms: i32::try_from(min.as_millis())?,
            ..Default::default()
        };
        let resp = conn.handshake(&req).await?;
        let body = raw::create_body(p.as_bytes(), b"", 1);
        let reply = conn.call(1, raw::op::CREATE, &body).await?;
        let mut t = Trace::new();
        t.push("timeout", json!(resp.timeout_ms));
        t.push("create_err", json!(reply.map(|r| r.err)));
        let (stat, w) = c.check_and_watch_stat(&p).await?;
        t.push(
            "owner",
            json!({"ephemeral_owner": stat.map(|s| s.ephemeral_owner), "session": resp.session_id}),
        );
        t.push("event", event_json(&oneshot(w).await?));
        t.push("closed", json!(conn.closed_within(min * 4).await));
        Ok(t)
    }

    /// closeSession deletes the session's ephemerals at once. PrepRequestProcessor closeSession.
    pub async fn close_session_deletes_ephemerals(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let p = ctx.path("eph");
        let (mut conn, _) = RawConn::session(ctx.addr).await?;
        conn.call(1, raw::op::CREATE, &raw::create_body(p.as_bytes(), b"", 1))
            .await?;
        let (_, _, w) = c.get_and_watch_data(&p).await?;
        let reply = conn.call(2, raw::op::CLOSE_SESSION, &[]).await?;
        let mut t = Trace::new();
        t.push("close_reply", json!(reply.map(|r| (r.xid, r.err))));
        t.push("event", event_json(&oneshot(w).await?));
        t.push("exists", opt_stat(c.check_stat(&p).await));
        Ok(t)
    }
}

diff_test!(create2_stats_and_set_data, pair);
diff_test!(create_modes_and_sequence_names, pair);
diff_test!(write_error_codes, pair);
diff_test!(cversion_pzxid_and_sequence_after_delete, pair);
diff_test!(oneshot_data_watch, pair);
diff_test!(exists_watch_on_missing_node, pair);
diff_test!(child_watch_events, pair);
diff_test!(persistent_watch_stream, pair);
diff_test!(persistent_recursive_watch_stream, pair);
diff_test!(persistent_recursive_on_missing_path, pair);
diff_test!(multi_success, pair);
diff_test!(multi_failure_results, pair);
diff_test!(multi_read_partial_errors, pair);
diff_test!(get_ephemerals_by_prefix, pair);
diff_test!(all_children_number, pair);
diff_test!(who_am_i_and_digest_acl, pair);
diff_test!(ttl_create, pair);
diff_test!(ttl_expiry_sweep, pair);
diff_test!(container_sweep, pair);
diff_test!(sync_and_get_children2, pair);
diff_test!(session_expiry_deletes_ephemerals, pair);
diff_test!(close_session_deletes_ephemerals, pair);

/// Without extendedTypesEnabled, createTTL is refused with Unimplemented (-6).
/// EphemeralType.java validateTTL / PrepRequestProcessor createTTL.
#[tokio::test]
async fn ttl_rejected_without_extended_types() {
    async fn scenario(ctx: Ctx) -> Result<Trace> {
        let c = ctx.setup().await?;
        let mut t = Trace::new();
        let opts = persistent().with_ttl(Duration::from_secs(10));
        t.push("ttl", created(c.create(&ctx.path("ttl"), b"", &opts).await));
        t.push("exists", opt_stat(c.check_stat(&ctx.path("ttl")).await));
        Ok(t)
    }
    compare(
        pair_no_ttl(),
        "ttl_rejected_without_extended_types",
        scenario,
    )
    .await;
}

/// Intended difference (ZOOKEEPER-4655, apache/zookeeper 880f60641, in 3.9.0): a
/// notification carries the zxid of the change that fired it. ZooKeeper 3.8 sends -1.
#[tokio::test]
async fn event_zxid_is_the_triggering_zxid() {
    let pair = pair();
    for server in pair.servers() {
        let ctx = Ctx {
            kind: server.kind(),
            connect: server.connect_string(),
            addr: server.addr(),
            root: format!("/event_zxid_{}", server.kind().name()),
            config: pair.config.clone(),
        };
        let c = ctx.setup().await.expect("setup");
        let p = ctx.path("n");
        let (stat, w) = c.check_and_watch_stat(&p).await.expect("watch");
        assert!(stat.is_none());
        let (created, _) = c.create(&p, b"", &persistent()).await.expect("create");
        let created_event = oneshot(w).await.expect("event");
        let (_, _, w) = c.get_and_watch_data(&p).await.expect("watch");
        let set = c.set_data(&p, b"x", None).await.expect("set");
        let changed_event = oneshot(w).await.expect("event");
        match server.kind() {
            ServerKind::ZooKeeper => {
                assert_eq!(created_event.zxid, -1, "3.8 sends -1");
                assert_eq!(changed_event.zxid, -1, "3.8 sends -1");
            }
            ServerKind::Paddock => {
                assert_eq!(created_event.zxid, created.czxid);
                assert_eq!(changed_event.zxid, set.mzxid);
            }
        }
    }
}

/// Intended difference (ZOOKEEPER-4026, apache/zookeeper 58eed9f52, in 3.8.4 and 3.9.0): a
/// create2 inside a multi keeps its opcode (MultiOperationRecord passes the header type to
/// Op.create), so its result carries the new node's Stat. Debian's 3.8.0 rebuilds it as a
/// plain create and answers without a Stat, which the client shows as all -1.
#[tokio::test]
async fn multi_create2_returns_stat() {
    async fn run(ctx: Ctx) -> Result<Value> {
        let c = ctx.setup().await?;
        let mut m = c.new_multi_writer();
        m.add_create(&ctx.path("m1"), b"a", &persistent())?;
        let results = m.commit().await?;
        let czxid_known = match &results[0] {
            zk::MultiWriteResult::Create { stat, .. } => stat.czxid > 0 && stat.data_length == 1,
            _ => false,
        };
        Ok(json!({"stat_present": czxid_known}))
    }
    intended_difference(
        pair(),
        "multi_create2_returns_stat",
        run,
        json!({"stat_present": false}),
        json!({"stat_present": true}),
    )
    .await;
}
