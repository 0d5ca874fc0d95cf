//! Every four-letter word against Apache ZooKeeper 3.8 and Paddock after the same client
//! activity: the same lines, keys and order, with values normalised only where they
//! legitimately differ. ZooKeeper source: `server/command/*Command.java`,
//! `ServerStats.toString`, `ServerCnxn.dumpConnectionInfo`, `ZooKeeperServer.dumpConf`,
//! `ExpiryQueue.dump`, `WatchManager.dumpWatches`, `Environment.list`, `MonitorCommand`.
//!
//! Intended differences, each with its reason:
//! - Versions (`Zookeeper version:`, `zk_version`, `zookeeper.version`): different products.
//! - Client ports, data directory paths, session ids, times (`est`, `lresp`, expiry dates),
//!   latencies, `dataDirSize`/`logdir_size` (log preallocation and snapshot sizes differ by
//!   a few bytes of padding), packet counters (pings depend on timing): values of the run.
//! - The order of connections (`cons`, `stat`), of sessions (`wchc`, `dump`) and of sessions
//!   under a path (`wchp`): ZooKeeper prints `HashMap`/`HashSet` iteration order; Paddock
//!   prints a sorted order. Those blocks are compared as sets.
//! - `dump`'s expiry buckets: ZooKeeper rounds expiry times to ticks from its own start and
//!   keeps empty buckets; the bucket header lines are compared by shape only.
//! - `envi`: ZooKeeper's `java.*` and `os.memory.*` lines describe the JVM; Paddock has none.
//! - `mntr`: ZooKeeper's per-namespace summary sets (`zk_*_<ns>_read_per_namespace`,
//!   `..._write_per_namespace`) are not exported by Paddock yet; JVM values
//!   (`open_file_descriptor_count`, `max_file_descriptor_count`) are the process's own.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;

use paddock_difftest::ops::activity;
use paddock_difftest::server::four_letter_word;
use paddock_difftest::*;

fn pair() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| ServerPair::start(ServerConfig::default()))
}

/// A pair with ZooKeeper's default whitelist plus `ruok`, `stmk` and `gtmk`, written with
/// the spaces and empty entries `FourLetterCommands.isEnabled` trims and skips.
fn pair_default_whitelist() -> &'static ServerPair {
    static PAIR: OnceLock<ServerPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        ServerPair::start(ServerConfig {
            extra: vec![("4lw.commands.whitelist".into(), " ruok , ,stmk,gtmk".into())],
            ..ServerConfig::default()
        })
    })
}

/// Replaces every session id with a symbol (S0, S1, in client order).
fn name_sessions(text: &str, sessions: &[i64]) -> String {
    let mut text = text.to_owned();
    for (i, sid) in sessions.iter().enumerate() {
        text = text.replace(&format!("0x{:x}", *sid as u64), &format!("S{i}"));
    }
    text
}

/// Replaces each run of digits in `s` with `N`.
fn digits_to_n(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(ch);
        }
    }
    out
}

/// `key=value` or `key: value` or `key\tvalue` lines, with the values of `varying` keys
/// replaced by `*`.
fn mask_values(text: &str, sep: &str, varying: &[&str]) -> Vec<String> {
    text.lines()
        .map(|line| match line.split_once(sep) {
            Some((key, _)) if varying.contains(&key) => format!("{key}{sep}*"),
            _ => line.to_owned(),
        })
        .collect()
}

/// `srvr` / `stat`: the per-run values masked, the client block (stat) compared as a set.
fn normalise_stat(text: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut lines = Vec::new();
    let mut clients = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with(" /") {
            clients.insert(digits_to_n(line));
            continue;
        }
        let masked = match line.split_once(": ") {
            Some(("Zookeeper version", _)) => "Zookeeper version: *".to_owned(),
            Some(("Latency min/avg/max", v)) => format!("Latency min/avg/max: {}", digits_to_n(v)),
            Some((key @ ("Received" | "Sent"), _)) => format!("{key}: *"),
            _ => line.to_owned(),
        };
        lines.push(masked);
    }
    (lines, clients)
}

