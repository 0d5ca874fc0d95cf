//! `Txn` bodies keyed by `TxnHeader.txn_type`, as `SerializeUtils.deserializeTxn` reads them
//! from the log and `DataTree.processTxn` reads the sub-transactions of a multi.

use crate::codec::{acl_vec_len, buffer_len, string_len, string_vec_len, Reader, Record, Writer};
use crate::error::DecodeError;
use crate::txn::*;
use crate::types::OpCode;

const CREATE: i32 = OpCode::Create as i32;
const CREATE2: i32 = OpCode::Create2 as i32;
const CREATE_CONTAINER: i32 = OpCode::CreateContainer as i32;
const CREATE_TTL: i32 = OpCode::CreateTtl as i32;
const DELETE: i32 = OpCode::Delete as i32;
const DELETE_CONTAINER: i32 = OpCode::DeleteContainer as i32;
const SET_DATA: i32 = OpCode::SetData as i32;
const SET_ACL: i32 = OpCode::SetAcl as i32;
const CHECK: i32 = OpCode::Check as i32;
const CREATE_SESSION: i32 = OpCode::CreateSession as i32;
const CLOSE_SESSION: i32 = OpCode::CloseSession as i32;
const ERROR: i32 = OpCode::Error as i32;
const MULTI: i32 = OpCode::Multi as i32;

impl Txn {
    /// The `TxnHeader.type` (or `MultiTxn` entry type) for this transaction.
    pub fn txn_type(&self) -> i32 {
        match self {
            Txn::Create(_) => CREATE,
            Txn::Create2(_) => CREATE2,
            Txn::CreateContainer(_) => CREATE_CONTAINER,
            Txn::CreateTtl(_) => CREATE_TTL,
            Txn::Delete(_) => DELETE,
            Txn::DeleteContainer(_) => DELETE_CONTAINER,
            Txn::SetData(_) => SET_DATA,
            Txn::SetAcl(_) => SET_ACL,
            Txn::Check(_) => CHECK,
            Txn::CreateSession(_) => CREATE_SESSION,
            Txn::CloseSession(_) => CLOSE_SESSION,
            Txn::Error(_) => ERROR,
            Txn::Multi(_) => MULTI,
        }
    }

    /// Writes the record that follows the `TxnHeader`. A multi becomes
    /// `MultiTxn{vector<Txn{type, data}>}` with each sub-record serialized into `data`
    /// (`PrepRequestProcessor.pRequest`, case multi).
    pub fn write_body(&self, w: &mut Writer) {
        match self {
            Txn::Create(t) | Txn::Create2(t) => t.write(w),
            Txn::CreateContainer(t) => t.write(w),
            Txn::CreateTtl(t) => t.write(w),
            Txn::Delete(t) | Txn::DeleteContainer(t) => t.write(w),
            Txn::SetData(t) => t.write(w),
            Txn::SetAcl(t) => t.write(w),
            Txn::Check(t) => t.write(w),
            Txn::CreateSession(t) => t.write(w),
            Txn::CloseSession(t) => t.write(w),
            Txn::Error(t) => t.write(w),
            // `MultiTxn { vector<TxnEntry { int type; buffer data }> }`, each sub-record
            // written straight into its buffer.
            Txn::Multi(txns) => {
                w.write_len(txns.len());
                for t in txns {
                    w.write_i32(t.txn_type());
                    w.write_bytes_with(|sub| t.write_body(sub));
                }
            }
        }
    }

