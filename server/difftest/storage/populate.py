#!/usr/bin/python3
"""Build a deterministic tree that exercises everything a data directory must keep.

Every znode type (persistent, persistent sequential, ephemeral and ephemeral sequential
owned by a session that stays open, containers, TTL nodes), ACLs (digest, world read-only,
ip, the `auth` scheme, shared and replaced ACL lists), quotas as zkCli's setquota writes
them, null vs empty vs binary vs large data, unicode and deep paths, a parent with many
children, and enough history (setData, setACL, deletes, failed writes, multis, a closed
session, containers and a TTL node reaped by the server) that versions, cversion,
aversion and pzxid are far from trivial and the log holds every transaction type a
standalone server writes.

The same calls in the same order on one connection at a time: two runs differ only in
zxids, times and session ids.

    populate.py --hosts 127.0.0.1:2181 [--root /store] [--hold]
"""

import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from datadir import client, close  # noqa: E402
from kazoo.security import (  # noqa: E402
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    make_acl,
    make_digest_acl,
)
from kazoo_ext import create_container, create_ttl  # noqa: E402

ROOT = "/store"
MANY_CHILDREN = 400
DEEP_LEVELS = 30
# Far longer than any test runs: the node must still be there after every restart.
LONG_TTL_MS = 7 * 24 * 3600 * 1000
REAP_DEADLINE_S = 15.0

ALICE = ("alice", "alice-pw")
ALICE_AUTH = [("digest", "alice:alice-pw")]


def alice_acl(**perms):
    return make_digest_acl(*ALICE, **perms)


class Populated:
    """What `populate` leaves behind: the open session that owns the ephemerals (the
    caller closes it) and the ephemeral paths it owns."""

    def __init__(self, owner, ephemerals):
        self.owner = owner
        self.ephemerals = ephemerals

    def close(self):
        close(self.owner)


def populate(hosts, root=ROOT):
    """Build the tree under `root` on the server at `hosts` ("host:port" or a harness
    Server). Returns a `Populated` whose owner session must stay open for the ephemerals
    to stay."""
    admin = client(hosts, auth=ALICE_AUTH)
    owner = client(hosts)
    try:
        admin.create(root, b"storage fixture")
        _data_shapes(admin, root)
        _deep_and_wide(admin, root)
        _sequential(admin, root)
        _acls(admin, root)
        _quotas(admin, root)
        _history(admin, root)
        _failed_writes(admin, root)
        _multis(admin, root)
        _closed_session(hosts, admin, root)
        _containers_and_ttl(admin, root)
        ephemerals = _ephemerals(owner, root)
    except BaseException:
        close(owner)
        raise
    finally:
        close(admin)
    return Populated(owner, ephemerals)


def _data_shapes(c, root):
    # A null buffer (-1 length) and an empty one are different on the wire and on disk
    # (jute writeBuffer); both have dataLength 0.
    c.create(f"{root}/null", None)
    c.create(f"{root}/empty", b"")
    c.create(f"{root}/binary", bytes(range(256)) * 4)
    c.create(f"{root}/large", random.Random(7).randbytes(200 * 1024))
    # Paths are jute ustrings: UTF-8 on disk.
    c.create(f"{root}/ünïcödé-名前", "värde".encode())
    c.create(f"{root}/set-to-null", b"was here")
    c.set(f"{root}/set-to-null", None)


def _deep_and_wide(c, root):
    path = f"{root}/deep"
    c.create(path)
    for level in range(DEEP_LEVELS):
        path = f"{path}/d{level:02}"
        c.create(path, f"level {level}".encode())
    c.create(f"{root}/many")
    # Pipelined on one connection: served in order, so the zxids are deterministic.
    pending = [
        c.create_async(f"{root}/many/c-{i:04}", f"child {i}".encode()) for i in range(MANY_CHILDREN)
    ]
    for p in pending:
        p.get()


