"""Servers under test: Apache ZooKeeper 3.8 (the reference) and Paddock.

Both are started from the same generated zoo.cfg on a free loopback port, waited for by
polling the `srvr` four-letter word with a deadline, and stopped by pid (SIGTERM, then
SIGKILL). Also home to `Proxy`, a loopback TCP relay a scenario can cut to make a kazoo
client lose its connection (reconnect + setWatches, session expiry) without touching the
server.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
WORKSPACE = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

READY_DEADLINE_S = 30.0
STOP_DEADLINE_S = 10.0

# Debian installs the jars flat in /usr/share/java; the names below are the unversioned
# symlinks Debian keeps. netty carries the NIO/Netty connection factories, log4j + the
# slf4j binding make the server log at all (Debian's zkServer.sh omits them).
JAVA_DIR = os.environ.get("ZK_JAVA_DIR", "/usr/share/java")
ZK_JARS = [
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-log4j12.jar",
    "log4j-1.2.jar",
    "netty-all.jar",
    "metrics-core.jar",
    "commons-io.jar",
    "commons-cli.jar",
    "snappy-java.jar",
]

LOG4J_PROPERTIES = """\
log4j.rootLogger=${zookeeper.root.logger}
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n
"""


@dataclass
class ServerConfig:
    """The zoo.cfg settings shared by both servers in one configuration."""

    # Small tick so that session expiry scenarios take about a second, not half a minute.
    # The negotiated session timeout is clamped to [2, 20] ticks.
    tick_ms: int = 200
    # ContainerManager cadence; ZooKeeper reads these without the `zookeeper.` prefix, so
    # they go to Java as -D flags and to Paddock as zoo.cfg keys.
    container_check_ms: int = 300
    container_max_never_used_ms: int = 0
    enforce_quota: bool = True
    extended_types: bool = True
    # `super:<base64(sha1("super:<password>"))>`
    super_digest: str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # password "test"
    jute_max_buffer: int = 0  # 0 = server default (1 MiB - 1 for ZooKeeper)
    # More zoo.cfg lines ("key=value"), e.g. snapCount for the storage suite; ZooKeeper
    # turns an unknown key into the system property `zookeeper.<key>`.
    extra_cfg: list = field(default_factory=list)

    SUPER_PASSWORD = "test"

    def zoo_cfg(self, port, data_dir):
        lines = [
            f"tickTime={self.tick_ms}",
            f"dataDir={data_dir}",
            f"clientPort={port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
            f"enforceQuota={'true' if self.enforce_quota else 'false'}",
            f"extendedTypesEnabled={'true' if self.extended_types else 'false'}",
            f"DigestAuthenticationProvider.superDigest={self.super_digest}",
            f"znode.container.checkIntervalMs={self.container_check_ms}",
            f"znode.container.maxNeverUsedIntervalMs={self.container_max_never_used_ms}",
        ]
        if self.jute_max_buffer:
            lines.append(f"jute.maxbuffer={self.jute_max_buffer}")
        lines.extend(self.extra_cfg)
        return "\n".join(lines) + "\n"

    def java_props(self):
        props = [
            f"-Dznode.container.checkIntervalMs={self.container_check_ms}",
            f"-Dznode.container.maxNeverUsedIntervalMs={self.container_max_never_used_ms}",
        ]
        if self.jute_max_buffer:
            props.append(f"-Djute.maxbuffer={self.jute_max_buffer}")
        return props


def free_port():
    """A loopback port nobody listens on right now (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter_word(port, word, timeout_s=2.0):
    """Send a four-letter word and read the answer to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def paddock_bin():
    """PADDOCK_BIN, else <target dir>/debug/paddock (honouring CARGO_TARGET_DIR)."""
    explicit = os.environ.get("PADDOCK_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(WORKSPACE, "target")
    return os.path.join(target, "debug", "paddock")


class ServerError(Exception):
    pass


class Server:
    """One server process under test. `kind` is "zk" or "paddock"."""

    kind = None

    def __init__(self, config):
        self.config = config
        self.port = None
        self.proc = None
        self.tmp = None
        self.log_path = None
        self.data_dir = None

    def command(self, cfg_path):
        raise NotImplementedError

    def start(self, data_dir=None, port=None):
        """Start on a fresh data dir in a temp dir, or on `data_dir` (kept on stop), on
        `port` or a free one. The temp dir holds zoo.cfg and the server log."""
        self.tmp = tempfile.mkdtemp(prefix=f"kazoo-difftest-{self.kind}-")
        if data_dir is None:
            data_dir = os.path.join(self.tmp, "data")
            os.makedirs(data_dir)
        self.data_dir = data_dir
        self.port = port or free_port()
        cfg_path = os.path.join(self.tmp, "zoo.cfg")
        with open(cfg_path, "w") as f:
            f.write(self.config.zoo_cfg(self.port, data_dir))
        self.log_path = os.path.join(self.tmp, "server.log")
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.command(cfg_path),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.tmp,
            )
        finally:
            log.close()
        try:
            self.wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def wait_ready(self):
        deadline = time.monotonic() + READY_DEADLINE_S
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.kind} exited with {self.proc.returncode}; log:\n{self.log_tail()}"
                )
            try:
                if four_letter_word(self.port, "srvr").startswith("Zookeeper version:"):
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise ServerError(
            f"{self.kind} not ready on port {self.port} within {READY_DEADLINE_S}s "
            f"({last}); log:\n{self.log_tail()}"
        )

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "<no log>"

    def hosts(self, chroot=""):
        return f"127.0.0.1:{self.port}{chroot}"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_DEADLINE_S)
        self._cleanup()

    def kill(self):
        """SIGKILL: the crash a durable server must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_DEADLINE_S)
        self._cleanup()

    def _cleanup(self):
        self.proc = None
        if self.tmp and not os.environ.get("DIFFTEST_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ZooKeeperServer(Server):
    kind = "zk"

    def command(self, cfg_path):
        with open(os.path.join(self.tmp, "log4j.properties"), "w") as f:
            f.write(LOG4J_PROPERTIES)
        classpath = ":".join([self.tmp] + [os.path.join(JAVA_DIR, j) for j in ZK_JARS])
        java = os.environ.get("JAVA", "java")
        return [
            java,
            "-Dzookeeper.root.logger=WARN,CONSOLE",
            "-Dlog4j.configuration=file:" + os.path.join(self.tmp, "log4j.properties"),
            *self.config.java_props(),
            "-cp",
            classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            cfg_path,
        ]


class PaddockServer(Server):
    kind = "paddock"

    def command(self, cfg_path):
        return [paddock_bin(), "--config", cfg_path]


SERVER_KINDS = {"zk": ZooKeeperServer, "paddock": PaddockServer}


class Proxy:
    """A loopback TCP relay in front of a server, one per client that needs it.

    `cut()` closes every relayed connection and refuses new ones (accept, then close at
    once) until `restore()`. To the server this is a client that vanished; to kazoo it is a
    dropped connection followed by failing reconnect attempts.
    """

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.open = True
        self.closed = False
        self.accepted = 0
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def hosts(self, chroot=""):
        return f"127.0.0.1:{self.port}{chroot}"

    def _accept_loop(self):
        while not self.closed:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open or self.closed:
                    _close(down)
                    continue
                self.accepted += 1
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                _close(down)
                continue
            with self.lock:
                self.pairs.append((down, up))
            threading.Thread(target=self._pump, args=(down, up), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)

    def cut(self):
        with self.lock:
            self.open = False
            pairs, self.pairs = self.pairs, []
        for down, up in pairs:
            _close(down)
            _close(up)

    def restore(self):
        with self.lock:
            self.open = True

    def close(self):
        self.closed = True
        self.cut()
        _close(self.listener)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
