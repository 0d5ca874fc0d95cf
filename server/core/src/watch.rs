//! Watch tables (`WatchManager`, `WatchStats`, `DataTree`'s watch calls): standard one-shot
//! data and child watches, persistent watches in both tables, persistent-recursive watches
//! that fire for a whole subtree.
//!
//! As in ZooKeeper 3.9 there are two tables, data and child. Each keeps, per path, the
//! connections watching it, and per (connection, path) a set of modes (`WatchStats`): one
//! connection can hold a one-shot and a persistent watch on the same path at once, and a
//! trigger consumes only the one-shot mode. Paths are shared `Arc<str>`s, one per path across
//! both tables and both directions of each table.
//!
//! Where ZooKeeper iterates hash sets (the watchers notified by one trigger, the `wchc`/`wchp`
//! dumps), this module returns connections ascending and paths sorted.

use crate::fasthash::{HashMap, HashSet};
use std::sync::Arc;

use paddock_jute::{AddWatchMode, EventType, WatcherType};

use crate::ConnId;

/// The watch modes one connection holds on one path (`WatchStats` flags, one bit per
/// `WatcherMode`).
type Modes = u8;
const STANDARD: Modes = 1;
const PERSISTENT: Modes = 2;
const PERSISTENT_RECURSIVE: Modes = 4;

/// One `WatchManager`.
#[derive(Debug, Default)]
struct Table {
    /// `watchTable` merged with the modes of `watch2Paths`: path to its watchers and their
    /// modes, sorted by connection.
    by_path: HashMap<Arc<str>, Vec<(ConnId, Modes)>>,
    /// `watch2Paths` without the modes: the paths each connection watches.
    by_conn: HashMap<ConnId, HashSet<Arc<str>>>,
    /// `recursiveWatchQty`: when zero, triggers skip walking the ancestors.
    recursive: usize,
    /// Number of (path, connection) pairs (`WatchManager.size`).
    pairs: usize,
}

impl Table {
    /// `WatchManager.addWatch(path, watcher, mode)`.
    fn add(&mut self, path: Arc<str>, conn: ConnId, mode: Modes) {
        let watchers = self.by_path.entry(path.clone()).or_default();
        match watchers.binary_search_by_key(&conn, |&(c, _)| c) {
            Ok(i) => {
                let old = watchers[i].1;
                watchers[i].1 |= mode;
                if old & mode == 0 && mode == PERSISTENT_RECURSIVE {
                    self.recursive += 1;
                }
            }
            Err(i) => {
                watchers.insert(i, (conn, mode));
                self.pairs += 1;
                if mode == PERSISTENT_RECURSIVE {
                    self.recursive += 1;
                }
                self.by_conn.entry(conn).or_default().insert(path);
            }
        }
    }

    fn modes(&self, path: &str, conn: ConnId) -> Modes {
        let Some(watchers) = self.by_path.get(path) else {
            return 0;
        };
        match watchers.binary_search_by_key(&conn, |&(c, _)| c) {
            Ok(i) => watchers[i].1,
            Err(_) => 0,
        }
    }

    /// `WatchManager.triggerWatch`: every watcher on `path` fires and loses its one-shot mode;
    /// on ancestors only recursive watchers fire. Returns the notified connections, ascending
    /// and each once.
    fn trigger(&mut self, path: &str) -> Vec<ConnId> {
        let mut fired = Vec::new();
        if let Some(watchers) = self.by_path.get_mut(path) {
            fired.extend(watchers.iter().map(|&(conn, _)| conn));
            let mut consumed = Vec::new();
            watchers.retain_mut(|(conn, modes)| {
                *modes &= !STANDARD;
                if *modes == 0 {
                    consumed.push(*conn);
                }
                *modes != 0
            });
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
            for conn in consumed {
                self.forget_path_of(conn, path);
            }
        }
        if self.recursive > 0 {
            for ancestor in ancestors(path) {
                let Some(watchers) = self.by_path.get(ancestor) else {
                    continue;
                };
                fired.extend(
                    watchers
                        .iter()
                        .filter(|&&(_, modes)| modes & PERSISTENT_RECURSIVE != 0)
                        .map(|&(conn, _)| conn),
                );
            }
        }
        fired.sort_unstable();
        fired.dedup();
        fired
    }

