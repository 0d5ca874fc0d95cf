//! The one message type on a link: a piece of an opaque frame whose bytes the ensemble
//! protocol encodes itself. gRPC delimits messages; a frame longer than the largest message
//! (a SNAP carries a whole snapshot) travels as several pieces and is put together on
//! arrival. On the wire a piece is one byte saying whether more pieces of its frame follow,
//! then its bytes.

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// Pieces up to this size are copied out of tonic's decode buffer; longer ones (a snapshot's)
/// are taken as a slice of it.
const COPY_PIECES_UP_TO: usize = 64 << 10;

const LAST_PIECE: u8 = 0;
const MORE_PIECES: u8 = 1;

/// One message between members: a whole frame, or a piece of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Piece {
    /// More pieces of the same frame follow this one.
    pub more: bool,
    pub bytes: Bytes,
}

impl Piece {
    /// `frame` cut into pieces of at most `max_bytes` each (zero-copy slices of it); an empty
    /// frame is one empty piece.
    pub fn split(frame: Bytes, max_bytes: usize) -> impl Iterator<Item = Piece> {
        let max_bytes = max_bytes.max(1);
        let count = frame.len().div_ceil(max_bytes).max(1);
        (0..count).map(move |i| {
            let start = i * max_bytes;
            let end = (start + max_bytes).min(frame.len());
            Piece {
                more: i + 1 < count,
                bytes: frame.slice(start..end),
            }
        })
    }
}

/// Encodes and decodes pieces.
#[derive(Debug, Clone, Copy, Default)]
pub struct PieceCodec;

impl Codec for PieceCodec {
    type Encode = Piece;
    type Decode = Piece;
    type Encoder = PieceCodec;
    type Decoder = PieceCodec;

    fn encoder(&mut self) -> Self::Encoder {
        PieceCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        PieceCodec
    }
}

impl Encoder for PieceCodec {
    type Item = Piece;
    type Error = Status;

    fn encode(&mut self, item: Piece, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_u8(if item.more { MORE_PIECES } else { LAST_PIECE });
        dst.put(item.bytes);
        Ok(())
    }
}

impl Decoder for PieceCodec {
    type Item = Piece;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Piece>, Status> {
        if !src.has_remaining() {
            return Err(Status::invalid_argument("an empty link message"));
        }
        let more = match src.get_u8() {
            LAST_PIECE => false,
            MORE_PIECES => true,
            other => {
                return Err(Status::invalid_argument(format!(
                    "a link message starting with {other:#04x}"
                )))
            }
        };
        let len = src.remaining();
        let bytes = if len <= COPY_PIECES_UP_TO {
            // A copy of its own: a slice of the decode buffer would keep that whole buffer
            // from being reused while the ensemble holds the frame (a proposal until it
            // commits), so each message would grow a fresh one, page faults and all.
            let mut copy = Vec::with_capacity(len);
            copy.put(&mut *src);
            Bytes::from(copy)
        } else {
            src.copy_to_bytes(len)
        };
        Ok(Some(Piece { more, bytes }))
    }
}

/// Puts frames back together from their pieces, refusing any frame longer than a bound.
#[derive(Debug)]
pub struct Reassembly {
    partial: bytes::BytesMut,
    max_frame_bytes: u64,
}

impl Reassembly {
    pub fn new(max_frame_bytes: u64) -> Self {
        Reassembly {
            partial: bytes::BytesMut::new(),
            max_frame_bytes,
        }
    }

    /// Takes the next piece; returns the frame it completes, if it does.
    pub fn push(&mut self, piece: Piece) -> Result<Option<Bytes>, Status> {
        let len = (self.partial.len() + piece.bytes.len()) as u64;
        if len > self.max_frame_bytes {
            return Err(Status::resource_exhausted(format!(
                "a frame of more than {} bytes",
                self.max_frame_bytes
            )));
        }
        if !piece.more && self.partial.is_empty() {
            return Ok(Some(piece.bytes));
        }
        self.partial.extend_from_slice(&piece.bytes);
        Ok((!piece.more).then(|| self.partial.split().freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_split_into_pieces_is_put_back_together() {
        let frame = Bytes::from((0..=255u8).cycle().take(1000).collect::<Vec<u8>>());
        for max in [1, 7, 999, 1000, 1001] {
            let pieces: Vec<Piece> = Piece::split(frame.clone(), max).collect();
            assert_eq!(pieces.len(), frame.len().div_ceil(max), "max {max}");
            assert!(pieces.iter().all(|p| p.bytes.len() <= max));
            let mut r = Reassembly::new(1000);
            let (last, rest) = pieces.split_last().unwrap();
            for p in rest {
                assert_eq!(r.push(p.clone()).unwrap(), None, "max {max}");
            }
            assert_eq!(r.push(last.clone()).unwrap(), Some(frame.clone()));
        }
    }

    #[test]
    fn an_empty_frame_is_one_empty_piece() {
        let pieces: Vec<Piece> = Piece::split(Bytes::new(), 4).collect();
        assert_eq!(pieces, vec![Piece::default()]);
        let mut r = Reassembly::new(0);
        assert_eq!(r.push(pieces[0].clone()).unwrap(), Some(Bytes::new()));
    }

    #[test]
    fn a_frame_over_the_bound_is_refused_as_its_pieces_arrive() {
        let mut r = Reassembly::new(10);
        let mut pieces = Piece::split(Bytes::from(vec![1u8; 12]), 6);
        assert_eq!(r.push(pieces.next().unwrap()).unwrap(), None);
        let refused = r.push(pieces.next().unwrap()).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    }
}
