//! ZooKeeper's jute wire format: a pure codec with no IO.
//!
//! Map of the crate:
//! - `types`: opcodes, error codes, watch and create-mode enums, `Id`, `Acl`, `Stat`.
//! - `proto`: session records (connect, headers, requests, responses, multi, watches).
//! - `txn`: transaction records, byte-compatible with ZooKeeper's transaction log.
//! - `codec`: the `Reader`/`Writer` primitives and the `Record` trait every record implements.
//! - `frame`: 4-byte length framing with three outcomes (need more, bad, a frame), and
//!   four-letter-word detection.
//! - `records`, `request`, `response`, `txn_codec`: the `Record` impls, and the opcode-keyed
//!   encodings of `Request`, `Response`/`OpResult` and `Txn` (impls only, nothing to import).
//! - `error`: `DecodeError`.

pub mod codec;
pub mod error;
pub mod frame;
pub mod proto;
mod records;
mod request;
mod response;
pub mod txn;
mod txn_codec;
pub mod types;

pub use codec::{Reader, Record, Writer};
pub use error::DecodeError;
pub use frame::{four_letter_word, frame_len, FrameError};
pub use types::*;
