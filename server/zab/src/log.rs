//! The in-memory image of the durable transaction log: the entries after `base` (the zxid of
//! the snapshot the log continues, or of the last entry compacted away).

use crate::types::{Entry, Zxid};
use std::collections::VecDeque;

#[derive(Debug, Default)]
pub(crate) struct Log {
    base: Zxid,
    entries: VecDeque<Entry>,
    /// The entries' payload bytes: what the log holds in memory.
    bytes: u64,
}

fn payload_bytes<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> u64 {
    entries.into_iter().map(|e| e.payload.len() as u64).sum()
}

impl Log {
    /// A log continuing the state at `base`. Entries at or below `base` are dropped; the caller
    /// has checked that the rest are strictly increasing.
    pub(crate) fn new(base: Zxid, entries: Vec<Entry>) -> Log {
        let entries: VecDeque<Entry> = entries.into_iter().filter(|e| e.zxid > base).collect();
        let bytes = payload_bytes(&entries);
        Log {
            base,
            entries,
            bytes,
        }
    }

    pub(crate) fn base(&self) -> Zxid {
        self.base
    }

    pub(crate) fn last_zxid(&self) -> Zxid {
        self.entries.back().map_or(self.base, |e| e.zxid)
    }

    pub(crate) fn append(&mut self, entry: Entry) {
        assert!(
            entry.zxid > self.last_zxid(),
            "zxid {} would go backwards after {}",
            entry.zxid,
            self.last_zxid()
        );
        self.bytes += entry.payload.len() as u64;
        self.entries.push_back(entry);
    }

    /// Drops every entry after `zxid`.
    pub(crate) fn truncate_after(&mut self, zxid: Zxid) {
        assert!(
            zxid >= self.base,
            "truncation to {zxid} below the log base {}",
            self.base
        );
        let keep = self.entries.partition_point(|e| e.zxid <= zxid);
        self.bytes -= payload_bytes(self.entries.range(keep..));
        self.entries.truncate(keep);
    }

    /// Forgets everything: the state is now the snapshot at `base`.
    pub(crate) fn reset(&mut self, base: Zxid) {
        self.entries.clear();
        self.bytes = 0;
        self.base = base;
    }

    /// Drops the entries up to `zxid`, which the host's snapshot now covers.
    pub(crate) fn compact(&mut self, zxid: Zxid) {
        let zxid = zxid.min(self.last_zxid());
        if zxid <= self.base {
            return;
        }
        let drop = self.entries.partition_point(|e| e.zxid <= zxid);
        self.bytes -= payload_bytes(self.entries.range(..drop));
        self.entries.drain(..drop);
        self.base = zxid;
    }

    /// Whether `zxid` is the base or an entry of the log.
    pub(crate) fn contains(&self, zxid: Zxid) -> bool {
        zxid == self.base || self.get(zxid).is_some()
    }

    pub(crate) fn get(&self, zxid: Zxid) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.zxid < zxid);
        self.entries.get(i).filter(|e| e.zxid == zxid)
    }

    /// The largest zxid of the log (or the base) below `zxid`.
    pub(crate) fn prev_before(&self, zxid: Zxid) -> Zxid {
        let i = self.entries.partition_point(|e| e.zxid < zxid);
        if i == 0 {
            self.base
        } else {
            self.entries[i - 1].zxid
        }
    }

    /// The entries in `(after, up_to]`.
    pub(crate) fn range(&self, after: Zxid, up_to: Zxid) -> impl Iterator<Item = &Entry> {
        let start = self.entries.partition_point(|e| e.zxid <= after);
        let end = self.entries.partition_point(|e| e.zxid <= up_to).max(start);
        self.entries.range(start..end)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The bytes of the entries' payloads.
    pub(crate) fn bytes(&self) -> u64 {
        debug_assert_eq!(self.bytes, payload_bytes(&self.entries));
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(zxid: u64, len: usize) -> Entry {
        Entry {
            zxid: Zxid(zxid),
            payload: Bytes::from(vec![0; len]),
        }
    }

    #[test]
    fn the_log_counts_the_bytes_it_holds() {
        let mut log = Log::new(Zxid(1), vec![entry(1, 1000), entry(2, 10), entry(3, 20)]);
        assert_eq!(log.bytes(), 30, "entries at or below the base are dropped");
        log.append(entry(4, 40));
        log.append(entry(5, 50));
        assert_eq!(log.bytes(), 120);
        log.truncate_after(Zxid(4));
        assert_eq!(log.bytes(), 70);
        log.compact(Zxid(3));
        assert_eq!((log.bytes(), log.len()), (40, 1));
        log.reset(Zxid(9));
        assert_eq!(log.bytes(), 0);
    }
}
