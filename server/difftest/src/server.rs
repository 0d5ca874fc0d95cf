//! Starting and stopping the two servers under test from one generated zoo.cfg.
//!
//! Both servers run as child processes behind a tiny `sh` guard whose stdin is a pipe held by
//! the test process. When the test process drops the guard (or dies, even by SIGKILL), the pipe
//! closes and the guard sends SIGTERM to the server, then SIGKILL after a deadline. That keeps
//! servers shared through `static` fixtures (which Rust never drops) from outliving the tests.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long a server may take to answer `srvr` after launch. ZooKeeper needs 1-2 s on the
/// project's 2-core machines, more when several test binaries start JVMs at once.
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// How long the guard waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE_TENTHS: u32 = 50;

/// Which implementation a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// Apache ZooKeeper 3.8 from Debian, the reference.
    ZooKeeper,
    /// The server under test.
    Paddock,
}

impl ServerKind {
    /// Short name used in messages and temp dir names.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::ZooKeeper => "zookeeper",
            ServerKind::Paddock => "paddock",
        }
    }
}

/// The settings a test binary needs; rendered into one zoo.cfg used by both servers.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `tickTime`: small so that session expiry scenarios are quick.
    pub tick_ms: u32,
    /// `maxClientCnxns`: connections per client IP, 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `extendedTypesEnabled`: TTL nodes (read by ZooKeeper as `zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// `znode.container.checkIntervalMs`: how often containers and TTL nodes are swept.
    pub container_check_interval_ms: Option<u64>,
    /// `znode.container.maxNeverUsedIntervalMs`: age after which never-used containers go.
    pub container_max_never_used_interval_ms: Option<u64>,
    /// Run the AdminServer on a free loopback port (ZooKeeper then needs the servlet API on
    /// its classpath, which Debian's scripts leave out).
    pub admin_server: bool,
    /// Further `key=value` lines, written as they are.
    pub extra: Vec<(String, String)>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_ms: 200,
            max_client_cnxns: 0,
            extended_types: true,
            container_check_interval_ms: None,
            container_max_never_used_interval_ms: None,
            admin_server: false,
            extra: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// `minSessionTimeout` as ZooKeeper derives it: two ticks.
    pub fn min_session_timeout(&self) -> Duration {
        Duration::from_millis(2 * u64::from(self.tick_ms))
    }

    /// The zoo.cfg text for a server listening on `port` with its data in `data_dir` and,
    /// when `admin_port` is given, its AdminServer on that port.
    pub fn render(&self, port: u16, data_dir: &std::path::Path, admin_port: Option<u16>) -> String {
        let mut cfg = String::new();
        let _ = writeln!(cfg, "tickTime={}", self.tick_ms);
        let _ = writeln!(cfg, "dataDir={}", data_dir.display());
        let _ = writeln!(cfg, "clientPort={port}");
        let _ = writeln!(cfg, "clientPortAddress=127.0.0.1");
        match admin_port {
            Some(admin) => {
                let _ = writeln!(cfg, "admin.enableServer=true");
                let _ = writeln!(cfg, "admin.serverAddress=127.0.0.1");
                let _ = writeln!(cfg, "admin.serverPort={admin}");
            }
            None => {
                let _ = writeln!(cfg, "admin.enableServer=false");
            }
        }
        let _ = writeln!(cfg, "4lw.commands.whitelist=*");
        let _ = writeln!(cfg, "maxClientCnxns={}", self.max_client_cnxns);
        let _ = writeln!(cfg, "extendedTypesEnabled={}", self.extended_types);
        if let Some(ms) = self.container_check_interval_ms {
            let _ = writeln!(cfg, "znode.container.checkIntervalMs={ms}");
        }
        if let Some(ms) = self.container_max_never_used_interval_ms {
            let _ = writeln!(cfg, "znode.container.maxNeverUsedIntervalMs={ms}");
        }
        for (key, value) in &self.extra {
            let _ = writeln!(cfg, "{key}={value}");
        }
        cfg
    }

    /// System properties ZooKeeper reads without the `zookeeper.` prefix, so zoo.cfg cannot
    /// carry them (`ContainerManager` reads `znode.container.*` via `Integer.getInteger`).
    fn java_properties(&self) -> Vec<String> {
        let mut props = Vec::new();
        if let Some(ms) = self.container_check_interval_ms {
            props.push(format!("-Dznode.container.checkIntervalMs={ms}"));
        }
        if let Some(ms) = self.container_max_never_used_interval_ms {
            props.push(format!("-Dznode.container.maxNeverUsedIntervalMs={ms}"));
        }
        // QuorumPeer reads it with Boolean.getBoolean, not from zoo.cfg.
        if let Some((_, v)) = self.extra.iter().find(|(k, _)| k == "readonlymode.enabled") {
            props.push(format!("-Dreadonlymode.enabled={v}"));
        }
        props
    }
}

