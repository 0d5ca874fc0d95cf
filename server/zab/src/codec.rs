//! The bytes of a `Message` on a link between members (`paddock-peer-net` carries them as
//! opaque frames). Paddock members talk only to Paddock members, so this is Paddock's own
//! layout, not ZooKeeper's `QuorumPacket`; packet types keep ZooKeeper's numbers
//! (`Leader.PROPOSAL` = 2, ...) so traces read the same.
//!
//! Layout, big-endian: a kind byte (1 election notification, 2 quorum packet); a notification
//! is `state u8, leader u64, zxid u64, election_epoch u64, peer_epoch u32`; a quorum packet is
//! `conn u64, seq u64, type u8` and the packet's fields, byte strings as `u32` length and bytes.
//! Decoding a peer's bytes never panics: anything malformed is `DecodeError`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::message::{Message, Notification, Packet};
use crate::types::{Entry, ServerState, Snapshot, Zxid};

const ELECTION: u8 = 1;
const QUORUM: u8 = 2;

// ZooKeeper's `Leader` packet type numbers; ACK of NEWLEADER has its own (ZooKeeper reuses
// ACK and tells them apart by the phase).
const REQUEST: u8 = 1;
const PROPOSAL: u8 = 2;
const ACK: u8 = 3;
const COMMIT: u8 = 4;
const PING: u8 = 5;
const SYNC: u8 = 7;
const INFORM: u8 = 8;
const NEWLEADER: u8 = 10;
const FOLLOWERINFO: u8 = 11;
const UPTODATE: u8 = 12;
const DIFF: u8 = 13;
const TRUNC: u8 = 14;
const SNAP: u8 = 15;
const OBSERVERINFO: u8 = 16;
const LEADERINFO: u8 = 17;
const ACKEPOCH: u8 = 18;
const ACK_NEWLEADER: u8 = 103;

/// Bytes that are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message truncated")]
    Truncated,
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("unknown quorum packet type {0}")]
    UnknownPacket(u8),
    #[error("unknown server state {0}")]
    UnknownState(u8),
    #[error("{0} bytes left over after the message")]
    TrailingBytes(usize),
}

/// Encodes a message for the link.
pub fn encode(message: &Message) -> Bytes {
    // Room for the fixed fields and the payload a packet carries, so the buffer is allocated
    // once (every proposal is encoded once per learner).
    let payload = match message {
        Message::Quorum { packet, .. } => match packet {
            Packet::Proposal { entry } | Packet::Inform { entry } => entry.payload.len(),
            Packet::Request { payload } | Packet::Sync { payload } => payload.len(),
            Packet::Snap { snapshot } => snapshot.data.len(),
            _ => 0,
        },
        Message::Election(_) => 0,
    };
    let mut b = BytesMut::with_capacity(64 + payload);
    match message {
        Message::Election(n) => {
            b.put_u8(ELECTION);
            b.put_u8(n.state as u8);
            b.put_u64(n.leader);
            b.put_u64(n.zxid.0);
            b.put_u64(n.election_epoch);
            b.put_u32(n.peer_epoch);
        }
        Message::Quorum { conn, seq, packet } => {
            b.put_u8(QUORUM);
            b.put_u64(*conn);
            b.put_u64(*seq);
            put_packet(&mut b, packet);
        }
    }
    b.freeze()
}

/// `encode` of a message carrying a snapshot (SNAP), in two parts: the bytes before the
/// snapshot's, and the snapshot's own, shared rather than copied behind them. `None` for any
/// other message.
pub fn encode_snapshot_split(message: &Message) -> Option<(Bytes, Bytes)> {
    let Message::Quorum {
        conn,
        seq,
        packet: Packet::Snap { snapshot },
    } = message
    else {
        return None;
    };
    let mut b = BytesMut::with_capacity(64);
    b.put_u8(QUORUM);
    b.put_u64(*conn);
    b.put_u64(*seq);
    snap_head(&mut b, snapshot);
    Some((b.freeze(), snapshot.data.clone()))
}

/// A SNAP packet up to its snapshot's bytes. The length is 64 bits: a snapshot may pass 4 GiB.
fn snap_head(b: &mut BytesMut, snapshot: &Snapshot) {
    b.put_u8(SNAP);
    b.put_u64(snapshot.zxid.0);
    b.put_u64(snapshot.data.len() as u64);
}

