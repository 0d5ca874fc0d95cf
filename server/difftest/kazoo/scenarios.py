"""The scenario library: each function drives a server through kazoo and records what a
client can observe. Names say what a scenario proves; comments cite the ZooKeeper source
or documentation it follows (paths relative to zookeeper-server/src/main/java/org/apache/
zookeeper/ unless stated).
"""

import time

import kazoo_ext
from kazoo.recipe.barrier import Barrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.queue import Queue
from kazoo.security import (
    ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def world(perms):
    return [ACL(perms, Id("world", "anyone"))]


def digest_auth(user):
    return [("digest", f"{user}:{user}-pw")]


def digest_acl(user, **perms):
    return make_digest_acl(user, f"{user}-pw", **perms)


# Create ----------------------------------------------------------------------------------


@scenario
def create_persistent_returns_path_and_fresh_stat(ctx):
    # DataTree.createNode: a new node has version 0, ctime == mtime, czxid == mzxid == pzxid.
    c = ctx.admin
    ctx.call("create2", c.create, f"{ctx.root}/a", b"hello", include_data=True)
    ctx.call("get", c.get, f"{ctx.root}/a")
    ctx.call("root after", c.exists, ctx.root)


@scenario
def create_ephemeral_owner_is_the_session(ctx):
    # DataTree.createNode: ephemeralOwner is the creating session's id.
    c = ctx.client()
    ctx.session("session", c)
    ctx.call("create", c.create, f"{ctx.root}/e", b"x", ephemeral=True, include_data=True)
    ctx.call("seen by admin", ctx.admin.exists, f"{ctx.root}/e")


@scenario
def create_sequential_names_use_parent_cversion(ctx):
    # PrepRequestProcessor: the sequence suffix is the parent's cversion, %010d.
    c = ctx.admin
    for i in range(3):
        ctx.call(f"seq {i}", c.create, f"{ctx.root}/s-", b"", sequence=True)
    ctx.call("ephemeral seq", c.create, f"{ctx.root}/e-", ephemeral=True, sequence=True)
    ctx.call("children", lambda: sorted(c.get_children(ctx.root)))


@scenario
def sequential_counter_survives_deletes_and_failed_creates(ctx):
    # The counter is cversion, which deletes bump and failed creates do not
    # (DataTree.deleteNode increments parent cversion; a NodeExists create changes nothing).
    c = ctx.admin
    first = ctx.call("seq", c.create, f"{ctx.root}/n-", sequence=True)
    ctx.call("delete seq", c.delete, first)
    ctx.call("plain", c.create, f"{ctx.root}/plain")
    ctx.call("plain again", c.create, f"{ctx.root}/plain")
    ctx.call("missing parent", c.create, f"{ctx.root}/nope/x")
    ctx.call("seq after", c.create, f"{ctx.root}/n-", sequence=True)
    ctx.call("parent", c.exists, ctx.root)


@scenario
def sequential_with_trailing_slash_names_child_by_number(ctx):
    # PrepRequestProcessor.fixupPath / validatePath on path + "%010d": "/q/" + seq is legal.
    c = ctx.admin
    c.create(f"{ctx.root}/q")
    ctx.call("slash seq 1", c.create, f"{ctx.root}/q/", sequence=True)
    ctx.call("slash seq 2", c.create, f"{ctx.root}/q/", b"v", sequence=True)
    ctx.call("slash plain", c.create, f"{ctx.root}/q/")
    ctx.call("children", lambda: sorted(c.get_children(f"{ctx.root}/q")))


@scenario
def create_container_node(ctx):
    # CreateMode.CONTAINER via createContainer (19); reply is Create2Response.
    c = ctx.admin
    ctx.call("container", kazoo_ext.create_container, c, f"{ctx.root}/box", b"d")
    ctx.call("child", c.create, f"{ctx.root}/box/item", include_data=True)
    ctx.call("get", c.get, f"{ctx.root}/box")


@scenario
def create_ttl_node_and_bad_ttl(ctx):
    # CreateMode.PERSISTENT_WITH_TTL (createTTL, 21), enabled by extendedTypesEnabled;
    # PrepRequestProcessor.validateCreateRequest: ttl must be in (0, EphemeralType.MAX_TTL].
    c = ctx.admin
    ctx.call("ttl", kazoo_ext.create_ttl, c, f"{ctx.root}/t", 60000, b"v")
    ctx.call("ttl seq", kazoo_ext.create_ttl, c, f"{ctx.root}/t-", 60000, sequence=True)
    ctx.call("ttl zero", kazoo_ext.create_ttl, c, f"{ctx.root}/z", 0)
    ctx.call("ttl negative", kazoo_ext.create_ttl, c, f"{ctx.root}/n", -5)
    ctx.call("get", c.get, f"{ctx.root}/t")


@scenario
def ttl_node_expires_after_ttl_when_childless(ctx):
    # ContainerManager.getCandidates: a childless TTL node whose mtime is older than its TTL
    # is deleted at the next check. Wait derived from ttl + check interval.
    c = ctx.admin
    ttl_ms = 400
    kazoo_ext.create_ttl(c, f"{ctx.root}/t", ttl_ms)
    c.exists(f"{ctx.root}/t", watch=ctx.watch("exists"))
    deadline = (ttl_ms + 4 * ctx.config.container_check_ms) / 1000 + 5
    ctx.wait_events("events", 1, deadline_s=deadline)
    ctx.call("after", c.exists, f"{ctx.root}/t")


@scenario
def create_makepath_creates_missing_parents(ctx):
    # kazoo create(makepath=True) = ensure_path of parents then create; parents are empty.
    c = ctx.admin
    ctx.call("create", c.create, f"{ctx.root}/a/b/c", b"leaf", makepath=True)
    for p in ("a", "a/b", "a/b/c"):
        ctx.call(f"get {p}", c.get, f"{ctx.root}/{p}")
    ctx.call("ensure existing", c.ensure_path, f"{ctx.root}/a/b")


@scenario
def create_errors_missing_parent_existing_node(ctx):
    # DataTree.createNode: NoNode for a missing parent, NodeExists for a taken path.
    c = ctx.admin
    ctx.call("missing parent", c.create, f"{ctx.root}/x/y")
    ctx.call("first", c.create, f"{ctx.root}/x")
    ctx.call("again", c.create, f"{ctx.root}/x")
    ctx.call("root", c.create, "/")
    ctx.call("parent", c.exists, ctx.root)


@scenario
def failed_write_consumes_a_zxid(ctx):
    # PrepRequestProcessor turns a failed write into an error txn with its own zxid.
    c = ctx.admin
    p = f"{ctx.root}/n"
    a = c.create(p, include_data=True)[1]
    ctx.call("dup", c.create, p)
    b = c.set(p, b"1")
    ctx.rec("mzxid gap over one failed create", b.mzxid - a.czxid)
    ctx.call("bad version", c.set, p, b"2", version=7)
    d = c.set(p, b"3")
    ctx.rec("mzxid gap over one failed set", d.mzxid - b.mzxid)
    e = c.get(p)[1]
    ctx.rec("read does not consume", e.mzxid - d.mzxid)


@scenario
def create_under_ephemeral_is_refused(ctx):
    # DataTree.createNode / PrepRequestProcessor: NoChildrenForEphemerals.
    c = ctx.admin
    c.create(f"{ctx.root}/eph", ephemeral=True)
    ctx.call("child", c.create, f"{ctx.root}/eph/c")
    ctx.call("seq child", c.create, f"{ctx.root}/eph/c-", sequence=True)
    ctx.call("eph child", c.create, f"{ctx.root}/eph/c", ephemeral=True)


@scenario
def null_and_empty_data_are_distinct(ctx):
    # Jute buffers keep null (-1) apart from empty (0); DataNode stores what it got.
    c = ctx.admin
    ctx.call("create null", c.create, f"{ctx.root}/null", None)
    ctx.call("create empty", c.create, f"{ctx.root}/empty", b"")
    ctx.call("get null", c.get, f"{ctx.root}/null")
    ctx.call("get empty", c.get, f"{ctx.root}/empty")
    ctx.call("set null", c.set, f"{ctx.root}/empty", None)
    ctx.call("get after set null", c.get, f"{ctx.root}/empty")


@scenario
def invalid_paths_are_bad_arguments(ctx):
    # PathUtils.validatePath: empty segments, "." and "..", trailing slash, relative paths.
    c = ctx.admin
    for p in ("a//b", "a/", "a/./b", "a/../b", "a/\u0001b"):
        ctx.call(f"create {p!r}", c.create, f"{ctx.root}/{p}")
    ctx.call("relative", c.create, "relative")
    ctx.call("children", c.get_children, ctx.root)


# Delete / set ----------------------------------------------------------------------------


@scenario
def delete_with_version_checks_version(ctx):
    # DataTree.deleteNode via PrepRequestProcessor: BadVersion unless version matches or -1.
    c = ctx.admin
    p = f"{ctx.root}/d"
    c.create(p)
    c.set(p, b"1")
    ctx.call("delete v0", c.delete, p, version=0)
    ctx.call("delete v1", c.delete, p, version=1)
    ctx.call("delete again", c.delete, p)
    ctx.call("parent", c.exists, ctx.root)


@scenario
def delete_non_empty_is_refused(ctx):
    # PrepRequestProcessor: NotEmpty when the node has children.
    c = ctx.admin
    c.create(f"{ctx.root}/p/c", makepath=True)
    ctx.call("delete parent", c.delete, f"{ctx.root}/p")
    ctx.call("delete child", c.delete, f"{ctx.root}/p/c")
    ctx.call("delete parent now", c.delete, f"{ctx.root}/p")
    ctx.call("delete root", c.delete, "/")


@scenario
def set_data_updates_version_length_and_mzxid(ctx):
    # DataTree.setData: version+1, mzxid/mtime of the txn, dataLength; BadVersion check.
    c = ctx.admin
    p = f"{ctx.root}/s"
    c.create(p, b"ab")
    ctx.call("set v0", c.set, p, b"abcdef", version=0)
    ctx.call("set v0 again", c.set, p, b"x", version=0)
    ctx.call("set any", c.set, p, b"")
    ctx.call("get", c.get, p)
    ctx.call("set missing", c.set, f"{ctx.root}/missing", b"x")


@scenario
def parent_stat_tracks_children(ctx):
    # DataTree.createNode/deleteNode: parent cversion+1, pzxid = txn zxid, numChildren;
    # the parent's version and mzxid do not change.
    c = ctx.admin
    p = f"{ctx.root}/p"
    c.create(p)
    ctx.call("empty", c.exists, p)
    c.create(f"{p}/a")
    c.create(f"{p}/b")
    ctx.call("two children", c.exists, p)
    c.delete(f"{p}/a")
    ctx.call("one deleted", c.exists, p)
    c.set(f"{p}/b", b"data")
    ctx.call("child set does not touch parent", c.exists, p)


@scenario
def large_data_near_and_above_jute_maxbuffer(ctx):
    # jute.maxbuffer (default 0xfffff): DataTree has no own check; the server refuses a
    # request whose length exceeds it (NIOServerCnxn/ByteBufferInputStream), and kazoo
    # reports what the connection then does. The session itself survives.
    c = ctx.admin
    near = b"x" * (1024 * 1024 - 1024)
    ctx.call("create near limit", c.create, f"{ctx.root}/near", near)
    ctx.call("stat near", c.exists, f"{ctx.root}/near")
    data, _ = c.get(f"{ctx.root}/near")
    ctx.rec("read back equal", data == near)
    over = b"y" * (1024 * 1024 + 100)
    ctx.call("create over limit", c.create, f"{ctx.root}/over", over)
    ctx.wait_for("reconnect", lambda: c.connected)
    ctx.call("over exists", c.exists, f"{ctx.root}/over")


@scenario
def children_come_in_zookeepers_hashset_order(ctx):
    # DataNode.addChild keeps children in `new HashSet<>(8)`; getChildren lists them in that
    # set's iteration order, which depends on the names, the set's growth and the insertion
    # order. The list is compared unsorted, across growth, deletes and re-creates.
    c = ctx.admin
    p = f"{ctx.root}/h"
    c.create(p)
    names = [f"n{i}" for i in range(40)] + ["abc", "zzz", "k-0000000001", "x" * 30]
    for n in names:
        c.create(f"{p}/{n}")
    ctx.call("grown", c.get_children, p)
    for n in names[::3]:
        c.delete(f"{p}/{n}")
    ctx.call("after deletes", c.get_children, p)
    for n in names[::6]:
        c.create(f"{p}/{n}")
    ctx.call("after re-creates", c.get_children, p)
    ctx.call("root's zookeeper children", c.get_children, "/zookeeper")


@scenario
def get_children_with_stat_and_exists(ctx):
    # FinalRequestProcessor getChildren2 returns the parent's stat; exists returns null
    # for a missing node (kazoo: None).
    c = ctx.admin
    for n in ("b", "a", "c"):
        c.create(f"{ctx.root}/{n}", n.encode())
    kids, stat = c.get_children(ctx.root, include_data=True)
    ctx.rec("children", sorted(kids))
    ctx.rec("stat", stat)
    ctx.call("exists missing", c.exists, f"{ctx.root}/zz")
    ctx.call("exists present", c.exists, f"{ctx.root}/a")
    ctx.call("children of leaf", c.get_children, f"{ctx.root}/a")
    ctx.call("children of missing", c.get_children, f"{ctx.root}/zz")
    ctx.call("get missing", c.get, f"{ctx.root}/zz")


# ACLs ------------------------------------------------------------------------------------


@scenario
def get_and_set_acls_with_version(ctx):
    # DataTree.setACL: aversion+1; PrepRequestProcessor checks the ACL version.
    c = ctx.admin
    p = f"{ctx.root}/a"
    c.create(p)
    ctx.call("acls", c.get_acls, p)
    ctx.call("set v1", c.set_acls, p, READ_ACL_UNSAFE, version=1)
    ctx.call("set v0", c.set_acls, p, world(Permissions.READ | Permissions.WRITE), version=0)
    ctx.call("acls after", c.get_acls, p)
    ctx.call("set any", c.set_acls, p, OPEN_ACL_UNSAFE)
    ctx.call("stat", c.exists, p)
    ctx.call("missing", c.get_acls, f"{ctx.root}/missing")


@scenario
def digest_acl_denies_other_users(ctx):
    # ZooKeeper Programmer's Guide, "ACL Permissions"; FinalRequestProcessor checkACL per op.
    owner = ctx.client(auth=digest_auth("alice"))
    p = f"{ctx.root}/secret"
    owner.create(p, b"s", acl=[digest_acl("alice", all=True)])
    owner.create(f"{p}/kid")
    for who, cl in (("anon", ctx.client()), ("bob", ctx.client(auth=digest_auth("bob")))):
        ctx.call(f"{who} get", cl.get, p)
        ctx.call(f"{who} set", cl.set, p, b"x")
        ctx.call(f"{who} children", cl.get_children, p)
        ctx.call(f"{who} create child", cl.create, f"{p}/new")
        ctx.call(f"{who} delete child", cl.delete, f"{p}/kid")
        ctx.call(f"{who} get acls", cl.get_acls, p)
        ctx.call(f"{who} set acls", cl.set_acls, p, OPEN_ACL_UNSAFE)
    ctx.call("alice get", owner.get, p)


@scenario
def exists_needs_read_on_existing_node(ctx):
    # ZOOKEEPER-2590 (3.9, FinalRequestProcessor exists): exists of an existing node checks
    # READ. ZooKeeper 3.8.0 answers with the stat.
    owner = ctx.client(auth=digest_auth("alice"))
    p = f"{ctx.root}/secret"
    owner.create(p, acl=[digest_acl("alice", all=True)])
    anon = ctx.client()
    ctx.call("exists missing", anon.exists, f"{ctx.root}/missing")
    try:
        result = anon.exists(p) is not None
    except Exception as e:
        result = e
    ctx.intended("exists denied node", result, zk38=True, zk39="!NoAuthError",
                 source="ZOOKEEPER-2590")


@scenario
def world_read_only_acl(ctx):
    # ZooDefs.Ids.READ_ACL_UNSAFE: anyone may read, nobody may write, create or delete.
    c = ctx.admin
    p = f"{ctx.root}/ro"
    c.create(p, b"r")
    c.create(f"{p}/kid")
    c.set_acls(p, READ_ACL_UNSAFE)
    other = ctx.client()
    ctx.call("get", other.get, p)
    ctx.call("children", other.get_children, p)
    ctx.call("set", other.set, p, b"w")
    ctx.call("create child", other.create, f"{p}/new")
    ctx.call("delete child", other.delete, f"{p}/kid")
    ctx.call("set acls", other.set_acls, p, OPEN_ACL_UNSAFE)
    ctx.call("get acls", other.get_acls, p)


@scenario
def create_only_parent_allows_create_but_not_list_or_delete(ctx):
    # Creating a child needs CREATE on the parent, deleting needs DELETE on the parent,
    # listing needs READ (PrepRequestProcessor checkACL with the parent's ACL).
    c = ctx.admin
    p = f"{ctx.root}/drop"
    c.create(p, acl=world(Permissions.CREATE))
    ctx.call("create child", c.create, f"{p}/a", b"1")
    ctx.call("create seq child", c.create, f"{p}/s-", sequence=True)
    ctx.call("list", c.get_children, p)
    ctx.call("get parent", c.get, p)
    ctx.call("get child", c.get, f"{p}/a")
    ctx.call("delete child", c.delete, f"{p}/a")


@scenario
def delete_permission_lives_on_the_parent(ctx):
    # PrepRequestProcessor delete: checkACL(parent, DELETE); the child's own ACL is not
    # consulted.
    c = ctx.admin
    p = f"{ctx.root}/dp"
    c.create(p, acl=world(Permissions.CREATE | Permissions.DELETE | Permissions.ADMIN))
    c.create(f"{p}/locked", acl=world(Permissions.READ))
    ctx.call("delete locked child", c.delete, f"{p}/locked")
    c.create(f"{p}/again")
    c.set_acls(p, world(Permissions.CREATE | Permissions.ADMIN))
    ctx.call("delete without DELETE", c.delete, f"{p}/again")


@scenario
def addauth_digest_and_auth_scheme_acl(ctx):
    # AuthenticationProvider "auth" scheme: the ACL becomes the session's authenticated ids
    # (PrepRequestProcessor.fixupACL); addauth adds digest ids to a live session.
    c = ctx.client()
    c.add_auth("digest", "carol:carol-pw")
    p = f"{ctx.root}/mine"
    ctx.call("create auth acl", c.create, p, b"m", acl=[make_acl("auth", "", all=True)])
    ctx.call("acls", ctx.admin.get_acls, p)
    ctx.call("anon get", ctx.admin.get, p)
    same = ctx.client(auth=[("digest", "carol:carol-pw")])
    ctx.call("carol get", same.get, p)
    late = ctx.client()
    ctx.call("before addauth", late.get, p)
    late.add_auth("digest", "carol:carol-pw")
    ctx.call("after addauth", late.get, p)
    ctx.call("wrong password", ctx.client(auth=[("digest", "carol:nope")]).get, p)


@scenario
def invalid_acls_are_refused(ctx):
    # PrepRequestProcessor.fixupACL: empty list, auth scheme without authenticated ids,
    # malformed digest or ip ids and unknown schemes all give InvalidACL.
    c = ctx.admin
    r = ctx.root
    ctx.call("empty list", lambda: c._create_async_inner(f"{r}/e", b"", [], 0).get())
    ctx.call("auth without auth", c.create, f"{r}/a", acl=[make_acl("auth", "", all=True)])
    ctx.call("digest no colon", c.create, f"{r}/d", acl=[make_acl("digest", "nocolon", all=True)])
    ctx.call("ip bad", c.create, f"{r}/i", acl=[make_acl("ip", "1.2.3.x", all=True)])
    ctx.call("unknown scheme", c.create, f"{r}/u", acl=[make_acl("foo", "bar", all=True)])
    ctx.call("world other id", c.create, f"{r}/w", acl=[make_acl("world", "someone", all=True)])
    c.create(f"{r}/ok")
    ctx.call("set empty", c.set_acls, f"{r}/ok", [])
    ctx.call("children", c.get_children, r)


@scenario
def super_digest_bypasses_acls(ctx):
    # DigestAuthenticationProvider: a login matching superDigest adds the super id, and
    # checkACL lets it through everything.
    owner = ctx.client(auth=digest_auth("alice"))
    p = f"{ctx.root}/locked"
    owner.create(p, b"l")
    owner.create(f"{p}/kid", acl=[digest_acl("alice", read=True)])
    owner.set_acls(p, [digest_acl("alice", read=True)])
    root = ctx.client(auth=[("digest", f"super:{ctx.config.SUPER_PASSWORD}")])
    ctx.call("super get", root.get, p)
    ctx.call("super set", root.set, p, b"S")
    ctx.call("super delete kid", root.delete, f"{p}/kid")
    ctx.call("super set acls", root.set_acls, p, OPEN_ACL_UNSAFE)
    ctx.call("acls", root.get_acls, p)
    ctx.call("bad super password", ctx.client(auth=[("digest", "super:wrong")]).delete, p)


@scenario
def ip_acl_matches_loopback_ranges(ctx):
    # IPAuthenticationProvider.matches: exact address and CIDR prefixes.
    c = ctx.admin
    r = ctx.root
    for name, spec in (("exact", "127.0.0.1"), ("slash8", "127.0.0.0/8"),
                       ("ten", "10.0.0.0/8"), ("slash32", "127.0.0.1/32")):
        c.create(f"{r}/{name}", name.encode(), acl=[make_acl("ip", spec, read=True)])
        ctx.call(f"get {name}", c.get, f"{r}/{name}")
    ctx.call("acls", c.get_acls, f"{r}/slash8")


@scenario
def get_acl_masks_digests_without_admin(ctx):
    # FinalRequestProcessor getACL: READ or ADMIN is enough to read the ACL, but without ADMIN
    # the digest hashes are replaced by "x" (ZOOKEEPER-1392).
    owner = ctx.client(auth=digest_auth("alice"))
    p = f"{ctx.root}/acl"
    acl = [digest_acl("alice", all=True), make_acl("world", "anyone", read=True)]
    owner.create(p, b"v", acl=acl)
    anon = ctx.client()
    ctx.call("reader sees masked", lambda: sorted(repr(a) for a in anon.get_acls(p)[0]))
    ctx.call("owner sees hashes", lambda: sorted(repr(a) for a in owner.get_acls(p)[0]))
    hidden = f"{ctx.root}/hidden"
    owner.create(hidden, b"v", acl=[digest_acl("alice", all=True)])
    ctx.call("neither READ nor ADMIN", anon.get_acls, hidden)


@scenario
def set_acls_then_old_rights_are_gone(ctx):
    # DataTree.setACL replaces the whole list; later checks see the new one.
    c = ctx.admin
    p = f"{ctx.root}/n"
    c.create(p, b"v")
    c.set_acls(p, [digest_acl("dave", all=True)])
    ctx.call("get", c.get, p)
    ctx.call("set", c.set, p, b"w")
    try:
        stat = c.exists(p)
        result = {"aversion": stat.aversion} if stat else None
    except Exception as e:
        result = e
    ctx.intended("stat", result, zk38={"aversion": 1}, zk39="!NoAuthError",
                 source="ZOOKEEPER-2590")


# Watches ---------------------------------------------------------------------------------


@scenario
def data_watch_fires_once(ctx):
    # ZooKeeper Programmer's Guide, "ZooKeeper Watches": one-time triggers.
    c = ctx.admin
    p = f"{ctx.root}/w"
    c.create(p)
    c.get(p, watch=ctx.watch("get"))
    c.set(p, b"1")
    c.set(p, b"2")
    ctx.wait_events("events", 1)
    ctx.no_more_events("no second event")


@scenario
def exists_watch_on_missing_node_sees_create(ctx):
    # DataTree.statNode registers an exists watch on a missing node; createNode triggers
    # NodeCreated.
    c = ctx.admin
    p = f"{ctx.root}/later"
    ctx.call("exists", c.exists, p, watch=ctx.watch("exists"))
    other = ctx.client()
    other.create(p)
    ctx.wait_events("created", 1)
    c.exists(p, watch=ctx.watch("exists2"))
    other.delete(p)
    ctx.wait_events("deleted", 1)
    ctx.no_more_events("quiet")


@scenario
def data_and_child_watches_on_delete(ctx):
    # DataTree.deleteNode: NodeDeleted to data and child watchers of the node, then
    # NodeChildrenChanged to the parent's child watchers.
    c = ctx.admin
    p = f"{ctx.root}/parent"
    c.create(f"{p}/child", makepath=True)
    c.get_children(p, watch=ctx.watch("parent children"))
    c.get(f"{p}/child", watch=ctx.watch("child data"))
    c.get_children(f"{p}/child", watch=ctx.watch("child children"))
    ctx.client().delete(f"{p}/child")
    ctx.wait_events("events", 3)
    ctx.no_more_events("quiet")


@scenario
def child_watch_fires_on_create_and_delete_not_on_data(ctx):
    # NodeChildrenChanged on membership changes only; a child's setData does not fire it.
    c = ctx.admin
    p = f"{ctx.root}/p"
    c.create(p)
    c.get_children(p, watch=ctx.watch("kids1"))
    other = ctx.client()
    other.create(f"{p}/a")
    ctx.wait_events("on create", 1)
    c.get_children(p, watch=ctx.watch("kids2"))
    other.set(f"{p}/a", b"x")
    other.set(p, b"y")
    ctx.no_more_events("no event for data")
    other.delete(f"{p}/a")
    ctx.wait_events("on delete", 1)


@scenario
def watch_on_deleted_parent_after_children_removed(ctx):
    # Watches on both parent and child: deleting child then parent delivers child NodeDeleted,
    # parent NodeChildrenChanged, then parent NodeDeleted (to the re-armed data watch).
    c = ctx.admin
    p = f"{ctx.root}/tree"
    c.create(f"{p}/leaf", makepath=True)
    c.get(p, watch=ctx.watch("parent data"))
    c.get_children(p, watch=ctx.watch("parent kids"))
    c.exists(f"{p}/leaf", watch=ctx.watch("leaf exists"))
    c.delete(p, recursive=True)
    ctx.wait_events("events", 3)
    ctx.no_more_events("quiet")


@scenario
def many_clients_watch_one_node(ctx):
    # WatchManager.triggerWatch: every watching connection gets the event once.
    p = f"{ctx.root}/hot"
    ctx.admin.create(p)
    clients = [ctx.client() for _ in range(5)]
    for i, cl in enumerate(clients):
        cl.get(p, watch=ctx.watch(f"c{i}"))
    ctx.admin.set(p, b"new")
    ctx.wait_events("events", 5, sort=True)
    ctx.no_more_events("quiet")


@scenario
def failed_writes_do_not_fire_watches(ctx):
    # Watches fire from DataTree changes; error txns change nothing.
    c = ctx.admin
    p = f"{ctx.root}/n"
    c.create(p)
    c.get(p, watch=ctx.watch("data"))
    c.get_children(p, watch=ctx.watch("kids"))
    other = ctx.client()
    ctx.call("bad version set", other.set, p, b"x", version=9)
    ctx.call("bad version delete", other.delete, p, version=9)
    ctx.call("dup create", other.create, p)
    ctx.no_more_events("nothing fired")
    other.set(p, b"ok")
    ctx.wait_events("real change", 1)


# Sessions --------------------------------------------------------------------------------


@scenario
def ephemeral_removed_when_session_closes(ctx):
    # SessionTrackerImpl / closeSession txn deletes the session's ephemerals; watchers see
    # NodeDeleted and NodeChildrenChanged.
    a = ctx.client()
    p = f"{ctx.root}/eph"
    a.create(p, b"e", ephemeral=True)
    ctx.admin.exists(p, watch=ctx.watch("exists"))
    ctx.admin.get_children(ctx.root, watch=ctx.watch("root kids"))
    a.stop()
    ctx.wait_events("events", 2)
    ctx.call("gone", ctx.admin.exists, p)
    ctx.call("root", ctx.admin.exists, ctx.root)


@scenario
def ephemeral_removed_when_session_expires(ctx):
    # SessionTrackerImpl expires a session silent for its timeout; the client learns it
    # on reconnect (ZooKeeper Programmer's Guide, "ZooKeeper Sessions").
    proxy = ctx.proxy()
    a = ctx.client(proxy=proxy, timeout=1.0)
    states = ctx.states(a)
    first = a.client_id[0]
    ctx.rec("negotiated timeout ms", a._session_timeout)
    p = f"{ctx.root}/eph"
    a.create(p, ephemeral=True)
    ctx.admin.exists(p, watch=ctx.watch("admin exists"))
    proxy.cut()
    # Expiry happens within timeout + one tick of the last heard-from time.
    ctx.wait_events("deleted", 1, deadline_s=a._session_timeout / 1000 * 3 + 5)
    proxy.restore()
    ctx.wait_for("new session", lambda: a.connected and a.client_id[0] != first)
    ctx.rec("states", states)
    ctx.rec("new session differs", a.client_id[0] != first)
    ctx.call("ephemeral gone", a.exists, p)


@scenario
def reconnect_keeps_session_and_ephemerals(ctx):
    # A connection lost within the session timeout reattaches to the same session
    # (ZooKeeper Programmer's Guide, "ZooKeeper Sessions").
    proxy = ctx.proxy()
    a = ctx.client(proxy=proxy)
    states = ctx.states(a)
    first = a.client_id[0]
    a.create(f"{ctx.root}/eph", ephemeral=True)
    proxy.cut()
    ctx.wait_for("suspended", lambda: not a.connected)
    proxy.restore()
    ctx.wait_for("reconnected", lambda: a.connected)
    ctx.rec("states", states)
    ctx.rec("same session", a.client_id[0] == first)
    ctx.call("ephemeral kept", a.exists, f"{ctx.root}/eph")


@scenario
def set_watches_replays_missed_changes(ctx):
    # DataTree.setWatches: relative to the client's last zxid, a data watch on a changed
    # node fires NodeDataChanged, on a deleted node NodeDeleted, an exist watch on a now
    # existing node NodeCreated, a child watch on a changed parent NodeChildrenChanged;
    # unchanged nodes get their watch back.
    r = ctx.root
    c = ctx.admin
    for n in ("changed", "deleted", "kids", "same"):
        c.create(f"{r}/{n}")
    proxy = ctx.proxy()
    a = ctx.client(proxy=proxy)
    w = {n: ctx.watch(n) for n in ("changed", "deleted", "created", "kids", "same")}
    a.get(f"{r}/changed", watch=w["changed"])
    a.get(f"{r}/deleted", watch=w["deleted"])
    a.exists(f"{r}/created", watch=w["created"])
    a.get_children(f"{r}/kids", watch=w["kids"])
    a.get(f"{r}/same", watch=w["same"])
    proxy.cut()
    ctx.wait_for("suspended", lambda: not a.connected)
    ctx.wait_events("kazoo resets its watchers", 5, sort=True)
    c.set(f"{r}/changed", b"x")
    c.delete(f"{r}/deleted")
    c.create(f"{r}/created")
    c.create(f"{r}/kids/k")
    proxy.restore()
    ctx.wait_for("reconnected", lambda: a.connected)
    kazoo_ext.set_watches(
        a,
        data={f"{r}/changed": w["changed"], f"{r}/deleted": w["deleted"],
              f"{r}/same": w["same"]},
        exist={f"{r}/created": w["created"]},
        child={f"{r}/kids": w["kids"]},
    )
    ctx.wait_events("replayed", 4)
    c.set(f"{r}/same", b"now")
    ctx.wait_events("re-armed watch", 1)


@scenario
def session_ids_differ_and_close_is_final(ctx):
    # Each connect without a session id gets a new session; operations after close fail
    # on the client side.
    a, b = ctx.client(), ctx.client()
    ctx.session("a", a)
    ctx.session("b", b)
    a.create(f"{ctx.root}/ea", ephemeral=True)
    b.create(f"{ctx.root}/eb", ephemeral=True)
    ctx.call("ea", ctx.admin.exists, f"{ctx.root}/ea")
    ctx.call("eb", ctx.admin.exists, f"{ctx.root}/eb")
    b.stop()
    ctx.call("eb after close", ctx.admin.exists, f"{ctx.root}/eb")
    ctx.call("children", lambda: sorted(ctx.admin.get_children(ctx.root)))


# Transactions ----------------------------------------------------------------------------


@scenario
def transaction_success_results(ctx):
    # ZooKeeper.multi; MultiResponse holds one result per op in order.
    c = ctx.admin
    r = ctx.root
    c.create(f"{r}/old", b"o")
    t = c.transaction()
    t.create(f"{r}/new", b"n")
    t.check(f"{r}/old", 0)
    t.set_data(f"{r}/old", b"changed")
    t.create(f"{r}/seq-", sequence=True)
    t.delete(f"{r}/new")
    ctx.call("commit", t.commit)
    ctx.call("old", c.get, f"{r}/old")
    ctx.call("children", lambda: sorted(c.get_children(r)))


@scenario
def transaction_failure_rolls_back_everything(ctx):
    # PrepRequestProcessor multi: ops before the failure report RolledBack (0 in kazoo's
    # table), the failing op its error, ops after it RuntimeInconsistency.
    c = ctx.admin
    r = ctx.root
    c.create(f"{r}/x")
    t = c.transaction()
    t.create(f"{r}/a")
    t.set_data(f"{r}/x", b"1")
    t.check(f"{r}/x", 5)
    t.create(f"{r}/b")
    t.delete(f"{r}/x")
    ctx.call("commit", t.commit)
    ctx.call("a", c.exists, f"{r}/a")
    ctx.call("x", c.get, f"{r}/x")
    t2 = c.transaction()
    t2.check(f"{r}/missing", 0)
    t2.create(f"{r}/c")
    ctx.call("check missing", t2.commit)
    t3 = c.transaction()
    t3.create(f"{r}/d")
    t3.create(f"{r}/d")
    ctx.call("dup within", t3.commit)
    ctx.call("root", c.exists, r)


@scenario
def transaction_sees_its_own_earlier_ops(ctx):
    # PrepRequestProcessor multi validates each op against the tree as changed by the
    # earlier ops of the same multi (ChangeRecords).
    c = ctx.admin
    r = ctx.root
    t = c.transaction()
    t.create(f"{r}/p")
    t.create(f"{r}/p/c", b"v")
    t.check(f"{r}/p/c", 0)
    t.set_data(f"{r}/p/c", b"w")
    t.check(f"{r}/p/c", 1)
    ctx.call("commit", t.commit)
    ctx.call("p", c.exists, f"{r}/p")
    ctx.call("c", c.get, f"{r}/p/c")


# Chroot, sync ----------------------------------------------------------------------------


@scenario
def chroot_strips_paths_everywhere(ctx):
    # ClientCnxn chroot handling: the client prefixes requests and strips replies and
    # events; the server sees full paths.
    r = ctx.root
    ctx.admin.create(f"{r}/app")
    c = ctx.client(chroot=f"{r}/app")
    ctx.call("create", c.create, "/x", b"1")
    ctx.call("seq", c.create, "/s-", sequence=True)
    ctx.call("children", lambda: sorted(c.get_children("/")))
    ctx.call("admin sees", lambda: sorted(ctx.admin.get_children(f"{r}/app")))
    c.get("/x", watch=ctx.watch("chroot data"))
    c.get_children("/", watch=ctx.watch("chroot kids"))
    ctx.admin.set(f"{r}/app/x", b"2")
    ctx.admin.create(f"{r}/app/y")
    ctx.wait_events("events", 2)
    t = c.transaction()
    t.create("/t")
    t.create("/t-", sequence=True)
    ctx.call("txn", t.commit)
    ctx.call("sync", c.sync, "/x")


@scenario
def chroot_missing_root(ctx):
    # A chroot that does not exist still connects; operations under it fail with NoNode.
    c = ctx.client(chroot=f"{ctx.root}/absent")
    ctx.call("get root", c.get, "/")
    ctx.call("create", c.create, "/x")
    ctx.call("exists", c.exists, "/")


@scenario
def sync_returns_the_path(ctx):
    # FinalRequestProcessor sync: SyncResponse echoes the path (no existence check).
    c = ctx.admin
    c.create(f"{ctx.root}/s")
    ctx.call("sync existing", c.sync, f"{ctx.root}/s")
    ctx.call("sync missing", c.sync, f"{ctx.root}/missing")


# Containers ------------------------------------------------------------------------------


@scenario
def container_swept_after_last_child_goes(ctx):
    # ContainerManager: containers with cversion > 0 and no children are deleted on the
    # next check; never-used containers stay while maxNeverUsedIntervalMs is 0.
    c = ctx.admin
    r = ctx.root
    kazoo_ext.create_container(c, f"{r}/used")
    kazoo_ext.create_container(c, f"{r}/unused")
    c.create(f"{r}/used/child")
    c.exists(f"{r}/used", watch=ctx.watch("used"))
    c.get_children(r, watch=ctx.watch("root kids"))
    c.delete(f"{r}/used/child")
    deadline = 4 * ctx.config.container_check_ms / 1000 + 5
    ctx.wait_events("swept", 2, deadline_s=deadline)
    ctx.call("used", c.exists, f"{r}/used")
    # Wait three check intervals: the never-used one must survive them.
    time.sleep(3 * ctx.config.container_check_ms / 1000)
    ctx.call("unused", c.exists, f"{r}/unused")
    ctx.call("children", c.get_children, r)


@scenario
def container_with_child_is_kept(ctx):
    # ContainerManager only deletes childless containers.
    c = ctx.admin
    r = ctx.root
    kazoo_ext.create_container(c, f"{r}/box")
    c.create(f"{r}/box/a")
    c.create(f"{r}/box/b")
    c.delete(f"{r}/box/a")
    time.sleep(3 * ctx.config.container_check_ms / 1000)
    ctx.call("box", c.exists, f"{r}/box")
    ctx.call("delete box with child", c.delete, f"{r}/box")


# Quotas ----------------------------------------------------------------------------------


def set_quota(client, path, count_hard=-1, bytes_hard=-1):
    # cli/SetQuotaCommand.createQuota + StatsTrack.toString: limits then stats node, both
    # created by the client; keys after `count=..,bytes=..` go after an extra "=".
    qpath = "/zookeeper/quota" + path
    client.ensure_path(qpath)
    limits = f"count=-1,bytes=-1=;byteHardLimit={bytes_hard};countHardLimit={count_hard}"
    client.create(qpath + "/zookeeper_limits", limits.encode())
    client.create(qpath + "/zookeeper_stats", b"count=0,bytes=0")


@scenario
def quota_count_hard_limit_enforced(ctx):
    # DataTree / ZooKeeperServer.checkQuota with enforceQuota=true: QuotaExceeded (-125)
    # when a create would exceed countHardLimit; the count includes the quota root.
    c = ctx.admin
    q = f"{ctx.root}/q"
    c.create(q)
    set_quota(c, q, count_hard=3)
    ctx.call("limits", c.get, f"/zookeeper/quota{q}/zookeeper_limits")
    ctx.call("stats", c.get, f"/zookeeper/quota{q}/zookeeper_stats")
    for i in range(4):
        ctx.call(f"create {i}", c.create, f"{q}/n{i}", b"abc")
    ctx.call("stats after", c.get, f"/zookeeper/quota{q}/zookeeper_stats")
    c.delete(f"{q}/n0")
    ctx.call("create after delete", c.create, f"{q}/n9")
    ctx.call("stats end", c.get, f"/zookeeper/quota{q}/zookeeper_stats")


@scenario
def quota_bytes_hard_limit_enforced(ctx):
    # ZooKeeperServer.checkQuota: byteHardLimit counts data bytes of the subtree, checked
    # on create and setData.
    c = ctx.admin
    q = f"{ctx.root}/q"
    c.create(q, b"12345")
    set_quota(c, q, bytes_hard=10)
    ctx.call("stats", c.get, f"/zookeeper/quota{q}/zookeeper_stats")
    ctx.call("create small", c.create, f"{q}/a", b"123")
    ctx.call("create big", c.create, f"{q}/b", b"123456")
    ctx.call("set big", c.set, f"{q}/a", b"1234567")
    ctx.call("set small", c.set, f"{q}/a", b"12345")
    ctx.call("stats after", c.get, f"/zookeeper/quota{q}/zookeeper_stats")


# System nodes ----------------------------------------------------------------------------


@scenario
def zookeeper_system_nodes(ctx):
    # DataTree constructor: /zookeeper, /zookeeper/quota, /zookeeper/config (READ_ACL_UNSAFE)
    # exist from the start; /zookeeper and its subtree cannot be deleted by clients.
    c = ctx.admin
    ctx.call("/zookeeper children", lambda: sorted(c.get_children("/zookeeper")))
    ctx.call("/zookeeper", c.get, "/zookeeper")
    ctx.call("/zookeeper acl", c.get_acls, "/zookeeper")
    ctx.call("/zookeeper/config acl", c.get_acls, "/zookeeper/config")
    ctx.call("/zookeeper/config stat", lambda: c.get("/zookeeper/config")[1].version)
    ctx.call("/ has zookeeper", lambda: "zookeeper" in c.get_children("/"))
    ctx.call("/ acl", c.get_acls, "/")
    ctx.call("delete /zookeeper", c.delete, "/zookeeper")
    ctx.call("delete /zookeeper/config", c.delete, "/zookeeper/config")
    ctx.call("set /zookeeper/config", c.set, "/zookeeper/config", b"x")
    ctx.call("create under /zookeeper", c.create, "/zookeeper/mine")
    ctx.call("delete it", c.delete, "/zookeeper/mine")


# Recipes ---------------------------------------------------------------------------------


@scenario
def recipe_lock_mutual_exclusion(ctx):
    # kazoo Lock: ephemeral sequential contenders, lowest wins, next one watches it.
    a, b = ctx.client(), ctx.client()
    la = Lock(a, f"{ctx.root}/lock", "a")
    lb = Lock(b, f"{ctx.root}/lock", "b")
    ctx.rec("a acquires", la.acquire(timeout=5))
    ctx.rec("b cannot", lb.acquire(blocking=False))
    ctx.rec("contenders", la.contenders())
    la.release()
    ctx.rec("b acquires", lb.acquire(timeout=5))
    ctx.rec("contenders after", lb.contenders())
    lb.release()


@scenario
def recipe_counter_and_queue(ctx):
    # kazoo Counter (versioned setData retries) and Queue (sequential nodes, priority).
    c = ctx.admin
    counter = Counter(c, f"{ctx.root}/counter")
    counter += 5
    counter -= 2
    ctx.rec("counter", counter.value)
    q = Queue(c, f"{ctx.root}/queue")
    q.put(b"low", priority=200)
    q.put(b"first")
    q.put(b"second")
    q.put(b"urgent", priority=1)
    ctx.rec("len", len(q))
    ctx.rec("order", [q.get() for _ in range(5)])


@scenario
def recipe_election_and_barrier(ctx):
    # kazoo Election (lock-based) runs the winner's function; Barrier blocks while the
    # barrier node exists.
    a, b = ctx.client(), ctx.client()
    ea = Election(a, f"{ctx.root}/election", "a")
    eb = Election(b, f"{ctx.root}/election", "b")
    ran = []
    ea.run(lambda: ran.append(("a", eb.contenders())))
    ctx.rec("ran", ran)
    bar = Barrier(a, f"{ctx.root}/barrier")
    bar.create()
    ctx.rec("wait blocked", Barrier(b, f"{ctx.root}/barrier").wait(timeout=0.2))
    bar.remove()
    ctx.rec("wait free", Barrier(b, f"{ctx.root}/barrier").wait(timeout=5))


@scenario
def recursive_delete_and_ensure_path(ctx):
    # kazoo delete(recursive=True) walks get_children then deletes bottom-up.
    c = ctx.admin
    r = ctx.root
    c.ensure_path(f"{r}/a/b/c")
    c.create(f"{r}/a/b/d", b"d")
    c.create(f"{r}/a/x", b"x")
    ctx.call("recursive", c.delete, f"{r}/a", recursive=True)
    ctx.call("gone", c.exists, f"{r}/a")
    ctx.call("root", c.exists, r)


@scenario
def digest_credential_format(ctx):
    # DigestAuthenticationProvider.generateDigest: base64(sha1("user:password")); the server
    # stores and returns the id as given.
    c = ctx.admin
    cred = make_digest_acl_credential("erin", "erin-pw")
    c.create(f"{ctx.root}/n", acl=[ACL(Permissions.ALL, Id("digest", cred))])
    ctx.call("acls", c.get_acls, f"{ctx.root}/n")


@scenario
def get_data_after_setdata_sees_new_stat(ctx):
    # Reads after a write on the same session see it (ZooKeeper guarantees: in-order,
    # read-your-writes per session).
    a = ctx.client()
    p = f"{ctx.root}/n"
    a.create(p, b"0")
    for i in range(1, 4):
        a.set(p, str(i).encode())
        ctx.call(f"get {i}", a.get, p)
    ctx.call("no node in another session", ctx.client().get, f"{ctx.root}/absent")
