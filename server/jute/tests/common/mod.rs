//! proptest strategies for every jute record, shared by the round-trip and fuzz tests.

#![allow(dead_code)]

use paddock_jute::proto::*;
use paddock_jute::txn::*;
use paddock_jute::{Acl, ClientInfo, Id, OpCode, Stat, StatPersisted};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

pub fn string() -> impl Strategy<Value = String> {
    // Multi-byte characters included, so lengths are byte counts, not char counts.
    "[a-z/é☃]{0,12}"
}

pub fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(string(), 0..4)
}

pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

pub fn buffer() -> impl Strategy<Value = Option<Vec<u8>>> {
    option::of(bytes())
}

pub fn id() -> impl Strategy<Value = Id> {
    (string(), string()).prop_map(|(scheme, id)| Id { scheme, id })
}

pub fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(acl(), 0..3)
}

pub fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |((czxid, mzxid, ctime, mtime), (version, cversion, aversion, eo), (dl, nc, pz))| {
                Stat {
                    czxid,
                    mzxid,
                    ctime,
                    mtime,
                    version,
                    cversion,
                    aversion,
                    ephemeral_owner: eo,
                    data_length: dl,
                    num_children: nc,
                    pzxid: pz,
                }
            },
        )
}

pub fn stat_persisted() -> impl Strategy<Value = StatPersisted> {
    stat().prop_map(|s| StatPersisted {
        czxid: s.czxid,
        mzxid: s.mzxid,
        ctime: s.ctime,
        mtime: s.mtime,
        version: s.version,
        cversion: s.cversion,
        aversion: s.aversion,
        ephemeral_owner: s.ephemeral_owner,
        pzxid: s.pzxid,
    })
}

pub fn client_info() -> impl Strategy<Value = ClientInfo> {
    (string(), string()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
}

pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        bytes(),
        option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, last_zxid_seen, time_out, session_id, passwd, read_only)| {
                ConnectRequest {
                    protocol_version,
                    last_zxid_seen,
                    time_out,
                    session_id,
                    passwd,
                    read_only,
                }
            },
        )
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        bytes(),
        option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, time_out, session_id, passwd, read_only)| ConnectResponse {
                protocol_version,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        )
}

pub fn create_request() -> impl Strategy<Value = CreateRequest> {
    (string(), buffer(), acls(), 0..7i32).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

pub fn create_ttl_request() -> impl Strategy<Value = CreateTtlRequest> {
    (string(), buffer(), acls(), any::<i32>(), any::<i64>()).prop_map(
        |(path, data, acl, flags, ttl)| CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        },
    )
}

pub fn path_request() -> impl Strategy<Value = PathRequest> {
    string().prop_map(|path| PathRequest { path })
}

pub fn path_watch() -> impl Strategy<Value = PathWatchRequest> {
    (string(), any::<bool>()).prop_map(|(path, watch)| PathWatchRequest { path, watch })
}

pub fn delete_request() -> impl Strategy<Value = DeleteRequest> {
    (string(), any::<i32>()).prop_map(|(path, version)| DeleteRequest { path, version })
}

