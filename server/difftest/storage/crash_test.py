#!/usr/bin/python3
"""Crash test: SIGKILL a server under concurrent write load, restart it on the same data
dir, and check that nothing a client saw acknowledged was lost (issue 3, "Proof").

Each iteration starts the server on the data dir, checks the tree against the model of
acknowledged writes, runs several writer clients until a seeded random moment, then kills
the server with SIGKILL. Every writer works under its own path and issues one request at
a time, so at the kill each has at most one write in flight whose outcome it never
learned. After the restart:

- every acknowledged create, setData and delete is there with its value;
- the write in flight is either wholly applied or not at all; a multi (deletes the last
  pair, creates the next pair, sets a counter) is all or nothing;
- sequential names are never handed out twice, and each writer's names only grow
  (DataTree.createNode: the suffix is the parent's cversion).

    crash_test.py --target zk|paddock [--iterations 20] [--seed S] [--writers 4]

A failure prints the seed and iteration. The pytest entry (test_crash_recovery) runs the
short default against Paddock; ZooKeeper is only run from the
command line, where its JVM restarts take a few minutes for the default count.
"""

import argparse
import logging
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from datadir import client, close, scratch_dir, start_server, storage_config  # noqa: E402
from harness import four_letter_word  # noqa: E402
from kazoo.exceptions import (  # noqa: E402
    ConnectionClosedError,
    ConnectionLoss,
    NoNodeError,
    SessionExpiredError,
)

ROOT = "/crash"
SEQ_PARENT = f"{ROOT}/seq"
SLOTS = 8
DEFAULT_ITERATIONS = 20
DEFAULT_WRITERS = 4
# The kill lands this long after the load starts (seeded): long enough for hundreds of
# writes, and a log roll or a snapshot now and then with the small snapCount below.
KILL_AFTER_S = (0.1, 1.2)
# Small so that kills also hit snapshots being written and restarts replay logs after a
# fuzzy snapshot; small log preallocation (KiB) keeps hundreds of rolled logs cheap.
SNAP_COUNT = 300
PRE_ALLOC_KIB = 1024
WRITER_JOIN_DEADLINE_S = 20.0


class Violation(AssertionError):
    pass


