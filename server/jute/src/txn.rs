//! Transaction records (`org.apache.zookeeper.txn` in `zookeeper.jute`): what the write path
//! logs, replicates and applies. They are byte-compatible with ZooKeeper's transaction log.

use crate::types::Acl;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time: i64,
    /// An `OpCode` value (`Create`, `Delete`, `Error`, `CreateSession`, ...).
    pub txn_type: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

/// `DataTree.ZxidDigest`: the tree digest as of `zxid`, as a snapshot ends with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub digest_version: i32,
    pub digest: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub ephemeral: bool,
    pub parent_c_version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateContainerTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub parent_c_version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTtlTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub parent_c_version: i32,
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteTxn {
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetDataTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckVersionTxn {
    pub path: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetAclTxn {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateSessionTxn {
    pub time_out: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloseSessionTxn {
    pub paths2_delete: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorTxn {
    pub err: i32,
}

/// One serialized sub-transaction of a `MultiTxn` (`Txn{type, data}` in jute).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnEntry {
    pub txn_type: i32,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiTxn {
    pub txns: Vec<TxnEntry>,
}

/// A typed transaction body, keyed by `TxnHeader.txn_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    Create(CreateTxn),
    Create2(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTtlTxn),
    Delete(DeleteTxn),
    DeleteContainer(DeleteTxn),
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    CreateSession(CreateSessionTxn),
    CloseSession(CloseSessionTxn),
    Error(ErrorTxn),
    Multi(Vec<Txn>),
}