pub fn set_data_request() -> impl Strategy<Value = SetDataRequest> {
    (string(), buffer(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest {
        path,
        data,
        version,
    })
}

pub fn set_acl_request() -> impl Strategy<Value = SetAclRequest> {
    (string(), acls(), any::<i32>()).prop_map(|(path, acl, version)| SetAclRequest {
        path,
        acl,
        version,
    })
}

pub fn check_request() -> impl Strategy<Value = CheckVersionRequest> {
    (string(), any::<i32>()).prop_map(|(path, version)| CheckVersionRequest { path, version })
}

pub fn watches_request() -> impl Strategy<Value = WatchesRequest> {
    (string(), any::<i32>()).prop_map(|(path, watcher_type)| WatchesRequest { path, watcher_type })
}

pub fn add_watch_request() -> impl Strategy<Value = AddWatchRequest> {
    (string(), any::<i32>()).prop_map(|(path, mode)| AddWatchRequest { path, mode })
}

pub fn reconfig_request() -> impl Strategy<Value = ReconfigRequest> {
    (string(), string(), string(), any::<i64>()).prop_map(|(j, l, n, c)| ReconfigRequest {
        joining_servers: j,
        leaving_servers: l,
        new_members: n,
        cur_config_id: c,
    })
}

pub fn auth_packet() -> impl Strategy<Value = AuthPacket> {
    (any::<i32>(), string(), bytes()).prop_map(|(auth_type, scheme, auth)| AuthPacket {
        auth_type,
        scheme,
        auth,
    })
}

pub fn set_watches() -> impl Strategy<Value = SetWatches> {
    (any::<i64>(), strings(), strings(), strings()).prop_map(|(z, d, e, c)| SetWatches {
        relative_zxid: z,
        data_watches: d,
        exist_watches: e,
        child_watches: c,
    })
}

pub fn set_watches2() -> impl Strategy<Value = SetWatches2> {
    (
        any::<i64>(),
        strings(),
        strings(),
        strings(),
        strings(),
        strings(),
    )
        .prop_map(|(z, d, e, c, p, r)| SetWatches2 {
            relative_zxid: z,
            data_watches: d,
            exist_watches: e,
            child_watches: c,
            persistent_watches: p,
            persistent_recursive_watches: r,
        })
}

pub fn watcher_event() -> impl Strategy<Value = WatcherEvent> {
    (any::<i32>(), any::<i32>(), string()).prop_map(|(event_type, state, path)| WatcherEvent {
        event_type,
        state,
        path,
    })
}

pub fn write_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (
            prop_oneof![
                Just(OpCode::Create),
                Just(OpCode::Create2),
                Just(OpCode::CreateContainer)
            ],
            create_request()
        )
            .prop_map(|(op, req)| MultiOp::Create { op, req }),
        create_ttl_request().prop_map(MultiOp::CreateTtl),
        delete_request().prop_map(MultiOp::Delete),
        set_data_request().prop_map(MultiOp::SetData),
        check_request().prop_map(MultiOp::Check),
    ]
}

pub fn read_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        path_watch().prop_map(MultiOp::GetData),
        path_watch().prop_map(MultiOp::GetChildren)
    ]
}

pub fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create_request().prop_map(Request::Create),
        create_request().prop_map(Request::Create2),
        create_request().prop_map(Request::CreateContainer),
        create_ttl_request().prop_map(Request::CreateTtl),
        delete_request().prop_map(Request::Delete),
        path_request().prop_map(Request::DeleteContainer),
        path_watch().prop_map(Request::Exists),
        path_watch().prop_map(Request::GetData),
        set_data_request().prop_map(Request::SetData),
        path_request().prop_map(Request::GetAcl),
        set_acl_request().prop_map(Request::SetAcl),
        path_watch().prop_map(Request::GetChildren),
        path_watch().prop_map(Request::GetChildren2),
        path_request().prop_map(Request::Sync),
        Just(Request::Ping),
        check_request().prop_map(Request::Check),
        vec(write_op(), 0..4).prop_map(Request::Multi),
        vec(read_op(), 0..4).prop_map(Request::MultiRead),
        reconfig_request().prop_map(Request::Reconfig),
        watches_request().prop_map(Request::CheckWatches),
        watches_request().prop_map(Request::RemoveWatches),
        auth_packet().prop_map(Request::Auth),
        set_watches().prop_map(Request::SetWatches),
        set_watches2().prop_map(Request::SetWatches2),
        bytes().prop_map(|token| Request::Sasl(GetSaslRequest { token })),
        path_request().prop_map(Request::GetEphemerals),
        path_request().prop_map(Request::GetAllChildrenNumber),
        add_watch_request().prop_map(Request::AddWatch),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

pub fn op_result() -> impl Strategy<Value = OpResult> {
    prop_oneof![
        string().prop_map(|path| OpResult::Create { path }),
        (string(), stat()).prop_map(|(path, stat)| OpResult::Create2 { path, stat }),
        Just(OpResult::Delete),
        stat().prop_map(|stat| OpResult::SetData { stat }),
        Just(OpResult::Check),
        (buffer(), stat()).prop_map(|(data, stat)| OpResult::GetData { data, stat }),
        strings().prop_map(|children| OpResult::GetChildren { children }),
        any::<i32>().prop_map(|err| OpResult::Error { err }),
    ]
}

