//! The session tracker against ZooKeeper 3.9 (`SessionTrackerImpl`, `ExpiryQueue`,
//! `ZooKeeperServer.generatePasswd`). Golden passwords were computed by running
//! `new java.util.Random(id ^ 0xB3415C00L).nextBytes(new byte[16])` on Java 17.

use paddock_core::session::{initial_session_id, session_password, JavaRandom, SessionTracker};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ZooKeeperServer.generatePasswd: java.util.Random seeded with id ^ superSecret.
#[test]
fn session_password_matches_java_random() {
    let golden: [(i64, &str); 6] = [
        (0, "f22acd4a97e69d6d20a49bb638eadb38"),
        (1, "054cc74a37327db215e702e20c73f005"),
        (0x0100_017f_0000_0000, "f22a9e0797e69a9820a4545238eaa0bc"),
        (-1, "20f62cb5648dc2d771471c8a2486a9ee"),
        (i64::MAX, "20f62cb5648dc2d771471c8a2486a9ee"),
        (0x018a_2b3c_4d00_0001, "05839c26379daf8f15769c000c56ccd7"),
    ];
    for (id, password) in golden {
        assert_eq!(hex(&session_password(id)), password, "id {id:#x}");
    }
}

// java.util.Random.nextBytes: a length that is not a multiple of four uses the low bytes of
// the last nextInt.
#[test]
fn java_random_next_bytes_takes_low_bytes_first() {
    let mut whole = [0u8; 8];
    JavaRandom::new(42).next_bytes(&mut whole);
    let mut part = [0u8; 6];
    JavaRandom::new(42).next_bytes(&mut part);
    assert_eq!(part, whole[..6]);
    let mut random = JavaRandom::new(42);
    assert_eq!(random.next_int().to_le_bytes(), whole[..4]);
}

// SessionTrackerImpl.initializeNextSessionId: (now << 24) >>> 8 | (serverId << 56).
#[test]
fn session_ids_embed_server_id_and_clock() {
    let now = 0x0000_0123_4567_89ab_i64;
    assert_eq!(initial_session_id(0, now), 0x0023_4567_89ab_0000);
    assert_eq!(initial_session_id(1, now), 0x0123_4567_89ab_0000);
    // The unsigned shift keeps the high clock bits out of the server byte.
    assert_eq!(initial_session_id(0, -1), 0x00ff_ffff_ffff_0000);
    assert_eq!(initial_session_id(0xff, 0), -0x0100_0000_0000_0000);
    // EphemeralType.CONTAINER_EPHEMERAL_OWNER (Long.MIN_VALUE) is skipped.
    assert_eq!(initial_session_id(0x80, 0), i64::MIN + 1);
    let mut tracker = SessionTracker::new(1, 2000, now);
    assert_eq!(tracker.next_session_id(), 0x0123_4567_89ab_0000);
    assert_eq!(tracker.next_session_id(), 0x0123_4567_89ab_0001);
}

// ExpiryQueue.roundToNextInterval: (time / tick + 1) * tick, so a boundary rounds up a
// whole tick.
#[test]
fn expiry_rounds_to_next_tick() {
    let mut tracker = SessionTracker::new(0, 2000, 0);
    assert_eq!(tracker.round_to_next_interval(0), 2000);
    assert_eq!(tracker.round_to_next_interval(1999), 2000);
    assert_eq!(tracker.round_to_next_interval(2000), 4000);
    tracker.add(7, 5000, 1000);
    assert_eq!(tracker.expiry_ms(7), Some(8000));
    assert_eq!(tracker.next_expiry_ms(), Some(8000));
}

// ExpiryQueue.poll: a bucket is handed out once now >= its time, never before; the tracker
// thread marks each session closing (SessionTrackerImpl.run) and it stays tracked.
#[test]
fn expired_returns_due_buckets_once_and_marks_closing() {
    let mut tracker = SessionTracker::new(0, 1000, 0);
    tracker.add(3, 2000, 0); // bucket 3000
    tracker.add(1, 2000, 500); // bucket 3000
    tracker.add(2, 4000, 0); // bucket 5000
    assert_eq!(tracker.expired(2999), Vec::<i64>::new());
    assert_eq!(tracker.expired(3000), vec![1, 3]);
    assert!(tracker.is_closing(1) && tracker.contains(1));
    assert_eq!(tracker.expired(3000), Vec::<i64>::new());
    assert_eq!(tracker.next_expiry_ms(), Some(5000));
    // Catching up over several buckets drains them oldest first.
    tracker.add(9, 1000, 3500); // bucket 5000
    tracker.add(8, 500, 3000); // bucket 4000
    assert_eq!(tracker.expired(10_000), vec![8, 2, 9]);
    assert_eq!(tracker.next_expiry_ms(), None);
}

// SessionTrackerImpl.touchSession: unknown or closing sessions answer false; a touch moves
// the session to the bucket one timeout after now.
#[test]
fn touch_moves_expiry_and_refuses_closing_sessions() {
    let mut tracker = SessionTracker::new(0, 1000, 0);
    tracker.add(5, 3000, 0);
    assert!(tracker.touch(5, 2500));
    assert_eq!(tracker.expiry_ms(5), Some(6000));
    assert_eq!(tracker.expired(4000), Vec::<i64>::new());
    assert!(!tracker.touch(6, 2500));
    tracker.set_closing(5);
    assert!(!tracker.touch(5, 2600));
    assert_eq!(tracker.expiry_ms(5), Some(6000));
}

// SessionTrackerImpl.removeSession forgets the session and its bucket entry.
#[test]
fn remove_forgets_session() {
    let mut tracker = SessionTracker::new(0, 1000, 0);
    tracker.add(5, 3000, 0);
    tracker.add(4, 2000, 0);
    assert_eq!(tracker.sessions(), vec![(4, 2000), (5, 3000)]);
    assert_eq!(tracker.timeout_ms(5), Some(3000));
    tracker.remove(5);
    assert!(!tracker.contains(5));
    assert_eq!(tracker.timeout_ms(5), None);
    assert_eq!(tracker.expired(100_000), vec![4]);
    assert!(!tracker.is_closing(5));
}