def _sequential(c, root):
    # DataTree.createNode: the sequence suffix is the parent's cversion, which deletes
    # also advance; the gap after the delete must survive a restart.
    c.create(f"{root}/seq")
    names = [c.create(f"{root}/seq/item-", f"{i}".encode(), sequence=True) for i in range(5)]
    c.delete(names[2])
    c.create(f"{root}/seq/item-", b"after delete", sequence=True)


def _acls(c, root):
    base = f"{root}/acl"
    c.create(base)
    c.create(f"{base}/digest", b"alice only", acl=[alice_acl(all=True)])
    c.create(f"{base}/world-read", b"read only", acl=READ_ACL_UNSAFE)
    c.create(f"{base}/ip", b"loopback", acl=[make_acl("ip", "127.0.0.1", all=True)])
    # The `auth` scheme is resolved to the session's digest ids at create time
    # (PrepRequestProcessor.fixupACL); the stored ACL names alice.
    c.create(f"{base}/creator", b"creator", acl=CREATOR_ALL_ACL)
    mixed = [alice_acl(all=True), make_acl("world", "anyone", read=True)]
    # Two nodes share one ACL list: one ACL cache entry referenced twice
    # (ReferenceCountedACLCache).
    c.create(f"{base}/mixed-1", b"m1", acl=mixed)
    c.create(f"{base}/mixed-2", b"m2", acl=mixed)
    # An ACL list that no node uses once setACL replaces it.
    c.create(f"{base}/replaced", b"r", acl=[make_acl("ip", "10.0.0.0/8", read=True)] + mixed)
    c.set_acls(f"{base}/replaced", [alice_acl(read=True, write=True, admin=True)])


def set_quota(c, path, count=-1, bytes_=-1, count_hard=-1, bytes_hard=-1):
    """Write a quota as zkCli's `setquota` does (SetQuotaCommand.createQuota): the
    /zookeeper/quota/<path> parents with null data, the limits node (StatsTrack.toString,
    extra keys after an extra "=" and sorted), then the stats node with zero counts, which
    the server then keeps current (DataTree.updateQuotaForPath)."""
    quota_path = "/zookeeper/quota"
    for part in path.strip("/").split("/"):
        quota_path = f"{quota_path}/{part}"
        if c.exists(quota_path) is None:
            c.create(quota_path, None)
    limits = (
        f"count={count},bytes={bytes_}=;byteHardLimit={bytes_hard};countHardLimit={count_hard}"
    )
    c.create(f"{quota_path}/zookeeper_limits", limits.encode())
    c.create(f"{quota_path}/zookeeper_stats", b"count=0,bytes=0")


def _quotas(c, root):
    soft = f"{root}/quota/soft"
    hard = f"{root}/quota/hard"
    c.create(f"{root}/quota")
    c.create(soft, b"soft limits")
    c.create(hard, b"hard limits")
    set_quota(c, soft, count=5, bytes_=100)
    set_quota(c, hard, count_hard=50, bytes_hard=4096)
    # Past the soft limits (only logged) and within the hard ones (enforced with
    # enforceQuota=true), so both stats nodes carry non-zero counts.
    for i in range(8):
        c.create(f"{soft}/n{i}", b"x" * 20)
        c.create(f"{hard}/n{i}", b"y" * 30)
    c.set(f"{hard}/n0", b"z" * 100)
    c.delete(f"{hard}/n7")


def _history(c, root):
    h = f"{root}/history"
    c.create(h, b"v0")
    for v in range(1, 8):
        c.set(h, f"v{v}".encode(), version=v - 1)
    # cversion counts child creates and deletes; pzxid is the last one's zxid.
    for i in range(5):
        c.create(f"{h}/kid-{i}")
    for i in range(0, 5, 2):
        c.delete(f"{h}/kid-{i}")
    c.set_acls(h, [alice_acl(all=True)])
    c.set_acls(h, OPEN_ACL_UNSAFE, version=1)
    c.create(f"{h}/recreated", b"first")
    c.delete(f"{h}/recreated")
    c.create(f"{h}/recreated", b"second")


