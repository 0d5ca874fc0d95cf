//! Server-wide and per-connection statistics (`ServerStats`, the counters of `ServerCnxn`),
//! kept by the core task, which sees every request arrive and every reply leave.

use std::collections::VecDeque;
use std::time::Instant;

use paddock_jute::OpCode;

use crate::metrics::avg4;

/// Latency in milliseconds: count, total, min and max (`AvgMinMaxCounter` of
/// `ServerStats.requestLatency`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub count: u64,
    pub total_ms: i64,
    pub min_ms: Option<i64>,
    pub max_ms: i64,
}

impl Latency {
    pub fn add(&mut self, ms: i64) {
        self.count += 1;
        self.total_ms = self.total_ms.saturating_add(ms);
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = self.max_ms.max(ms);
    }

    /// The server-wide average, rounded to four decimals as `ServerStats` does.
    pub fn avg(&self) -> f64 {
        avg4(self.total_ms, self.count)
    }

    /// A connection's average: integer division, as `ServerCnxn.getAvgLatency`.
    pub fn avg_integer(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.total_ms / self.count as i64
        }
    }

    pub fn min(&self) -> i64 {
        self.min_ms.unwrap_or(0)
    }
}

/// Sizes of the replies sent to clients (`BufferStats`): -1 until the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSizes {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for ResponseSizes {
    fn default() -> Self {
        ResponseSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl ResponseSizes {
    pub fn add(&mut self, size: i64) {
        self.last = size;
        self.min = if self.min < 0 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
    }
}

/// What `srvr`, `stat` and `mntr` report about the whole server.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: Latency,
    pub response_sizes: ResponseSizes,
    /// Authentication attempts that failed (`auth_failed_count`).
    pub auth_failed: u64,
}

impl ServerStats {
    /// `srst` (`ServerStats.reset`): latency, packet counters and response sizes.
    pub fn reset(&mut self) {
        let auth_failed = self.auth_failed;
        *self = ServerStats {
            auth_failed,
            ..ServerStats::default()
        };
    }
}

/// A request waiting for its reply, for latency accounting.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub xid: i32,
    pub received: Instant,
    /// `FinalRequestProcessor`'s `lastOp` code for the request.
    pub op: &'static str,
    /// Whether the request became a transaction (updatelatency) or not (readlatency).
    pub write: bool,
    /// Its trace span (disabled unless traces are exported); it ends with the reply.
    pub span: tracing::Span,
}

/// Requests a connection may have waiting for replies in the statistics before further ones
/// are not timed: the inbox and the outbox bound real work, this only bounds bookkeeping.
pub const MAX_IN_FLIGHT: usize = 10_000;

/// The xid under which a connection's ConnectRequest is timed.
pub const CONNECT_XID: i32 = i32::MIN;

/// One client connection's counters (`ServerCnxn`).
#[derive(Debug, Clone)]
pub struct ConnStats {
    pub peer: std::net::SocketAddr,
    /// When the connection was accepted, wall-clock ms (`established`).
    pub established_ms: i64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: Latency,
    pub last_op: &'static str,
    /// -1 until a request with a non-negative xid was answered.
    pub last_cxid: i64,
    pub last_zxid: i64,
    /// Monotonic ms of the last reply (ZooKeeper's `Time.currentElapsedTime`), 0 before one.
    pub last_response_ms: i64,
    pub last_latency_ms: i64,
    pub in_flight: VecDeque<InFlight>,
}

impl ConnStats {
    pub fn new(peer: std::net::SocketAddr, established_ms: i64) -> Self {
        ConnStats {
            peer,
            established_ms,
            packets_received: 0,
            packets_sent: 0,
            latency: Latency::default(),
            last_op: "NA",
            last_cxid: -1,
            last_zxid: 0,
            last_response_ms: 0,
            last_latency_ms: 0,
            in_flight: VecDeque::new(),
        }
    }

    /// `ServerCnxn.resetStats` (`crst`).
    pub fn reset(&mut self) {
        self.packets_received = 0;
        self.packets_sent = 0;
        self.latency = Latency::default();
        self.last_op = "NA";
        self.last_cxid = -1;
        self.last_zxid = -1;
        self.last_response_ms = 0;
        self.last_latency_ms = 0;
    }

    pub fn track(&mut self, request: InFlight) {
        if self.in_flight.len() < MAX_IN_FLIGHT {
            self.in_flight.push_back(request);
        }
    }

