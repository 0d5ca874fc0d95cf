#!/usr/bin/python3
"""Dump a server's whole tree as JSON, and diff two dumps.

A dump maps every path to its data (hex, or null for a null buffer), its full Stat, its
ACL list and its sorted children. It is read as the super user so that no ACL hides a node.
Two dumps of one data directory served by two servers are compared exactly, zxids and
times included: both servers read them from the same files.

    dump_tree.py --hosts 127.0.0.1:2181 [--out tree.json]
    dump_tree.py --compare a.json b.json
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from datadir import close, super_client  # noqa: E402

from traces import STAT_FIELDS  # noqa: E402  (the kazoo suite's list of Stat fields)


def dump(hosts):
    """{path: node} for the server at `hosts` (a "host:port" string or a harness Server)."""
    c = super_client(hosts, retry_forever=False)
    try:
        return dump_with(c)
    finally:
        close(c)


def dump_with(c):
    """The dump through an already connected client (which must pass every ACL)."""
    tree = {}
    stack = ["/"]
    while stack:
        path = stack.pop()
        data, stat = c.get(path)
        acls, _ = c.get_acls(path)
        children = sorted(c.get_children(path))
        tree[path] = {
            "data": None if data is None else data.hex(),
            "stat": {f: getattr(stat, f) for f in STAT_FIELDS},
            "acl": [[a.perms, a.id.scheme, a.id.id] for a in acls],
            "children": children,
        }
        prefix = "" if path == "/" else path
        stack.extend(f"{prefix}/{child}" for child in children)
    return dict(sorted(tree.items()))


def compare(a, b, names=("a", "b")):
    """Every difference between two dumps as a readable line; [] when they are equal."""
    left, right = names
    diffs = []
    for path in sorted(set(a) | set(b)):
        if path not in b:
            diffs.append(f"{path}: only in {left}")
        elif path not in a:
            diffs.append(f"{path}: only in {right}")
        else:
            diffs.extend(_node_diffs(path, a[path], b[path], left, right))
    return diffs


def _node_diffs(path, x, y, left, right):
    diffs = []
    for field in ("data", "acl", "children"):
        if x[field] != y[field]:
            diffs.append(f"{path}: {field} {left}={_short(x[field])} {right}={_short(y[field])}")
    for field in STAT_FIELDS:
        if x["stat"][field] != y["stat"][field]:
            diffs.append(
                f"{path}: stat.{field} {left}={x['stat'][field]} {right}={y['stat'][field]}"
            )
    return diffs


def _short(value, limit=120):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def save(tree, path):
    with open(path, "w") as f:
        json.dump(tree, f, indent=1, ensure_ascii=False)


def load(path):
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hosts")
    ap.add_argument("--out", help="write the dump here instead of stdout")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        diffs = compare(load(args.compare[0]), load(args.compare[1]), names=args.compare)
        print("\n".join(diffs) or "equal")
        sys.exit(1 if diffs else 0)
    if not args.hosts:
        ap.error("--hosts or --compare is required")
    tree = dump(args.hosts)
    if args.out:
        save(tree, args.out)
    else:
        json.dump(tree, sys.stdout, indent=1, ensure_ascii=False)
        print()


if __name__ == "__main__":
    main()
