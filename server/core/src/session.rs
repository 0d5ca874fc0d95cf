//! The session tracker (`SessionTrackerImpl`, `ExpiryQueue`): ids in ZooKeeper's format,
//! passwords as ZooKeeper derives them, expiry in tick-rounded buckets.
//!
//! STUB: signatures fixed; bodies to be written.

/// Tracks live sessions and when each expires. Time is passed in, never read.
#[derive(Debug)]
pub struct SessionTracker {}

impl SessionTracker {
    /// `server_id` goes into the top byte of every id; ids start from
    /// `(server_id << 56) | ((now_ms << 24) >>> 8)` and count up.
    pub fn new(server_id: u8, tick_ms: i64, now_ms: i64) -> Self {
        let _ = (server_id, tick_ms, now_ms);
        unimplemented!()
    }

    /// A fresh session id (not yet added).
    pub fn next_session_id(&mut self) -> i64 {
        unimplemented!()
    }

    /// Starts tracking `id` with `timeout_ms`, expiring one timeout after `now_ms`
    /// (rounded up to the next tick).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: i64) {
        let _ = (id, timeout_ms, now_ms);
        unimplemented!()
    }

    /// Pushes the expiry of `id` forward; false if the session is unknown or closing.
    pub fn touch(&mut self, id: i64, now_ms: i64) -> bool {
        let _ = (id, now_ms);
        unimplemented!()
    }

    /// Marks a session as closing: it no longer accepts touches or reattaches.
    pub fn set_closing(&mut self, id: i64) {
        let _ = id;
        unimplemented!()
    }

    pub fn is_closing(&self, id: i64) -> bool {
        let _ = id;
        unimplemented!()
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: i64) {
        let _ = id;
        unimplemented!()
    }

    pub fn contains(&self, id: i64) -> bool {
        let _ = id;
        unimplemented!()
    }

    pub fn timeout_ms(&self, id: i64) -> Option<i32> {
        let _ = id;
        unimplemented!()
    }

    /// Sessions whose bucket has passed at `now_ms`, each marked closing and returned once.
    pub fn expired(&mut self, now_ms: i64) -> Vec<i64> {
        let _ = now_ms;
        unimplemented!()
    }

    /// When the next bucket is due, if any session is tracked.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        unimplemented!()
    }

    /// All tracked sessions with their timeouts, in id order.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        unimplemented!()
    }
}

/// The 16-byte password of a session: `new java.util.Random(id ^ 0xB3415C00L).nextBytes(16)`,
/// bit for bit as ZooKeeper computes it (`ZooKeeperServer.generatePasswd` with the default
/// secret).
pub fn session_password(id: i64) -> [u8; 16] {
    let _ = id;
    unimplemented!()
}
