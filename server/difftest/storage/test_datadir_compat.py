"""One data directory, two servers: Paddock must read what ZooKeeper 3.8 wrote and the
other way round, and ZooKeeper's own offline tools must read Paddock's files (issue 3,
"Compatibility with Apache ZooKeeper's files").

The ZooKeeper -> ZooKeeper cases prove the fixtures (the tree is stable across a restart,
the dump is exact, the tools accept the files). A missing or failing Paddock binary is an
error, not a skip.
"""

import logging
import os
import time

import pytest
from datadir import (
    close,
    java_tool,
    scratch_dir,
    serving,
    start_server,
    storage_config,
    storage_files,
)
from dump_tree import compare, dump
from harness import four_letter_word
from populate import DEEP_LEVELS, ROOT, populate

# kazoo logs every refused reconnect during a restart as a warning.
logging.getLogger("kazoo").setLevel(logging.ERROR)

REATTACH_DEADLINE_S = 15.0
# About five snapshots and logs for populate's ~540 transactions: SyncRequestProcessor
# rolls after snapCount/2 + rand(snapCount/2) transactions.
SMALL_SNAP_COUNT = 100

TXN_LOG_TOOLKIT = "org.apache.zookeeper.server.persistence.TxnLogToolkit"
SNAPSHOT_FORMATTER = "org.apache.zookeeper.server.SnapshotFormatter"

# Paths that must appear in the tools' output (ASCII only: the JVM prints other
# characters as the locale allows).
MENTIONED_PATHS = [
    f"{ROOT}/deep/" + "/".join(f"d{level:02}" for level in range(DEEP_LEVELS)),
    f"{ROOT}/many/c-0399",
    f"{ROOT}/acl/digest",
    f"{ROOT}/container/kid",
    f"{ROOT}/eph/owned",
    "/zookeeper/quota/store/quota/hard/zookeeper_limits",
]



def wait_reattached(client, session_id, states):
    """The owner client is connected again under its old session id. kazoo reconnects
    with the session id and password (ClientCnxn.primeConnection); a server that lost the
    session answers with timeout 0 and kazoo reports LOST."""
    deadline = time.monotonic() + REATTACH_DEADLINE_S
    while not client.connected:
        assert time.monotonic() < deadline, f"not reconnected in {REATTACH_DEADLINE_S}s: {states}"
        time.sleep(0.05)
    assert "LOST" not in states, f"the session did not survive the restart: {states}"
    assert client.client_id[0] == session_id


PAIRS = [("zk", "zk"), ("zk", "paddock"), ("paddock", "zk"), ("paddock", "paddock")]
LAYOUTS = {"log": None, "snapshots": SMALL_SNAP_COUNT}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("writer,reader", PAIRS, ids=[f"{w}-to-{r}" for w, r in PAIRS])
def test_reader_serves_the_writers_tree_and_sessions(writer, reader, layout):
    """The reader, started on the writer's data dir (after a SIGTERM), serves exactly the
    tree the writer served, zxids and times included, and the session that owns the
    ephemerals survives because its client reattaches within the session timeout.
    ZooKeeper: FileTxnSnapLog.restore (newest valid snapshot, then the logs after it);
    sessions come back from the snapshot and the createSession txns
    (ZKDatabase.loadDataBase) and expire only a full timeout after the restart
    (SessionTrackerImpl)."""
    config = storage_config(snap_count=LAYOUTS[layout])
    with scratch_dir() as tmp:
        data = os.path.join(tmp, "data")
        server = start_server(writer, config, data)
        populated = None
        try:
            populated = populate(server)
            before = dump(server)
            digests_before = recorded_digests(server)
            owner = populated.owner
            session_id = owner.client_id[0]
            states = []
            owner.add_listener(lambda state: states.append(str(state)))
            port = server.port
            server.stop()
            check_layout(data, layout)
            server = start_server(reader, config, data, port=port)
            wait_reattached(owner, session_id, states)
            for path in populated.ephemerals:
                stat = owner.exists(path)
                assert stat is not None, path
                assert stat.ephemeralOwner == session_id, path
            diffs = compare(before, dump(server), names=(writer, reader))
            assert not diffs, "\n".join(diffs)
            check_digests(digests_before, server, layout)
        finally:
            if populated is not None:
                populated.close()
            server.stop()


