//! Request bodies keyed by opcode: `Request::decode` for the server, `Request::write` for test
//! clients. The opcode-to-record mapping follows `FinalRequestProcessor` and
//! `PrepRequestProcessor`; multi bodies follow `MultiOperationRecord`.

use crate::codec::{Reader, Record, Writer};
use crate::error::DecodeError;
use crate::proto::*;
use crate::types::{CreateMode, OpCode};

impl Request {
    /// Decodes the body that follows a `RequestHeader` of type `op`. Bytes after the body are
    /// left unread, as ZooKeeper ignores them. A body cut short is `Incomplete`; since the
    /// caller already holds a complete frame, that means the request is malformed.
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Request, DecodeError> {
        use OpCode as O;
        Ok(match op {
            O::Create => Request::Create(CreateRequest::read(r)?),
            O::Create2 => Request::Create2(CreateRequest::read(r)?),
            O::CreateContainer => Request::CreateContainer(CreateRequest::read(r)?),
            O::CreateTtl => Request::CreateTtl(CreateTtlRequest::read(r)?),
            O::Delete => Request::Delete(DeleteRequest::read(r)?),
            O::DeleteContainer => Request::DeleteContainer(PathRequest::read(r)?),
            O::Exists => Request::Exists(PathWatchRequest::read(r)?),
            O::GetData => Request::GetData(PathWatchRequest::read(r)?),
            O::SetData => Request::SetData(SetDataRequest::read(r)?),
            O::GetAcl => Request::GetAcl(PathRequest::read(r)?),
            O::SetAcl => Request::SetAcl(SetAclRequest::read(r)?),
            O::GetChildren => Request::GetChildren(PathWatchRequest::read(r)?),
            O::GetChildren2 => Request::GetChildren2(PathWatchRequest::read(r)?),
            O::Sync => Request::Sync(PathRequest::read(r)?),
            O::Ping => Request::Ping,
            O::Check => Request::Check(CheckVersionRequest::read(r)?),
            O::Multi => Request::Multi(read_multi(r, MultiKind::Write)?),
            O::MultiRead => Request::MultiRead(read_multi(r, MultiKind::Read)?),
            O::Reconfig => Request::Reconfig(ReconfigRequest::read(r)?),
            O::CheckWatches => Request::CheckWatches(WatchesRequest::read(r)?),
            O::RemoveWatches => Request::RemoveWatches(WatchesRequest::read(r)?),
            O::Auth => Request::Auth(AuthPacket::read(r)?),
            O::SetWatches => Request::SetWatches(SetWatches::read(r)?),
            O::SetWatches2 => Request::SetWatches2(SetWatches2::read(r)?),
            O::Sasl => Request::Sasl(GetSaslRequest::read(r)?),
            O::GetEphemerals => Request::GetEphemerals(PathRequest::read(r)?),
            O::GetAllChildrenNumber => Request::GetAllChildrenNumber(PathRequest::read(r)?),
            O::AddWatch => Request::AddWatch(AddWatchRequest::read(r)?),
            O::WhoAmI => Request::WhoAmI,
            O::CloseSession => Request::CloseSession,
            O::Notification | O::CreateSession | O::Error => {
                return Err(DecodeError::NotARequest(op as i32))
            }
        })
    }