/// True when `DIFFTEST_ONLY_ZK=1`: scenarios then run against ZooKeeper alone and only check
/// that they complete. Meant for validating the harness while Paddock cannot serve yet.
pub fn only_zookeeper() -> bool {
    std::env::var("DIFFTEST_ONLY_ZK").is_ok_and(|v| v == "1")
}

/// Where the ZooKeeper jars live: `ZOOKEEPER_JAVA_DIR`, else Debian's `/usr/share/java`.
pub fn java_dir() -> PathBuf {
    std::env::var_os("ZOOKEEPER_JAVA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java"))
}

/// The Paddock binary: `PADDOCK_BIN`, else `<target>/debug/paddock` where `<target>` is
/// `CARGO_TARGET_DIR` or the workspace's `target`.
pub fn paddock_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PADDOCK_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug").join("paddock")
}

/// A free loopback port for a test server, from [`paddock_testkit::TEST_PORTS`].
pub fn free_port() -> Result<u16> {
    paddock_testkit::free_port()
        .with_context(|| format!("no free loopback port in {:?}", paddock_testkit::TEST_PORTS))
}

/// One running server. Dropping it stops the server and removes its directory.
pub struct ServerProcess {
    kind: ServerKind,
    port: u16,
    admin_port: Option<u16>,
    guard: Child,
    guard_stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerProcess")
            .field("kind", &self.kind)
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// The guard script. `$1` is the grace period in tenths of a second, `$2` the server's temp
/// dir, the rest is the server command. The guard exits when the server does, so an early
/// crash is seen at once. A background watcher reads the pipe (fd 3: asynchronous lists get
/// /dev/null as stdin unless redirected explicitly); `cat` returns only when the test process
/// closes the pipe, and then the watcher stops the server unless it already exited (the
/// `exited` marker keeps it from signalling a pid that may have been reused) and removes the
/// dir, because a server held in a `static` never runs `TempDir`'s destructor.
const GUARD_SCRIPT: &str = r#"grace=$1; dir=$2; shift 2
exec 3<&0
"$@" </dev/null &
pid=$!
echo "$pid" > "$dir/pid"
{
  cat <&3 >/dev/null
  if [ ! -e "$dir/exited" ]; then
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt "$grace" ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
} &
exec 3<&-
wait "$pid"
status=$?
touch "$dir/exited"
exit "$status"
"#;

/// The command line that runs a server of `kind` on `cfg_path`. `run_dir` holds per-run
/// files (ZooKeeper's log4j configuration).
pub(crate) fn server_argv(
    kind: ServerKind,
    config: &ServerConfig,
    cfg_path: &std::path::Path,
    run_dir: &std::path::Path,
) -> Result<Vec<OsString>> {
    let mut argv: Vec<OsString> = Vec::new();
    match kind {
        ServerKind::ZooKeeper => {
            let log4j = run_dir.join("log4j.properties");
            std::fs::write(&log4j, LOG4J_PROPERTIES)?;
            let jars = java_dir();
            let mut jars_used = vec!["zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"];
            if config.admin_server {
                // Jetty needs the servlet API, which Debian ships as a separate jar.
                jars_used.push("servlet-api.jar");
            }
            let classpath = jars_used
                .iter()
                .map(|jar| jars.join(jar).display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            argv.push(
                std::env::var("JAVA")
                    .unwrap_or_else(|_| "java".into())
                    .into(),
            );
            // A small serial heap and C1 only: the JVM starts faster and several test
            // binaries can run at once on two cores.
            for arg in ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"] {
                argv.push(arg.into());
            }
            argv.push(format!("-Dlog4j.configuration=file:{}", log4j.display()).into());
            argv.extend(config.java_properties().into_iter().map(OsString::from));
            argv.push("-cp".into());
            argv.push(classpath.into());
            argv.push("org.apache.zookeeper.server.quorum.QuorumPeerMain".into());
            argv.push(cfg_path.into());
        }
        ServerKind::Paddock => {
            let bin = paddock_bin();
            if !bin.exists() {
                bail!(
                    "Paddock binary not found at {} (set PADDOCK_BIN or run \
                     `cargo build -p paddock` first; DIFFTEST_ONLY_ZK=1 runs ZooKeeper alone)",
                    bin.display()
                );
            }
            argv.push(bin.into());
            argv.push("--config".into());
            argv.push(cfg_path.into());
        }
    }
    Ok(argv)
}

/// Starts `argv` behind the guard script, with its output in `run_dir/server.log`. The guard
/// writes the server's pid to `run_dir/pid` and removes `run_dir` once stopped.
pub(crate) fn spawn_guarded(
    argv: &[OsString],
    run_dir: &std::path::Path,
) -> Result<(Child, Option<ChildStdin>)> {
    let mut command = Command::new("sh");
    command.arg("-c").arg(GUARD_SCRIPT).arg("guard");
    command.arg(STOP_GRACE_TENTHS.to_string()).arg(run_dir);
    command.args(argv);
    let log = std::fs::File::create(run_dir.join("server.log"))?;
    command
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log);
    let program = argv.first().map(|a| a.to_string_lossy().into_owned());
    let mut guard = command
        .spawn()
        .with_context(|| format!("spawn {}", program.unwrap_or_default()))?;
    let stdin = guard.stdin.take();
    Ok((guard, stdin))
}

