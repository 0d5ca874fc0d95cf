//! Jute's binary encoding: big-endian `int`/`long`, one-byte `boolean`, length-prefixed
//! `buffer`/`ustring` and count-prefixed `vector`, where a length or count of -1 means null
//! (`org.apache.jute.BinaryInputArchive` / `BinaryOutputArchive`).
//!
//! `Reader` reads from a borrowed slice and checks every length against the bytes that are
//! actually there before it copies anything, so a hostile length such as 0x7fffffff costs
//! nothing. `Writer` appends to a `Vec<u8>`. The server's framed replies are built here too
//! (`encode_reply`, `encode_notification`, `encode_connect_response`).

use crate::error::DecodeError;
use crate::proto::{ConnectResponse, ReplyHeader, Response, WatcherEvent};

/// A checked reader over one record's bytes. It never panics and never allocates more than the
/// input it was given.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes the next `n` bytes, or reports how many are missing.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(DecodeError::Incomplete {
                needed: n - remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }

    /// Java's `DataInput.readBoolean`: any nonzero byte is true.
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take_array::<1>()?[0] != 0)
    }

    /// Reads a length prefix: -1 is null, any other negative value is an error
    /// (`BinaryInputArchive.checkLength`), and a length beyond the input is `Incomplete`.
    fn read_len_prefixed(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
        self.take(len).map(Some)
    }

    /// A jute `buffer`; `None` is the null buffer (length -1), distinct from an empty one.
    pub fn read_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        Ok(self.read_len_prefixed()?.map(<[u8]>::to_vec))
    }

    /// A jute `buffer` borrowed from the input, for decoders that parse in place; `None` is
    /// the null buffer.
    pub fn read_buffer_ref(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        self.read_len_prefixed()
    }

    /// A jute `buffer` where null and empty mean the same thing (passwords, auth data).
    pub fn read_bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.read_buffer()?.unwrap_or_default())
    }

    /// A jute `ustring`; `None` is the null string (length -1).
    ///
    /// Bytes that are not valid UTF-8 become U+FFFD, as Java's `new String(b, UTF_8)` in
    /// `BinaryInputArchive.readString` does: ZooKeeper accepts such a path rather than failing
    /// the request, so we must too.
    pub fn read_ustring(&mut self) -> Result<Option<String>, DecodeError> {
        // Java's `new String(bytes, UTF_8)` replaces bad sequences with U+FFFD; valid UTF-8
        // (nearly every string) takes the quicker check and one copy.
        Ok(self
            .read_len_prefixed()?
            .map(|bytes| match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => String::from_utf8_lossy(bytes).into_owned(),
            }))
    }

    /// A jute `ustring` where null decodes as empty (path validation then rejects it).
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_ustring()?.unwrap_or_default())
    }

    /// Reads a vector count, bounded by the remaining input (every element takes at least one
    /// byte) so that a hostile count never sizes an allocation.
    ///
    /// Java's `BinaryIndex` treats any count <= 0 as an empty vector (and -1 as null), so a
    /// negative count is accepted as empty here too, not rejected.
    fn read_count(&mut self) -> Result<usize, DecodeError> {
        let count = self.read_i32()?;
        let Ok(count) = usize::try_from(count) else {
            return Ok(0);
        };
        let remaining = self.remaining();
        if count > remaining {
            return Err(DecodeError::Incomplete {
                needed: count - remaining,
            });
        }
        Ok(count)
    }

    /// A jute `vector<T>`; null decodes as empty.
    pub fn read_vec<T: Record>(&mut self) -> Result<Vec<T>, DecodeError> {
        let count = self.read_count()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(T::read(self)?);
        }
        Ok(out)
    }

    /// A jute `vector<ustring>`; null decodes as empty, and so does a null element's string.
    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        let count = self.read_count()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(self.read_string()?);
        }
        Ok(out)
    }
}

