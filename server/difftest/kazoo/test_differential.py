"""Every scenario against ZooKeeper 3.8 and Paddock: normalised traces must be equal.

Run with Debian's python3:  /usr/bin/python3 -m pytest server/difftest/kazoo -q
"""

import pytest

from conftest import targets
from context import run_scenario
from scenarios import SCENARIOS
from traces import diff, render


def aborted(trace):
    return [v for label, v in trace if label == "ABORTED"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name, zk_server, paddock_server):
    fn = SCENARIOS[name]
    zk = run_scenario(zk_server, name, fn) if zk_server else None
    if zk is not None:
        # A scenario that breaks against the reference is a broken scenario.
        assert not aborted(zk), "scenario aborted on ZooKeeper:\n" + "\n".join(render(zk))
        unexpected = [e for e in zk if isinstance(e[1], dict) and "unexpected" in e[1]]
        assert not unexpected, f"ZooKeeper 3.8 did not give its recorded answer: {unexpected}"
    if paddock_server is None:
        if "paddock" in targets():
            pytest.skip("Paddock binary missing (set PADDOCK_BIN, or PADDOCK_REQUIRED=1)")
        return
    paddock = run_scenario(paddock_server, name, fn)
    if zk is None:
        assert not aborted(paddock), "\n".join(render(paddock))
        return
    d = diff(zk, paddock)
    assert not d, f"traces differ (- ZooKeeper 3.8, + Paddock):\n{d}"