class Writer:
    """One client's model: what it saw acknowledged, and the write it has in flight.

    Slots are plain znodes (absent, or a value); the multi pair and counter move together;
    `seq` holds this writer's live sequential names in creation order.
    """

    def __init__(self, index, rng, issued):
        self.index = index
        self.rng = rng
        # Every sequence number any writer was given (or found after a restart), shared:
        # all writers create under one parent, whose counter must never repeat.
        self.issued = issued
        self.base = f"{ROOT}/w{index}"
        self.slots = {i: None for i in range(SLOTS)}
        self.multi = 0
        self.seq = []
        self.last_seq = -1
        self.pending = None
        self.acked = 0
        self.error = None
        self.serial = 0

    # Load ------------------------------------------------------------------------------

    def run(self, c, stop):
        try:
            while not stop.is_set():
                op = self.next_op()
                self.pending = op
                try:
                    result = self.send(c, op)
                except Exception as e:
                    if _is_connection_error(e):
                        return  # outcome unknown: stays pending for the checker
                    raise Violation(f"writer {self.index}: {op} failed: {e!r}") from e
                self.ack(op, result)
                self.pending = None
        except Exception as e:
            self.error = e

    def next_op(self):
        self.serial += 1
        value = f"w{self.index}-{self.serial}".encode()
        roll = self.rng.random()
        if roll < 0.55:
            slot = self.rng.randrange(SLOTS)
            if self.slots[slot] is None:
                return ("create", slot, value)
            if self.rng.random() < 0.7:
                return ("set", slot, value)
            return ("delete", slot, None)
        if roll < 0.8:
            if self.seq and self.rng.random() < 0.3:
                return ("seq-delete", self.seq[0], None)
            return ("seq-create", None, value)
        return ("multi", self.multi + 1, None)

    def slot_path(self, slot):
        return f"{self.base}/s{slot}"

    def pair(self, k):
        return [f"{self.base}/m{k}-a", f"{self.base}/m{k}-b"]

    def send(self, c, op):
        kind, arg, value = op
        if kind == "create":
            return c.create(self.slot_path(arg), value)
        if kind == "set":
            return c.set(self.slot_path(arg), value)
        if kind == "delete":
            return c.delete(self.slot_path(arg))
        if kind == "seq-create":
            return c.create(f"{SEQ_PARENT}/w{self.index}-", value, sequence=True)
        if kind == "seq-delete":
            return c.delete(f"{SEQ_PARENT}/{arg}")
        t = c.transaction()
        if arg > 1:
            for path in self.pair(arg - 1):
                t.delete(path)
        for path in self.pair(arg):
            t.create(path, str(arg).encode())
        t.set_data(f"{self.base}/counter", str(arg).encode())
        results = t.commit()
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            if any(_is_connection_error(r) for r in failed):
                raise failed[0]
            raise Violation(f"writer {self.index}: multi {arg} refused: {results}")
        return results

    def ack(self, op, result):
        kind, arg, value = op
        self.acked += 1
        if kind in ("create", "set"):
            self.slots[arg] = value
        elif kind == "delete":
            self.slots[arg] = None
        elif kind == "seq-create":
            self.adopt_seq(result.rsplit("/", 1)[1])
        elif kind == "seq-delete":
            self.seq.remove(arg)
        else:
            self.multi = arg

    def adopt_seq(self, name):
        number = int(name[-10:])
        if number <= self.last_seq:
            raise Violation(
                f"writer {self.index}: sequential {name} after number {self.last_seq}"
            )
        self.last_seq = number
        with self.issued["lock"]:
            if number in self.issued:
                raise Violation(f"sequence number of {name} already given to {self.issued[number]}")
            self.issued[number] = name
        self.seq.append(name)

    # Checks after a restart -------------------------------------------------------------

    def check(self, c, seq_children):
        """Compare the restarted server with the model, then fold the in-flight write's
        outcome into the model."""
        pending = self.pending
        self.pending = None
        self.check_slots(c, pending)
        self.check_multi(c, pending)
        self.check_seq(seq_children, pending)

    def check_slots(self, c, pending):
        for slot, acked in self.slots.items():
            actual = _value(c, self.slot_path(slot))
            allowed = {acked}
            if pending and pending[0] in ("create", "set", "delete") and pending[1] == slot:
                allowed.add(pending[2])
            if actual not in allowed:
                raise Violation(
                    f"writer {self.index} slot {slot}: found {actual!r}, "
                    f"acknowledged {acked!r}, in flight {pending}"
                )
            self.slots[slot] = actual

    def check_multi(self, c, pending):
        found = _value(c, f"{self.base}/counter")
        if found is None:
            raise Violation(f"writer {self.index}: the multi counter node is gone")
        counter = int(found)
        allowed = {self.multi}
        if pending and pending[0] == "multi":
            allowed.add(pending[1])
        if counter not in allowed:
            raise Violation(
                f"writer {self.index}: multi counter {counter}, acknowledged {self.multi}, "
                f"in flight {pending}"
            )
        pair = {p.rsplit("/", 1)[1] for p in self.pair(counter)} if counter else set()
        present = {n for n in c.get_children(self.base) if n.startswith("m")}
        if present != pair:
            raise Violation(
                f"writer {self.index}: multi half-applied: counter {counter}, "
                f"pair nodes {sorted(present)}"
            )
        for path in self.pair(counter) if counter else []:
            if _value(c, path) != str(counter).encode():
                raise Violation(f"writer {self.index}: {path} has the wrong value")
        self.multi = counter

    def check_seq(self, seq_children, pending):
        mine = sorted(n for n in seq_children if n.startswith(f"w{self.index}-"))
        expected = set(self.seq)
        in_flight_delete = pending and pending[0] == "seq-delete"
        if in_flight_delete and pending[1] not in mine:
            expected.discard(pending[1])
            self.seq.remove(pending[1])
        lost = expected - set(mine)
        if lost:
            raise Violation(f"writer {self.index}: acknowledged sequential nodes lost: {lost}")
        extra = [n for n in mine if n not in expected]
        if extra and not (pending and pending[0] == "seq-create" and len(extra) == 1):
            raise Violation(
                f"writer {self.index}: unacknowledged sequential nodes {extra}, "
                f"in flight {pending}"
            )
        for name in extra:
            self.adopt_seq(name)


