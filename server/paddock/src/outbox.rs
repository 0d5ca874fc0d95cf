//! A connection's queue of frames to send, bounded in frames and in bytes.
//!
//! The core task never waits on a connection: it offers a frame, and if the client has let
//! too much pile up (it sends requests or holds watches but does not read), the offer fails
//! and the core task closes that connection. Counting bytes matters as much as counting
//! frames: a few thousand replies of 1 MiB each would otherwise be gigabytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// Frames queued for one connection before it is considered too slow.
pub const OUTBOX_FRAMES_MAX: usize = 16_384;

/// What the core task hands a connection's writer.
#[derive(Debug)]
pub enum Outbound {
    /// A complete frame (length prefix included).
    Frame(Vec<u8>),
    /// Flush what is queued, then close.
    Close,
}

/// The core task's end.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The writer's end.
#[derive(Debug)]
pub struct OutboxReceiver {
    rx: mpsc::Receiver<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
}

/// A full outbox: the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

pub fn outbox(max_bytes: usize) -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::channel(OUTBOX_FRAMES_MAX);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let tx = Outbox {
        tx,
        queued_bytes: queued_bytes.clone(),
        max_bytes,
    };
    (tx, OutboxReceiver { rx, queued_bytes })
}

impl Outbox {
    /// Queues a frame unless that would pass either bound.
    pub fn offer(&self, frame: Vec<u8>) -> Result<(), Full> {
        let len = frame.len();
        let queued = self.queued_bytes.fetch_add(len, Ordering::AcqRel) + len;
        if queued > self.max_bytes || self.tx.try_send(Outbound::Frame(frame)).is_err() {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return Err(Full);
        }
        Ok(())
    }

    /// Asks the writer to flush and close; best effort (a full queue is closed anyway when
    /// the core task drops its end).
    pub fn close(&self) {
        let _ = self.tx.try_send(Outbound::Close);
    }
}

impl OutboxReceiver {
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.rx.recv().await
    }

    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.rx.try_recv().ok()
    }

    /// The writer has handed `len` bytes to the socket.
    pub fn sent(&self, len: usize) {
        self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_in_bytes_and_released_as_sent() {
        let (tx, mut rx) = outbox(10);
        assert_eq!(tx.offer(vec![0; 6]), Ok(()));
        assert_eq!(
            tx.offer(vec![0; 6]),
            Err(Full),
            "12 bytes would pass the 10-byte bound"
        );
        let Some(Outbound::Frame(f)) = rx.recv().await else {
            panic!("a frame")
        };
        rx.sent(f.len());
        assert_eq!(tx.offer(vec![0; 6]), Ok(()), "sent bytes free room");
    }

    #[tokio::test]
    async fn bounded_in_frames() {
        let (tx, _rx) = outbox(usize::MAX);
        for _ in 0..OUTBOX_FRAMES_MAX {
            tx.offer(vec![1]).unwrap();
        }
        assert_eq!(tx.offer(vec![1]), Err(Full));
    }
}