fn put_packet(b: &mut BytesMut, packet: &Packet) {
    match packet {
        Packet::FollowerInfo {
            accepted_epoch,
            last_zxid,
        } => {
            b.put_u8(FOLLOWERINFO);
            b.put_u32(*accepted_epoch);
            b.put_u64(last_zxid.0);
        }
        Packet::ObserverInfo {
            accepted_epoch,
            last_zxid,
        } => {
            b.put_u8(OBSERVERINFO);
            b.put_u32(*accepted_epoch);
            b.put_u64(last_zxid.0);
        }
        Packet::LeaderInfo { new_epoch } => {
            b.put_u8(LEADERINFO);
            b.put_u32(*new_epoch);
        }
        Packet::AckEpoch {
            current_epoch,
            last_zxid,
        } => {
            b.put_u8(ACKEPOCH);
            b.put_u8(u8::from(current_epoch.is_some()));
            b.put_u32(current_epoch.unwrap_or(0));
            b.put_u64(last_zxid.0);
        }
        Packet::Diff { last_zxid } => zxid_packet(b, DIFF, *last_zxid),
        Packet::Trunc { zxid } => zxid_packet(b, TRUNC, *zxid),
        Packet::Snap { snapshot } => {
            snap_head(b, snapshot);
            b.put_slice(&snapshot.data);
        }
        Packet::Proposal { entry } => entry_packet(b, PROPOSAL, entry),
        Packet::Ack { zxid } => zxid_packet(b, ACK, *zxid),
        Packet::Commit { zxid } => zxid_packet(b, COMMIT, *zxid),
        Packet::Inform { entry } => entry_packet(b, INFORM, entry),
        Packet::NewLeader { zxid } => zxid_packet(b, NEWLEADER, *zxid),
        Packet::AckNewLeader { zxid } => zxid_packet(b, ACK_NEWLEADER, *zxid),
        Packet::UpToDate => b.put_u8(UPTODATE),
        Packet::Ping => b.put_u8(PING),
        Packet::Request { payload } => {
            b.put_u8(REQUEST);
            put_bytes(b, payload);
        }
        Packet::Sync { payload } => {
            b.put_u8(SYNC);
            put_bytes(b, payload);
        }
    }
}

fn zxid_packet(b: &mut BytesMut, kind: u8, zxid: Zxid) {
    b.put_u8(kind);
    b.put_u64(zxid.0);
}

fn entry_packet(b: &mut BytesMut, kind: u8, entry: &Entry) {
    b.put_u8(kind);
    b.put_u64(entry.zxid.0);
    put_bytes(b, &entry.payload);
}

fn put_bytes(b: &mut BytesMut, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a frame is far below 4 GiB");
    b.put_u32(len);
    b.put_slice(bytes);
}

/// Decodes what `encode` wrote.
pub fn decode(mut frame: Bytes) -> Result<Message, DecodeError> {
    let r = &mut frame;
    let message = match u8_of(r)? {
        ELECTION => Message::Election(Notification {
            state: state_of(u8_of(r)?)?,
            leader: u64_of(r)?,
            zxid: Zxid(u64_of(r)?),
            election_epoch: u64_of(r)?,
            peer_epoch: u32_of(r)?,
        }),
        QUORUM => {
            let conn = u64_of(r)?;
            let seq = u64_of(r)?;
            let packet = packet_of(r)?;
            Message::Quorum { conn, seq, packet }
        }
        other => return Err(DecodeError::UnknownKind(other)),
    };
    if r.has_remaining() {
        return Err(DecodeError::TrailingBytes(r.remaining()));
    }
    Ok(message)
}

fn packet_of(r: &mut Bytes) -> Result<Packet, DecodeError> {
    let packet = match u8_of(r)? {
        FOLLOWERINFO => Packet::FollowerInfo {
            accepted_epoch: u32_of(r)?,
            last_zxid: Zxid(u64_of(r)?),
        },
        OBSERVERINFO => Packet::ObserverInfo {
            accepted_epoch: u32_of(r)?,
            last_zxid: Zxid(u64_of(r)?),
        },
        LEADERINFO => Packet::LeaderInfo {
            new_epoch: u32_of(r)?,
        },
        ACKEPOCH => {
            let has_current = u8_of(r)? != 0;
            let epoch = u32_of(r)?;
            Packet::AckEpoch {
                current_epoch: has_current.then_some(epoch),
                last_zxid: Zxid(u64_of(r)?),
            }
        }
        DIFF => Packet::Diff {
            last_zxid: Zxid(u64_of(r)?),
        },
        TRUNC => Packet::Trunc {
            zxid: Zxid(u64_of(r)?),
        },
        SNAP => Packet::Snap {
            snapshot: Snapshot {
                zxid: Zxid(u64_of(r)?),
                data: long_bytes_of(r)?,
            },
        },
        PROPOSAL => Packet::Proposal {
            entry: entry_of(r)?,
        },
        ACK => Packet::Ack {
            zxid: Zxid(u64_of(r)?),
        },
        COMMIT => Packet::Commit {
            zxid: Zxid(u64_of(r)?),
        },
        INFORM => Packet::Inform {
            entry: entry_of(r)?,
        },
        NEWLEADER => Packet::NewLeader {
            zxid: Zxid(u64_of(r)?),
        },
        ACK_NEWLEADER => Packet::AckNewLeader {
            zxid: Zxid(u64_of(r)?),
        },
        UPTODATE => Packet::UpToDate,
        PING => Packet::Ping,
        REQUEST => Packet::Request {
            payload: bytes_of(r)?,
        },
        SYNC => Packet::Sync {
            payload: bytes_of(r)?,
        },
        other => return Err(DecodeError::UnknownPacket(other)),
    };
    Ok(packet)
}

fn entry_of(r: &mut Bytes) -> Result<Entry, DecodeError> {
    Ok(Entry {
        zxid: Zxid(u64_of(r)?),
        payload: bytes_of(r)?,
    })
}

