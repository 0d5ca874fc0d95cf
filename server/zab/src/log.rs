//! The in-memory image of the durable transaction log: the entries after `base` (the zxid of
//! the snapshot the log continues, or of the last entry compacted away).

use crate::types::{Entry, Zxid};
use std::collections::VecDeque;

#[derive(Debug, Default)]
pub(crate) struct Log {
    base: Zxid,
    entries: VecDeque<Entry>,
}

impl Log {
    /// A log continuing the state at `base`. Entries at or below `base` are dropped; the caller
    /// has checked that the rest are strictly increasing.
    pub(crate) fn new(base: Zxid, entries: Vec<Entry>) -> Log {
        let entries = entries.into_iter().filter(|e| e.zxid > base).collect();
        Log { base, entries }
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
        self.entries.truncate(keep);
    }

    /// Forgets everything: the state is now the snapshot at `base`.
    pub(crate) fn reset(&mut self, base: Zxid) {
        self.entries.clear();
        self.base = base;
    }

    /// Drops the entries up to `zxid`, which the host's snapshot now covers.
    pub(crate) fn compact(&mut self, zxid: Zxid) {
        let zxid = zxid.min(self.last_zxid());
        if zxid <= self.base {
            return;
        }
        let drop = self.entries.partition_point(|e| e.zxid <= zxid);
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
}