def recorded_digests(server):
    """The `hash` command's list: {zxid: tree digest after it} every 128 zxids
    (DataTree.logZxidDigest), as text lines `<zxid hex>: <digest>`."""
    text = four_letter_word(server.port, "hash")
    pairs = (line.split(": ") for line in text.splitlines() if line.strip())
    return {int(zxid, 16): int(digest) for zxid, digest in pairs}


def check_digests(written, reader, layout):
    """The reader checked the digests the files hold and found them equal to its tree, and
    the digests it recorded while replaying the log are the writer's at the same zxids.
    ZooKeeper writes a TxnDigest with every logged txn and a digest at the end of each
    snapshot, and compares them on replay (FileTxnSnapLog.fastForwardFromEdits,
    DataTree.compareDigest); Paddock writes only the snapshot's."""
    mntr = four_letter_word(reader.port, "mntr")
    assert "zk_digest_mismatches_count\t0" in mntr, mntr
    replayed = recorded_digests(reader)
    assert written, "populate runs past zxid 0x80: the writer recorded digests"
    for zxid, digest in replayed.items():
        assert written.get(zxid) == digest, (hex(zxid), digest, written)
    if layout == "log":
        # Only snapshot.0 precedes the log: the reader replays every txn the writer applied.
        assert replayed == written


def check_layout(data, layout):
    logs, snapshots = storage_files(data)
    assert logs, f"no transaction log in {data}"
    if layout == "snapshots":
        written = [s for s in snapshots if not s.endswith("snapshot.0")]
        assert len(written) >= 2 and len(logs) >= 2, (logs, snapshots)


@pytest.mark.parametrize("writer", ["zk", "paddock"])
def test_zookeeper_tools_read_the_files(writer):
    """ZooKeeper's zkTxnLogToolkit.sh (TxnLogToolkit) and zkSnapShotToolkit.sh
    (SnapshotFormatter -d) read every file the writer left: exit 0, no CRC error, a
    complete last record, and our paths in the output. TxnLogToolkit.dump prints
    "CRC ERROR" but still exits 0 on a bad checksum, hence the explicit check."""
    config = storage_config(snap_count=SMALL_SNAP_COUNT)
    with scratch_dir() as tmp:
        data = os.path.join(tmp, "data")
        with serving(writer, config, data) as server:
            populate(server).close()
        logs, snapshots = storage_files(data)
        assert logs and snapshots, (logs, snapshots)
        seen = []
        for log in logs:
            out = run_tool(TXN_LOG_TOOLKIT, log)
            assert "ZooKeeper Transactional Log File with dbid" in out, out[:500]
            assert "CRC ERROR" not in out, out
            assert "EOF reached after" in out, out[-500:]
            seen.append(out)
        for snapshot in snapshots:
            out = run_tool(SNAPSHOT_FORMATTER, "-d", snapshot)
            assert "Last zxid: 0x" in out, out[-500:]
            seen.append(out)
        everything = "\n".join(seen)
        missing = [p for p in MENTIONED_PATHS if p not in everything]
        assert not missing, f"not in the tools' output: {missing}"
        newest = run_tool(SNAPSHOT_FORMATTER, "-d", snapshots[-1])
        assert f"\n{ROOT}\n" in newest, "the newest snapshot does not hold the tree"


def run_tool(main_class, *args):
    result = java_tool(main_class, *args)
    assert result.returncode == 0, (
        f"{main_class} {' '.join(args)} exited {result.returncode}:\n"
        f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    )
    return result.stdout


def test_dump_compare_reports_every_difference():
    """compare() names the node and the field that differ, and nothing when equal."""
    node = {
        "data": "00",
        "stat": {f: 0 for f in ("czxid", "mzxid", "ctime", "mtime", "version", "cversion")}
        | {f: 0 for f in ("aversion", "ephemeralOwner", "dataLength", "numChildren", "pzxid")},
        "acl": [[31, "world", "anyone"]],
        "children": [],
    }
    a = {"/": node, "/x": node}
    b = {"/": dict(node, data=None), "/y": node}
    assert compare(a, a) == []
    assert compare(a, b) == [
        "/: data a=\"00\" b=null",
        "/x: only in a",
        "/y: only in b",
    ]
    c = {"/": dict(node, stat=dict(node["stat"], pzxid=7)), "/x": node}
    assert compare(a, c) == ["/: stat.pzxid a=0 b=7"]

