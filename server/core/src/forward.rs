//! What a learner (follower or observer) hands to its leader instead of preparing it itself:
//! ZooKeeper's `REQUEST` quorum packet (`Learner.request`: session id, cxid, type, the
//! request's bytes, the connection's auth ids), and how it travels between members.
//!
//! Layout (jute, big-endian): `long session, int cxid, int type`, then the body the type
//! calls for (a client request body as the client sent it; for createSession the negotiated
//! timeout), then the vector of `Id`s the client authenticated as.

use paddock_jute::codec::{Reader, Record, Writer};
use paddock_jute::proto::{PathRequest, Request};
use paddock_jute::{DecodeError, Id, OpCode};

/// One request forwarded to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// A client's write, prepared by the leader with the client's auth ids.
    Write {
        session: i64,
        cxid: i32,
        request: Request,
        ids: Vec<Id>,
    },
    /// A new session, with the id the learner allocated from its own id space
    /// (`SessionTrackerImpl.initializeNextSessionId` puts the server id in the top byte).
    CreateSession { session: i64, timeout_ms: i32 },
    /// The client closes its session.
    CloseSession { session: i64, cxid: i32 },
    /// `sync`: the leader answers once everything it committed before is sent to the learner.
    Sync {
        session: i64,
        cxid: i32,
        path: String,
    },
    /// Sessions this learner's clients kept alive since its last report, with their
    /// timeouts. ZooKeeper piggybacks them on the learner's PING answers
    /// (`LearnerSessionTracker.snapshot`); Paddock sends them as a request of their own.
    Touch { sessions: Vec<(i64, i32)> },
}

impl Forward {
    /// The session the request belongs to.
    pub fn session(&self) -> i64 {
        match self {
            Forward::Write { session, .. }
            | Forward::CreateSession { session, .. }
            | Forward::CloseSession { session, .. }
            | Forward::Sync { session, .. } => *session,
            Forward::Touch { .. } => 0,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Room for the header and a small request without growing the buffer.
        let mut w = Writer::with_capacity(256);
        let no_ids: &[Id] = &[];
        let (session, cxid, op, ids) = match self {
            Forward::Write {
                session,
                cxid,
                request,
                ids,
            } => (*session, *cxid, request.op_code(), ids.as_slice()),
            Forward::CreateSession { session, .. } => (*session, 0, OpCode::CreateSession, no_ids),
            Forward::CloseSession { session, cxid } => {
                (*session, *cxid, OpCode::CloseSession, no_ids)
            }
            Forward::Sync { session, cxid, .. } => (*session, *cxid, OpCode::Sync, no_ids),
            Forward::Touch { .. } => (0, 0, OpCode::Ping, no_ids),
        };
        w.write_i64(session);
        w.write_i32(cxid);
        w.write_i32(op as i32);
        match self {
            Forward::Write { request, .. } => request.write(&mut w),
            Forward::CreateSession { timeout_ms, .. } => w.write_i32(*timeout_ms),
            Forward::CloseSession { .. } => {}
            Forward::Sync { path, .. } => PathRequest { path: path.clone() }.write(&mut w),
            Forward::Touch { sessions } => {
                w.write_i32(sessions.len() as i32);
                for &(session, timeout_ms) in sessions {
                    w.write_i64(session);
                    w.write_i32(timeout_ms);
                }
            }
        }
        w.write_vec(ids);
        w.into_inner()
    }

    /// Decodes what `encode` wrote. A peer's bad bytes are an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Forward, DecodeError> {
        let mut r = Reader::new(bytes);
        let session = r.read_i64()?;
        let cxid = r.read_i32()?;
        let op = OpCode::try_from(r.read_i32()?)?;
        let forward = match op {
            OpCode::CreateSession => Forward::CreateSession {
                session,
                timeout_ms: r.read_i32()?,
            },
            OpCode::CloseSession => Forward::CloseSession { session, cxid },
            OpCode::Sync => Forward::Sync {
                session,
                cxid,
                path: PathRequest::read(&mut r)?.path,
            },
            OpCode::Ping => {
                let n = r.read_i32()?;
                // Each entry takes 12 bytes: a count beyond what is left is a lie.
                if n < 0 || n as usize > r.remaining() / 12 {
                    return Err(DecodeError::Invalid("touched session count"));
                }
                let mut sessions = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    sessions.push((r.read_i64()?, r.read_i32()?));
                }
                Forward::Touch { sessions }
            }
            op => Forward::Write {
                session,
                cxid,
                request: Request::decode(op, &mut r)?,
                ids: Vec::new(),
            },
        };
        let ids: Vec<Id> = r.read_vec()?;
        Ok(match forward {
            Forward::Write {
                session,
                cxid,
                request,
                ..
            } => Forward::Write {
                session,
                cxid,
                request,
                ids,
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paddock_jute::proto::{CreateRequest, MultiOp, SetDataRequest};
    use paddock_jute::Acl;
    use proptest::prelude::*;

    fn samples() -> Vec<Forward> {
        let create = CreateRequest {
            path: "/a".into(),
            data: Some(b"x".to_vec()),
            acl: vec![Acl {
                perms: 31,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }],
            flags: 2,
        };
        vec![
            Forward::Write {
                session: 0x0100_0000_0000_0001,
                cxid: 7,
                request: Request::Create(create.clone()),
                ids: vec![Id {
                    scheme: "digest".into(),
                    id: "bob:hash".into(),
                }],
            },
            Forward::Write {
                session: 2,
                cxid: 8,
                request: Request::Multi(vec![
                    MultiOp::Create {
                        op: OpCode::Create,
                        req: create,
                    },
                    MultiOp::SetData(SetDataRequest {
                        path: "/a".into(),
                        data: None,
                        version: -1,
                    }),
                ]),
                ids: Vec::new(),
            },
            Forward::CreateSession {
                session: 3,
                timeout_ms: 30000,
            },
            Forward::CloseSession {
                session: 4,
                cxid: 9,
            },
            Forward::Sync {
                session: 5,
                cxid: 10,
                path: "/".into(),
            },
            Forward::Touch {
                sessions: vec![(6, 4000), (0x0200_0000_0000_0007, 30000)],
            },
            Forward::Touch { sessions: vec![] },
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for forward in samples() {
            assert_eq!(Forward::decode(&forward.encode()).unwrap(), forward);
        }
    }

    #[test]
    fn an_unknown_type_is_an_error() {
        let mut bytes = Forward::CloseSession {
            session: 1,
            cxid: 1,
        }
        .encode();
        bytes[12..16].copy_from_slice(&999i32.to_be_bytes());
        assert!(Forward::decode(&bytes).is_err());
    }

    proptest! {
        // A peer's garbage must come back as an error, never a panic.
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Forward::decode(&bytes);
        }

        #[test]
        fn truncated_frames_are_errors(cut in 0usize..40) {
            for forward in samples() {
                let bytes = forward.encode();
                if cut < bytes.len() {
                    prop_assert!(Forward::decode(&bytes[..cut]).is_err());
                }
            }
        }
    }
}