/// `cons`: connection lines as a set, with addresses and run values masked but the fields
/// and their order kept.
fn normalise_cons(text: &str, sessions: &[i64]) -> (BTreeSet<String>, usize) {
    let text = name_sessions(text, sessions);
    let lines = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (head, rest) = l.split_once("](").unwrap_or((l, ""));
            let fields: Vec<String> = rest
                .trim_end_matches(')')
                .split(',')
                .map(|f| match f.split_once('=') {
                    Some((k @ ("sid" | "lop"), v)) => format!("{k}={v}"),
                    Some((k @ "lzxid", v)) if v == "0xffffffffffffffff" => format!("{k}={v}"),
                    Some((k, _)) => format!("{k}=*"),
                    None => f.to_owned(),
                })
                .collect();
            let interest = head.rsplit('[').next().unwrap_or("");
            format!("[{interest}]({})", fields.join(","))
        })
        .collect();
    (lines, text.lines().filter(|l| l.is_empty()).count())
}

/// `dump`: section headers and element lines; elements as sets within each section; bucket
/// headers by shape.
fn normalise_dump(text: &str, sessions: &[i64]) -> Vec<String> {
    let text = name_sessions(text, sessions);
    let mut out = Vec::new();
    let mut section: BTreeSet<String> = BTreeSet::new();
    let flush = |out: &mut Vec<String>, section: &mut BTreeSet<String>| {
        out.extend(std::mem::take(section));
    };
    for line in text.lines() {
        if line.contains(" expire at ") {
            continue;
        }
        if let Some(elem) = line.strip_prefix('\t') {
            let elem = match elem.split_once(" sessionId: ") {
                Some((_, sid)) => format!("\tip: * sessionId: {sid}"),
                None => format!("\t{elem}"),
            };
            section.insert(elem);
        } else {
            flush(&mut out, &mut section);
            let line = if line.starts_with("Session Sets") || line.starts_with("Connections Sets") {
                // "(buckets)/(elements)": the bucket count is ZooKeeper's tick rounding.
                let (head, elements) = line.rsplit_once('/').unwrap_or((line, ""));
                let head = head.split_once('(').map(|h| h.0).unwrap_or(head);
                format!("{head}(*)/{elements}")
            } else {
                line.to_owned()
            };
            out.push(line);
        }
    }
    flush(&mut out, &mut section);
    out
}

/// `wchc` / `wchp`: blocks (a header line and its indented lines) as a set.
fn normalise_blocks(text: &str, sessions: &[i64]) -> BTreeSet<String> {
    let text = name_sessions(text, sessions);
    let mut blocks = BTreeSet::new();
    let mut current: Option<(String, BTreeSet<String>)> = None;
    for line in text.lines() {
        if let Some(item) = line.strip_prefix('\t') {
            if let Some((_, items)) = current.as_mut() {
                items.insert(item.to_owned());
            }
        } else {
            if let Some((head, items)) = current.take() {
                blocks.insert(format!("{head}: {items:?}"));
            }
            if !line.is_empty() {
                current = Some((line.to_owned(), BTreeSet::new()));
            }
        }
    }
    if let Some((head, items)) = current {
        blocks.insert(format!("{head}: {items:?}"));
    }
    blocks
}

/// `mntr`: the keys in order, and the values of the keys that must agree.
fn normalise_mntr(text: &str) -> (Vec<String>, Vec<String>) {
    const EXACT: &[&str] = &[
        "zk_server_state",
        "zk_ephemerals_count",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_znode_count",
        "zk_global_sessions",
        "zk_watch_count",
        "zk_approximate_data_size",
        "zk_local_sessions",
        "zk_connection_drop_probability",
        "zk_auth_failed_count",
    ];
    let mut keys = Vec::new();
    let mut exact = Vec::new();
    for line in text.lines() {
        let (key, value) = line.split_once('\t').unwrap_or((line, ""));
        // Intended difference: the per-namespace summary sets (see the file's doc).
        if key.ends_with("_read_per_namespace") || key.ends_with("_write_per_namespace") {
            continue;
        }
        keys.push(key.to_owned());
        if EXACT.contains(&key) {
            exact.push(format!("{key}={value}"));
        }
    }
    (keys, exact)
}

