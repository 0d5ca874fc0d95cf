//! The iteration order of Java's `HashSet<String>`, which ZooKeeper exposes to clients: in
//! getChildren (a node's children set), getEphemerals and the order a closing session's
//! ephemerals are deleted (a session's set, cloned).
//!
//! A `HashSet` iterates its table bucket by bucket, and each bucket in insertion order; a
//! resize splits buckets without reordering. So the order of a set is fixed by each element's
//! spread hash, the table capacity the set has grown to (tables never shrink), and the
//! insertion order. Bins that Java turns into trees (8+ collisions in one bucket of a table of
//! 64+) are not modelled: they need adversarial names.

/// `String.hashCode` over UTF-16 code units, then `HashMap.hash`'s spread `h ^ (h >>> 16)`.
pub fn spread_hash(s: &str) -> i32 {
    let h = s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    h ^ ((h as u32) >> 16) as i32
}

/// The capacity of a set that was created with `initial` (a power of two) after it has held
/// `len` elements at once: `HashMap.putVal` doubles the table when the size passes three
/// quarters of it.
pub fn grown_capacity(capacity: u32, initial: u32, len: usize) -> u32 {
    let mut cap = capacity.max(initial);
    while len as u64 > u64::from(cap) * 3 / 4 {
        cap *= 2;
    }
    cap
}

/// The capacity of `set.clone()` for a set of `len` elements on Java 17 (`HashMap.clone` ->
/// `putMapEntries`: `tableSizeFor((int)(len / 0.75f + 1.0f))`). Java 19 and later compute
/// `ceil(len / 0.75)` instead; the reference server runs on Java 17.
pub fn clone_capacity(len: usize) -> u32 {
    let t = (len as f32 / 0.75f32 + 1.0f32) as u32;
    t.max(1).next_power_of_two()
}

/// Sorts `(name, insertion_seq)` pairs into the iteration order of a set with `capacity`.
pub fn order<T>(items: &mut [(T, u64)], capacity: u32, name: impl Fn(&T) -> &str) {
    let mask = capacity.max(1) as i32 - 1;
    items.sort_by_cached_key(|(item, seq)| (spread_hash(name(item)) & mask, *seq));
}

/// Sorts into the iteration order of a clone of a set with `capacity`: the clone re-inserts
/// the source's elements, in the source's order, into a table of `clone_capacity(len)`.
pub fn order_of_clone<T>(items: &mut [(T, u64)], capacity: u32, name: impl Fn(&T) -> &str) {
    let source_mask = capacity.max(1) as i32 - 1;
    let clone_mask = clone_capacity(items.len()) as i32 - 1;
    items.sort_by_cached_key(|(item, seq)| {
        let h = spread_hash(name(item));
        (h & clone_mask, h & source_mask, *seq)
    });
}

