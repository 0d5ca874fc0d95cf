//! The session tracker (`SessionTrackerImpl`, `ExpiryQueue`): ids in ZooKeeper's format,
//! passwords as ZooKeeper derives them, expiry in tick-rounded buckets.
//!
//! Time is passed in by the caller. Where ZooKeeper iterates a hash set (the sessions of one
//! expiry bucket), this tracker uses ascending session id so that runs are reproducible.

use std::collections::{BTreeMap, BTreeSet};

/// Tracks live sessions and when each expires. Time is passed in, never read.
#[derive(Debug, Clone)]
pub struct SessionTracker {
    /// `ExpiryQueue.expirationInterval`: the tick that bucket times are multiples of.
    tick_ms: i64,
    /// `nextSessionId`.
    next_id: i64,
    sessions: BTreeMap<i64, Session>,
    /// `expiryMap`: bucket time to the sessions expiring then. Empty buckets are dropped.
    buckets: BTreeMap<i64, BTreeSet<i64>>,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    timeout_ms: i32,
    /// The bucket the session sits in (`elemMap`); `None` once it has been expired.
    expires_at_ms: Option<i64>,
    closing: bool,
}

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`: the owner value that marks container nodes, so
/// never a session id.
const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// `SessionTrackerImpl.initializeNextSessionId`: the top byte is the server id, the next 40
/// bits are the low 40 bits of the clock, the low 16 bits count.
pub fn initial_session_id(server_id: u8, now_ms: i64) -> i64 {
    let clock = ((now_ms << 24) as u64 >> 8) as i64;
    let id = clock | (i64::from(server_id) << 56);
    if id == CONTAINER_EPHEMERAL_OWNER {
        id + 1
    } else {
        id
    }
}

impl SessionTracker {
    /// `server_id` goes into the top byte of every id; ids start from
    /// `(server_id << 56) | ((now_ms << 24) >>> 8)` and count up.
    pub fn new(server_id: u8, tick_ms: i64, now_ms: i64) -> Self {
        assert!(tick_ms > 0, "tick_ms must be positive, got {tick_ms}");
        SessionTracker {
            tick_ms,
            next_id: initial_session_id(server_id, now_ms),
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    /// A fresh session id (not yet added).
    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Starts tracking `id` with `timeout_ms`, expiring one timeout after `now_ms`
    /// (rounded up to the next tick). Tracking a known id keeps its closing flag and takes
    /// the new timeout, as `trackSession` followed by `commitSession` does.
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: i64) {
        let session = self.sessions.entry(id).or_insert(Session {
            timeout_ms,
            expires_at_ms: None,
            closing: false,
        });
        session.timeout_ms = timeout_ms;
        self.schedule(id, timeout_ms, now_ms);
    }

    /// Pushes the expiry of `id` forward; false if the session is unknown or closing.
    pub fn touch(&mut self, id: i64, now_ms: i64) -> bool {
        match self.sessions.get(&id) {
            Some(session) if !session.closing => {
                let timeout_ms = session.timeout_ms;
                self.schedule(id, timeout_ms, now_ms);
                true
            }
            _ => false,
        }
    }

    /// `touchSession(id, timeout)`: ZooKeeper touches with the timeout negotiated by the
    /// connection the request came on, which after a reattach can differ from the one the
    /// session was created with (the session keeps its original timeout for `dump`).
    pub fn touch_for(&mut self, id: i64, timeout_ms: i32, now_ms: i64) -> bool {
        match self.sessions.get(&id) {
            Some(session) if !session.closing => {
                self.schedule(id, timeout_ms, now_ms);
                true
            }
            _ => false,
        }
    }

    /// Marks a session as closing: it no longer accepts touches or reattaches.
    pub fn set_closing(&mut self, id: i64) {
        if let Some(session) = self.sessions.get_mut(&id) {
            session.closing = true;
        }
    }

    /// Forgets every closing mark (closes that were prepared but will never be applied).
    pub fn clear_closing(&mut self) {
        for session in self.sessions.values_mut() {
            session.closing = false;
        }
    }

    pub fn is_closing(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| s.closing)
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: i64) {
        if let Some(session) = self.sessions.remove(&id) {
            if let Some(at) = session.expires_at_ms {
                self.leave_bucket(id, at);
            }
        }
    }

    pub fn contains(&self, id: i64) -> bool {
        self.sessions.contains_key(&id)
    }

    pub fn timeout_ms(&self, id: i64) -> Option<i32> {
        self.sessions.get(&id).map(|s| s.timeout_ms)
    }

    /// Sessions whose bucket has passed at `now_ms`, each marked closing and returned once.
    ///
    /// `ExpiryQueue.poll` hands out the bucket at time `t` once `now >= t`; the tracker thread
    /// polls until it has caught up, so every bucket at or before `now_ms` is drained here,
    /// oldest first, ids ascending within a bucket. The sessions stay tracked (closing) until
    /// `remove`, as they do in ZooKeeper until the closeSession transaction is applied.
    pub fn expired(&mut self, now_ms: i64) -> Vec<i64> {
        let due: Vec<i64> = self.buckets.range(..=now_ms).map(|(&at, _)| at).collect();
        let mut expired = Vec::new();
        for at in due {
            for id in self.buckets.remove(&at).unwrap_or_default() {
                if let Some(session) = self.sessions.get_mut(&id) {
                    session.closing = true;
                    session.expires_at_ms = None;
                    expired.push(id);
                }
            }
        }
        expired
    }

    /// When the next bucket is due, if any session is tracked.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.buckets.keys().next().copied()
    }

    /// All tracked sessions with their timeouts, in id order.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        self.sessions
            .iter()
            .map(|(&id, s)| (id, s.timeout_ms))
            .collect()
    }

    /// The bucket `id` expires in, if it is still waiting for one.
    pub fn expiry_ms(&self, id: i64) -> Option<i64> {
        self.sessions.get(&id).and_then(|s| s.expires_at_ms)
    }

    /// Undoes `next_session_id` when the createSession txn it was for is abandoned.
    pub fn give_back_id(&mut self, id: i64) {
        if self.next_id.wrapping_sub(1) == id {
            self.next_id = id;
        }
    }

    /// Undoes `set_closing` (and `expired`) when the closeSession txn is abandoned: the
    /// session takes requests again, and one that had already expired is due again in the
    /// bucket after `now_ms`, so the close is retried at the next tick.
    pub fn reopen(&mut self, id: i64, now_ms: i64) {
        let at = self.round_to_next_interval(now_ms);
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.closing = false;
        if session.expires_at_ms.is_none() {
            session.expires_at_ms = Some(at);
            self.buckets.entry(at).or_default().insert(id);
        }
    }

    /// Puts every session one timeout after `now_ms`, as a restarted server's tracker does
    /// for the sessions it loaded (`SessionTrackerImpl` adds each with a fresh expiry).
    pub fn restart_clocks(&mut self, now_ms: i64) {
        let ids: Vec<(i64, i32)> = self.sessions();
        for (id, timeout_ms) in ids {
            self.schedule(id, timeout_ms, now_ms);
        }
    }

    /// `ExpiryQueue.roundToNextInterval`: the first tick boundary strictly after `time_ms`
    /// (with Java's truncating division).
    pub fn round_to_next_interval(&self, time_ms: i64) -> i64 {
        (time_ms / self.tick_ms + 1).wrapping_mul(self.tick_ms)
    }

    /// `ExpiryQueue.update`: moves `id` to the bucket one timeout after `now_ms`.
    fn schedule(&mut self, id: i64, timeout_ms: i32, now_ms: i64) {
        let Some(session) = self.sessions.get(&id).copied() else {
            return;
        };
        let at = self.round_to_next_interval(now_ms.saturating_add(i64::from(timeout_ms)));
        if session.expires_at_ms == Some(at) {
            return;
        }
        if let Some(old) = session.expires_at_ms {
            self.leave_bucket(id, old);
        }
        self.buckets.entry(at).or_default().insert(id);
        if let Some(session) = self.sessions.get_mut(&id) {
            session.expires_at_ms = Some(at);
        }
    }

    fn leave_bucket(&mut self, id: i64, at: i64) {
        if let Some(bucket) = self.buckets.get_mut(&at) {
            bucket.remove(&id);
            if bucket.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }
}

/// The 16-byte password of a session: `new java.util.Random(id ^ 0xB3415C00L).nextBytes(16)`,
/// bit for bit as ZooKeeper computes it (`ZooKeeperServer.generatePasswd` with the default
/// secret).
pub fn session_password(id: i64) -> [u8; 16] {
    let mut random = JavaRandom::new(id ^ 0xB341_5C00);
    let mut password = [0u8; 16];
    random.next_bytes(&mut password);
    password
}

/// `java.util.Random`: a 48-bit linear congruential generator.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    /// `new Random(seed)`: the seed is scrambled with the multiplier.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    /// `next(bits)`: the top `bits` of the advanced 48-bit state.
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self
            .seed
            .wrapping_mul(Self::MULTIPLIER)
            .wrapping_add(Self::ADDEND))
            & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextBytes`: each `nextInt()` gives up to four bytes, low byte first.
    pub fn next_bytes(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(4) {
            let value = self.next_int().to_le_bytes();
            chunk.copy_from_slice(&value[..chunk.len()]);
        }
    }
}
