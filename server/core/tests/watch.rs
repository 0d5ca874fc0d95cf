//! Watch tables against ZooKeeper 3.9 (`WatchManager`, `WatchStats`, `PathParentIterator`,
//! `DataTree.addWatch` / `containsWatcher` / `removeWatch` / `createNode` / `deleteNode`).

use paddock_core::watch::{WatchManager, WatchSummary};
use paddock_jute::{AddWatchMode, EventType, WatcherType};

const NONE: Vec<u64> = Vec::new();

// WatchManager.triggerWatch: one-shot watches fire once and are removed.
#[test]
fn one_shot_data_watch_fires_once() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_data_watch("/a", 2);
    assert_eq!(w.watch_count(), 2);
    assert_eq!(w.trigger("/a", EventType::NodeDataChanged), vec![1, 2]);
    assert_eq!(w.trigger("/a", EventType::NodeDataChanged), NONE);
    assert_eq!(w.watch_count(), 0);
}

// DataTree.createNode/setData fire the data table, the parent's NodeChildrenChanged fires
// the child table: the tables do not see each other's events.
#[test]
fn events_fire_their_own_table() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/a", 2);
    assert_eq!(w.trigger("/a", EventType::NodeChildrenChanged), vec![2]);
    assert_eq!(w.trigger("/a", EventType::NodeCreated), vec![1]);
    assert_eq!(w.watch_count(), 0);
    w.add_child_watch("/a", 2);
    assert_eq!(w.trigger("/a", EventType::NodeDataChanged), NONE);
    assert_eq!(w.trigger("/a", EventType::None), NONE);
    assert_eq!(w.watch_count(), 1);
}

// DataTree.deleteNode: NodeDeleted fires the data table, then the child table suppressing
// the watchers already notified; the suppressed one-shot child watch is still consumed.
#[test]
fn node_deleted_notifies_each_connection_once_across_tables() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/a", 1);
    w.add_child_watch("/a", 3);
    w.add_data_watch("/a", 2);
    assert_eq!(w.trigger("/a", EventType::NodeDeleted), vec![1, 2, 3]);
    assert_eq!(w.watch_count(), 0);
    assert!(!w.contains("/a", 1, WatcherType::Children));
}

// WatchManager.triggerWatch with PathParentIterator: recursive watches fire for the path and
// every descendant, at any depth, for created, changed and deleted; persistent and one-shot
// watches on ancestors do not.
#[test]
fn recursive_watch_fires_for_deep_descendants() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/", 1, AddWatchMode::PersistentRecursive);
    w.add_persistent_watch("/a", 2, AddWatchMode::PersistentRecursive);
    w.add_persistent_watch("/a/b", 3, AddWatchMode::Persistent);
    w.add_data_watch("/a/b", 4);
    let deep = "/a/b/c/d/e/f/g/h";
    assert_eq!(w.trigger(deep, EventType::NodeCreated), vec![1, 2]);
    assert_eq!(w.trigger(deep, EventType::NodeDataChanged), vec![1, 2]);
    assert_eq!(w.trigger(deep, EventType::NodeDeleted), vec![1, 2]);
    assert_eq!(
        w.trigger("/a/b", EventType::NodeDataChanged),
        vec![1, 2, 3, 4]
    );
    assert_eq!(w.trigger("/ab", EventType::NodeCreated), vec![1]);
    assert_eq!(w.trigger("/", EventType::NodeDataChanged), vec![1]);
}

// DataTree.addWatch puts PERSISTENT_RECURSIVE only in the data table, so NodeChildrenChanged
// (child table only) never reaches a recursive watcher, on the path or below.
#[test]
fn recursive_watch_never_gets_children_changed() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/a", 1, AddWatchMode::PersistentRecursive);
    assert_eq!(w.trigger("/a", EventType::NodeChildrenChanged), NONE);
    assert_eq!(w.trigger("/a/b", EventType::NodeChildrenChanged), NONE);
    assert_eq!(w.watch_count(), 1);
}