/// A response paired with an opcode whose reply carries that shape.
pub fn response_for_op() -> impl Strategy<Value = (OpCode, Response)> {
    prop_oneof![
        prop_oneof![
            Just(OpCode::Delete),
            Just(OpCode::Ping),
            Just(OpCode::SetWatches),
            Just(OpCode::CloseSession)
        ]
        .prop_map(|op| (op, Response::Empty)),
        string().prop_map(|path| (OpCode::Create, Response::Create { path })),
        (string(), stat())
            .prop_map(|(path, stat)| (OpCode::Create2, Response::Create2 { path, stat })),
        (
            prop_oneof![
                Just(OpCode::Exists),
                Just(OpCode::SetData),
                Just(OpCode::SetAcl)
            ],
            stat()
        )
            .prop_map(|(op, stat)| (op, Response::Stat(stat))),
        (buffer(), stat())
            .prop_map(|(data, stat)| (OpCode::GetData, Response::GetData { data, stat })),
        (acls(), stat()).prop_map(|(acl, stat)| (OpCode::GetAcl, Response::GetAcl { acl, stat })),
        strings().prop_map(|children| (OpCode::GetChildren, Response::GetChildren { children })),
        (strings(), stat()).prop_map(|(children, stat)| (
            OpCode::GetChildren2,
            Response::GetChildren2 { children, stat }
        )),
        string().prop_map(|path| (OpCode::Sync, Response::Sync { path })),
        vec(op_result(), 0..4).prop_map(|r| (OpCode::Multi, Response::Multi(r))),
        any::<i32>().prop_map(|n| (
            OpCode::GetAllChildrenNumber,
            Response::GetAllChildrenNumber { total_number: n }
        )),
        strings().prop_map(|e| (
            OpCode::GetEphemerals,
            Response::GetEphemerals { ephemerals: e }
        )),
        vec(client_info(), 0..3)
            .prop_map(|c| (OpCode::WhoAmI, Response::WhoAmI { client_info: c })),
        any::<i32>().prop_map(|err| (OpCode::AddWatch, Response::ErrorBody { err })),
        proptest::option::of(bytes()).prop_map(|token| (OpCode::Sasl, Response::Sasl { token })),
    ]
}

pub fn create_txn() -> impl Strategy<Value = CreateTxn> {
    (string(), buffer(), acls(), any::<bool>(), any::<i32>()).prop_map(
        |(path, data, acl, ephemeral, pcv)| CreateTxn {
            path,
            data,
            acl,
            ephemeral,
            parent_c_version: pcv,
        },
    )
}

pub fn leaf_txn() -> impl Strategy<Value = Txn> {
    prop_oneof![
        create_txn().prop_map(Txn::Create),
        create_txn().prop_map(Txn::Create2),
        (string(), buffer(), acls(), any::<i32>()).prop_map(|(path, data, acl, pcv)| {
            Txn::CreateContainer(CreateContainerTxn {
                path,
                data,
                acl,
                parent_c_version: pcv,
            })
        }),
        (string(), buffer(), acls(), any::<i32>(), any::<i64>()).prop_map(
            |(path, data, acl, pcv, ttl)| {
                Txn::CreateTtl(CreateTtlTxn {
                    path,
                    data,
                    acl,
                    parent_c_version: pcv,
                    ttl,
                })
            }
        ),
        string().prop_map(|path| Txn::Delete(DeleteTxn { path })),
        string().prop_map(|path| Txn::DeleteContainer(DeleteTxn { path })),
        (string(), buffer(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData(
            SetDataTxn {
                path,
                data,
                version
            }
        )),
        (string(), any::<i32>())
            .prop_map(|(path, version)| Txn::Check(CheckVersionTxn { path, version })),
        any::<i32>().prop_map(|err| Txn::Error(ErrorTxn { err })),
    ]
}

pub fn txn() -> impl Strategy<Value = Txn> {
    prop_oneof![
        leaf_txn(),
        (string(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl(SetAclTxn {
            path,
            acl,
            version
        })),
        any::<i32>().prop_map(|time_out| Txn::CreateSession(CreateSessionTxn { time_out })),
        strings().prop_map(|paths2_delete| Txn::CloseSession(CloseSessionTxn { paths2_delete })),
        vec(leaf_txn(), 0..4).prop_map(Txn::Multi),
    ]
}