fn ask(addr: SocketAddr, word: &str) -> String {
    four_letter_word(addr, word).unwrap_or_else(|e| panic!("{word}: {e:#}"))
}

/// Asks both servers `word` and returns (ZooKeeper, Paddock).
fn ask_both(pair: &ServerPair, word: &str) -> (String, String) {
    let paddock = pair.paddock.as_ref().expect("Paddock runs");
    (ask(pair.zookeeper.addr(), word), ask(paddock.addr(), word))
}

#[tokio::test]
async fn every_four_letter_word_has_zookeepers_layout() {
    let pair = pair();
    if pair.paddock.is_none() {
        return;
    }
    let paddock = pair.paddock.as_ref().expect("checked");
    let zk_act = activity(&pair.zookeeper, "/fw")
        .await
        .expect("activity on ZooKeeper");
    let pd_act = activity(paddock, "/fw").await.expect("activity on Paddock");
    let (zs, ps) = (&zk_act.sessions, &pd_act.sessions);

    // Words whose whole text must be equal.
    for word in ["ruok", "isro", "gtmk", "wchs"] {
        let (z, p) = ask_both(pair, word);
        assert_eq!(z, p, "{word}");
    }

    for word in ["srvr", "stat"] {
        let (z, p) = ask_both(pair, word);
        assert_eq!(
            normalise_stat(&z),
            normalise_stat(&p),
            "{word}:\n{z}\n---\n{p}"
        );
    }
    // zkServer.sh status reads the Mode line of srvr.
    let (_, p) = ask_both(pair, "srvr");
    assert!(p.lines().any(|l| l == "Mode: standalone"), "{p}");

    let (z, p) = ask_both(pair, "cons");
    assert_eq!(
        normalise_cons(&z, zs),
        normalise_cons(&p, ps),
        "cons:\n{z}\n---\n{p}"
    );

    let (z, p) = ask_both(pair, "dump");
    assert_eq!(
        normalise_dump(&z, zs),
        normalise_dump(&p, ps),
        "dump:\n{z}\n---\n{p}"
    );

    for word in ["wchc", "wchp"] {
        let (z, p) = ask_both(pair, word);
        assert_eq!(
            normalise_blocks(&z, zs),
            normalise_blocks(&p, ps),
            "{word}:\n{z}\n---\n{p}"
        );
        assert!(
            z.ends_with("\n\n") && p.ends_with("\n\n"),
            "{word} ends with an empty line"
        );
    }

    let (z, p) = ask_both(pair, "conf");
    let varying = [
        "clientPort",
        "dataDir",
        "dataDirSize",
        "dataLogDir",
        "dataLogSize",
    ];
    assert_eq!(
        mask_values(&z, "=", &varying),
        mask_values(&p, "=", &varying),
        "conf"
    );

    let (z, p) = ask_both(pair, "dirs");
    let varying = ["datadir_size", "logdir_size"];
    assert_eq!(
        mask_values(&z, ": ", &varying),
        mask_values(&p, ": ", &varying),
        "dirs"
    );

    let (z, p) = ask_both(pair, "envi");
    let jvm_only = |l: &&str| l.starts_with("java.") || l.starts_with("os.memory.");
    let keys = |t: &str, drop_jvm: bool| -> Vec<String> {
        t.lines()
            .filter(|l| !(drop_jvm && jvm_only(l)))
            .map(|l| l.split('=').next().unwrap_or(l).to_owned())
            .collect()
    };
    assert_eq!(keys(&z, true), keys(&p, false), "envi keys");

    let (z, p) = ask_both(pair, "mntr");
    assert_eq!(normalise_mntr(&z), normalise_mntr(&p), "mntr");

    // The tree digest every 128 zxids: the same zxids. The digests themselves differ, as
    // they hash each node's ctime and mtime, which are times of the run.
    let (z, p) = ask_both(pair, "hash");
    let zxids = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| {
                let (zxid, digest) = l.split_once(": ").unwrap_or((l, ""));
                assert!(digest.parse::<i64>().is_ok(), "hash line {l:?}");
                zxid.to_owned()
            })
            .collect()
    };
    assert!(!z.is_empty(), "ZooKeeper logged a digest");
    assert_eq!(zxids(&z), zxids(&p), "hash");

    // crst and srst, then what they reset (CnxnStatResetCommand, StatResetCommand).
    for (word, reply) in [
        ("crst", "Connection stats reset.\n"),
        ("srst", "Server stats reset.\n"),
    ] {
        let (z, p) = ask_both(pair, word);
        assert_eq!((z.as_str(), p.as_str()), (reply, reply), "{word}");
    }
    let (z, p) = ask_both(pair, "cons");
    for text in [&z, &p] {
        let sessions = text.lines().filter(|l| l.contains(",sid="));
        for line in sessions {
            assert!(
                line.contains("lop=NA") && line.contains("lzxid=0xffffffffffffffff"),
                "crst resets connections: {line}"
            );
        }
    }
    let (z, p) = ask_both(pair, "srvr");
    for text in [&z, &p] {
        assert!(
            text.contains("Latency min/avg/max: 0/0.0/0\n"),
            "srst resets: {text}"
        );
    }
    drop((zk_act, pd_act));
}