    /// The waiting request answered by a reply with `xid`, if it was timed.
    pub fn answered(&mut self, xid: i32) -> Option<InFlight> {
        let at = self.in_flight.iter().position(|r| r.xid == xid)?;
        self.in_flight.remove(at)
    }

    /// `ServerCnxn.updateStatsForResponse`.
    pub fn responded(&mut self, req: &InFlight, zxid: i64, latency_ms: i64, now_mono_ms: i64) {
        if req.xid >= 0 {
            self.last_cxid = i64::from(req.xid);
        }
        self.last_zxid = zxid;
        self.last_op = req.op;
        self.last_response_ms = now_mono_ms;
        self.last_latency_ms = latency_ms;
        self.latency.add(latency_ms);
    }
}

/// `FinalRequestProcessor`'s `lastOp` for each request type; `None` for requests it does not
/// time (auth and SASL are answered before it).
pub fn last_op(op: OpCode) -> Option<&'static str> {
    Some(match op {
        OpCode::Ping => "PING",
        OpCode::CreateSession => "SESS",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::SetData => "SETD",
        OpCode::Reconfig => "RECO",
        OpCode::SetAcl => "SETA",
        OpCode::CloseSession => "CLOS",
        OpCode::Sync => "SYNC",
        OpCode::Check => "CHEC",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetWatches => "SETW",
        OpCode::SetWatches2 => "STW2",
        OpCode::AddWatch => "ADDW",
        OpCode::GetAcl => "GETA",
        OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
        OpCode::GetAllChildrenNumber => "GETACN",
        OpCode::CheckWatches => "CHKW",
        OpCode::RemoveWatches => "REMW",
        OpCode::WhoAmI => "HOMI",
        OpCode::GetEphemerals => "GETE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // ServerCnxn.resetStats: lastZxid -1, lastCxid -1, lastOp "NA".
    #[test]
    fn connection_reset_matches_server_cnxn_reset_stats() {
        let mut c = ConnStats::new("127.0.0.1:1".parse().expect("addr"), 5);
        let req = InFlight {
            xid: 3,
            received: Instant::now(),
            op: "GETD",
            write: false,
            span: tracing::Span::none(),
        };
        c.track(req);
        let req = c.answered(3).expect("tracked");
        c.responded(&req, 7, 2, 100);
        assert_eq!((c.last_cxid, c.last_zxid, c.last_op), (3, 7, "GETD"));
        c.reset();
        assert_eq!((c.last_cxid, c.last_zxid, c.last_op), (-1, -1, "NA"));
        assert_eq!(c.latency.min(), 0);
    }

    #[test]
    fn response_sizes_start_at_minus_one() {
        let mut s = ResponseSizes::default();
        assert_eq!((s.last, s.min, s.max), (-1, -1, -1));
        s.add(16);
        s.add(88);
        assert_eq!((s.last, s.min, s.max), (88, 16, 88));
    }
}

/// `PathUtils.getTopNamespace`: the first component of a path (`/a/b` is `a`); `None` for
/// `/` and anything without one.
pub fn top_namespace(path: &str) -> Option<&str> {
    // The second of `path.split('/')`, by bytes: this runs for every read and write.
    let slash = |s: &str| s.bytes().position(|b| b == b'/');
    let rest = &path[slash(path)? + 1..];
    Some(&rest[..slash(rest).unwrap_or(rest.len())])
}

/// `DataTree.STAT_OVERHEAD_BYTES`: a stat's size as ZooKeeper counts it for read metrics.
const STAT_OVERHEAD_BYTES: i64 = 6 * 8 + 5 * 4;

/// `DataTree.updateReadStat` for a successful read of `path` (getData, exists,
/// getChildren): `read_per_namespace` gets the path, the data or child names, and a stat.
pub fn record_read(
    metrics: &crate::metrics::ServerMetrics,
    path: &str,
    body: &paddock_jute::proto::Response,
) {
    use paddock_jute::proto::Response;
    let Some(ns) = top_namespace(path) else {
        return;
    };
    let bytes = match body {
        Response::GetData { data, .. } => data.as_ref().map_or(0, Vec::len),
        Response::GetChildren { children } | Response::GetChildren2 { children, .. } => {
            children.iter().map(String::len).sum()
        }
        Response::Stat(_) => 0,
        _ => return,
    };
    let total = path.len() as i64 + bytes as i64 + STAT_OVERHEAD_BYTES;
    metrics.observe_keyed("read_per_namespace", ns, total);
}

/// `DataTree.updateWriteStat` for every node a transaction creates, changes or deletes:
/// `write_per_namespace` gets the path and the data written.
pub fn record_writes(metrics: &crate::metrics::ServerMetrics, txn: &paddock_jute::txn::Txn) {
    use paddock_jute::txn::Txn;
    const NAME: &str = "write_per_namespace";
    match txn {
        // A failed multi changes nothing (`DataTree.processTxn`).
        Txn::Multi(txns) if txns.iter().any(|t| matches!(t, Txn::Error(_))) => {}
        Txn::Multi(txns) => {
            metrics.observe_keyed_all(NAME, txns.iter().filter_map(namespace_write))
        }
        txn => {
            if let Some(write) = namespace_write(txn) {
                metrics.observe_keyed_all(NAME, [write]);
            }
        }
    }
}

/// The namespace a txn (not a multi) writes in and the bytes `updateWriteStat` counts.
fn namespace_write(txn: &paddock_jute::txn::Txn) -> Option<(&str, i64)> {
    use paddock_jute::txn::Txn;
    let (path, data) = match txn {
        Txn::Create(t) | Txn::Create2(t) => (&t.path, t.data.as_ref()),
        Txn::CreateContainer(t) => (&t.path, t.data.as_ref()),
        Txn::CreateTtl(t) => (&t.path, t.data.as_ref()),
        Txn::SetData(t) => (&t.path, t.data.as_ref()),
        Txn::Delete(t) | Txn::DeleteContainer(t) => (&t.path, None),
        _ => return None,
    };
    let ns = top_namespace(path)?;
    Some((ns, (path.len() + data.map_or(0, Vec::len)) as i64))
}

#[cfg(test)]
mod namespace_tests {
    use super::*;

    #[test]
    fn the_top_namespace_is_the_first_path_component() {
        assert_eq!(top_namespace("/a/b/c"), Some("a"));
        assert_eq!(top_namespace("/a"), Some("a"));
        assert_eq!(top_namespace("/"), Some(""));
        assert_eq!(top_namespace(""), None);
        // As `split('/')` reads them: the text after the first slash, up to the next.
        assert_eq!(top_namespace("a"), None);
        assert_eq!(top_namespace("a/b/c"), Some("b"));
        assert_eq!(top_namespace("//b"), Some(""));
    }

    #[test]
    fn reads_and_writes_land_in_their_namespace() {
        use paddock_jute::proto::Response;
        use paddock_jute::txn::{DeleteTxn, SetDataTxn, Txn};
        let m = crate::metrics::ServerMetrics::new();
        let body = Response::GetData {
            data: Some(b"xyz".to_vec()),
            stat: Default::default(),
        };
        record_read(&m, "/app/x", &body);
        let set = Txn::SetData(SetDataTxn {
            path: "/app/x".into(),
            data: Some(b"12345".to_vec()),
            version: 0,
        });
        let del = Txn::Delete(DeleteTxn {
            path: "/other".into(),
        });
        record_writes(&m, &Txn::Multi(vec![set, del]));
        let reads = m.keyed("read_per_namespace");
        assert_eq!(reads.len(), 1);
        assert_eq!((reads[0].0.as_str(), reads[0].1.sum), ("app", 6 + 3 + 68));
        let writes = m.keyed("write_per_namespace");
        let sums: Vec<(&str, i64)> = writes.iter().map(|(k, v)| (k.as_str(), v.sum)).collect();
        assert_eq!(sums, vec![("app", 11), ("other", 6)]);
    }
}

/// The path a request names, for traces.
pub fn request_path(req: &paddock_jute::proto::Request) -> Option<&str> {
    use paddock_jute::proto::Request as R;
    Some(match req {
        R::Create(r) | R::Create2(r) | R::CreateContainer(r) => &r.path,
        R::CreateTtl(r) => &r.path,
        R::Delete(r) => &r.path,
        R::DeleteContainer(r) | R::GetAcl(r) | R::Sync(r) => &r.path,
        R::GetEphemerals(r) | R::GetAllChildrenNumber(r) => &r.path,
        R::Exists(r) | R::GetData(r) | R::GetChildren(r) | R::GetChildren2(r) => &r.path,
        R::SetData(r) => &r.path,
        R::SetAcl(r) => &r.path,
        R::Check(r) => &r.path,
        R::AddWatch(r) => &r.path,
        _ => return None,
    })
}