fn state_of(v: u8) -> Result<ServerState, DecodeError> {
    Ok(match v {
        0 => ServerState::Looking,
        1 => ServerState::Following,
        2 => ServerState::Leading,
        3 => ServerState::Observing,
        other => return Err(DecodeError::UnknownState(other)),
    })
}

fn u8_of(r: &mut Bytes) -> Result<u8, DecodeError> {
    r.try_get_u8().map_err(|_| DecodeError::Truncated)
}

fn u32_of(r: &mut Bytes) -> Result<u32, DecodeError> {
    r.try_get_u32().map_err(|_| DecodeError::Truncated)
}

fn u64_of(r: &mut Bytes) -> Result<u64, DecodeError> {
    r.try_get_u64().map_err(|_| DecodeError::Truncated)
}

fn bytes_of(r: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = u64::from(u32_of(r)?);
    split_bytes(r, len)
}

/// Bytes after a 64-bit length (a snapshot's).
fn long_bytes_of(r: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = u64_of(r)?;
    split_bytes(r, len)
}

fn split_bytes(r: &mut Bytes, len: u64) -> Result<Bytes, DecodeError> {
    match usize::try_from(len) {
        Ok(len) if len <= r.remaining() => Ok(r.split_to(len)),
        _ => Err(DecodeError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message> {
        let entry = Entry {
            zxid: Zxid::new(3, 7),
            payload: Bytes::from_static(b"txn"),
        };
        let packets = vec![
            Packet::FollowerInfo {
                accepted_epoch: 2,
                last_zxid: Zxid::new(2, 9),
            },
            Packet::ObserverInfo {
                accepted_epoch: 2,
                last_zxid: Zxid::ZERO,
            },
            Packet::LeaderInfo { new_epoch: 3 },
            Packet::AckEpoch {
                current_epoch: Some(2),
                last_zxid: Zxid::new(2, 9),
            },
            Packet::AckEpoch {
                current_epoch: None,
                last_zxid: Zxid::new(2, 9),
            },
            Packet::Diff {
                last_zxid: Zxid::new(2, 9),
            },
            Packet::Trunc {
                zxid: Zxid::new(2, 8),
            },
            Packet::Snap {
                snapshot: Snapshot {
                    zxid: Zxid::new(2, 9),
                    data: Bytes::from(vec![1u8; 300]),
                },
            },
            Packet::Proposal {
                entry: entry.clone(),
            },
            Packet::Ack {
                zxid: Zxid::new(3, 7),
            },
            Packet::Commit {
                zxid: Zxid::new(3, 7),
            },
            Packet::Inform { entry },
            Packet::NewLeader {
                zxid: Zxid::new(3, 0),
            },
            Packet::AckNewLeader {
                zxid: Zxid::new(3, 0),
            },
            Packet::UpToDate,
            Packet::Ping,
            Packet::Request {
                payload: Bytes::from_static(b"forward"),
            },
            Packet::Sync {
                payload: Bytes::from_static(b"sync"),
            },
        ];
        let mut messages: Vec<Message> = packets
            .into_iter()
            .enumerate()
            .map(|(i, packet)| Message::Quorum {
                conn: 0xfeed,
                seq: i as u64,
                packet,
            })
            .collect();
        messages.push(Message::Election(Notification {
            state: ServerState::Looking,
            leader: 3,
            zxid: Zxid::new(2, 9),
            election_epoch: 5,
            peer_epoch: 2,
        }));
        messages
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            assert_eq!(decode(encode(&m)).unwrap(), m);
        }
    }

    // The two parts of a SNAP are the message's bytes; nothing else is split.
    #[test]
    fn a_snapshot_splits_into_the_messages_bytes() {
        let mut split = 0;
        for m in samples() {
            match encode_snapshot_split(&m) {
                Some((head, body)) => {
                    split += 1;
                    assert_eq!([head, body].concat(), encode(&m).to_vec());
                }
                None => assert!(!matches!(
                    m,
                    Message::Quorum {
                        packet: Packet::Snap { .. },
                        ..
                    }
                )),
            }
        }
        assert_eq!(split, 1);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for m in samples() {
            let bytes = encode(&m);
            for cut in 0..bytes.len() {
                assert!(decode(bytes.slice(..cut)).is_err(), "{m:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn trailing_bytes_and_unknown_types_are_errors() {
        let mut bytes = BytesMut::from(
            &encode(&Message::Quorum {
                conn: 1,
                seq: 0,
                packet: Packet::Ping,
            })[..],
        );
        bytes.put_u8(0);
        assert_eq!(decode(bytes.freeze()), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(
            decode(Bytes::from_static(&[9])),
            Err(DecodeError::UnknownKind(9))
        );
        let mut unknown = BytesMut::new();
        unknown.put_u8(QUORUM);
        unknown.put_u64(1);
        unknown.put_u64(0);
        unknown.put_u8(77);
        assert_eq!(
            decode(unknown.freeze()),
            Err(DecodeError::UnknownPacket(77))
        );
    }
}