def _failed_writes(c, root):
    # A refused write still takes a zxid: PrepRequestProcessor logs an ErrorTxn.
    f = f"{root}/failed"
    c.create(f, b"f")
    for call in (
        lambda: c.create(f),
        lambda: c.set(f, b"bad", version=42),
        lambda: c.delete(f"{root}/no-such-node"),
        lambda: c.set_acls(f, OPEN_ACL_UNSAFE, version=9),
    ):
        try:
            call()
        except Exception:  # the refusal is the point
            pass
        else:
            raise AssertionError("a write meant to fail succeeded")


def _multis(c, root):
    m = f"{root}/multi"
    c.create(m, b"m")
    c.create(f"{m}/doomed", b"d")
    t = c.transaction()
    t.check(m, 0)
    t.create(f"{m}/made", b"in a multi")
    t.create(f"{m}/seq-", b"seq in a multi", sequence=True)
    t.set_data(m, b"set in a multi")
    t.delete(f"{m}/doomed")
    results = t.commit()
    assert not any(isinstance(r, Exception) for r in results), results
    # A failed multi is logged as a MultiTxn of ErrorTxns (PrepRequestProcessor).
    t = c.transaction()
    t.create(f"{m}/never", b"n")
    t.create(f"{m}/made", b"exists already")
    results = t.commit()
    assert any(isinstance(r, Exception) for r in results), results


def _closed_session(hosts, admin, root):
    # closeSession deletes the session's ephemerals in the same transaction.
    transient = client(hosts)
    try:
        transient.create(f"{root}/transient-eph", b"gone soon", ephemeral=True)
    finally:
        close(transient)
    if admin.exists(f"{root}/transient-eph") is not None:
        raise AssertionError("closeSession left its ephemeral behind")


def _containers_and_ttl(c, root):
    create_container(c, f"{root}/container", b"box")
    c.create(f"{root}/container/kid", b"keeps the box")
    # Never had a child: with maxNeverUsedIntervalMs=0 (the harness setting) the
    # ContainerManager leaves it alone.
    create_container(c, f"{root}/container-unused", b"empty box")
    create_ttl(c, f"{root}/ttl", LONG_TTL_MS, b"lives a week")
    create_ttl(c, f"{root}/ttl-seq-", LONG_TTL_MS, b"seq ttl", sequence=True)
    # Reaped by the ContainerManager: the log gets deleteContainer transactions for an
    # emptied container and an expired TTL node.
    create_container(c, f"{root}/emptied", b"")
    c.create(f"{root}/emptied/kid")
    c.delete(f"{root}/emptied/kid")
    create_ttl(c, f"{root}/expired", 1, b"")
    _wait_gone(c, [f"{root}/emptied", f"{root}/expired"])


def _wait_gone(c, paths):
    deadline = time.monotonic() + REAP_DEADLINE_S
    left = list(paths)
    while left:
        left = [p for p in left if c.exists(p) is not None]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reaped within {REAP_DEADLINE_S}s: {left}")
        time.sleep(0.05)


def _ephemerals(owner, root):
    e = f"{root}/eph"
    owner.create(e)
    paths = [owner.create(f"{e}/owned", b"owner's", ephemeral=True)]
    for i in range(3):
        seq = owner.create(f"{e}/owned-seq-", f"{i}".encode(), ephemeral=True, sequence=True)
        paths.append(seq)
    paths.append(owner.create(f"{root}/many/eph-among-many", None, ephemeral=True))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--root", default=ROOT)
    ap.add_argument(
        "--hold", action="store_true", help="keep the owner session open until Enter"
    )
    args = ap.parse_args()
    populated = populate(args.hosts, args.root)
    print(f"populated {args.root}; owner session 0x{populated.owner.client_id[0]:x}")
    try:
        if args.hold:
            input("press Enter to close the owner session")
    finally:
        populated.close()


if __name__ == "__main__":
    main()
