"""A kazoo client that must survive the loss of the ensemble member it is connected to.

Driven by server/difftest/tests/ensemble.rs: it connects with a connect string naming every
member, creates /kazoo-before, prints its session id, waits for a line on stdin (the test kills
the member this session is on meanwhile), creates /kazoo-after through kazoo's own retry, reads
both nodes back and prints DONE. Any failure exits non-zero with the reason.
"""

import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.retry import KazooRetry


def create_once(client, path, data):
    # A retry after a lost reply can find the node already created.
    try:
        client.create(path, data)
    except NodeExistsError:
        pass


def main():
    connect = sys.argv[1]
    retry = KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0, deadline=60)
    client = KazooClient(hosts=connect, timeout=15.0, connection_retry=retry)
    client.start(timeout=30)
    create_once(client, "/kazoo-before", b"before")
    print("SESSION 0x%x" % client.client_id[0], flush=True)
    sys.stdin.readline()
    retry(create_once, client, "/kazoo-after", b"after")
    before, _ = retry(client.get, "/kazoo-before")
    after, _ = retry(client.get, "/kazoo-after")
    if (before, after) != (b"before", b"after"):
        print("WRONG DATA %r %r" % (before, after), flush=True)
        sys.exit(1)
    client.stop()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
