#!/usr/bin/python3
"""Storage benchmark: Paddock against Apache ZooKeeper 3.8 (Debian) on the same machine.

Measures, for each server, alternating between them:
  (a) setData and create throughput and latency at 1, 16 and 64 clients with one request in
      flight each, and 64 clients x 16 in flight, fsync on, after a warm-up;
  (b) populate N znodes of 100 bytes, stop (SIGTERM), restart, and time process start to the
      first successful getData of the last znode created (recovery), then resident memory.

Usage: bench/storage.py [--znodes 1000000] [--duration 8] [--servers zookeeper,paddock]
Prints a Markdown table and writes results.json and results.md into --workdir.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ZK_CLASSPATH = ":".join(
    [
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/zookeeper-jute.jar",
        "/usr/share/java/slf4j-log4j12.jar",
        "/usr/share/java/log4j-1.2.jar",
        "/usr/share/java/servlet-api.jar",
    ]
)
LOG4J = """zookeeper.root.logger=INFO,CONSOLE
log4j.rootLogger=${zookeeper.root.logger}
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
"""
# Cells of phase (a): (workload, sessions, in flight per session).
THROUGHPUT_CELLS = [
    (w, s, i) for w in ("set", "create") for (s, i) in ((1, 1), (16, 1), (64, 1), (64, 16))
]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# Where servers' ports come from: below Linux's ephemeral range (32768-60999), as the Rust
# tests' (server/testkit). A port the kernel hands out for bind(0) is also what it hands out to
# every outgoing connection, so between finding it free and a member binding it, a client
# socket or another member's link could take it (a member of an ensemble cell failed so with
# "Address already in use", and the cell then waited for it).
PORTS = range(12_000, 32_000)
_handed_out = set()


def free_port():
    """A loopback port nothing listens on now and not handed out before by this process;
    each process starts at its own place in PORTS. Fixed ports collide when two benchmark runs
    (or a run and the CI smoke) share a machine: the second server cannot bind, and its load
    generator would load the first run's server instead."""
    start = os.getpid() * 613 % len(PORTS)
    for n in range(len(PORTS)):
        port = PORTS[(start + n) % len(PORTS)]
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {PORTS}")


def listens_on(pid, port):
    """Whether process `pid` holds the listening socket of `port` (/proc/net/tcp{,6} inodes
    matched against the process's descriptors)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


class Server:
    """One server process (Paddock, ZooKeeper, or the load generator's null server) with its
    own data dir and zoo.cfg."""

    def __init__(self, kind, workdir, port, args, bin_dir, name=None, extra=(), myid=None):
        self.kind = kind
        self.dir = workdir / (name or kind)
        self.port = port
        self.args = args
        self.bin_dir = bin_dir
        self.proc = None
        self.log_file = None
        # Ensemble members: `server.N` lines and friends, and the id for `myid`.
        self.extra = list(extra)
        self.myid = myid
        # A command the server runs under (bench/profile: valgrind).
        self.wrapper = []

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def reset_data(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "data").mkdir(parents=True)
        # The same settings for both: the same tickTime, fsync on, snapCount and preAllocSize
        # at ZooKeeper's defaults, no connection limit (all clients share 127.0.0.1).
        cfg = [
            "tickTime=2000",
            f"dataDir={self.dir / 'data'}",
            f"clientPort={self.port}",
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            "forceSync=yes",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            *self.extra,
        ]
        if self.myid is not None:
            (self.dir / "data" / "myid").write_text(f"{self.myid}\n")
        (self.dir / "zoo.cfg").write_text("\n".join(cfg) + "\n")
        (self.dir / "log4j.properties").write_text(LOG4J)

    def command(self):
        if self.kind == "paddock":
            return [*self.wrapper, str(self.bin_dir / "paddock"), str(self.dir / "zoo.cfg")]
        if self.kind == "null":
            # Not a ZooKeeper: answers every request with a success (bench/compare's ceiling).
            return [str(self.bin_dir / "paddock-loadgen"), "--threads", "2", "null-server",
                    "--listen", self.addr]
        return [
            "java",
            f"-Xmx{self.args.zk_heap}",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
            "-cp",
            f"{self.dir}:{ZK_CLASSPATH}",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.dir / "zoo.cfg"),
        ]

    def start(self):
        """Starts the process; returns its start time in Unix seconds."""
        self.log_file = open(self.dir / "server.log", "a")
        t0 = time.time()
        self.proc = subprocess.Popen(
            self.command(), stdout=self.log_file, stderr=subprocess.STDOUT
        )
        return t0

    def wait_ready(self, path="/", timeout=900):
        out = loadgen(self.args, "wait-ready", "--addr", self.addr, "--path", path,
                      "--timeout-secs", str(timeout), "--json", server=self)
        if self.proc.poll() is not None or not listens_on(self.proc.pid, self.port):
            raise RuntimeError(f"{self.addr} is served by another process, not this {self.kind} "
                               f"(exit status {self.proc.poll()}); see {self.dir / 'server.log'}")
        return out["ready_unix_ms"] / 1000.0

    def stop(self):
        """SIGTERM, then wait; returns the seconds shutdown took."""
        if self.proc is None:
            return 0.0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            log(f"{self.kind} ignored SIGTERM for 180 s; killing it")
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log_file.close()
        return time.time() - t0

    def cpu_seconds(self):
        """CPU time (user + system, all threads) the process has used so far: on a shared
        machine this is steadier than wall time."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory(self):
        """(VmRSS, VmHWM) in bytes; forces a full GC first on the JVM."""
        if self.kind == "zookeeper" and shutil.which("jcmd"):
            subprocess.run(
                ["jcmd", str(self.proc.pid), "GC.run"], capture_output=True, check=False
            )
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]


