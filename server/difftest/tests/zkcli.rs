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

/// The `zkCli.sh` script itself (Debian's wrapper around `ZooKeeperMain`), one command per
/// invocation as an operator types it: same answer from both servers.
#[tokio::test]
async fn zkcli_sh_script_one_shot_commands() {
    let script = std::path::Path::new("/usr/share/zookeeper/bin/zkCli.sh");
    assert!(
        script.exists(),
        "zkCli.sh is missing: scripts/install-test-deps.sh installs it"
    );
    let pair = pair();
    let mut outputs = Vec::new();
    for server in pair.servers() {
        let connect = server.connect_string();
        let mut transcript = Vec::new();
        for args in [
            vec!["create", "/zkcli_sh", "hello"],
            vec!["get", "-s", "/zkcli_sh"],
            vec!["ls", "/"],
            vec!["delete", "/zkcli_sh"],
        ] {
            let out = tokio::process::Command::new(script)
                .args(["-server", &connect])
                .args(&args)
                .stdin(std::process::Stdio::null())
                .output();
            let out = tokio::time::timeout(zkcli::ZKCLI_DEADLINE, out)
                .await
                .expect("zkCli.sh finishes")
                .expect("zkCli.sh runs");
            // The script's output after the connection event: the command's own answer.
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            let answer: Vec<String> = zkcli::normalize(&text)
                .lines()
                .skip_while(|l| !l.contains("SyncConnected"))
                .skip(1)
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            transcript.push((args.join(" "), answer));
        }
        outputs.push(transcript);
    }
    if let [zookeeper, paddock] = outputs.as_slice() {
        assert_eq!(
            zookeeper, paddock,
            "zkCli.sh output differs (left ZooKeeper, right Paddock)"
        );
    }
    let created = &outputs[0][0].1;
    assert!(
        created.iter().any(|l| l.contains("Created /zkcli_sh")),
        "{created:?}"
    );
}
