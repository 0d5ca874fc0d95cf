//! Response bodies: `Response::write` for the server and `Response::read_for` for test clients.
//! Which record answers which opcode follows `FinalRequestProcessor.processRequest`; the multi
//! body follows `MultiResponse.serialize` / `deserialize`.

use crate::codec::{acl_vec_len, buffer_len, string_len, string_vec_len, Reader, Record, Writer};
use crate::error::DecodeError;
use crate::proto::{MultiHeader, OpResult, Response};
use crate::types::{OpCode, Stat};

/// `Stat`: six longs and five ints (`Stat.serialize`).
const STAT_LEN: usize = 6 * 8 + 5 * 4;
/// `MultiHeader`: type (int), done (boolean), err (int).
const MULTI_HEADER_LEN: usize = 4 + 1 + 4;

impl Response {
    /// Writes the body that follows a `ReplyHeader` with `err == 0`.
    pub fn write(&self, w: &mut Writer) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => w.write_string(path),
            Response::Create2 { path, stat } => {
                w.write_string(path);
                stat.write(w);
            }
            Response::Stat(stat) => stat.write(w),
            Response::GetData { data, stat } => {
                w.write_buffer(data.as_deref());
                stat.write(w);
            }
            Response::GetAcl { acl, stat } => {
                w.write_vec(acl);
                stat.write(w);
            }
            Response::GetChildren { children } => w.write_string_vec(children),
            Response::GetChildren2 { children, stat } => {
                w.write_string_vec(children);
                stat.write(w);
            }
            Response::Multi(results) => write_multi(results, w),
            Response::GetAllChildrenNumber { total_number } => w.write_i32(*total_number),
            Response::GetEphemerals { ephemerals } => w.write_string_vec(ephemerals),
            Response::WhoAmI { client_info } => w.write_vec(client_info),
            Response::ErrorBody { err } => w.write_i32(*err),
            Response::Sasl { token } => w.write_buffer(token.as_deref()),
        }
    }

    /// The bytes [`Response::write`] writes, to size the reply's buffer once.
    pub fn encoded_len(&self) -> usize {
        match self {
            Response::Empty => 0,
            Response::Create { path } | Response::Sync { path } => string_len(path),
            Response::Create2 { path, .. } => string_len(path) + STAT_LEN,
            Response::Stat(_) => STAT_LEN,
            Response::GetData { data, .. } => buffer_len(data.as_deref()) + STAT_LEN,
            Response::GetAcl { acl, .. } => acl_vec_len(acl) + STAT_LEN,
            Response::GetChildren { children } => string_vec_len(children),
            Response::GetChildren2 { children, .. } => string_vec_len(children) + STAT_LEN,
            Response::Multi(results) => {
                results.iter().map(OpResult::encoded_len).sum::<usize>() + MULTI_HEADER_LEN
            }
            Response::GetAllChildrenNumber { .. } | Response::ErrorBody { .. } => 4,
            Response::GetEphemerals { ephemerals } => string_vec_len(ephemerals),
            Response::WhoAmI { client_info } => {
                4 + client_info
                    .iter()
                    .map(|c| string_len(&c.auth_scheme) + string_len(&c.user))
                    .sum::<usize>()
            }
            Response::Sasl { token } => buffer_len(token.as_deref()),
        }
    }

    /// Reads the body of a successful reply to a request of type `op`, as a client does.
    pub fn read_for(op: OpCode, r: &mut Reader<'_>) -> Result<Response, DecodeError> {
        use OpCode as O;
        Ok(match op {
            O::Create => Response::Create {
                path: r.read_string()?,
            },
            O::Create2 | O::CreateContainer | O::CreateTtl => Response::Create2 {
                path: r.read_string()?,
                stat: Stat::read(r)?,
            },
            O::Exists | O::SetData | O::SetAcl | O::Check => Response::Stat(Stat::read(r)?),
            // reconfig answers with the new configuration as a GetDataResponse.
            O::GetData | O::Reconfig => Response::GetData {
                data: r.read_buffer()?,
                stat: Stat::read(r)?,
            },
            O::GetAcl => Response::GetAcl {
                acl: r.read_vec()?,
                stat: Stat::read(r)?,
            },
            O::GetChildren => Response::GetChildren {
                children: r.read_string_vec()?,
            },
            O::GetChildren2 => Response::GetChildren2 {
                children: r.read_string_vec()?,
                stat: Stat::read(r)?,
            },
            O::Sync => Response::Sync {
                path: r.read_string()?,
            },
            O::Multi | O::MultiRead => Response::Multi(read_multi(r)?),
            O::GetAllChildrenNumber => Response::GetAllChildrenNumber {
                total_number: r.read_i32()?,
            },
            O::GetEphemerals => Response::GetEphemerals {
                ephemerals: r.read_string_vec()?,
            },
            O::WhoAmI => Response::WhoAmI {
                client_info: r.read_vec()?,
            },
            O::AddWatch => Response::ErrorBody { err: r.read_i32()? },
            O::Sasl => Response::Sasl {
                token: r.read_buffer()?,
            },
            O::Delete
            | O::DeleteContainer
            | O::Ping
            | O::Auth
            | O::SetWatches
            | O::SetWatches2
            | O::CheckWatches
            | O::RemoveWatches
            | O::CloseSession => Response::Empty,
            O::Notification | O::CreateSession | O::Error => {
                return Err(DecodeError::NotARequest(op as i32))
            }
        })
    }
}

