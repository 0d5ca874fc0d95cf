"""What a scenario gets to work with, and how one scenario is run against one server."""

import queue
import sys
import threading
import time
import traceback

import kazoo_ext  # noqa: F401  (registers the error codes kazoo 2.8 does not know)
from harness import Proxy
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry
from traces import Recorder, Session, normalise, to_value

EVENT_DEADLINE_S = 10.0
QUIET_PERIOD_S = 0.3


class ScenarioError(Exception):
    pass


class Context:
    """One scenario's view of the server under test.

    `target` is "zk" or "paddock"; `root` is a path created for this scenario alone;
    `rec(label, value)` records an observation. Clients, proxies and watch callbacks made
    here are cleaned up when the scenario ends, whatever happened.
    """

    def __init__(self, server, root):
        self.server = server
        self.target = server.kind
        self.config = server.config
        self.root = root
        self.recorder = Recorder()
        self.events = queue.Queue()
        self._clients = []
        self._proxies = []
        # A plain client made before the scenario starts; it created `root`.
        self.admin = None

    # Recording -----------------------------------------------------------------------

    def rec(self, label, value):
        self.recorder.rec(label, value)

    def call(self, label, fn, *args, **kwargs):
        """Run a kazoo call and record its result or its exception class."""
        try:
            result = fn(*args, **kwargs)
        except Exception as e:  # the exception class is the observation
            self.rec(label, e)
            return None
        self.rec(label, result)
        return result

    def session(self, label, client):
        self.rec(label, Session(client.client_id[0]))

    def intended(self, label, value, zk38, zk39, source):
        """An observation where ZooKeeper 3.9 (Paddock's bar) and the 3.8 reference differ
        on purpose. Each server must give its own version's answer; the trace then holds
        the same line for both."""
        expected = zk38 if self.target == "zk" else zk39
        got = to_value(value)
        if got == expected:
            self.rec(label, f"intended difference ({source}): as expected")
        else:
            self.rec(label, {"unexpected": got, "expected": expected, "source": source})

    # Clients ---------------------------------------------------------------------------

    def client(self, auth=(), chroot="", timeout=None, proxy=None, start=True):
        """A kazoo client of the server under test (through `proxy` if given)."""
        hosts = (proxy or self.server).hosts(chroot)
        retry = KazooRetry(max_tries=-1, delay=0.05, backoff=1, max_delay=0.1)
        c = KazooClient(
            hosts=hosts,
            timeout=timeout or 10.0,
            auth_data=list(auth),
            connection_retry=retry,
        )
        self._clients.append(c)
        if start:
            c.start(timeout=15)
        return c

    def proxy(self):
        p = Proxy(self.server.port)
        self._proxies.append(p)
        return p

    def states(self, client):
        """A live list of the KazooState transitions `client` goes through."""
        seen = []

        def listener(state):
            seen.append(str(state))

        client.add_listener(listener)
        return seen

    # Watches ---------------------------------------------------------------------------

    def watch(self, name):
        """A kazoo watch callback that queues `name: TYPE path` for `wait_events`."""

        def callback(event):
            self.events.put(f"{name}: {event.type} {event.path}")

        return callback

    def wait_events(self, label, count, sort=False, deadline_s=EVENT_DEADLINE_S):
        """Record the next `count` watch events; `sort` when they come from different
        connections, whose relative order no server guarantees."""
        got = []
        end = time.monotonic() + deadline_s
        while len(got) < count:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                got.append(self.events.get(timeout=left))
            except queue.Empty:
                break
        if len(got) < count:
            got.append(f"<timeout: {len(got)} of {count} events>")
        self.rec(label, sorted(got) if sort else got)
        return got

    def no_more_events(self, label, quiet_s=QUIET_PERIOD_S):
        """Record any event arriving within a quiet period (expected: none)."""
        extra = []
        end = time.monotonic() + quiet_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                extra.append(self.events.get(timeout=left))
            except queue.Empty:
                break
        self.rec(label, extra)

    def wait_for(self, what, condition, deadline_s=EVENT_DEADLINE_S):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.02)
        self.rec(f"timed out waiting for {what}", True)
        return False

    # Lifecycle -------------------------------------------------------------------------

    def close(self):
        for c in self._clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        for p in self._proxies:
            p.close()


def run_scenario(server, name, fn):
    """Run one scenario against one server; returns its normalised trace."""
    root = f"/kz-{name}"
    ctx = Context(server, root)
    try:
        admin = ctx.client()
        admin.create(root)
        ctx.admin = admin
        fn(ctx)
    except Exception as e:
        ctx.rec("ABORTED", f"{type(e).__name__}: {e}")
        # The trace keeps only the exception; the traceback goes to stderr, which pytest
        # shows for a failing test.
        print(f"scenario {name} aborted on {server.kind}:", file=sys.stderr)
        traceback.print_exc()
    finally:
        closer = threading.Thread(target=ctx.close, daemon=True)
        closer.start()
        closer.join(timeout=30)
    return normalise(ctx.recorder.entries)