// DataTree.addWatch: PERSISTENT goes in both tables and survives triggers.
#[test]
fn persistent_watch_stays_and_sees_both_tables() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/a", 1, AddWatchMode::Persistent);
    assert_eq!(w.watch_count(), 2);
    assert_eq!(w.trigger("/a", EventType::NodeChildrenChanged), vec![1]);
    assert_eq!(w.trigger("/a", EventType::NodeDataChanged), vec![1]);
    assert_eq!(w.trigger("/a", EventType::NodeDeleted), vec![1]);
    assert_eq!(w.trigger("/a/b", EventType::NodeCreated), NONE);
    assert_eq!(w.watch_count(), 2);
}

// WatchStats: one connection holds a one-shot and a persistent mode on one path as a single
// registration; a trigger consumes only the one-shot mode, in either order of adding.
#[test]
fn one_shot_and_persistent_on_same_path_coexist() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/a", 1, AddWatchMode::Persistent);
    w.add_data_watch("/a", 1);
    w.add_persistent_watch("/b", 1, AddWatchMode::PersistentRecursive);
    w.add_data_watch("/b", 1);
    w.add_persistent_watch("/b", 1, AddWatchMode::PersistentRecursive);
    // /a in both tables, /b in the data table: modes do not add registrations.
    assert_eq!(w.watch_count(), 3);
    assert!(w.contains("/a", 1, WatcherType::Data));
    assert_eq!(w.trigger("/a", EventType::NodeDataChanged), vec![1]);
    assert!(!w.contains("/a", 1, WatcherType::Data));
    assert!(w.contains("/a", 1, WatcherType::Persistent));
    assert_eq!(w.trigger("/b", EventType::NodeDataChanged), vec![1]);
    assert!(!w.contains("/b", 1, WatcherType::Data));
    assert!(w.contains("/b", 1, WatcherType::PersistentRecursive));
    assert_eq!(w.watch_count(), 3);
}

// DataTree.containsWatcher: Children/Data see only one-shots; Persistent and
// PersistentRecursive look in the data table; Any sees every mode.
#[test]
fn contains_follows_data_tree_contains_watcher() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/p", 1, AddWatchMode::Persistent);
    w.add_persistent_watch("/r", 1, AddWatchMode::PersistentRecursive);
    w.add_child_watch("/c", 1);
    w.add_data_watch("/d", 1);
    let kinds = [
        WatcherType::Children,
        WatcherType::Data,
        WatcherType::Any,
        WatcherType::Persistent,
        WatcherType::PersistentRecursive,
    ];
    let row = |w: &WatchManager, path: &str| kinds.map(|kind| w.contains(path, 1, kind));
    assert_eq!(row(&w, "/p"), [false, false, true, true, false]);
    assert_eq!(row(&w, "/r"), [false, false, true, false, true]);
    assert_eq!(row(&w, "/c"), [true, false, true, false, false]);
    assert_eq!(row(&w, "/d"), [false, true, true, false, false]);
    assert_eq!(row(&w, "/none"), [false; 5]);
    assert!(!w.contains("/p", 2, WatcherType::Any));
}

// DataTree.removeWatch (ZOOKEEPER-4471): Data and Children remove only one-shots, so they do
// not touch a persistent watch.
#[test]
fn remove_data_or_children_leaves_persistent_watches() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/p", 1, AddWatchMode::Persistent);
    w.add_persistent_watch("/r", 1, AddWatchMode::PersistentRecursive);
    assert!(!w.remove("/p", 1, WatcherType::Data));
    assert!(!w.remove("/p", 1, WatcherType::Children));
    assert!(!w.remove("/r", 1, WatcherType::Data));
    assert_eq!(w.watch_count(), 3);
    w.add_data_watch("/p", 1);
    assert!(w.remove("/p", 1, WatcherType::Data));
    assert!(w.contains("/p", 1, WatcherType::Persistent));
}