    /// `WatchManager.removeWatcher(path, watcher, mode)`; `None` removes every mode. True if
    /// the connection's modes on `path` changed.
    fn remove(&mut self, path: &str, conn: ConnId, mode: Option<Modes>) -> bool {
        if !self.by_conn.contains_key(&conn) {
            return false;
        }
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Ok(i) = watchers.binary_search_by_key(&conn, |&(c, _)| c) else {
            return false;
        };
        let old = watchers[i].1;
        let new = mode.map_or(0, |mode| old & !mode);
        if new == old {
            return false;
        }
        if old & PERSISTENT_RECURSIVE != 0 && new & PERSISTENT_RECURSIVE == 0 {
            self.recursive -= 1;
        }
        if new != 0 {
            watchers[i].1 = new;
            return true;
        }
        watchers.remove(i);
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        self.forget_path_of(conn, path);
        true
    }

    /// `WatchManager.removeWatcher(watcher)`: drops every watch of a closed connection.
    fn remove_conn(&mut self, conn: ConnId) {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return;
        };
        for path in paths {
            let Some(watchers) = self.by_path.get_mut(&path) else {
                continue;
            };
            if let Ok(i) = watchers.binary_search_by_key(&conn, |&(c, _)| c) {
                if watchers[i].1 & PERSISTENT_RECURSIVE != 0 {
                    self.recursive -= 1;
                }
                watchers.remove(i);
                self.pairs -= 1;
            }
            if watchers.is_empty() {
                self.by_path.remove(&path);
            }
        }
    }

    /// Removes `path` from `conn`'s set after its last mode on `path` went away.
    fn forget_path_of(&mut self, conn: ConnId, path: &str) {
        self.pairs -= 1;
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
    }

    fn interned(&self, path: &str) -> Option<Arc<str>> {
        self.by_path.get_key_value(path).map(|(key, _)| key.clone())
    }
}

/// `PathParentIterator` past its first element: the parents of `path` up to `/`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = if path == "/" { None } else { Some(path) };
    std::iter::from_fn(move || {
        let current = rest?;
        let cut = current.rfind('/')?;
        let parent = if cut == 0 { "/" } else { &current[..cut] };
        rest = if parent == "/" { None } else { Some(parent) };
        Some(parent)
    })
}

/// The watch tables of a server.
#[derive(Debug, Default)]
pub struct WatchManager {
    /// `DataTree.dataWatches`: getData/exists one-shots, persistent, persistent-recursive.
    data: Table,
    /// `DataTree.childWatches`: getChildren one-shots and persistent.
    child: Table,
}

