//! Four-letter words on the client port (`server/command/FourLetterCommands.java` and the
//! `*Command` classes beside it), answered line for line as a standalone ZooKeeper answers
//! them, with `4lw.commands.whitelist` and ZooKeeper's refusal text.
//!
//! What only the core task knows (connections, sessions, watches, the tree digest log) is read
//! through `core_task::inspect`; the rendering is here, in the text layouts of
//! `ServerStats.toString`, `ServerCnxn.dumpConnectionInfo`, `ZooKeeperServer.dumpConf`,
//! `ExpiryQueue.dump`, `DataTree.dumpEphemerals` and `WatchManager.dumpWatches`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;

use crate::conn::ConnEnd;
use crate::core_task::{inspect, CoreView, CORE_WAIT};
use crate::metrics::render_mntr;
use crate::server::Shared;
use crate::stats::ConnStats;

/// What `srvr` reports as the version: ZooKeeper's line shape, so that tools that parse
/// "Zookeeper version: X.Y.Z-..." (zkServer.sh status, kazoo's server_version) read it.
pub const VERSION_LINE: &str = concat!(
    "3.9.3-paddock-",
    env!("CARGO_PKG_VERSION"),
    ", built on paddock"
);

/// `AbstractFourLetterCommand.ZK_NOT_SERVING`.
pub const ZK_NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The server state `srvr` and `mntr` report. The ensemble will answer leader/follower here.
pub const SERVER_STATE: &str = "standalone";

