//! ZooKeeper's jute wire format: a pure codec with no IO.
//!
//! Map of the crate:
//! - `types`: opcodes, error codes, watch and create-mode enums, `Id`, `Acl`, `Stat`.
//! - `proto`: session records (connect, headers, requests, responses, multi, watches).
//! - `txn`: transaction records, byte-compatible with ZooKeeper's transaction log.
//! - `codec`: the `Reader`/`Writer` primitives and the `Record` trait every record implements.
//! - `frame`: 4-byte length framing with three outcomes (need more, bad, a frame).
//! - `error`: `DecodeError`.

pub mod codec;
pub mod error;
pub mod frame;
pub mod proto;
pub mod txn;
pub mod types;

pub use error::DecodeError;
pub use types::*;
