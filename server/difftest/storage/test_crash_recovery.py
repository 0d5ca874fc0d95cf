"""The crash test (crash_test.py) as a CI test against Paddock: SIGKILL under concurrent
write load, restart on the same data dir, every acknowledged write present, nothing
half-applied, sequential names never repeated (issue 3, "Proof").

ZooKeeper runs the same test from the command line only (`crash_test.py --target zk`): its JVM restarts
make the default count take about a minute.
"""

import logging
import os
import random
import threading

import pytest
from crash_test import (
    DEFAULT_ITERATIONS,
    DEFAULT_WRITERS,
    SEQ_PARENT,
    CrashTest,
    Violation,
    Writer,
)
from datadir import scratch_dir
from kazoo.exceptions import NoNodeError

# CRASH_SEED replays a failure; CRASH_ITERATIONS lengthens the run (300 for the soak).
SEED = int(os.environ.get("CRASH_SEED", "20240503"))
ITERATIONS = int(os.environ.get("CRASH_ITERATIONS", str(DEFAULT_ITERATIONS)))


def test_paddock_keeps_every_acknowledged_write_across_sigkill():
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    test = CrashTest("paddock", ITERATIONS, SEED, DEFAULT_WRITERS, log=lambda line: None)
    with scratch_dir(prefix="paddock-crash-") as tmp:
        test.run(os.path.join(tmp, "data"))


# The checker itself, against a fake tree: it must catch what it is there to catch.


class FakeTree:
    """The two reads the checker makes, over a dict of path -> data."""

    def __init__(self, nodes):
        self.nodes = dict(nodes)

    def get(self, path):
        if path not in self.nodes:
            raise NoNodeError()
        return self.nodes[path], None

    def get_children(self, path):
        prefix = path.rstrip("/") + "/"
        names = [p[len(prefix) :] for p in self.nodes if p.startswith(prefix)]
        return [n for n in names if "/" not in n]


def writer_with_history():
    w = Writer(0, random.Random(0), {"lock": threading.Lock()})
    w.ack(("create", 1, b"one"), None)
    w.ack(("multi", 1, None), None)
    w.ack(("seq-create", None, b"x"), f"{SEQ_PARENT}/w0-0000000004")
    return w


def tree_for(w, **changes):
    nodes = {
        w.base: b"",
        f"{w.base}/counter": b"1",
        f"{w.base}/s1": b"one",
        f"{w.base}/m1-a": b"1",
        f"{w.base}/m1-b": b"1",
        f"{SEQ_PARENT}/w0-0000000004": b"x",
    }
    for path, value in changes.items():
        path = f"{w.base}/{path}"
        if value is None:
            nodes.pop(path, None)
        else:
            nodes[path] = value
    return FakeTree(nodes)


def check(w, tree):
    w.check(tree, tree.get_children(SEQ_PARENT))


def test_checker_accepts_the_acknowledged_state():
    w = writer_with_history()
    check(w, tree_for(w))


def test_checker_catches_a_lost_acknowledged_write():
    w = writer_with_history()
    with pytest.raises(Violation, match="slot 1"):
        check(w, tree_for(w, s1=None))


def test_checker_accepts_either_outcome_of_the_write_in_flight():
    for outcome in (b"one", b"two"):
        w = writer_with_history()
        w.pending = ("set", 1, b"two")
        check(w, tree_for(w, s1=outcome))
        assert w.slots[1] == outcome and w.pending is None


def test_checker_catches_a_half_applied_multi():
    w = writer_with_history()
    w.pending = ("multi", 2, None)
    half = tree_for(w, counter=b"2", **{"m2-a": b"2", "m2-b": b"2"})
    with pytest.raises(Violation, match="half-applied"):
        check(w, half)  # m1-a and m1-b should have gone with the counter bump


def test_checker_catches_a_repeated_sequence_number():
    w = writer_with_history()
    other = Writer(1, random.Random(1), w.issued)
    with pytest.raises(Violation, match="already given"):
        other.adopt_seq("w1-0000000004")
