"""A kazoo client that accepts a read-only server (`KazooClient(read_only=True)`).

Driven by server/difftest/tests/ensemble.rs while the only member it names has lost its
quorum: it connects, reads the path given (printing its data), checks that a write fails with
NotReadOnlyCallError, and prints DONE. Any other outcome exits non-zero with the reason.
"""

import sys

from kazoo.client import KazooClient
from kazoo.protocol.states import KeeperState
from kazoo.exceptions import NotReadOnlyCallError


def main():
    connect, path = sys.argv[1], sys.argv[2]
    client = KazooClient(hosts=connect, timeout=10.0, read_only=True)
    client.start(timeout=30)
    if client.client_state != KeeperState.CONNECTED_RO:
        print("STATE %s, not read-only" % client.client_state, flush=True)
        sys.exit(1)
    data, _ = client.get(path)
    print("DATA %s" % data.decode(), flush=True)
    try:
        client.create(path + "-write", b"")
    except NotReadOnlyCallError:
        pass
    else:
        print("WRITE ACCEPTED", flush=True)
        sys.exit(1)
    client.stop()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