/// Appends jute-encoded values to a byte vector.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    pub fn write_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn write_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Writes a length or count. Nothing we encode approaches 2 GiB (frames are capped by
    /// `jute.maxbuffer`), so a larger value is a bug in the caller, not bad input.
    pub fn write_len(&mut self, len: usize) {
        let len = i32::try_from(len).expect("jute length exceeds i32::MAX");
        self.write_i32(len);
    }

    /// A jute `buffer`; `None` is written as length -1.
    pub fn write_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.write_i32(-1),
            Some(bytes) => self.write_bytes(bytes),
        }
    }

    /// A non-null jute `buffer` whose bytes `body` writes in place: no separate buffer to
    /// fill and copy (a multi's sub-records are buffers).
    pub fn write_bytes_with(&mut self, body: impl FnOnce(&mut Writer)) {
        let at = self.buf.len();
        self.write_i32(0);
        body(self);
        let len = self.buf.len() - at - 4;
        let len = i32::try_from(len).expect("jute length exceeds i32::MAX");
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// A non-null jute `buffer`.
    pub fn write_bytes(&mut self, v: &[u8]) {
        self.write_len(v.len());
        self.buf.extend_from_slice(v);
    }

    /// A non-null jute `ustring`.
    pub fn write_string(&mut self, v: &str) {
        self.write_bytes(v.as_bytes());
    }

    /// A non-null jute `vector<T>`.
    pub fn write_vec<T: Record>(&mut self, v: &[T]) {
        self.write_len(v.len());
        for item in v {
            item.write(self);
        }
    }

    /// A non-null jute `vector<ustring>`.
    pub fn write_string_vec<S: AsRef<str>>(&mut self, v: &[S]) {
        self.write_len(v.len());
        for item in v {
            self.write_string(item.as_ref());
        }
    }
}

/// The bytes [`Writer::write_string`] writes for `v`.
pub fn string_len(v: &str) -> usize {
    4 + v.len()
}

/// The bytes [`Writer::write_buffer`] writes for `v`.
pub fn buffer_len(v: Option<&[u8]>) -> usize {
    4 + v.map_or(0, <[u8]>::len)
}

/// The bytes [`Writer::write_string_vec`] writes for `v`.
pub fn string_vec_len<S: AsRef<str>>(v: &[S]) -> usize {
    4 + v.iter().map(|s| string_len(s.as_ref())).sum::<usize>()
}

/// The bytes [`Writer::write_vec`] writes for an ACL: each entry's perms and its id's scheme
/// and id.
pub fn acl_vec_len(v: &[crate::types::Acl]) -> usize {
    4 + v
        .iter()
        .map(|a| 4 + string_len(&a.id.scheme) + string_len(&a.id.id))
        .sum::<usize>()
}

/// A jute record: encodes itself field by field in `zookeeper.jute` order.
pub trait Record: Sized {
    fn write(&self, w: &mut Writer);

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_inner()
    }

    /// Decodes a record that must fill `b` exactly; extra bytes are `TrailingBytes`.
    fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let value = Self::read(&mut r)?;
        match r.remaining() {
            0 => Ok(value),
            extra => Err(DecodeError::TrailingBytes(extra)),
        }
    }
}

/// Builds one frame: a 4-byte big-endian length, then whatever `body` writes.
pub fn framed(body: impl FnOnce(&mut Writer)) -> Vec<u8> {
    framed_within(64, body)
}

/// [`framed`] into a buffer sized for a body of `body_len` bytes, so that it is allocated
/// once (a reply is encoded for every request).
fn framed_within(body_len: usize, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::with_capacity(4 + body_len);
    w.write_i32(0);
    body(&mut w);
    let mut buf = w.into_inner();
    let len = i32::try_from(buf.len() - 4).expect("frame length exceeds i32::MAX");
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf
}

/// `ReplyHeader`: xid (int), zxid (long), err (int).
const REPLY_HEADER_LEN: usize = 16;

/// A full reply frame: length, `ReplyHeader`, then the body. As in
/// `NIOServerCnxn.sendResponse`, the caller passes no body when `hdr.err != 0`.
pub fn encode_reply(hdr: &ReplyHeader, body: Option<&Response>) -> Vec<u8> {
    let len = REPLY_HEADER_LEN + body.map_or(0, Response::encoded_len);
    framed_within(len, |w| {
        hdr.write(w);
        if let Some(body) = body {
            body.write(w);
        }
    })
}

/// A full watch-notification frame: `ReplyHeader{xid: -1, zxid, err: 0}` then the
/// `WatcherEvent` (`NIOServerCnxn.process`; 3.9 sends the triggering zxid, 3.8 sent -1).
pub fn encode_notification(zxid: i64, ev: &WatcherEvent) -> Vec<u8> {
    let hdr = ReplyHeader {
        xid: -1,
        zxid,
        err: 0,
    };
    framed(|w| {
        hdr.write(w);
        ev.write(w);
    })
}

/// A full `ConnectResponse` frame; the `readOnly` byte is present only when `resp.read_only`
/// is `Some` (`ProtocolManager.serializeConnectResponse`).
pub fn encode_connect_response(resp: &ConnectResponse) -> Vec<u8> {
    framed(|w| resp.write(w))
}