/// `stmk` takes an 8-byte big-endian mask after the word and answers it; `gtmk` then reports
/// it (`NIOServerCnxn.checkFourLetterWord`, `SetTraceMaskCommand`).
#[test]
fn stmk_sets_the_trace_mask_gtmk_reads() {
    let pair = pair_default_whitelist();
    let mut word = b"stmk".to_vec();
    word.extend_from_slice(&0x1f2i64.to_be_bytes());
    for server in pair.servers() {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(server.addr()).expect("connect");
        stream.write_all(&word).expect("write");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read");
        assert_eq!(reply, "498", "{}", server.kind().name());
        assert_eq!(
            ask(server.addr(), "gtmk"),
            "498",
            "{}",
            server.kind().name()
        );
    }
}

/// With the default whitelist (plus `ruok`, `stmk` and `gtmk` here) every other word is refused with
/// ZooKeeper's sentence, and `srvr` is always allowed (`FourLetterCommands.isEnabled`).
#[test]
fn words_outside_the_whitelist_are_refused_in_zookeepers_words() {
    let pair = pair_default_whitelist();
    for server in pair.servers() {
        let name = server.kind().name();
        assert_eq!(ask(server.addr(), "ruok"), "imok", "{name}");
        assert!(
            ask(server.addr(), "srvr").contains("\nMode: standalone\n"),
            "{name}"
        );
        for word in [
            "conf", "cons", "crst", "dump", "envi", "srst", "stat", "wchs", "wchc", "wchp", "dirs",
            "mntr", "isro", "hash",
        ] {
            assert_eq!(
                ask(server.addr(), word),
                format!("{word} is not executed because it is not in the whitelist.\n"),
                "{name} {word}"
            );
        }
    }
}

/// ZooKeeper's own `zkServer.sh status` finds the client port in the zoo.cfg, asks `srvr`
/// through `FourLetterWordMain` and prints its `Mode:` line: it reads Paddock as it reads
/// ZooKeeper. The script's directory comes from `ZOOKEEPER_BIN_DIR` (default Debian's).
#[test]
fn zkserver_sh_status_reports_standalone_mode() {
    let pair = pair_default_whitelist();
    let bin = std::env::var_os("ZOOKEEPER_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/share/zookeeper/bin".into());
    for server in pair.servers() {
        let out = std::process::Command::new(bin.join("zkServer.sh"))
            .arg("status")
            .arg(server.config_path())
            .output()
            .expect("zkServer.sh runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}: {stdout}", server.kind().name());
        assert!(
            stdout.lines().any(|l| l == "Mode: standalone"),
            "{}: {stdout}",
            server.kind().name()
        );
    }
}