impl OpResult {
    /// The type in this result's `MultiHeader` (`OpResult.getType`).
    pub fn op_type(&self) -> i32 {
        match self {
            OpResult::Create { .. } => OpCode::Create as i32,
            OpResult::Create2 { .. } => OpCode::Create2 as i32,
            OpResult::Delete => OpCode::Delete as i32,
            OpResult::SetData { .. } => OpCode::SetData as i32,
            OpResult::Check => OpCode::Check as i32,
            OpResult::GetData { .. } => OpCode::GetData as i32,
            OpResult::GetChildren { .. } => OpCode::GetChildren as i32,
            OpResult::Error { .. } => OpCode::Error as i32,
        }
    }

    /// The bytes [`OpResult::write`] writes.
    pub fn encoded_len(&self) -> usize {
        MULTI_HEADER_LEN
            + match self {
                OpResult::Create { path } => string_len(path),
                OpResult::Create2 { path, .. } => string_len(path) + STAT_LEN,
                OpResult::Delete | OpResult::Check => 0,
                OpResult::SetData { .. } => STAT_LEN,
                OpResult::GetData { data, .. } => buffer_len(data.as_deref()) + STAT_LEN,
                OpResult::GetChildren { children } => string_vec_len(children),
                OpResult::Error { .. } => 4,
            }
    }

    /// `MultiHeader{type, false, err}` then the result's record; `err` is nonzero only for
    /// `Error` results.
    pub fn write(&self, w: &mut Writer) {
        let err = match self {
            OpResult::Error { err } => *err,
            _ => 0,
        };
        MultiHeader {
            op_type: self.op_type(),
            done: false,
            err,
        }
        .write(w);
        match self {
            OpResult::Create { path } => w.write_string(path),
            OpResult::Create2 { path, stat } => {
                w.write_string(path);
                stat.write(w);
            }
            OpResult::Delete | OpResult::Check => {}
            OpResult::SetData { stat } => stat.write(w),
            OpResult::GetData { data, stat } => {
                w.write_buffer(data.as_deref());
                stat.write(w);
            }
            OpResult::GetChildren { children } => w.write_string_vec(children),
            OpResult::Error { err } => w.write_i32(*err),
        }
    }

    /// Reads one result's record, given the `MultiHeader` type that announced it.
    pub fn read_body(op_type: i32, r: &mut Reader<'_>) -> Result<OpResult, DecodeError> {
        const CREATE: i32 = OpCode::Create as i32;
        const CREATE2: i32 = OpCode::Create2 as i32;
        const DELETE: i32 = OpCode::Delete as i32;
        const SET_DATA: i32 = OpCode::SetData as i32;
        const CHECK: i32 = OpCode::Check as i32;
        const GET_DATA: i32 = OpCode::GetData as i32;
        const GET_CHILDREN: i32 = OpCode::GetChildren as i32;
        const ERROR: i32 = OpCode::Error as i32;
        Ok(match op_type {
            CREATE => OpResult::Create {
                path: r.read_string()?,
            },
            CREATE2 => OpResult::Create2 {
                path: r.read_string()?,
                stat: Stat::read(r)?,
            },
            DELETE => OpResult::Delete,
            SET_DATA => OpResult::SetData {
                stat: Stat::read(r)?,
            },
            CHECK => OpResult::Check,
            GET_DATA => OpResult::GetData {
                data: r.read_buffer()?,
                stat: Stat::read(r)?,
            },
            GET_CHILDREN => OpResult::GetChildren {
                children: r.read_string_vec()?,
            },
            // The body's code is authoritative, as in MultiResponse.deserialize.
            ERROR => OpResult::Error { err: r.read_i32()? },
            other => return Err(DecodeError::BadMultiOp(other)),
        })
    }
}

/// `MultiResponse.serialize`: each result, then `MultiHeader{-1, true, -1}`.
fn write_multi(results: &[OpResult], w: &mut Writer) {
    for result in results {
        result.write(w);
    }
    MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    }
    .write(w);
}

/// `MultiResponse.deserialize`: results until a header with `done == true`.
fn read_multi(r: &mut Reader<'_>) -> Result<Vec<OpResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let hdr = MultiHeader::read(r)?;
        if hdr.done {
            return Ok(results);
        }
        results.push(OpResult::read_body(hdr.op_type, r)?);
    }
}