// DataTree.removeWatch: Persistent removes the persistent mode from both tables, and only
// that mode; PersistentRecursive removes the recursive mode.
#[test]
fn remove_persistent_kinds() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/p", 1, AddWatchMode::Persistent);
    w.add_child_watch("/p", 1);
    assert!(!w.remove("/p", 1, WatcherType::PersistentRecursive));
    assert!(w.remove("/p", 1, WatcherType::Persistent));
    assert!(!w.remove("/p", 1, WatcherType::Persistent));
    assert_eq!(w.watch_count(), 1);
    assert!(w.contains("/p", 1, WatcherType::Children));
    w.add_persistent_watch("/r", 2, AddWatchMode::PersistentRecursive);
    assert!(!w.remove("/r", 2, WatcherType::Persistent));
    assert!(w.remove("/r", 2, WatcherType::PersistentRecursive));
    // With no recursive watch left, descendants notify nobody.
    assert_eq!(w.trigger("/r/x", EventType::NodeCreated), NONE);
}

// DataTree.removeWatch with Any removes every mode from both tables; nothing to remove is
// false (the server answers NOWATCHER).
#[test]
fn remove_any_removes_everything_on_the_path() {
    let mut w = WatchManager::new();
    w.add_persistent_watch("/a", 1, AddWatchMode::Persistent);
    w.add_persistent_watch("/a", 1, AddWatchMode::PersistentRecursive);
    w.add_data_watch("/a", 1);
    w.add_child_watch("/a", 1);
    w.add_data_watch("/a", 2);
    assert!(w.remove("/a", 1, WatcherType::Any));
    assert!(!w.remove("/a", 1, WatcherType::Any));
    assert!(!w.contains("/a", 1, WatcherType::Any));
    assert_eq!(w.watch_count(), 1);
    assert_eq!(w.trigger("/a/b", EventType::NodeCreated), NONE);
    assert!(!w.remove("/b", 2, WatcherType::Any));
}

// WatchManager.removeWatcher(watcher): a closed connection loses every watch.
#[test]
fn remove_conn_drops_all_watches() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/b", 1);
    w.add_persistent_watch("/", 1, AddWatchMode::PersistentRecursive);
    w.add_data_watch("/a", 2);
    w.remove_conn(1);
    assert_eq!(w.watch_count(), 1);
    assert_eq!(w.trigger("/a", EventType::NodeDeleted), vec![2]);
    assert_eq!(w.trigger("/z", EventType::NodeCreated), NONE);
}

// DataTree.getWatchCount counts (path, watcher) pairs of both tables; the wchc/wchp/wchs
// dumps (DataTree.dumpWatches, getWatchesSummary) show the data table only.
#[test]
fn dumps_show_data_table_and_count_shows_both() {
    let mut w = WatchManager::new();
    w.add_data_watch("/b", 1);
    w.add_data_watch("/a", 1);
    w.add_data_watch("/a", 2);
    w.add_child_watch("/c", 2);
    w.add_persistent_watch("/p", 3, AddWatchMode::Persistent);
    assert_eq!(w.watch_count(), 6);
    assert_eq!(w.paths_of(1), ["/a", "/b"]);
    assert_eq!(w.paths_of(2), ["/a"]);
    assert_eq!(
        w.by_path(),
        vec![
            ("/a".to_string(), vec![1, 2]),
            ("/b".to_string(), vec![1]),
            ("/p".to_string(), vec![3])
        ]
    );
    assert_eq!(
        w.summary(),
        WatchSummary {
            connections: 3,
            paths: 3,
            watches: 4
        }
    );
    assert_eq!(w.by_conn().len(), 3);
}

// Many watches on distinct paths stay consistent through add, trigger and remove.
#[test]
fn many_paths_round_trip() {
    let mut w = WatchManager::new();
    for i in 0..10_000u64 {
        let path = format!("/n{i}");
        w.add_data_watch(&path, i % 7);
        w.add_child_watch(&path, i % 5);
    }
    assert_eq!(w.watch_count(), 20_000);
    for i in 0..10_000u64 {
        let fired = w.trigger(&format!("/n{i}"), EventType::NodeDeleted);
        let mut expected = vec![i % 7, i % 5];
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(fired, expected);
    }
    assert_eq!(w.watch_count(), 0);
    assert!(w.by_path().is_empty());
}