/// The last 4 KiB of a server's log in `run_dir`, for failure messages.
pub(crate) fn log_tail_of(run_dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(run_dir.join("server.log")).unwrap_or_default();
    let start = text.len().saturating_sub(4096);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    // A server that exits with an error prints `Error: ...` and then its backtrace, which
    // alone fills the tail: keep the error line in view.
    let fatal: String = text[..start]
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .map(|l| format!("{l}\n[...]\n"))
        .collect();
    format!("{fatal}{}", &text[start..])
}

impl ServerProcess {
    /// Starts a server of `kind` with `config` and waits until it answers `srvr`.
    pub fn start(kind: ServerKind, config: &ServerConfig) -> Result<ServerProcess> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("difftest-{}-", kind.name()))
            .tempdir()
            .context("create temp dir")?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)?;
        let port = free_port()?;
        let admin_port = if config.admin_server {
            Some(free_port()?)
        } else {
            None
        };
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, config.render(port, &data_dir, admin_port))?;
        let argv = server_argv(kind, config, &cfg_path, dir.path())?;
        let (guard, guard_stdin) = spawn_guarded(&argv, dir.path())?;
        let mut server = ServerProcess {
            kind,
            port,
            admin_port,
            guard,
            guard_stdin,
            dir,
        };
        if let Err(err) = server.wait_ready() {
            let log = server.log_tail();
            server.stop();
            return Err(err.context(format!("{} did not become ready; log:\n{log}", kind.name())));
        }
        Ok(server)
    }

    /// Which implementation this is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// The client port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The zoo.cfg the server was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    /// The AdminServer's address, when [`ServerConfig::admin_server`] is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_port
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The connect string for clients.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The last 4 KiB of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail_of(self.dir.path())
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self.guard.try_wait()? {
                bail!("server process exited early: {status}");
            }
            match four_letter_word(self.addr(), "srvr") {
                Ok(reply) if reply.starts_with("Zookeeper version:") => return Ok(()),
                _ if Instant::now() >= deadline => {
                    bail!("no srvr answer within {READY_DEADLINE:?}")
                }
                // Polling interval, not synchronisation: the condition is re-checked.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Stops the server: closing the guard's stdin makes it send SIGTERM, then SIGKILL.
    pub fn stop(&mut self) {
        drop(self.guard_stdin.take());
        let deadline =
            Instant::now() + Duration::from_millis(100 * u64::from(STOP_GRACE_TENTHS) + 5000);
        while Instant::now() < deadline {
            match self.guard.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

const LOG4J_PROPERTIES: &str = "log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [%t] %-5p %c{1} - %m%n
";

/// Sends a four-letter word and reads the reply to EOF (the server closes after answering).
pub fn four_letter_word(addr: SocketAddr, word: &str) -> Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(word.as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

/// The two servers of one configuration. `paddock` is `None` under `DIFFTEST_ONLY_ZK=1`.
#[derive(Debug)]
pub struct ServerPair {
    /// The reference.
    pub zookeeper: ServerProcess,
    /// The server under test.
    pub paddock: Option<ServerProcess>,
    /// The configuration both run with.
    pub config: ServerConfig,
}

impl ServerPair {
    /// Starts both servers in parallel. Panics with the reason when either cannot start,
    /// because a test cannot go on without its servers.
    pub fn start(config: ServerConfig) -> ServerPair {
        let paddock = if only_zookeeper() {
            None
        } else {
            let cfg = config.clone();
            Some(std::thread::spawn(move || {
                ServerProcess::start(ServerKind::Paddock, &cfg)
            }))
        };
        let zookeeper = ServerProcess::start(ServerKind::ZooKeeper, &config)
            .unwrap_or_else(|err| panic!("cannot start ZooKeeper: {err:#}"));
        let paddock = paddock.map(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| panic!("Paddock start thread panicked"))
                .unwrap_or_else(|err| panic!("cannot start Paddock: {err:#}"))
        });
        ServerPair {
            zookeeper,
            paddock,
            config,
        }
    }

    /// The servers to run a scenario on, reference first.
    pub fn servers(&self) -> Vec<&ServerProcess> {
        std::iter::once(&self.zookeeper)
            .chain(self.paddock.as_ref())
            .collect()
    }
}
