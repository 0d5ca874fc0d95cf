//! Human and JSON dumps of a log and a snapshot, for the `paddock` subcommands that stand in for
//! `zkTxnLogToolkit.sh` (`TxnLogToolkit.dump`) and `zkSnapShotToolkit.sh` (`SnapshotFormatter`).
//! Line shapes follow the Java tools; dates are printed in UTC ISO 8601 rather than in the
//! JVM's locale, and children in file order rather than Java's HashSet order.

use std::fmt::Write as _;

use paddock_jute::txn::Txn;
use paddock_jute::types::{OpCode, StatPersisted};
use serde_json::{json, Value};

use crate::snapshot::Snapshot;
use crate::txnlog::LogEntry;

/// Howard Hinnant's days-to-civil: (year, month 1-12, day 1-31) of a count of days since
/// 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A time in ms since the epoch as `yyyy-mm-ddThh:mm:ss.mmmZ`.
pub fn format_time_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// `Request.op2String` for transaction types.
pub fn op_name(txn_type: i32) -> String {
    match OpCode::try_from(txn_type) {
        Ok(op) => format!("{op:?}").to_lowercase(),
        Err(_) => format!("unknown {txn_type}"),
    }
}

/// `TxnLogToolkit.dump`: a header line, one line per transaction, an EOF line.
pub fn log_to_text(dbid: i64, entries: &[LogEntry]) -> String {
    let mut out =
        format!("ZooKeeper Transactional Log File with dbid {dbid} txnlog format version 2\n");
    for e in entries {
        let h = &e.header;
        let _ = writeln!(
            out,
            "{} session {:#x} cxid {:#x} zxid {:#x} {} {:?}",
            format_time_ms(h.time),
            h.client_id,
            h.cxid,
            h.zxid,
            op_name(h.txn_type),
            e.txn
        );
    }
    let _ = writeln!(out, "EOF reached after {} txns.", entries.len());
    out
}

fn txn_json(txn: &Txn) -> Value {
    json!(format!("{txn:?}"))
}

/// The log as a JSON array, one object per transaction.
pub fn log_to_json(entries: &[LogEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                json!({
                    "time": e.header.time,
                    "session": format!("{:#x}", e.header.client_id),
                    "cxid": e.header.cxid,
                    "zxid": format!("{:#x}", e.header.zxid),
                    "type": op_name(e.header.txn_type),
                    "txn": txn_json(&e.txn),
                    "digest": e.digest.map(|d| json!({"version": d.version, "treeDigest": d.tree_digest})),
                })
            })
            .collect(),
    )
}

fn stat_text(out: &mut String, s: &StatPersisted) {
    let _ = writeln!(out, "  cZxid = {:#016x}", s.czxid);
    let _ = writeln!(out, "  ctime = {}", format_time_ms(s.ctime));
    let _ = writeln!(out, "  mZxid = {:#016x}", s.mzxid);
    let _ = writeln!(out, "  mtime = {}", format_time_ms(s.mtime));
    let _ = writeln!(out, "  pZxid = {:#016x}", s.pzxid);
    let _ = writeln!(out, "  cversion = {}", s.cversion);
    let _ = writeln!(out, "  dataVersion = {}", s.version);
    let _ = writeln!(out, "  aclVersion = {}", s.aversion);
    let _ = writeln!(out, "  ephemeralOwner = {:#016x}", s.ephemeral_owner);
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `SnapshotFormatter.printDetails`: every znode with its stat, the sessions, the digest and
/// the last zxid.
pub fn snapshot_to_text(snap: &Snapshot, file_zxid: i64, dump_data: bool) -> String {
    let mut out = format!("ZNode Details (count={}):\n", snap.nodes.len());
    let mut last_zxid = file_zxid;
    for (path, node) in &snap.nodes {
        out.push_str("----\n");
        let _ = writeln!(out, "{}", if path.is_empty() { "/" } else { path });
        stat_text(&mut out, &node.stat);
        last_zxid = last_zxid.max(node.stat.mzxid).max(node.stat.pzxid);
        let data = node.data.as_deref().unwrap_or_default();
        if dump_data {
            let _ = writeln!(out, "  data = {}", base64(data));
        } else {
            let _ = writeln!(out, "  dataLength = {}", data.len());
        }
    }
    out.push_str("----\n");
    out.push_str("Session Details (sid, timeout, ephemeralCount):\n");
    for (sid, timeout) in &snap.sessions {
        let count = snap
            .nodes
            .iter()
            .filter(|(_, n)| n.stat.ephemeral_owner == *sid)
            .count();
        let _ = writeln!(out, "{sid:#016x}, {timeout}, {count}");
    }
    if let Some(d) = snap.digest {
        let _ = writeln!(out, "Target zxid digest is: {:x}, {}", d.zxid, d.digest);
    }
    let _ = writeln!(out, "----\nLast zxid: {last_zxid:#x}");
    out
}

/// The snapshot as JSON: every node with its path, data (base64), ACL key and stat, plus the
/// sessions, the ACL cache and the digest. (SnapshotFormatter's `-json` prints an ncdu tree of
/// sizes only; this keeps everything a tool needs.)
pub fn snapshot_to_json(snap: &Snapshot) -> Value {
    let nodes: Vec<Value> = snap
        .nodes
        .iter()
        .map(|(path, n)| {
            let s = &n.stat;
            json!({
                "path": if path.is_empty() { "/" } else { path },
                "data": n.data.as_deref().map(base64),
                "acl": n.acl,
                "stat": {
                    "czxid": s.czxid, "mzxid": s.mzxid, "ctime": s.ctime, "mtime": s.mtime,
                    "version": s.version, "cversion": s.cversion, "aversion": s.aversion,
                    "ephemeralOwner": s.ephemeral_owner, "pzxid": s.pzxid,
                },
            })
        })
        .collect();
    let acls: Vec<Value> = snap
        .acls
        .iter()
        .map(|(key, list)| {
            let list: Vec<Value> = list
                .iter()
                .map(|a| json!({"perms": a.perms, "scheme": a.id.scheme, "id": a.id.id}))
                .collect();
            json!({"key": key, "acls": list})
        })
        .collect();
    json!({
        "dbid": snap.dbid,
        "sessions": snap.sessions.iter().map(|(id, t)| json!({"id": format!("{id:#x}"), "timeout": t})).collect::<Vec<_>>(),
        "acls": acls,
        "nodes": nodes,
        "digest": snap.digest.map(|d| json!({"zxid": format!("{:#x}", d.zxid), "version": d.digest_version, "digest": d.digest})),
        "lastProcessedZxid": snap.last_processed_zxid.map(|z| format!("{z:#x}")),
    })
}
