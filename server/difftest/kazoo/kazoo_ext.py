"""What kazoo 2.8 lacks and the scenarios need: error codes added after kazoo was written,
and the createContainer (19) / createTTL (21) requests.

kazoo maps a reply's error code through `kazoo.exceptions.EXCEPTIONS`, a defaultdict whose
factory raises RuntimeError for a code it does not know, which would tear down the
connection instead of failing the one call. Registering the newer codes makes them ordinary
per-call exceptions. Codes from ZooKeeper's KeeperException.Code.
"""

from collections import namedtuple

from kazoo.exceptions import EXCEPTIONS, ZookeeperError
from kazoo.protocol.serialization import (
    Create2,
    int_struct,
    long_struct,
    write_buffer,
    write_string,
)
from kazoo.security import OPEN_ACL_UNSAFE

NEWER_CODES = {
    -120: "EphemeralOnLocalSessionError",
    -121: "NoWatcherError",
    -122: "RequestTimeoutError",
    -123: "ReconfigDisabledError",
    -124: "SessionClosedRequireSaslError",
    -125: "QuotaExceededError",
    -127: "ThrottledOpError",
}

for _code, _name in NEWER_CODES.items():
    if _code not in EXCEPTIONS:
        EXCEPTIONS[_code] = type(
            _name, (ZookeeperError,), {"code": _code, "added_by_difftest": True}
        )

# CreateMode flags (ZooKeeper CreateMode.java).
CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6


def _create_body(path, data, acl, flags):
    b = bytearray()
    b.extend(write_string(path))
    b.extend(write_buffer(data))
    b.extend(int_struct.pack(len(acl)))
    for a in acl:
        b.extend(int_struct.pack(a.perms) + write_string(a.id.scheme) + write_string(a.id.id))
    b.extend(int_struct.pack(flags))
    return b


class CreateContainer(namedtuple("CreateContainer", "path data acl flags")):
    """CreateRequest sent with opcode createContainer; the reply is a Create2Response."""

    type = 19

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags)

    deserialize = Create2.deserialize


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    """CreateTTLRequest: a CreateRequest followed by the ttl in milliseconds."""

    type = 21

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags) + long_struct.pack(
            self.ttl
        )

    deserialize = Create2.deserialize


def _send(client, request):
    result = client.handler.async_result()
    client._call(request, result)
    path, stat = result.get()
    return client.unchroot(path), stat


def create_container(client, path, value=b"", acl=None):
    """Returns (path, stat) like kazoo's create(..., include_data=True)."""
    full = (client.chroot or "") + path
    return _send(client, CreateContainer(full, value, acl or OPEN_ACL_UNSAFE, CONTAINER))


def create_ttl(client, path, ttl_ms, value=b"", sequence=False, acl=None):
    full = (client.chroot or "") + path
    flags = PERSISTENT_SEQUENTIAL_WITH_TTL if sequence else PERSISTENT_WITH_TTL
    return _send(client, CreateTTL(full, value, acl or OPEN_ACL_UNSAFE, flags, ttl_ms))


class SetWatches(namedtuple("SetWatches", "relative_zxid data exist child")):
    """SetWatches (101), which kazoo 2.8 never sends: after a reconnect its watches are
    silently gone from the server. The Java client sends this on every reconnect
    (ClientCnxn.primeConnection); scenarios send it by hand to get the same replay."""

    type = 101

    def serialize(self):
        b = bytearray(long_struct.pack(self.relative_zxid))
        for paths in (self.data, self.exist, self.child):
            b.extend(int_struct.pack(len(paths)))
            for p in paths:
                b.extend(write_string(p))
        return b

    @classmethod
    def deserialize(cls, bytes, offset):
        return True


def set_watches(client, data=None, exist=None, child=None):
    """Re-register watches relative to the last zxid this client saw.

    Each argument maps a path to a kazoo watch callback. kazoo dropped its own callbacks
    when the connection was lost (after calling each with a NONE event), so they are put
    back in its tables before the request goes out.
    """
    chroot = client.chroot or ""
    data, exist, child = data or {}, exist or {}, child or {}
    for table, watches in (
        (client._data_watchers, data),
        (client._data_watchers, exist),
        (client._child_watchers, child),
    ):
        for path, callback in watches.items():
            table[chroot + path].add(callback)
    request = SetWatches(
        client.last_zxid,
        [chroot + p for p in data],
        [chroot + p for p in exist],
        [chroot + p for p in child],
    )
    result = client.handler.async_result()
    client._call(request, result)
    return result.get()
