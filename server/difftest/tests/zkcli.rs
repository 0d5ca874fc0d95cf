//! ZooKeeper's own command line client (zkCli.sh's `ZooKeeperMain`) against both servers,
//! outputs compared after normalising zxids, times and session ids. Commands are batched on
//! stdin, one JVM per batch and server.

use std::sync::OnceLock;

use paddock_difftest::*;

fn pair() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| ServerPair::start(ServerConfig::default()))
}

/// Runs the batch on both servers; with `sorted`, output lines are compared as a multiset
/// (for batches where a watch event printed by zkCli's event thread interleaves freely).
async fn compare_cli(commands: &[&str], sorted: bool) {
    let pair = pair();
    let mut outputs = Vec::new();
    for server in pair.servers() {
        let out = zkcli::run(&server.connect_string(), commands)
            .await
            .unwrap_or_else(|err| panic!("zkCli on {}: {err:#}", server.kind().name()));
        let mut lines: Vec<String> = zkcli::normalize(&out).lines().map(str::to_string).collect();
        if sorted {
            lines.sort();
        }
        if std::env::var_os("DIFFTEST_PRINT").is_some() {
            eprintln!("zkCli on {}:\n{}", server.kind().name(), lines.join("\n"));
        }
        outputs.push(lines);
    }
    if let [zookeeper, paddock] = outputs.as_slice() {
        assert_eq!(
            zookeeper, paddock,
            "zkCli output differs (left ZooKeeper, right Paddock)"
        );
    }
    // Sanity: the batch really ran (a connection failure would print nothing useful).
    assert!(
        outputs[0].iter().any(|l| l.contains("SyncConnected")),
        "zkCli did not connect: {:?}",
        outputs[0]
    );
}

/// create, create -e -s, get -s, set, ls, ls -R, stat, delete, deleteall, sync.
/// ZooKeeperMain / cli/*Command.java output formats over the server's replies.
#[tokio::test]
async fn zkcli_basic_tree_commands() {
    compare_cli(
        &[
            "create /cli data",
            "create /cli data",
            "create -e -s /cli/eph- x",
            "create -s /cli/seq- y",
            "get -s /cli",
            "set /cli newdata",
            "set -v 0 /cli stale",
            "get -s /cli",
            "create /cli/a",
            "create /cli/a/b deep",
            "ls /cli",
            "ls -s /cli",
            "ls -R /cli",
            "stat /cli/a/b",
            "stat /cli/missing",
            "delete /cli/a",
            "deleteall /cli/a",
            "delete /cli/eph-0000000000",
            "get /cli/missing",
            "sync /cli",
            "ls /cli",
        ],
        false,
    )
    .await;
}

/// setAcl, getAcl, addauth, digest ACLs and NoAuth as zkCli prints them; whoami.
#[tokio::test]
async fn zkcli_acl_and_auth() {
    compare_cli(
        &[
            "create /acl x",
            "getAcl /acl",
            "setAcl /acl world:anyone:r",
            "getAcl /acl",
            "set /acl y",
            "setAcl -v 0 /acl world:anyone:cdrwa",
            "whoami",
            "addauth digest user:pass",
            "whoami",
            "create /secret s auth:user:pass:cdrwa",
            "getAcl /secret",
            "get /secret",
            "setAcl /secret digest:other:AAAAAAAAAAAAAAAAAAAAAAAAAAA=:r",
            "get /secret",
            "getAcl /secret",
        ],
        false,
    )
    .await;
}

/// setquota/listquota/delquota use /zookeeper/quota; ZooKeeperMain quota commands.
#[tokio::test]
async fn zkcli_quota() {
    compare_cli(
        &[
            "create /quota x",
            "create /quota/a y",
            "setquota -n 5 /quota",
            "listquota /quota",
            "ls -R /zookeeper/quota",
            "delquota -n /quota",
            "listquota /quota",
        ],
        false,
    )
    .await;
}

/// addWatch (persistent and recursive) prints events from zkCli's event thread.
#[tokio::test]
async fn zkcli_add_watch() {
    compare_cli(
        &[
            "create /watched x",
            "addWatch /watched",
            "addWatch -m PERSISTENT_RECURSIVE /watched",
            "create /watched/kid k",
            "set /watched y",
            "sync /watched",
            "get /watched",
        ],
        true,
    )
    .await;
}