/// The iteration order of a clone of a set, given as `listed` (in its iteration order, as
/// `order_of_clone` sorts it), after the elements for which `removed` holds are removed and
/// then `added` (none of them in `listed`) are added in order. Removes keep the table; adds
/// append to their bucket and grow the table past three quarters full, and a resize keeps
/// each bucket's order.
pub fn clone_after_changes(
    listed: Vec<String>,
    removed: impl Fn(&str) -> bool,
    added: Vec<String>,
) -> Vec<String> {
    if added.is_empty() {
        let mut listed = listed;
        listed.retain(|p| !removed(p));
        return listed;
    }
    let clone_cap = clone_capacity(listed.len());
    let kept: Vec<String> = listed.into_iter().filter(|p| !removed(p)).collect();
    let cap = grown_capacity(clone_cap, clone_cap, kept.len() + added.len());
    let mask = cap as i32 - 1;
    let mut all: Vec<(String, (bool, usize))> = kept
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, (false, i)))
        .chain(added.into_iter().enumerate().map(|(i, p)| (p, (true, i))))
        .collect();
    all.sort_by_cached_key(|(p, rank)| (spread_hash(p) & mask, *rank));
    all.into_iter().map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // java.lang.String.hashCode("hello") is 99162322; HashMap.hash spreads it.
    #[test]
    fn spread_hash_matches_java() {
        assert_eq!(spread_hash("hello"), 99162322 ^ (99162322 >> 16));
        assert_eq!(spread_hash(""), 0);
        let long = "x".repeat(30);
        let h = long
            .encode_utf16()
            .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32));
        assert_eq!(spread_hash(&long), h ^ ((h as u32) >> 16) as i32);
    }

    // HashMap.resize: new HashSet<>(8) holds 6, new HashSet<>() holds 12 before doubling.
    #[test]
    fn capacity_doubles_past_three_quarters() {
        assert_eq!(grown_capacity(0, 8, 1), 8);
        assert_eq!(grown_capacity(8, 8, 6), 8);
        assert_eq!(grown_capacity(8, 8, 7), 16);
        assert_eq!(grown_capacity(0, 16, 12), 16);
        assert_eq!(grown_capacity(16, 16, 13), 32);
        assert_eq!(grown_capacity(64, 16, 1), 64, "tables never shrink");
    }

    // HashMap.putMapEntries on Java 17: tableSizeFor((int)(s / 0.75f + 1.0f)).
    #[test]
    fn clone_capacity_follows_java_17() {
        assert_eq!(clone_capacity(1), 2);
        assert_eq!(clone_capacity(3), 8);
        assert_eq!(clone_capacity(12), 32);
        assert_eq!(clone_capacity(11), 16);
    }

    // Golden value from Java 17: a `new HashSet<>()` that held /kz/eph-0..29, lost every
    // fourth, then `new ArrayList<>(set.clone())` (what DataTree.getEphemerals hands out).
    #[test]
    fn clone_order_matches_java_17() {
        let mut capacity = 0;
        let mut items = Vec::new();
        for i in 0..30u64 {
            items.push((format!("/kz/eph-{i}"), i));
            capacity = grown_capacity(capacity, 16, items.len());
        }
        items.retain(|(_, i)| i % 4 != 0);
        order_of_clone(&mut items, capacity, |p| p);
        let got: Vec<&str> = items.iter().map(|(p, _)| p.as_str()).collect();
        let java = "9 6 5 7 2 1 3 29 18 19 27 17 25 14 26 15 23 13 21 10 22 11";
        let want: Vec<String> = java.split(' ').map(|n| format!("/kz/eph-{n}")).collect();
        assert_eq!(got, want);

        let mut two = vec![("/e1".to_owned(), 1), ("/e20000000001".to_owned(), 2)];
        order_of_clone(&mut two, 16, |p| p);
        assert_eq!(two[0].0, "/e20000000001");
    }

    // jshell on Java 17: a HashSet of "/app/e0".."/app/e10" (added in order), cloned, then
    // "/app/e3" and "/app/e7" removed and "/new/n0".."/new/n8" added: 18 elements grow the
    // clone's table of 16 to 32.
    #[test]
    fn a_clone_changed_iterates_as_java_17() {
        let clone = "/app/e0,/app/e1,/app/e2,/app/e3,/app/e4,/app/e10,/app/e5,/app/e6,/app/e7,\
                     /app/e8,/app/e9";
        let listed: Vec<String> = clone.split(',').map(str::to_owned).collect();
        let added = (0..9).map(|i| format!("/new/n{i}")).collect();
        let after = clone_after_changes(listed, |p| p == "/app/e3" || p == "/app/e7", added);
        assert_eq!(
            after.join(","),
            "/app/e0,/new/n0,/app/e1,/new/n1,/app/e2,/new/n2,/new/n3,/app/e4,/new/n4,/app/e5,\
             /new/n5,/app/e6,/new/n6,/new/n7,/new/n8,/app/e10,/app/e8,/app/e9"
        );
    }
}