def _value(c, path):
    try:
        return c.get(path)[0]
    except NoNodeError:
        return None


def _is_connection_error(e):
    # ConnectionLoss / SessionExpired while the server dies, ConnectionClosed once the
    # client is stopped with the request still queued.
    return isinstance(e, (ConnectionLoss, ConnectionClosedError, SessionExpiredError))


class CrashTest:
    def __init__(self, target, iterations, seed, writers, log=print):
        self.target = target
        self.iterations = iterations
        self.seed = seed
        self.rng = random.Random(seed)
        issued = {"lock": threading.Lock()}
        self.writers = [Writer(i, random.Random(f"{seed}/{i}"), issued) for i in range(writers)]
        self.config = storage_config(tick_ms=200, snap_count=SNAP_COUNT)
        self.config.extra_cfg.append(f"preAllocSize={PRE_ALLOC_KIB}")
        self.log = log

    def run(self, data_dir):
        server = start_server(self.target, self.config, data_dir)
        try:
            self.setup(server)
            for iteration in range(1, self.iterations + 1):
                try:
                    acked = self.load_then_kill(server)
                    # A fresh port: a client of the killed server can never reach the
                    # restarted one with a request queued before the kill.
                    server = start_server(self.target, self.config, data_dir)
                    self.check(server)
                except Exception as e:
                    raise Violation(
                        f"seed {self.seed}, iteration {iteration}: {e!r}\n"
                        f"server log:\n{server.log_tail()}"
                    ) from e
                self.log(f"iteration {iteration}: {acked} writes acknowledged, all present")
        finally:
            server.stop()

    def setup(self, server):
        c = client(server, retry_forever=False)
        try:
            c.ensure_path(SEQ_PARENT)
            for w in self.writers:
                c.create(w.base)
                c.create(f"{w.base}/counter", b"0")
        finally:
            close(c)

    def load_then_kill(self, server):
        stop = threading.Event()
        clients = [client(server, retry_forever=False) for _ in self.writers]
        before = sum(w.acked for w in self.writers)
        threads = [
            threading.Thread(target=w.run, args=(c, stop), daemon=True)
            for w, c in zip(self.writers, clients)
        ]
        for t in threads:
            t.start()
        # The point of the test is a kill at an arbitrary moment of the load.
        time.sleep(self.rng.uniform(*KILL_AFTER_S))
        server.kill()
        stop.set()
        for c in clients:
            close(c)
        deadline = time.monotonic() + WRITER_JOIN_DEADLINE_S
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                raise Violation("a writer did not stop after the kill")
        for w in self.writers:
            if w.error is not None:
                raise w.error
        return sum(w.acked for w in self.writers) - before

    def check(self, server):
        # The tree rebuilt from the newest snapshot and the log matches the digests those
        # files recorded (DataTree.compareSnapshotDigests and compareDigest at startup),
        # fuzzy snapshots taken under load and torn log tails included.
        mntr = four_letter_word(server.port, "mntr")
        if "zk_digest_mismatches_count\t0\n" not in mntr:
            raise Violation(f"the recovered tree differs from a recorded digest:\n{mntr}")
        c = client(server, retry_forever=False)
        try:
            if c.exists(SEQ_PARENT) is None:
                raise Violation(f"{SEQ_PARENT}, created before the first kill, is gone")
            children = c.get_children(SEQ_PARENT)
            for w in self.writers:
                w.check(c, children)
        finally:
            close(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--target", choices=["zk", "paddock"], required=True)
    ap.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--writers", type=int, default=DEFAULT_WRITERS)
    ap.add_argument("--data-dir", help="use (and keep) this data dir instead of a temp one")
    args = ap.parse_args()
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"crash test: target {args.target}, seed {seed}, {args.iterations} iterations")
    test = CrashTest(args.target, args.iterations, seed, args.writers)
    started = time.monotonic()
    try:
        if args.data_dir:
            test.run(args.data_dir)
        else:
            with scratch_dir(prefix="paddock-crash-") as tmp:
                test.run(os.path.join(tmp, "data"))
    except Violation as e:
        print(f"FAILED: {e}")
        sys.exit(1)
    print(f"passed in {time.monotonic() - started:.0f}s (seed {seed})")


if __name__ == "__main__":
    main()
