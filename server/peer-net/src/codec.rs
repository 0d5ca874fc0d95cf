//! The messages on a link. The ensemble protocol encodes its frames itself; a link carries
//! them as opaque bytes. gRPC delimits messages; a frame longer than the largest message (a
//! SNAP carries a whole snapshot) travels as several pieces and is put together on arrival,
//! and short frames waiting together go as one batch. On the wire a message is one byte
//! saying which it is, then its bytes: a piece's as they are, a batch's frames each led by
//! its length (u32, big-endian).

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// Pieces up to this size are copied out of tonic's decode buffer; longer ones (a snapshot's)
/// are taken as a slice of it.
const COPY_PIECES_UP_TO: usize = 64 << 10;

const LAST_PIECE: u8 = 0;
const MORE_PIECES: u8 = 1;
const BATCH: u8 = 2;

/// A batch frame's length prefix.
const BATCH_LEN_BYTES: usize = 4;

/// One message between members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A whole frame, or a piece of one.
    Piece(Piece),
    /// Whole frames sent together: one message's cost in gRPC and HTTP/2 instead of one each.
    Batch(Vec<Bytes>),
}

impl Default for Message {
    fn default() -> Self {
        Message::Piece(Piece::default())
    }
}

impl Message {
    /// The bytes `frame` takes in a batch: its length, then itself.
    pub fn batched_len(frame: &Bytes) -> usize {
        BATCH_LEN_BYTES + frame.len()
    }
}

/// A whole frame, or a piece of one.
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

/// Encodes and decodes messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkCodec;

impl Codec for LinkCodec {
    type Encode = Message;
    type Decode = Message;
    type Encoder = LinkCodec;
    type Decoder = LinkCodec;

    fn encoder(&mut self) -> Self::Encoder {
        LinkCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        LinkCodec
    }
}

impl Encoder for LinkCodec {
    type Item = Message;
    type Error = Status;

    fn encode(&mut self, item: Message, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match item {
            Message::Piece(piece) => {
                dst.put_u8(if piece.more { MORE_PIECES } else { LAST_PIECE });
                dst.put(piece.bytes);
            }
            Message::Batch(frames) => {
                dst.put_u8(BATCH);
                for frame in frames {
                    let len = u32::try_from(frame.len())
                        .map_err(|_| Status::internal("a batched frame over 4 GiB"))?;
                    dst.put_u32(len);
                    dst.put(frame);
                }
            }
        }
        Ok(())
    }
}

impl Decoder for LinkCodec {
    type Item = Message;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Message>, Status> {
        if !src.has_remaining() {
            return Err(Status::invalid_argument("an empty link message"));
        }
        let kind = src.get_u8();
        let more = match kind {
            LAST_PIECE => false,
            MORE_PIECES => true,
            BATCH => return split_batch(own_bytes(src)).map(|f| Some(Message::Batch(f))),
            other => {
                return Err(Status::invalid_argument(format!(
                    "a link message starting with {other:#04x}"
                )))
            }
        };
        let bytes = own_bytes(src);
        Ok(Some(Message::Piece(Piece { more, bytes })))
    }
}

/// The rest of the message. Up to `COPY_PIECES_UP_TO` it is a copy of its own: a slice of the
/// decode buffer would keep that whole buffer from being reused while the ensemble holds the
/// frame (a proposal until it commits), so each message would grow a fresh one, page faults
/// and all.
fn own_bytes(src: &mut DecodeBuf<'_>) -> Bytes {
    let len = src.remaining();
    if len <= COPY_PIECES_UP_TO {
        let mut copy = Vec::with_capacity(len);
        copy.put(&mut *src);
        Bytes::from(copy)
    } else {
        src.copy_to_bytes(len)
    }
}

/// A batch's frames, as slices of its bytes.
fn split_batch(mut bytes: Bytes) -> Result<Vec<Bytes>, Status> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < BATCH_LEN_BYTES {
            return Err(Status::invalid_argument("a batch ending inside a length"));
        }
        let len = bytes.get_u32() as usize;
        if len > bytes.len() {
            return Err(Status::invalid_argument(format!(
                "a batched frame of {len} bytes with {} left in its batch",
                bytes.len()
            )));
        }
        frames.push(bytes.split_to(len));
    }
    if frames.is_empty() {
        return Err(Status::invalid_argument("an empty batch"));
    }
    Ok(frames)
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
            return Err(self.too_long());
        }
        if !piece.more && self.partial.is_empty() {
            return Ok(Some(piece.bytes));
        }
        self.partial.extend_from_slice(&piece.bytes);
        Ok((!piece.more).then(|| self.partial.split().freeze()))
    }

    /// Takes a batch of whole frames and returns them. A batch cannot come between the
    /// pieces of one frame, and each of its frames keeps the bound.
    pub fn push_batch(&mut self, frames: Vec<Bytes>) -> Result<Vec<Bytes>, Status> {
        if !self.partial.is_empty() {
            return Err(Status::invalid_argument(
                "a batch of frames inside a frame sent in pieces",
            ));
        }
        if frames.iter().any(|f| f.len() as u64 > self.max_frame_bytes) {
            return Err(self.too_long());
        }
        Ok(frames)
    }

    fn too_long(&self) -> Status {
        Status::resource_exhausted(format!(
            "a frame of more than {} bytes",
            self.max_frame_bytes
        ))
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

    fn batch_of(frames: &[&[u8]]) -> Bytes {
        let mut out = Vec::new();
        for f in frames {
            out.extend_from_slice(&(f.len() as u32).to_be_bytes());
            out.extend_from_slice(f);
        }
        Bytes::from(out)
    }

    #[test]
    fn a_batch_splits_into_its_frames_in_order() {
        let frames: [&[u8]; 4] = [b"one", b"", b"three", &[0u8; 300]];
        let split = split_batch(batch_of(&frames)).unwrap();
        assert_eq!(split, frames.map(Bytes::copy_from_slice));
        let batch_len: usize = split.iter().map(Message::batched_len).sum();
        assert_eq!(batch_len, batch_of(&frames).len());
    }

    #[test]
    fn a_malformed_batch_is_refused() {
        let whole = batch_of(&[b"abc", b"defgh"]);
        // Cut inside the second length, and inside the second frame.
        for cut in [9, 13] {
            let refused = split_batch(whole.slice(..cut)).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "cut {cut}");
        }
        assert!(split_batch(whole.slice(..7)).is_ok(), "a whole first frame");
        let empty = split_batch(Bytes::new()).unwrap_err();
        assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn a_batch_keeps_the_frame_bound_and_cannot_interrupt_a_frame() {
        let mut r = Reassembly::new(4);
        let frames = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"abcd")];
        assert_eq!(r.push_batch(frames.clone()).unwrap(), frames);
        let over = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"abcde")];
        let refused = r.push_batch(over).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        let first_piece = Piece {
            more: true,
            bytes: Bytes::from_static(b"a"),
        };
        assert_eq!(r.push(first_piece).unwrap(), None);
        let inside = r.push_batch(frames).unwrap_err();
        assert_eq!(inside.code(), tonic::Code::InvalidArgument);
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
