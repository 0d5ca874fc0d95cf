//! Scenario traces and their normalisation.
//!
//! A trace is a list of labelled JSON values. Values that legitimately differ between two
//! servers are rewritten before comparison, by the JSON key they sit under:
//! zxids become their rank among all zxids of the trace (`z1`, `z2`, ...), times their rank
//! among all times (`t1`, ...), session ids a symbol in first-seen order (`s1`, ...). Ranks keep
//! the relations a client can rely on (mzxid > czxid, a later write has a larger zxid).
//! `0` and `-1` stay literal: they mean "built-in node" / "not ephemeral" / "none".

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// Keys whose values are zxids.
const ZXID_KEYS: &[&str] = &["czxid", "mzxid", "pzxid", "zxid"];
/// Keys whose values are times in ms.
const TIME_KEYS: &[&str] = &["ctime", "mtime"];
/// Keys whose values are session ids.
const SESSION_KEYS: &[&str] = &["session", "ephemeral_owner"];
/// The key under which watch events carry their zxid; handled by [`Trace::take_event_zxids`]
/// because ZooKeeper 3.8 and 3.9 differ there on purpose.
pub const EVENT_ZXID_KEY: &str = "event_zxid";

/// What one scenario observed, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    entries: Vec<(String, Value)>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace::default()
    }

    /// Records one observation.
    pub fn push(&mut self, label: impl Into<String>, value: Value) {
        self.entries.push((label.into(), value));
    }

    /// The recorded observations.
    pub fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }

    /// Removes every event zxid from the trace and returns them in order. Used to check the
    /// 3.8 (-1) and 3.9 (real zxid, ZOOKEEPER-4655) behaviours separately from the rest.
    pub fn take_event_zxids(&mut self) -> Vec<i64> {
        let mut out = Vec::new();
        for (_, value) in &mut self.entries {
            strip_key(value, EVENT_ZXID_KEY, &mut out);
        }
        out
    }

    /// The trace with zxids, times and session ids replaced as the module doc describes.
    pub fn normalized(&self) -> Trace {
        let mut zxids = BTreeSet::new();
        let mut times = BTreeSet::new();
        for (_, value) in &self.entries {
            collect(value, ZXID_KEYS, &mut zxids);
            collect(value, TIME_KEYS, &mut times);
        }
        let zxid_rank: HashMap<i64, usize> =
            zxids.iter().enumerate().map(|(i, z)| (*z, i + 1)).collect();
        let time_rank: HashMap<i64, usize> =
            times.iter().enumerate().map(|(i, t)| (*t, i + 1)).collect();
        let mut sessions = HashMap::new();
        let mut out = Trace::new();
        for (label, value) in &self.entries {
            let mut value = value.clone();
            rewrite(&mut value, &zxid_rank, &time_rank, &mut sessions);
            out.push(label.clone(), value);
        }
        out
    }

    /// One line per entry, for failure messages.
    pub fn render(&self) -> String {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, (label, value))| format!("{i:3} {label}: {value}\n"))
            .collect()
    }
}

fn is_special(n: i64) -> bool {
    n == 0 || n == -1
}

fn strip_key(value: &mut Value, key: &str, out: &mut Vec<i64>) {
    match value {
        Value::Object(map) => {
            if let Some(v) = map.remove(key) {
                out.push(v.as_i64().unwrap_or(i64::MIN));
            }
            map.values_mut().for_each(|v| strip_key(v, key, out));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip_key(v, key, out)),
        _ => {}
    }
}

fn collect(value: &Value, keys: &[&str], into: &mut BTreeSet<i64>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v.as_i64() {
                    Some(n) if keys.contains(&k.as_str()) && !is_special(n) => {
                        into.insert(n);
                    }
                    _ => collect(v, keys, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, keys, into)),
        _ => {}
    }
}

fn rewrite(
    value: &mut Value,
    zxid_rank: &HashMap<i64, usize>,
    time_rank: &HashMap<i64, usize>,
    sessions: &mut HashMap<i64, usize>,
) {
    match value {
        Value::Object(map) => rewrite_map(map, zxid_rank, time_rank, sessions),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| rewrite(v, zxid_rank, time_rank, sessions)),
        _ => {}
    }
}

fn rewrite_map(
    map: &mut Map<String, Value>,
    zxid_rank: &HashMap<i64, usize>,
    time_rank: &HashMap<i64, usize>,
    sessions: &mut HashMap<i64, usize>,
) {
    for (key, v) in map.iter_mut() {
        let n = match v.as_i64() {
            Some(n) if !is_special(n) => n,
            _ => {
                rewrite(v, zxid_rank, time_rank, sessions);
                continue;
            }
        };
        let key = key.as_str();
        if ZXID_KEYS.contains(&key) {
            *v = Value::String(format!("z{}", zxid_rank[&n]));
        } else if TIME_KEYS.contains(&key) {
            // Wall-clock times are compared for presence only: two writes in the same
            // millisecond share a time on one server and not on the other.
            let _ = time_rank;
            *v = Value::String("t".to_owned());
        } else if SESSION_KEYS.contains(&key) {
            let next = sessions.len() + 1;
            let symbol = *sessions.entry(n).or_insert(next);
            *v = Value::String(format!("s{symbol}"));
        }
    }
}

/// Panics with both traces and the first difference unless the normalised traces are equal.
pub fn assert_traces_eq(scenario: &str, reference: &Trace, paddock: &Trace) {
    let left = reference.normalized();
    let right = paddock.normalized();
    if left == right {
        return;
    }
    let first = left
        .entries()
        .iter()
        .zip(right.entries())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| left.entries().len().min(right.entries().len()));
    panic!(
        "scenario {scenario}: traces differ at entry {first}\n--- ZooKeeper (normalised)\n{}--- Paddock (normalised)\n{}",
        left.render(),
        right.render()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The comparison rule of the shared harness facts: zxids and times by rank, sessions by
    // first-seen symbol, 0 and -1 literal.
    #[test]
    fn normalisation_keeps_relations_and_hides_absolute_values() {
        let mut a = Trace::new();
        a.push(
            "create",
            json!({"czxid": 0x105, "mzxid": 0x105, "ctime": 1000, "ephemeral_owner": 77}),
        );
        a.push(
            "set",
            json!({"czxid": 0x105, "mzxid": 0x109, "ctime": 1000, "ephemeral_owner": 0}),
        );
        let mut b = Trace::new();
        b.push(
            "create",
            json!({"czxid": 3, "mzxid": 3, "ctime": 5, "ephemeral_owner": 12345}),
        );
        b.push(
            "set",
            json!({"czxid": 3, "mzxid": 4, "ctime": 5, "ephemeral_owner": 0}),
        );
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.normalized().entries()[1].1["mzxid"], json!("z2"));
        assert_eq!(
            a.normalized().entries()[0].1["ephemeral_owner"],
            json!("s1")
        );
    }

    #[test]
    fn event_zxids_are_taken_out_before_comparison() {
        let mut t = Trace::new();
        t.push("event", json!({"type": "NodeCreated", "event_zxid": -1}));
        assert_eq!(t.take_event_zxids(), vec![-1]);
        assert_eq!(t.entries()[0].1, json!({"type": "NodeCreated"}));
    }
}