/// `ZooTrace`'s default text trace level (`CLIENT_REQUEST_TRACE_MASK | SERVER_PACKET_TRACE_MASK
/// | CLIENT_DATA_PACKET_TRACE_MASK | CLIENT_PING_TRACE_MASK` is 0b1_0011_0010 = 306).
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// Answers `cmd` and closes the connection. `trace_mask` is the 8-byte argument of `stmk`.
pub async fn answer(
    cmd: &str,
    trace_mask: Option<i64>,
    peer: SocketAddr,
    mut write: crate::conn::WriteHalf,
    shared: &Shared,
) -> Result<(), ConnEnd> {
    let text = if shared.four_letter_word_allowed(cmd) {
        tracing::info!("Processing {cmd} command from {peer}");
        run(cmd, trace_mask, peer, shared)
            .await
            .unwrap_or_else(|| format!("{ZK_NOT_SERVING}\n"))
    } else {
        format!("{cmd} is not executed because it is not in the whitelist.\n")
    };
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// The text of an allowed command; `None` when the core task is gone (not serving).
async fn run(
    cmd: &str,
    trace_mask: Option<i64>,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<String> {
    // Every four-letter word is a received packet (`NIOServerCnxn.checkFourLetterWord`).
    let state = inspect(&shared.core, |view| {
        view.stats.packets_received += 1;
        (view.serving(), view.read_only())
    });
    let (serving, read_only) = match tokio::time::timeout(CORE_WAIT, state).await {
        Ok(state) => state?,
        // Alive but held up: not serving (`ruok` still answers).
        Err(_) => (false, false),
    };
    // A member between leaders has no running ZooKeeperServer: the commands that read it
    // answer ZK_NOT_SERVING (`AbstractFourLetterCommand.isZKServerRunning`).
    if !serving && !matches!(cmd, "ruok" | "isro" | "gtmk" | "stmk" | "envi") {
        return None;
    }
    let connections = shared.open_connections();
    let text = match cmd {
        "ruok" => "imok".to_owned(),
        "isro" if !serving => "null".to_owned(),
        "isro" if read_only => "ro".to_owned(),
        "isro" => "rw".to_owned(),
        "gtmk" => shared.trace_mask.load(Ordering::Relaxed).to_string(),
        "stmk" => {
            let mask = trace_mask?;
            shared.trace_mask.store(mask, Ordering::Relaxed);
            mask.to_string()
        }
        "envi" => render_envi(),
        "conf" => render_conf(shared).await,
        "dirs" => {
            let (data, log) = dir_sizes(shared).await;
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        "srvr" | "stat" => {
            let brief = cmd == "stat";
            inspect(&shared.core, move |v| {
                render_stat(v, connections, peer, brief)
            })
            .await?
        }
        "cons" => inspect(&shared.core, move |v| render_cons(v, peer)).await?,
        "crst" => {
            inspect(&shared.core, |v| {
                v.conns.values_mut().for_each(ConnStats::reset)
            })
            .await?;
            "Connection stats reset.\n".to_owned()
        }
        "srst" => {
            let metrics = shared.metrics.clone();
            inspect(&shared.core, move |v| {
                v.stats.reset();
                metrics.reset();
            })
            .await?;
            "Server stats reset.\n".to_owned()
        }
        "dump" => inspect(&shared.core, move |v| render_dump(v, peer)).await?,
        "wchs" => {
            inspect(&shared.core, |v| {
                let s = v.state.watches().summary();
                format!(
                    "{} connections watching {} paths\nTotal watches:{}\n",
                    s.connections, s.paths, s.watches
                )
            })
            .await?
        }
        "wchc" => inspect(&shared.core, render_wchc).await?,
        "wchp" => inspect(&shared.core, render_wchp).await?,
        "hash" => {
            inspect(&shared.core, |v| {
                let mut out = String::new();
                for (zxid, digest) in v.state.digest_log().recorded() {
                    let _ = writeln!(out, "{:x}: {digest}", zxid as u64);
                }
                out
            })
            .await?
        }
        "mntr" => {
            let metrics = shared.metrics.clone();
            inspect(&shared.core, move |v| {
                let gauges = v.gauges(connections);
                render_mntr(VERSION_LINE, v.server_state(), &gauges, &metrics)
            })
            .await?
        }
        _ => String::new(),
    };
    Some(text)
}

/// `StatCommand`: the version, for `stat` the clients, then `ServerStats.toString()` and the
/// node count.
fn render_stat(
    v: &mut CoreView<'_>,
    connections: u64,
    peer: SocketAddr,
    with_clients: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Zookeeper version: {VERSION_LINE}");
    if with_clients {
        out.push_str("Clients:\n");
        for line in connection_lines(v, peer, true) {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    let s = &v.stats;
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        s.latency.min(),
        crate::metrics::java_double(s.latency.avg()),
        s.latency.max_ms
    );
    let _ = writeln!(out, "Received: {}", s.packets_received);
    let _ = writeln!(out, "Sent: {}", s.packets_sent);
    let _ = writeln!(out, "Connections: {connections}");
    let _ = writeln!(out, "Outstanding: {}", v.outstanding());
    let _ = writeln!(out, "Zxid: 0x{:x}", v.state.last_zxid() as u64);
    let _ = writeln!(out, "Mode: {}", v.server_state());
    let _ = writeln!(out, "Node count: {}", v.state.counts().znode_count);
    out
}

/// `ConsCommand`: every connection in full, each on its own line, then an empty line.
fn render_cons(v: &mut CoreView<'_>, peer: SocketAddr) -> String {
    let mut out = String::new();
    for line in connection_lines(v, peer, false) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    out
}

/// `ServerCnxn.dumpConnectionInfo` for every client connection, then for the connection
/// asking (ZooKeeper lists it too: it is a connection like the others, without a session).
fn connection_lines(v: &CoreView<'_>, asking: SocketAddr, brief: bool) -> Vec<String> {
    let infos = v.state.conn_infos();
    let mut lines = Vec::with_capacity(infos.len() + 1);
    for info in infos {
        let Some(c) = v.conns.get(&info.conn) else {
            continue;
        };
        let mut line = format!(
            " /{}[1](queued={},recved={},sent={}",
            c.peer,
            c.in_flight.len(),
            c.packets_received,
            c.packets_sent
        );
        if let (false, Some(sid)) = (brief, info.session.filter(|&s| s != 0)) {
            let _ = write!(
                line,
                ",sid=0x{:x},lop={},est={},to={}",
                sid as u64, c.last_op, c.established_ms, info.timeout_ms
            );
            if c.last_cxid >= 0 {
                let _ = write!(line, ",lcxid=0x{:x}", c.last_cxid as u64);
            }
            let _ = write!(
                line,
                ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                c.last_zxid as u64,
                c.last_response_ms,
                c.last_latency_ms,
                c.latency.min(),
                c.latency.avg_integer(),
                c.latency.max_ms
            );
        }
        line.push(')');
        lines.push(line);
    }
    lines.push(format!(" /{asking}[0](queued=0,recved=1,sent=0)"));
    lines
}

/// `DumpCommand`: the session expiry queue, the ephemeral nodes per session and the
/// connection expiry queue.
fn render_dump(v: &mut CoreView<'_>, asking: SocketAddr) -> String {
    let mut out = String::new();
    out.push_str("SessionTracker dump:\n");
    let sessions: Vec<(i64, String)> = v
        .state
        .session_expiries()
        .into_iter()
        .filter_map(|(id, at)| Some((at?, format!("0x{:x}", id as u64))))
        .collect();
    out.push_str("Session ");
    render_expiry_queue(&mut out, &sessions);
    out.push_str("ephemeral nodes dump:\n");
    let ephemerals = v.state.ephemerals_by_session();
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", ephemerals.len());
    for (session, paths) in ephemerals {
        let _ = writeln!(out, "0x{:x}:", session as u64);
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\n");
    // NIOServerCnxnFactory expires a connection with its session; a connection without one
    // (like the one asking) is listed with session 0.
    let expiries: std::collections::HashMap<i64, i64> = v
        .state
        .session_expiries()
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?)))
        .collect();
    let now = crate::core_task::wall_ms();
    let mut conns: Vec<(i64, String)> = v
        .state
        .conn_infos()
        .into_iter()
        .filter_map(|info| {
            let c = v.conns.get(&info.conn)?;
            let sid = info.session.unwrap_or(0);
            let at = expiries.get(&sid).copied().unwrap_or(now);
            Some((at, format!("ip: /{} sessionId: 0x{:x}", c.peer, sid as u64)))
        })
        .collect();
    conns.push((now, format!("ip: /{asking} sessionId: 0x0")));
    out.push_str("Connections ");
    render_expiry_queue(&mut out, &conns);
    out
}

/// `ExpiryQueue.dump`: `Sets (<buckets>)/(<elements>):`, then each bucket in time order with
/// its size, expiry date and elements.
fn render_expiry_queue(out: &mut String, elements: &[(i64, String)]) {
    let mut buckets: std::collections::BTreeMap<i64, Vec<&str>> = Default::default();
    for (at, element) in elements {
        buckets.entry(*at).or_default().push(element);
    }
    let _ = writeln!(out, "Sets ({})/({}):", buckets.len(), elements.len());
    for (at, members) in buckets {
        let _ = writeln!(out, "{} expire at {}:", members.len(), java_date(at));
        for m in members {
            let _ = writeln!(out, "\t{m}");
        }
    }
}

/// `WatchCommand` for `wchc`: each session with the paths it watches (data watches only, as
/// `DataTree.dumpWatches`), then an empty line.
fn render_wchc(v: &mut CoreView<'_>) -> String {
    let sessions = session_of_conn(v);
    let mut out = String::new();
    for (conn, paths) in v.state.watches().by_conn() {
        let sid = sessions.get(&conn).copied().unwrap_or(0);
        let _ = writeln!(out, "0x{:x}", sid as u64);
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push('\n');
    out
}

/// `WatchCommand` for `wchp`: each watched path with the sessions watching it.
fn render_wchp(v: &mut CoreView<'_>) -> String {
    let sessions = session_of_conn(v);
    let mut out = String::new();
    for (path, conns) in v.state.watches().by_path() {
        let _ = writeln!(out, "{path}");
        for conn in conns {
            let sid = sessions.get(&conn).copied().unwrap_or(0);
            let _ = writeln!(out, "\t0x{:x}", sid as u64);
        }
    }
    out.push('\n');
    out
}

fn session_of_conn(v: &CoreView<'_>) -> std::collections::HashMap<paddock_core::ConnId, i64> {
    v.state
        .conn_infos()
        .into_iter()
        .map(|i| (i.conn, i.session.unwrap_or(0)))
        .collect()
}

/// `ZooKeeperServer.dumpConf` of a standalone server.
async fn render_conf(shared: &Shared) -> String {
    let cfg = &shared.config;
    let core = cfg.core_config();
    let (data_size, log_size) = dir_sizes(shared).await;
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={}", cfg.client_port);
    let _ = writeln!(out, "secureClientPort=-1");
    let _ = writeln!(out, "dataDir={}", absolute(&cfg.data_dir.join("version-2")));
    let _ = writeln!(out, "dataDirSize={data_size}");
    let _ = writeln!(
        out,
        "dataLogDir={}",
        absolute(&cfg.data_log_dir.join("version-2"))
    );
    let _ = writeln!(out, "dataLogSize={log_size}");
    let _ = writeln!(out, "tickTime={}", cfg.tick_ms);
    let _ = writeln!(out, "maxClientCnxns={}", cfg.max_client_connections_per_ip);
    let _ = writeln!(out, "minSessionTimeout={}", core.session_timeout_ms_min);
    let _ = writeln!(out, "maxSessionTimeout={}", core.session_timeout_ms_max);
    let _ = writeln!(out, "clientPortListenBacklog=-1");
    let _ = writeln!(out, "serverId={}", cfg.server_id.unwrap_or(0));
    out
}

/// A path made absolute against the working directory, as `File.getAbsolutePath` does (no
/// symlink resolution, no `..` folding).
pub fn absolute(path: &Path) -> String {
    if path.is_absolute() {
        return path.display().to_string();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let rel = path.strip_prefix(".").unwrap_or(path);
    cwd.join(rel).display().to_string()
}

/// The bytes under the snapshot and log directories (`ZooKeeperServer.getDataDirSize`,
/// `getLogDirSize`), read off the core task's thread.
pub async fn dir_sizes(shared: &Shared) -> (u64, u64) {
    let snap = shared.config.data_dir.join("version-2");
    let log = shared.config.data_log_dir.join("version-2");
    tokio::task::spawn_blocking(move || (dir_size(&snap), dir_size(&log)))
        .await
        .unwrap_or((0, 0))
}

/// The total length of the files under `path`, recursively; 0 for what cannot be read.
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| dir_size(&e.path())).sum()
}

/// `EnvCommand` (`Environment.list`), without the lines that describe a JVM: Paddock has no
/// `java.*` properties and no JVM heap (`os.memory.*`).
pub fn render_envi() -> String {
    let mut out = String::from("Environment:\n");
    for (key, value) in environment() {
        let _ = writeln!(out, "{key}={value}");
    }
    out
}

/// `Environment.list`'s entries that exist outside a JVM, in its order.
pub fn environment() -> Vec<(&'static str, String)> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let (user, home) = current_user();
    let arch = match std::env::consts::ARCH {
        // Java's os.arch spelling.
        "x86_64" => "amd64",
        other => other,
    };
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        other => other,
    };
    vec![
        ("zookeeper.version", VERSION_LINE.to_owned()),
        ("host.name", read("/proc/sys/kernel/hostname")),
        ("os.name", os.to_owned()),
        ("os.arch", arch.to_owned()),
        ("os.version", read("/proc/sys/kernel/osrelease")),
        ("user.name", user),
        ("user.home", home),
        (
            "user.dir",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}

/// The name and home directory of the user this process runs as, from `/etc/passwd`.
fn current_user() -> (String, String) {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 5 && f[2] == uid)
        .map(|f| (f[0].to_owned(), f[5].to_owned()))
        .unwrap_or_else(|| (std::env::var("USER").unwrap_or_default(), String::new()))
}

/// `java.util.Date.toString` in UTC: `Wed Nov 25 20:33:22 UTC 2026`.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = paddock_storage::dump::civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // java.util.Date.toString, checked against the dump of a real ZooKeeper 3.8
    // ("2 expire at Wed Nov 25 20:33:24 UTC 2026").
    #[test]
    fn dates_print_as_java_date_to_string_in_utc() {
        assert_eq!(java_date(1_795_638_804_000), "Wed Nov 25 20:33:24 UTC 2026");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn directory_sizes_sum_files_recursively() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("a"), [0u8; 10]).expect("write");
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).expect("write");
        assert_eq!(dir_size(dir.path()), 15);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
