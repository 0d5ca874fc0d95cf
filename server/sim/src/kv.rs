//! The replicated state machine the simulator runs on top of ZAB: a map of keys to values with
//! versions and a sequence counter, fed by payloads like "3 17 set k4 v9" (client 3, its 17th
//! write) or "3 18 seq" (create-sequential). Every apply extends a hash chain, so two members
//! with equal chains at equal positions hold equal states.

use bytes::Bytes;
use paddock_zab::{Entry, Snapshot, Zxid};
use std::collections::BTreeMap;

/// FNV-1a, 64 bits: deterministic and dependency-free.
pub fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Who wrote a payload: (client id, client sequence number).
pub type WriteId = (u32, u64);

pub fn encode_set(client: u32, seq: u64, key: u32, value: u64) -> Bytes {
    Bytes::from(format!("{client} {seq} set k{key} v{value}"))
}

pub fn encode_seq(client: u32, seq: u64) -> Bytes {
    Bytes::from(format!("{client} {seq} seq"))
}

/// A `sync` a client issued at a learner: never logged, only passed through the leader's
/// barrier and back.
pub fn encode_sync(client: u32, seq: u64) -> Bytes {
    Bytes::from(format!("{client} {seq} sync"))
}

pub fn is_sync(payload: &[u8]) -> bool {
    payload.ends_with(b" sync")
}

/// The writer of a payload, if it parses.
pub fn write_id(payload: &[u8]) -> Option<WriteId> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.split_whitespace();
    let client = words.next()?.parse().ok()?;
    let seq = words.next()?.parse().ok()?;
    Some((client, seq))
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    pub map: BTreeMap<String, (String, u64)>,
    pub sequence: u64,
    pub applied_zxid: Zxid,
    /// Number of entries applied since the empty state: the position in the committed history.
    pub count: u64,
    pub chain: u64,
}

impl Kv {
    /// Applies one committed entry; `Err` when the zxid does not increase.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        if entry.zxid <= self.applied_zxid {
            return Err(format!(
                "applied {} after {}",
                entry.zxid, self.applied_zxid
            ));
        }
        let text = String::from_utf8_lossy(&entry.payload);
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [_, _, "set", key, value] => {
                let version = self.map.get(*key).map_or(0, |(_, v)| v + 1);
                self.map
                    .insert(key.to_string(), (value.to_string(), version));
            }
            [_, _, "seq"] => self.sequence += 1,
            _ => {}
        }
        self.applied_zxid = entry.zxid;
        self.count += 1;
        self.chain = chain(self.chain, entry);
        Ok(())
    }

    pub fn to_snapshot(&self) -> Snapshot {
        let mut text = format!(
            "{} {} {} {}\n",
            self.applied_zxid.0, self.count, self.chain, self.sequence
        );
        for (k, (v, version)) in &self.map {
            text.push_str(&format!("{k} {v} {version}\n"));
        }
        Snapshot {
            zxid: self.applied_zxid,
            data: Bytes::from(text),
        }
    }

    pub fn from_snapshot(snapshot: &Snapshot) -> Option<Kv> {
        let text = std::str::from_utf8(&snapshot.data).ok()?;
        let mut lines = text.lines();
        let head: Vec<u64> = lines
            .next()?
            .split_whitespace()
            .map(|w| w.parse().ok())
            .collect::<Option<_>>()?;
        let [zxid, count, chain, sequence] = head.as_slice() else {
            return None;
        };
        let mut map = BTreeMap::new();
        for line in lines {
            let w: Vec<&str> = line.split_whitespace().collect();
            let [k, v, version] = w.as_slice() else {
                return None;
            };
            map.insert(k.to_string(), (v.to_string(), version.parse().ok()?));
        }
        Some(Kv {
            map,
            sequence: *sequence,
            applied_zxid: Zxid(*zxid),
            count: *count,
            chain: *chain,
        })
    }
}

/// The hash chain after `entry`.
pub fn chain(prev: u64, entry: &Entry) -> u64 {
    fnv(fnv(prev, &entry.zxid.0.to_le_bytes()), &entry.payload)
}
