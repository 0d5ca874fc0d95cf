"""Servers on a given data directory, and the data directories themselves.

The kazoo harness starts each server on a fresh temp data dir; the storage suite needs the
opposite: one directory written by one server and then served by another (or by the same
kind again after a SIGTERM or a SIGKILL). Everything here works on a directory the caller
owns; `scratch_dir` makes one under the system temp dir that the caller removes.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kazoo"))

import kazoo_ext  # noqa: E402,F401  (registers the error codes kazoo 2.8 does not know)
from harness import (  # noqa: E402
    JAVA_DIR,
    SERVER_KINDS,
    ZK_JARS,
    ServerConfig,
)
from kazoo.client import KazooClient  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

# The transaction log and snapshots live in <dataDir>/version-2 (FileTxnSnapLog.version).
VERSION_DIR = "version-2"
LOG_NAME = re.compile(r"^log\.[0-9a-f]+$")
SNAPSHOT_NAME = re.compile(r"^snapshot\.[0-9a-f]+$")

TOOL_DEADLINE_S = 60.0
CONNECT_DEADLINE_S = 15.0


def storage_config(tick_ms=1000, snap_count=None):
    """The harness configuration with the storage knobs.

    A 1 s tick allows 20 s sessions (maxSessionTimeout = 20 ticks), long enough for a
    client to reattach its session across a JVM restart. `snap_count` sets ZooKeeper's
    snapCount (SyncRequestProcessor: a snapshot and a new log after snapCount/2 plus a
    random part of snapCount/2 transactions) and Paddock's key of the same name.
    """
    extra = [f"snapCount={snap_count}"] if snap_count else []
    return ServerConfig(tick_ms=tick_ms, extra_cfg=extra)


def start_server(kind, config, data_dir, port=None):
    """Start a server of `kind` ("zk" or "paddock") on `data_dir`; returns the harness
    Server once it answers `srvr`. `stop()` is a SIGTERM, `kill()` a SIGKILL; neither
    touches the data dir."""
    os.makedirs(data_dir, exist_ok=True)
    return SERVER_KINDS[kind](config).start(data_dir=data_dir, port=port)


@contextmanager
def serving(kind, config, data_dir, port=None):
    """`start_server` that is stopped (SIGTERM) when the block ends, however it ends."""
    server = start_server(kind, config, data_dir, port)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def scratch_dir(prefix="paddock-storage-"):
    """A directory under the system temp dir, removed afterwards unless
    DIFFTEST_KEEP_TMP is set (then its path is printed)."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        if os.environ.get("DIFFTEST_KEEP_TMP"):
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def copy_data_dir(src, dst):
    """Copy a data dir (of a stopped server) so one written tree can be served twice."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


def storage_files(data_dir):
    """(logs, snapshots): full paths in <dataDir>/version-2, each sorted by zxid."""
    vdir = os.path.join(data_dir, VERSION_DIR)
    names = sorted(os.listdir(vdir)) if os.path.isdir(vdir) else []

    def by_zxid(pattern):
        chosen = [n for n in names if pattern.match(n)]
        chosen.sort(key=lambda n: int(n.split(".", 1)[1], 16))
        return [os.path.join(vdir, n) for n in chosen]

    return by_zxid(LOG_NAME), by_zxid(SNAPSHOT_NAME)


def client(server, auth=(), timeout_s=10.0, retry_forever=True):
    """A started kazoo client of `server` (a harness Server or a "host:port" string).
    With `retry_forever` it keeps reconnecting (every 0.1 s) while the server is down, so
    it can reattach its session to the server that is started next on the same port."""
    tries = -1 if retry_forever else 3
    retry = KazooRetry(max_tries=tries, delay=0.05, backoff=1, max_delay=0.1)
    c = KazooClient(
        hosts=server if isinstance(server, str) else server.hosts(),
        timeout=timeout_s,
        auth_data=list(auth),
        connection_retry=retry,
    )
    c.start(timeout=CONNECT_DEADLINE_S)
    return c


def super_client(server, **kwargs):
    """A client authenticated as the super user of the harness configuration: it passes
    every ACL check (DigestAuthenticationProvider superDigest)."""
    auth = [("digest", f"super:{ServerConfig.SUPER_PASSWORD}")]
    return client(server, auth=auth, **kwargs)


def close(c):
    try:
        c.stop()
    finally:
        c.close()


def java_tool(main_class, *args):
    """Run one of ZooKeeper's offline tools (TxnLogToolkit, SnapshotFormatter) from the
    Debian jars, as zkTxnLogToolkit.sh / zkSnapShotToolkit.sh do. Returns the
    CompletedProcess with stdout and stderr as text."""
    classpath = ":".join(os.path.join(JAVA_DIR, j) for j in ZK_JARS)
    java = os.environ.get("JAVA", "java")
    return subprocess.run(
        [java, "-cp", classpath, main_class, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TOOL_DEADLINE_S,
    )