def loadgen(args, *argv, server=None):
    """Runs the generator; returns its last JSON line. With `server`, a server that exits
    meanwhile (a port taken, a bad config) fails the run at once, not when the generator
    gives up."""
    cmd = [str(args.bin_dir / "paddock-loadgen"), *argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while server is not None and proc.poll() is None:
        if server.proc.poll() is not None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{server.kind} exited with status {server.proc.poll()}; "
                               f"see {server.dir / 'server.log'}")
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {stderr.strip()}")
    return json.loads(stdout.strip().splitlines()[-1])


def build(args):
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    profile = "release" if args.profile == "release" else "debug"
    cmd = ["cargo", "build", "-p", "paddock", "-p", "paddock-loadgen"]
    if profile == "release":
        cmd.append("--release")
    if not args.no_build:
        log(f"building: {' '.join(cmd)}")
        subprocess.run(cmd, cwd=REPO, check=True)
    return target / profile


def throughput_phase(args, servers, results):
    for server in servers:
        server.reset_data()
        server.start()
        server.wait_ready()
        # Warm-up: lets the JVM compile its hot paths and both servers preallocate the log.
        loadgen(args, "run", "--addr", server.addr, "--workload", "set", "--sessions", "16",
                "--inflight", "16", "--duration-secs", str(args.warmup), "--json")
    for n, (workload, sessions, inflight) in enumerate(THROUGHPUT_CELLS):
        # Alternate which server goes first so drift on the machine hits both alike.
        order = servers if n % 2 == 0 else list(reversed(servers))
        for server in order:
            report = loadgen(
                args, "run", "--addr", server.addr, "--workload", workload,
                "--sessions", str(sessions), "--inflight", str(inflight),
                "--value-bytes", "100", "--duration-secs", str(args.duration),
                "--warmup-secs", str(min(2.0, args.warmup)), "--json",
            )
            key = f"{workload} {sessions}x{inflight}"
            results.setdefault("throughput", {}).setdefault(key, {})[server.kind] = report
            log(f"{server.kind:9} {key:14} {report['ops_per_sec']:9.0f} ops/s "
                f"p50 {report['p50_ms']:.3f} ms p99 {report['p99_ms']:.3f} ms "
                f"errors {report['errors']}")
    for server in servers:
        server.stop()


def recovery_phase(args, server, results):
    r = results.setdefault("recovery", {}).setdefault(server.kind, {})
    server.reset_data()
    t0 = server.start()
    r["startup_empty_s"] = server.wait_ready() - t0
    r["rss_empty"], _ = server.memory()
    log(f"{server.kind}: empty server serving after {r['startup_empty_s']:.2f} s, "
        f"RSS {r['rss_empty'] / 2**20:.1f} MiB; populating {args.znodes} znodes")
    pop = loadgen(args, "populate", "--addr", server.addr, "--znodes", str(args.znodes),
                  "--value-bytes", "100", "--parents", "100", "--sessions", "8",
                  "--inflight", "64", "--json")
    r["populate_ops_per_sec"] = pop["ops_per_sec"]
    r["populate_s"] = pop["seconds"]
    r["rss_loaded"], r["hwm_loaded"] = server.memory()
    r["shutdown_s"] = [server.stop()]
    # The populate left gigabytes of dirty snapshot and log pages; without a sync the kernel
    # writes them back ~30 s later, in the middle of whichever restart is running then.
    os.sync()
    last = f"/pop/p{(args.znodes - 1) % 100}/n{args.znodes - 1}"
    r["recovery_s"], r["rss_recovered"], r["hwm_recovered"] = [], [], []
    r["recovery_cpu_s"] = []
    for attempt in range(args.restarts):
        t0 = server.start()
        ready = server.wait_ready(last)
        r["recovery_s"].append(ready - t0)
        r["recovery_cpu_s"].append(server.cpu_seconds())
        rss, hwm = server.memory()
        r["rss_recovered"].append(rss)
        r["hwm_recovered"].append(hwm)
        log(f"{server.kind}: restart {attempt + 1}: {last} readable after "
            f"{ready - t0:.2f} s (CPU {r['recovery_cpu_s'][-1]:.2f} s), "
            f"RSS {rss / 2**20:.1f} MiB, peak {hwm / 2**20:.1f} MiB")
        r["shutdown_s"].append(server.stop())
        os.sync()
    r["data_dir_bytes"] = sum(f.stat().st_size for f in (server.dir / "data").rglob("*")
                              if f.is_file())


