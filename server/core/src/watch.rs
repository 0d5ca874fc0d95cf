//! Watch tables (`WatchManager`, `WatcherModeManager`): standard one-shot data and child
//! watches, persistent watches in both tables, persistent-recursive watches that fire for a
//! whole subtree.
//!
//! STUB: signatures fixed; bodies to be written.

use paddock_jute::{AddWatchMode, EventType, WatcherType};

use crate::ConnId;

/// The watch tables of a server.
#[derive(Debug, Default)]
pub struct WatchManager {}

impl WatchManager {
    pub fn new() -> Self {
        unimplemented!()
    }

    /// A one-shot watch from getData or exists (the data table).
    pub fn add_data_watch(&mut self, path: &str, conn: ConnId) {
        let _ = (path, conn);
        unimplemented!()
    }

    /// A one-shot watch from getChildren (the child table).
    pub fn add_child_watch(&mut self, path: &str, conn: ConnId) {
        let _ = (path, conn);
        unimplemented!()
    }

    /// addWatch: PERSISTENT goes in both tables, PERSISTENT_RECURSIVE in the data table.
    pub fn add_persistent_watch(&mut self, path: &str, conn: ConnId, mode: AddWatchMode) {
        let _ = (path, conn, mode);
        unimplemented!()
    }

    /// Fires `event` at `path` and returns each connection to notify, once, in a stable order.
    /// NodeCreated and NodeDataChanged fire the data table; NodeDeleted fires the data and the
    /// child table; NodeChildrenChanged fires the child table. Recursive watches on `path` or
    /// any ancestor fire for every type but NodeChildrenChanged. One-shot watches that fired
    /// are removed; persistent ones stay.
    pub fn trigger(&mut self, path: &str, event: EventType) -> Vec<ConnId> {
        let _ = (path, event);
        unimplemented!()
    }

    /// checkWatches: does `conn` hold a watch of `kind` on `path`?
    pub fn contains(&self, path: &str, conn: ConnId, kind: WatcherType) -> bool {
        let _ = (path, conn, kind);
        unimplemented!()
    }

    /// removeWatches: removes `conn`'s watches of `kind` on `path`; false if there were none.
    pub fn remove(&mut self, path: &str, conn: ConnId, kind: WatcherType) -> bool {
        let _ = (path, conn, kind);
        unimplemented!()
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        let _ = conn;
        unimplemented!()
    }

    /// Number of (path, connection) watch registrations, as `watch_count` counts them.
    pub fn watch_count(&self) -> usize {
        unimplemented!()
    }

    /// Paths watched by `conn`, sorted (for `wchc`).
    pub fn paths_of(&self, conn: ConnId) -> Vec<String> {
        let _ = conn;
        unimplemented!()
    }

    /// Connections watching each path, sorted by path (for `wchp`).
    pub fn by_path(&self) -> Vec<(String, Vec<ConnId>)> {
        unimplemented!()
    }
}
