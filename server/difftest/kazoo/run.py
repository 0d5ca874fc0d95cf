#!/usr/bin/python3
"""Run scenarios by hand and print their traces (and the diff with --target both).

    run.py --target zk|paddock|both [-k substring] [--list]

`--target zkzk` runs ZooKeeper against a second ZooKeeper: any diff there is a scenario
that is not deterministic.
"""

import argparse
import logging
import sys

from context import run_scenario
from harness import SERVER_KINDS, ServerConfig
from scenarios import SCENARIOS
from traces import diff, render


def main():
    # kazoo logs every dropped connection as a warning; the proxy scenarios drop many.
    logging.getLogger("kazoo").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--target", choices=["zk", "paddock", "both", "zkzk"], default="both")
    ap.add_argument("-k", default="", help="only scenarios whose name contains this")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    names = [n for n in SCENARIOS if args.k in n]
    if args.list:
        print("\n".join(names))
        return 0
    pairs = {"both": [("zk", "zk"), ("paddock", "paddock")], "zkzk": [("zk", "zk"), ("zk2", "zk")]}
    plan = pairs.get(args.target, [(args.target, args.target)])
    kinds = [k for k, _ in plan]
    config = ServerConfig()
    servers = {}
    failed = 0
    try:
        for kind, impl in plan:
            servers[kind] = SERVER_KINDS[impl](config).start()
        for name in names:
            traces = {k: run_scenario(servers[k], name, SCENARIOS[name]) for k in kinds}
            if len(kinds) == 1:
                print(f"=== {name} [{kinds[0]}]")
                print("\n".join(render(traces[kinds[0]])))
                continue
            d = diff(traces[kinds[0]], traces[kinds[1]], kinds[0], kinds[1])
            print(f"=== {name}: {'DIFFERENT' if d else 'same'}")
            print(d if d else "\n".join(render(traces["zk"])))
            failed += bool(d)
    finally:
        for s in servers.values():
            s.stop()
    if len(kinds) == 2:
        print(f"{failed} of {len(names)} scenarios differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