    /// The bytes [`Txn::write_body`] writes, to size a log entry's buffer once.
    pub fn body_len(&self) -> usize {
        match self {
            // path, data, acl, ephemeral (boolean), parentCVersion
            Txn::Create(t) | Txn::Create2(t) => {
                string_len(&t.path) + buffer_len(t.data.as_deref()) + acl_vec_len(&t.acl) + 1 + 4
            }
            Txn::CreateContainer(t) => {
                string_len(&t.path) + buffer_len(t.data.as_deref()) + acl_vec_len(&t.acl) + 4
            }
            // ... parentCVersion, ttl (long)
            Txn::CreateTtl(t) => {
                string_len(&t.path) + buffer_len(t.data.as_deref()) + acl_vec_len(&t.acl) + 4 + 8
            }
            Txn::Delete(t) | Txn::DeleteContainer(t) => string_len(&t.path),
            Txn::SetData(t) => string_len(&t.path) + buffer_len(t.data.as_deref()) + 4,
            Txn::SetAcl(t) => string_len(&t.path) + acl_vec_len(&t.acl) + 4,
            Txn::Check(t) => string_len(&t.path) + 4,
            Txn::CreateSession(_) | Txn::Error(_) => 4,
            Txn::CloseSession(t) => string_vec_len(&t.paths2_delete),
            // count, then per entry its type and its buffer
            Txn::Multi(txns) => 4 + txns.iter().map(|t| 4 + 4 + t.body_len()).sum::<usize>(),
        }
    }

    /// Reads the record of a transaction of type `txn_type`. Bytes after it (a `TxnDigest` in
    /// the log) are left for the caller.
    pub fn read_body(txn_type: i32, r: &mut Reader<'_>) -> Result<Txn, DecodeError> {
        Ok(match txn_type {
            CREATE => Txn::Create(read_create_txn(r)?),
            CREATE2 => Txn::Create2(CreateTxn::read(r)?),
            CREATE_CONTAINER => Txn::CreateContainer(CreateContainerTxn::read(r)?),
            CREATE_TTL => Txn::CreateTtl(CreateTtlTxn::read(r)?),
            DELETE => Txn::Delete(DeleteTxn::read(r)?),
            DELETE_CONTAINER => Txn::DeleteContainer(DeleteTxn::read(r)?),
            SET_DATA => Txn::SetData(SetDataTxn::read(r)?),
            SET_ACL => Txn::SetAcl(SetAclTxn::read(r)?),
            CHECK => Txn::Check(CheckVersionTxn::read(r)?),
            CREATE_SESSION => Txn::CreateSession(CreateSessionTxn::read(r)?),
            // Before CloseSessionTxn existed, closeSession was logged with no body;
            // deserializeTxn treats the resulting EOF as "nothing to delete".
            CLOSE_SESSION if r.remaining() == 0 => Txn::CloseSession(CloseSessionTxn::default()),
            CLOSE_SESSION => Txn::CloseSession(CloseSessionTxn::read(r)?),
            ERROR => Txn::Error(ErrorTxn::read(r)?),
            MULTI => Txn::Multi(read_multi_txn(r)?),
            other => return Err(DecodeError::UnknownTxnType(other)),
        })
    }
}

/// A create logged before `parentCVersion` was added (`CreateTxnV0`) is read with
/// `parent_c_version = -1`, which tells the data tree to fix the parent's cversion up
/// (`SerializeUtils.deserializeTxn`).
fn read_create_txn(r: &mut Reader<'_>) -> Result<CreateTxn, DecodeError> {
    let start = r.clone();
    match CreateTxn::read(r) {
        Err(DecodeError::Incomplete { .. }) => {
            *r = start;
            Ok(CreateTxn {
                path: r.read_string()?,
                data: r.read_buffer()?,
                acl: r.read_vec()?,
                ephemeral: r.read_bool()?,
                parent_c_version: -1,
            })
        }
        other => other,
    }
}

/// The sub-transactions of a `MultiTxn`; each entry's data holds one record of a type that
/// `DataTree.processTxn` accepts inside a multi.
fn read_multi_txn(r: &mut Reader<'_>) -> Result<Vec<Txn>, DecodeError> {
    let multi = MultiTxn::read(r)?;
    multi
        .txns
        .iter()
        .map(|entry| {
            match entry.txn_type {
                CREATE | CREATE2 | CREATE_TTL | CREATE_CONTAINER | DELETE | DELETE_CONTAINER
                | SET_DATA | ERROR | CHECK => {}
                other => return Err(DecodeError::UnknownTxnType(other)),
            }
            // Like ByteBufferInputStream.byteBuffer2Record, bytes after the record are ignored.
            Txn::read_body(entry.txn_type, &mut Reader::new(&entry.data))
        })
        .collect()
}
