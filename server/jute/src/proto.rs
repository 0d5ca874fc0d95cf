//! Session-level records (`org.apache.zookeeper.proto` in `zookeeper.jute`), plus the typed
//! request and response enums that pair each opcode with its body.
//!
//! Conventions: jute `buffer` fields that ZooKeeper allows to be null (znode data) are
//! `Option<Vec<u8>>`, with `None` written as length -1; `ustring` fields are `String` (a null
//! string decodes as empty, which path validation then rejects as ZooKeeper does); vectors are
//! `Vec<T>` (a null vector decodes as empty).

use crate::types::{Acl, ClientInfo, OpCode, Stat};

/// The first packet of a session connection. `read_only` is `None` when the client omitted the
/// trailing byte (3.3-era clients); the server then omits it in its response as well.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub xid: i32,
    /// The raw opcode; converted with `OpCode::try_from` so an unknown value stays visible.
    pub op_type: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MultiHeader {
    pub op_type: i32,
    pub done: bool,
    pub err: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthPacket {
    pub auth_type: i32,
    pub scheme: String,
    pub auth: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatches {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatches2 {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatcherEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorResponse {
    pub err: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTtlRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteRequest {
    pub path: String,
    pub version: i32,
}

/// Also the body of `DeleteContainerRequest`, `SyncRequest`, `GetACLRequest`,
/// `GetAllChildrenNumberRequest` and `GetEphemeralsRequest{prefixPath}`: one path string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathRequest {
    pub path: String,
}

/// `ExistsRequest`, `GetDataRequest`, `GetChildrenRequest` and `GetChildren2Request` share
/// this shape: a path and a watch flag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathWatchRequest {
    pub path: String,
    pub watch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetDataRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetAclRequest {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckVersionRequest {
    pub path: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddWatchRequest {
    pub path: String,
    pub mode: i32,
}

/// `CheckWatchesRequest` and `RemoveWatchesRequest` (same fields).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchesRequest {
    pub path: String,
    pub watcher_type: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconfigRequest {
    pub joining_servers: String,
    pub leaving_servers: String,
    pub new_members: String,
    pub cur_config_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetSaslRequest {
    pub token: Vec<u8>,
}

/// One operation inside a `multi` (opcode 14) or `multiRead` (opcode 22) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// `op` is `Create`, `Create2` or `CreateContainer` (all carry a `CreateRequest`).
    Create {
        op: OpCode,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetData(PathWatchRequest),
    GetChildren(PathWatchRequest),
}

/// A decoded request body, keyed by its opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    DeleteContainer(PathRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// One result inside a multi / multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// Header type 1, body `CreateResponse`.
    Create {
        path: String,
    },
    /// Header type 15 (also for createContainer / createTTL), body `Create2Response`.
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    /// Header type -1 with `err`, body `ErrorResponse{err}`.
    Error {
        err: i32,
    },
}

/// A response body (the part after `ReplyHeader`, present only when `err == 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Header only (delete, ping, auth, setWatches, checkWatches, removeWatches, closeSession).
    Empty,
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Stat(Stat),
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    GetChildren2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    Multi(Vec<OpResult>),
    GetAllChildrenNumber {
        total_number: i32,
    },
    GetEphemerals {
        ephemerals: Vec<String>,
    },
    WhoAmI {
        client_info: Vec<ClientInfo>,
    },
    /// addWatch answers with `ErrorResponse{err: 0}`.
    ErrorBody {
        err: i32,
    },
    /// `SetSASLResponse{token}`; ZooKeeper answers null when no SASL server is configured.
    Sasl {
        token: Option<Vec<u8>>,
    },
}
