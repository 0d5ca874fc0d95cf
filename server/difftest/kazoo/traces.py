"""Traces: what a scenario observed, and how two traces are compared.

A trace is a list of (label, value). Values are converted to plain data when recorded;
zxids, times and session ids are wrapped so that `normalise` can replace them: zxids by
their rank among all zxids in the trace, times by "t" (0 stays 0), session ids by s1, s2, ... in
first-seen order. Ranks keep the relations that matter (mzxid > czxid, equal ctime and
mtime) while dropping the absolute values that legitimately differ between servers.
"""

import difflib
import pprint

from kazoo.protocol.states import WatchedEvent, ZnodeStat
from kazoo.security import ACL


class Zxid(int):
    pass


class Time(int):
    pass


class Session(int):
    pass


STAT_FIELDS = [
    "czxid",
    "mzxid",
    "ctime",
    "mtime",
    "version",
    "cversion",
    "aversion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
    "pzxid",
]


def stat_value(stat):
    return {
        "czxid": Zxid(stat.czxid),
        "mzxid": Zxid(stat.mzxid),
        "ctime": Time(stat.ctime),
        "mtime": Time(stat.mtime),
        "version": stat.version,
        "cversion": stat.cversion,
        "aversion": stat.aversion,
        "ephemeralOwner": Session(stat.ephemeralOwner) if stat.ephemeralOwner else 0,
        "dataLength": stat.dataLength,
        "numChildren": stat.numChildren,
        "pzxid": Zxid(stat.pzxid),
    }


def error_name(exc):
    """Exceptions are recorded by class; codes kazoo does not know carry their code."""
    name = "!" + type(exc).__name__
    code = getattr(exc, "code", None)
    if getattr(exc, "added_by_difftest", False) and code is not None:
        name += f"({code})"
    return name


def to_value(v):
    """Plain, comparable data for anything a kazoo call returns."""
    if isinstance(v, (Zxid, Time, Session)):
        return v
    if isinstance(v, ZnodeStat):
        return stat_value(v)
    if isinstance(v, ACL):
        return f"{v.perms}:{v.id.scheme}:{v.id.id}"
    if isinstance(v, WatchedEvent):
        return f"{v.type} {v.path}"
    if isinstance(v, BaseException):
        return error_name(v)
    if isinstance(v, dict):
        return {k: to_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_value(x) for x in v]
    return v


def normalise(trace):
    zxids, times, sessions = set(), set(), []

    def collect(v):
        if isinstance(v, Zxid):
            zxids.add(int(v))
        elif isinstance(v, Time):
            times.add(int(v))
        elif isinstance(v, Session):
            if int(v) not in sessions:
                sessions.append(int(v))
        elif isinstance(v, dict):
            for x in v.values():
                collect(x)
        elif isinstance(v, list):
            for x in v:
                collect(x)

    for _, v in trace:
        collect(v)
    zrank = {z: i for i, z in enumerate(sorted(zxids))}

    def rewrite(v):
        if isinstance(v, Zxid):
            return f"z{zrank[int(v)]}"
        if isinstance(v, Time):
            # Wall-clock times are compared only for presence: two writes in the same
            # millisecond share a time on one server and not on the other, so even their
            # order relations are timing, not semantics.
            return "t" if int(v) > 0 else int(v)
        if isinstance(v, Session):
            return f"s{sessions.index(int(v)) + 1}"
        if isinstance(v, dict):
            return {k: rewrite(x) for k, x in v.items()}
        if isinstance(v, list):
            return [rewrite(x) for x in v]
        return v

    return [(label, rewrite(v)) for label, v in trace]


def render(trace):
    lines = []
    for label, value in trace:
        text = pprint.pformat(value, width=100, sort_dicts=False)
        lines.append(f"{label}: {text}")
    return "\n".join(lines).splitlines()


def diff(a, b, a_name="zk", b_name="paddock"):
    """Unified diff of two normalised traces; empty when they are equal."""
    if a == b:
        return ""
    return "\n".join(
        difflib.unified_diff(render(a), render(b), a_name, b_name, lineterm="", n=3)
    )


class Recorder:
    def __init__(self):
        self.entries = []

    def rec(self, label, value):
        self.entries.append((label, to_value(value)))


__all__ = [
    "Zxid",
    "Time",
    "Session",
    "stat_value",
    "to_value",
    "normalise",
    "diff",
    "render",
    "Recorder",
]
