//! Test support shared by the workspace's test suites (a dev-dependency only).

use std::net::{SocketAddr, TcpListener};
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where test servers' ports come from: below Linux's ephemeral range (32768-60999), which
/// the kernel hands out for `bind(0)` and for every outgoing connection. A port found free
/// there could be taken by any client socket, `srvr` poll or member link before a server
/// binds it, or binds it again when a killed member restarts: an ensemble test failed in CI
/// with a member that could not restart and peers linking into another member's client port.
pub const TEST_PORTS: Range<u32> = 12_000..32_000;

/// A free loopback port for a test server, or `None` when every port of [`TEST_PORTS`] is
/// taken. Each process walks its own stretch of the range (starting from its pid), skipping
/// ports something already holds, so ports are never handed out twice within a process and
/// rarely across concurrent ones.
pub fn free_port() -> Option<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = TEST_PORTS.end - TEST_PORTS.start;
    let start = std::process::id().wrapping_mul(613) % span;
    (0..span).find_map(|_| {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(TEST_PORTS.start + (start + n) % span).ok()?;
        TcpListener::bind(("127.0.0.1", port)).ok().map(|_| port)
    })
}

/// A free loopback address (see [`free_port`]); panics when none is left, as a test would.
pub fn free_addr() -> SocketAddr {
    let port = free_port().unwrap_or_else(|| panic!("no free loopback port in {TEST_PORTS:?}"));
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_distinct_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().expect("a free port")).collect();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len());
        for port in ports {
            assert!(TEST_PORTS.contains(&u32::from(port)));
            assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
        }
    }
}