impl WatchManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// A one-shot watch from getData or exists (the data table).
    pub fn add_data_watch(&mut self, path: &str, conn: ConnId) {
        let path = self.intern(path);
        self.data.add(path, conn, STANDARD);
    }

    /// A one-shot watch from getChildren (the child table).
    pub fn add_child_watch(&mut self, path: &str, conn: ConnId) {
        let path = self.intern(path);
        self.child.add(path, conn, STANDARD);
    }

    /// addWatch: PERSISTENT goes in both tables, PERSISTENT_RECURSIVE in the data table
    /// (`DataTree.addWatch`).
    pub fn add_persistent_watch(&mut self, path: &str, conn: ConnId, mode: AddWatchMode) {
        let path = self.intern(path);
        match mode {
            AddWatchMode::Persistent => {
                self.data.add(path.clone(), conn, PERSISTENT);
                self.child.add(path, conn, PERSISTENT);
            }
            AddWatchMode::PersistentRecursive => self.data.add(path, conn, PERSISTENT_RECURSIVE),
        }
    }

    /// Fires `event` at `path` and returns each connection to notify, once, in a stable order.
    /// NodeCreated and NodeDataChanged fire the data table; NodeDeleted fires the data and the
    /// child table; NodeChildrenChanged fires the child table. Recursive watches on `path` or
    /// any ancestor fire for every type but NodeChildrenChanged. One-shot watches that fired
    /// are removed; persistent ones stay.
    ///
    /// The order is ascending `ConnId`. For NodeDeleted a connection notified by the data
    /// table is not notified again by the child table, but its one-shot child watch is still
    /// consumed (`DataTree.deleteNode` passes the first result as the suppress set).
    /// NodeChildrenChanged reaches no recursive watcher because those live only in the data
    /// table. Other event types notify nobody.
    pub fn trigger(&mut self, path: &str, event: EventType) -> Vec<ConnId> {
        match event {
            EventType::NodeCreated | EventType::NodeDataChanged => self.data.trigger(path),
            EventType::NodeChildrenChanged => self.child.trigger(path),
            EventType::NodeDeleted => {
                let mut fired = self.data.trigger(path);
                fired.extend(self.child.trigger(path));
                fired.sort_unstable();
                fired.dedup();
                fired
            }
            _ => Vec::new(),
        }
    }

    /// checkWatches: does `conn` hold a watch of `kind` on `path`? (`DataTree.containsWatcher`:
    /// Children and Data look for one-shots only, Persistent and PersistentRecursive look in
    /// the data table, Any for any mode in either table.)
    pub fn contains(&self, path: &str, conn: ConnId, kind: WatcherType) -> bool {
        match kind {
            WatcherType::Children => self.child.modes(path, conn) & STANDARD != 0,
            WatcherType::Data => self.data.modes(path, conn) & STANDARD != 0,
            WatcherType::Persistent => self.data.modes(path, conn) & PERSISTENT != 0,
            WatcherType::PersistentRecursive => {
                self.data.modes(path, conn) & PERSISTENT_RECURSIVE != 0
            }
            WatcherType::Any => {
                self.child.modes(path, conn) != 0 || self.data.modes(path, conn) != 0
            }
        }
    }

    /// removeWatches: removes `conn`'s watches of `kind` on `path`; false if there were none.
    /// (`DataTree.removeWatch`: Children and Data remove only the one-shot mode of their
    /// table, Persistent the persistent mode of both tables, PersistentRecursive the
    /// recursive mode, Any every mode of both tables.)
    pub fn remove(&mut self, path: &str, conn: ConnId, kind: WatcherType) -> bool {
        match kind {
            WatcherType::Children => self.child.remove(path, conn, Some(STANDARD)),
            WatcherType::Data => self.data.remove(path, conn, Some(STANDARD)),
            WatcherType::Persistent => {
                let child = self.child.remove(path, conn, Some(PERSISTENT));
                let data = self.data.remove(path, conn, Some(PERSISTENT));
                child || data
            }
            WatcherType::PersistentRecursive => {
                self.data.remove(path, conn, Some(PERSISTENT_RECURSIVE))
            }
            WatcherType::Any => {
                let child = self.child.remove(path, conn, None);
                let data = self.data.remove(path, conn, None);
                child || data
            }
        }
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// Number of (path, connection) watch registrations, as `watch_count` counts them
    /// (`DataTree.getWatchCount`: the data table plus the child table).
    pub fn watch_count(&self) -> usize {
        self.data.pairs + self.child.pairs
    }

    /// Paths watched by `conn`, sorted (for `wchc`). Like ZooKeeper's `DataTree.dumpWatches`,
    /// this lists the data table only: getChildren watches do not appear.
    pub fn paths_of(&self, conn: ConnId) -> Vec<String> {
        let Some(paths) = self.data.by_conn.get(&conn) else {
            return Vec::new();
        };
        let mut paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        paths.sort_unstable();
        paths
    }

    /// Connections watching each path, sorted by path (for `wchp`). Data table only, as
    /// `DataTree.dumpWatches` and `getWatchesByPath`.
    pub fn by_path(&self) -> Vec<(String, Vec<ConnId>)> {
        let mut rows: Vec<(String, Vec<ConnId>)> = self
            .data
            .by_path
            .iter()
            .map(|(path, watchers)| (path.to_string(), watchers.iter().map(|&(c, _)| c).collect()))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// Connections in `paths_of` order, each with its data-table paths (for `wchc`), sorted by
    /// connection.
    pub fn by_conn(&self) -> Vec<(ConnId, Vec<String>)> {
        let mut conns: Vec<ConnId> = self.data.by_conn.keys().copied().collect();
        conns.sort_unstable();
        conns
            .into_iter()
            .map(|conn| (conn, self.paths_of(conn)))
            .collect()
    }

    /// `wchs` (`WatchManager.toString` / `getWatchesSummary` of the data table): connections
    /// watching, paths watched, total watches.
    pub fn summary(&self) -> WatchSummary {
        WatchSummary {
            connections: self.data.by_conn.len(),
            paths: self.data.by_path.len(),
            watches: self.data.pairs,
        }
    }

    /// One shared `Arc<str>` per path across both tables.
    fn intern(&self, path: &str) -> Arc<str> {
        self.data
            .interned(path)
            .or_else(|| self.child.interned(path))
            .unwrap_or_else(|| path.into())
    }
}

/// What `wchs` reports: `<connections> connections watching <paths> paths` and
/// `Total watches:<watches>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    pub connections: usize,
    pub paths: usize,
    pub watches: usize,
}