    /// The opcode a client puts in the `RequestHeader` for this request.
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Writes the body (without `RequestHeader`), as a client would.
    pub fn write(&self, w: &mut Writer) {
        match self {
            Request::Create(b) | Request::Create2(b) | Request::CreateContainer(b) => b.write(w),
            Request::CreateTtl(b) => b.write(w),
            Request::Delete(b) => b.write(w),
            Request::DeleteContainer(b)
            | Request::GetAcl(b)
            | Request::Sync(b)
            | Request::GetEphemerals(b)
            | Request::GetAllChildrenNumber(b) => b.write(w),
            Request::Exists(b)
            | Request::GetData(b)
            | Request::GetChildren(b)
            | Request::GetChildren2(b) => b.write(w),
            Request::SetData(b) => b.write(w),
            Request::SetAcl(b) => b.write(w),
            Request::Check(b) => b.write(w),
            Request::Multi(ops) | Request::MultiRead(ops) => write_multi(ops, w),
            Request::Reconfig(b) => b.write(w),
            Request::CheckWatches(b) | Request::RemoveWatches(b) => b.write(w),
            Request::Auth(b) => b.write(w),
            Request::SetWatches(b) => b.write(w),
            Request::SetWatches2(b) => b.write(w),
            Request::Sasl(b) => b.write(w),
            Request::AddWatch(b) => b.write(w),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }

    /// A complete client frame: length, `RequestHeader{xid, type}`, body.
    pub fn encode_frame(&self, xid: i32) -> Vec<u8> {
        crate::codec::framed(|w| {
            RequestHeader {
                xid,
                op_type: self.op_code() as i32,
            }
            .write(w);
            self.write(w);
        })
    }
}

impl MultiOp {
    /// The type written in this op's `MultiHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetData(_) => OpCode::GetData,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    fn write_body(&self, w: &mut Writer) {
        match self {
            MultiOp::Create { req, .. } => req.write(w),
            MultiOp::CreateTtl(b) => b.write(w),
            MultiOp::Delete(b) => b.write(w),
            MultiOp::SetData(b) => b.write(w),
            MultiOp::Check(b) => b.write(w),
            MultiOp::GetData(b) | MultiOp::GetChildren(b) => b.write(w),
        }
    }
}

/// Which ops a multi body may hold: `multi` (14) carries only writes and checks, `multiRead`
/// (22) only getData / getChildren.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MultiKind {
    Write,
    Read,
}

/// `MultiOperationRecord.deserialize`: `MultiHeader` + op record, repeated until a header with
/// `done == true` (whose type and err are ignored).
fn read_multi(r: &mut Reader<'_>, kind: MultiKind) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let hdr = MultiHeader::read(r)?;
        if hdr.done {
            return Ok(ops);
        }
        ops.push(read_multi_op(r, hdr.op_type, kind)?);
    }
}

fn read_multi_op(
    r: &mut Reader<'_>,
    op_type: i32,
    kind: MultiKind,
) -> Result<MultiOp, DecodeError> {
    let op = OpCode::try_from(op_type).map_err(|_| DecodeError::BadMultiOp(op_type))?;
    use OpCode as O;
    Ok(match (kind, op) {
        (MultiKind::Write, O::Create | O::Create2 | O::CreateContainer) => {
            let req = CreateRequest::read(r)?;
            // MultiOperationRecord rejects an unknown create mode while decoding
            // ("invalid flag ... for create mode"), unlike a lone create.
            if CreateMode::from_flags(req.flags).is_err() {
                return Err(DecodeError::Invalid("invalid create flags in multi"));
            }
            MultiOp::Create { op, req }
        }
        (MultiKind::Write, O::CreateTtl) => MultiOp::CreateTtl(CreateTtlRequest::read(r)?),
        (MultiKind::Write, O::Delete) => MultiOp::Delete(DeleteRequest::read(r)?),
        (MultiKind::Write, O::SetData) => MultiOp::SetData(SetDataRequest::read(r)?),
        (MultiKind::Write, O::Check) => MultiOp::Check(CheckVersionRequest::read(r)?),
        (MultiKind::Read, O::GetData) => MultiOp::GetData(PathWatchRequest::read(r)?),
        (MultiKind::Read, O::GetChildren) => MultiOp::GetChildren(PathWatchRequest::read(r)?),
        _ => return Err(DecodeError::BadMultiOp(op_type)),
    })
}

/// `MultiOperationRecord.serialize`: per op `MultiHeader{type, false, -1}` + body, then
/// `MultiHeader{-1, true, -1}`.
fn write_multi(ops: &[MultiOp], w: &mut Writer) {
    for op in ops {
        MultiHeader {
            op_type: op.op_code() as i32,
            done: false,
            err: -1,
        }
        .write(w);
        op.write_body(w);
    }
    MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    }
    .write(w);
}
