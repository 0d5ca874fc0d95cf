"""Servers for the differential suite: one of each kind for the whole run.

DIFFTEST_TARGETS picks what runs: "both" (default), "zk" or "paddock". When Paddock's
binary is missing the Paddock side is skipped, unless PADDOCK_REQUIRED=1; a binary that is
present but does not come up is an error, not a skip.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PaddockServer, ServerConfig, ZooKeeperServer, paddock_bin  # noqa: E402


def targets():
    t = os.environ.get("DIFFTEST_TARGETS", "both")
    return ["zk", "paddock"] if t == "both" else [t]


@pytest.fixture(scope="session")
def config():
    return ServerConfig()


@pytest.fixture(scope="session")
def zk_server(config):
    if "zk" not in targets():
        yield None
        return
    server = ZooKeeperServer(config).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def paddock_server(config):
    if "paddock" not in targets():
        yield None
        return
    if not os.path.exists(paddock_bin()) and os.environ.get("PADDOCK_REQUIRED") != "1":
        yield None
        return
    server = PaddockServer(config).start()
    try:
        yield server
    finally:
        server.stop()
