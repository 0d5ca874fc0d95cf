//! Length-prefixed framing and four-letter-word detection.
//!
//! Every packet is a 4-byte big-endian length then that many bytes. ZooKeeper's server checks
//! the announced length before allocating (`NIOServerCnxn.readLength`,
//! `NettyServerCnxn.receiveMessage`): `len < 0 || len > jute.maxbuffer` closes the connection
//! with "Len error". That check uses `jute.maxbuffer` alone (default 0xfffff); the extra
//! `zookeeper.jute.maxbuffer.extrasize` (default = jute.maxbuffer, at least 1024) only widens
//! `BinaryInputArchive.checkLength`, the per-string/per-buffer sanity check applied while
//! deserializing records (mostly relevant to snapshots and the txn log), never the frame
//! limit. So the server passes `jute.maxbuffer` as `max_len` here.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The frame announces more than the limit; ZooKeeper closes the connection.
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLong { len: i64, max: u32 },
    /// A negative frame length; ZooKeeper closes the connection.
    #[error("negative frame length {0}")]
    NegativeLength(i32),
}

/// Bytes in the length prefix of every frame.
pub const FRAME_HEADER_BYTES: usize = 4;

/// ZooKeeper's default `jute.maxbuffer` (0xfffff): the frame limit when nothing sets one.
pub const DEFAULT_MAX_BUFFER: u32 = 0xfffff;

/// Looks at the start of `buf`: `Ok(None)` = need more bytes; `Ok(Some(n))` = a complete frame
/// of payload length `n` is available at `buf[4..4 + n]`; `Err` = bad (close the connection).
///
/// The length is checked as soon as its 4 bytes are there, before the payload arrives, so a
/// peer cannot make the caller wait for (or buffer) an oversized frame.
pub fn frame_len(buf: &[u8], max_len: u32) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<FRAME_HEADER_BYTES>() else {
        return Ok(None);
    };
    let len = i32::from_be_bytes(*prefix);
    let Ok(len_bytes) = u32::try_from(len) else {
        return Err(FrameError::NegativeLength(len));
    };
    if len_bytes > max_len {
        return Err(FrameError::TooLong {
            len: i64::from(len),
            max: max_len,
        });
    }
    // u32 fits in usize on every platform we build for (32- and 64-bit).
    let n = len_bytes as usize;
    if buf.len() - FRAME_HEADER_BYTES < n {
        return Ok(None);
    }
    Ok(Some(n))
}

/// The four-letter words ZooKeeper recognises on a fresh connection
/// (`FourLetterCommands.cmd2String`), plus the telnet interrupt sequence it also knows.
const FOUR_LETTER_WORDS: [(&[u8; 4], &str); 19] = [
    (b"conf", "conf"),
    (b"cons", "cons"),
    (b"crst", "crst"),
    (b"dirs", "dirs"),
    (b"dump", "dump"),
    (b"envi", "envi"),
    (b"gtmk", "gtmk"),
    (b"ruok", "ruok"),
    (b"stmk", "stmk"),
    (b"srst", "srst"),
    (b"srvr", "srvr"),
    (b"stat", "stat"),
    (b"wchc", "wchc"),
    (b"wchp", "wchp"),
    (b"wchs", "wchs"),
    (b"mntr", "mntr"),
    (b"isro", "isro"),
    (b"hash", "hash"),
    // `telnetCloseCmd` = 0xfff4fffd (IAC IP IAC DO, what telnet sends on Ctrl-C).
    (&[0xff, 0xf4, 0xff, 0xfd], "telnet close"),
];

/// If the first 4 bytes of a new connection, read as the frame length, are a known
/// four-letter word, returns its name: the connection is a 4lw command, not a session
/// (`NIOServerCnxn.checkFourLetterWord`, only while the connection is not yet initialized).
/// The match is exact and case-sensitive, as ZooKeeper compares the int value.
pub fn four_letter_word(first4: &[u8; 4]) -> Option<&'static str> {
    FOUR_LETTER_WORDS
        .iter()
        .find(|(word, _)| *word == first4)
        .map(|(_, name)| *name)
}
