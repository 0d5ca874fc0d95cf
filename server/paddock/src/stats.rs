//! Server-wide counters reported by the four-letter words.

use paddock_core::state::Counts;

#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub commits: u64,
    pub connections: u64,
    pub last_zxid: i64,
    pub counts: Counts,
}
