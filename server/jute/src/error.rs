//! Decoding errors. `Incomplete` (wait for more bytes) is kept apart from everything else
//! (the bytes are bad and the connection should end).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did. At the frame level this means "read more"; inside
    /// a complete frame it means the record was truncated.
    #[error("input ended early: {needed} more bytes needed")]
    Incomplete { needed: usize },
    #[error("negative length {0} for a non-nullable field")]
    NegativeLength(i32),
    #[error("length {len} exceeds the limit of {max} bytes")]
    TooLong { len: i64, max: i64 },
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    #[error("invalid value {1} for {0}")]
    BadEnum(&'static str, i32),
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    #[error("invalid record: {0}")]
    Invalid(&'static str),
    /// An opcode clients never send as a request (notification, createSession, error).
    #[error("opcode {0} is not a client request")]
    NotARequest(i32),
    /// A multi header whose type is not allowed in that kind of multi
    /// (`MultiOperationRecord`: "Invalid type of op"; `MultiResponse`: "Invalid type").
    #[error("operation type {0} is not allowed in this multi")]
    BadMultiOp(i32),
    /// A transaction type with no log record (`SerializeUtils.deserializeTxn`: "Unsupported Txn").
    #[error("unsupported transaction type {0}")]
    UnknownTxnType(i32),
}