def summarize(args, results):
    kinds = results["servers"]
    both = len(kinds) == 2
    lines = [f"znodes: {args.znodes}; run duration {args.duration} s per cell", ""]
    header = "| metric | " + " | ".join(kinds) + (" | paddock/zookeeper |" if both else " |")
    lines += [header, "|" + "---|" * (len(kinds) + 1 + both)]

    def row(name, values, fmt, ratio=True):
        cells = [fmt(v) if v is not None else "-" for v in values]
        line = f"| {name} | " + " | ".join(cells) + " |"
        if both:
            z, p = values[kinds.index("zookeeper")], values[kinds.index("paddock")]
            line += f" {p / z:.2f}x |" if ratio and z and p is not None else " |"
        lines.append(line)

    for key, per in results.get("throughput", {}).items():
        row(f"{key} ops/s", [per.get(k, {}).get("ops_per_sec") for k in kinds],
            lambda v: f"{v:,.0f}")
        for q in ("p50_ms", "p99_ms", "p999_ms"):
            row(f"{key} {q[:-3]} ms", [per.get(k, {}).get(q) for k in kinds],
                lambda v: f"{v:.3f}")
    rec = results.get("recovery", {})
    if rec:
        mib = lambda v: f"{v / 2**20:,.1f}"  # noqa: E731
        get = lambda k, f: rec.get(k, {}).get(f)  # noqa: E731
        med = lambda k, f: statistics.median(get(k, f)) if get(k, f) else None  # noqa: E731
        row("startup, empty dir (s)", [get(k, "startup_empty_s") for k in kinds],
            lambda v: f"{v:.2f}")
        row("populate (creates/s)", [get(k, "populate_ops_per_sec") for k in kinds],
            lambda v: f"{v:,.0f}")
        row("recovery, median (s)", [med(k, "recovery_s") for k in kinds],
            lambda v: f"{v:.2f}")
        row("recovery, all runs (s)", [get(k, "recovery_s") for k in kinds],
            lambda v: ", ".join(f"{x:.2f}" for x in v), ratio=False)
        row("CPU used by then, median (s)", [med(k, "recovery_cpu_s") for k in kinds],
            lambda v: f"{v:.2f}")
        row("RSS empty (MiB)", [get(k, "rss_empty") for k in kinds], mib)
        row("RSS after populate (MiB)", [get(k, "rss_loaded") for k in kinds], mib)
        row("peak RSS during populate (MiB)", [get(k, "hwm_loaded") for k in kinds], mib)
        row("RSS after recovery (MiB)", [med(k, "rss_recovered") for k in kinds], mib)
        row("peak RSS during recovery (MiB)", [med(k, "hwm_recovered") for k in kinds], mib)
        per_znode = []
        for k in kinds:
            if get(k, "rss_recovered"):
                per_znode.append((med(k, "rss_recovered") - get(k, "rss_empty")) / args.znodes)
            else:
                per_znode.append(None)
        row("memory per znode (bytes)", per_znode, lambda v: f"{v:,.0f}")
        row("data dir after run (MiB)", [get(k, "data_dir_bytes") for k in kinds], mib)
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--znodes", type=int, default=1_000_000)
    p.add_argument("--duration", type=float, default=8.0, help="seconds measured per cell")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per server")
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--servers", default="zookeeper,paddock")
    p.add_argument("--phases", default="throughput,recovery")
    p.add_argument("--zk-heap", default="4g", help="ZooKeeper's fixed -Xmx")
    p.add_argument("--profile", choices=["release", "debug"], default="release")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--workdir", type=Path, default=REPO / "target" / "bench-storage")
    args = p.parse_args()

    args.bin_dir = build(args)
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    ports = {k: free_port() for k in kinds}
    servers = [Server(k, args.workdir, ports[k], args, args.bin_dir) for k in kinds]
    results = {"servers": kinds, "znodes": args.znodes, "command": " ".join(sys.argv),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "jcmd": bool(shutil.which("jcmd"))}
    phases = args.phases.split(",")
    try:
        if "throughput" in phases:
            throughput_phase(args, servers, results)
        if "recovery" in phases:
            for server in servers:
                recovery_phase(args, server, results)
    finally:
        for server in servers:
            if server.proc is not None:
                server.stop()
    (args.workdir / "results.json").write_text(json.dumps(results, indent=2))
    table = summarize(args, results)
    (args.workdir / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
