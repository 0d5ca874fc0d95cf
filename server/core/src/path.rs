//! Znode paths: ZooKeeper's validation rules (`PathUtils.validatePath`) and the parent/name
//! split the data tree uses.
//!
//! ZooKeeper checks characters as Java `char`s, that is UTF-16 code units, and reports
//! positions in those units. Every character outside the Basic Multilingual Plane is a
//! surrogate pair in Java, and surrogates fall in the forbidden `\uD800-\uF8FF` range, so such a
//! character is rejected here too, at the UTF-16 index of its first unit.

use thiserror::Error;

/// Why a path is invalid, worded as ZooKeeper's `IllegalArgumentException` message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    #[error("Path length must be > 0")]
    Empty,
    #[error("Path must start with / character")]
    NoLeadingSlash,
    #[error("Path must not end with / character")]
    TrailingSlash,
    /// `reason` is e.g. `empty node name specified @3`.
    #[error("Invalid path string \"{path}\" caused by {reason}")]
    Invalid { path: String, reason: String },
}

/// `PathUtils.validatePath`: absolute, no empty, `.` or `..` component, no trailing slash, no
/// control, private-use or surrogate character.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NoLeadingSlash);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    match first_invalid(path) {
        None => Ok(()),
        Some(reason) => Err(PathError::Invalid {
            path: path.to_owned(),
            reason,
        }),
    }
}

/// Walks the path as ZooKeeper does (skipping the leading slash) and returns the reason for
/// the first offending character. An ASCII path is its own UTF-16 (one unit per byte), so
/// the common case walks the bytes without converting.
fn first_invalid(path: &str) -> Option<String> {
    if plainly_valid(path.as_bytes()) {
        return None;
    }
    if path.is_ascii() {
        first_invalid_unit(path.as_bytes())
    } else {
        first_invalid_unit(&path.encode_utf16().collect::<Vec<u16>>())
    }
}

/// Printable ASCII in which no `/` is followed by `/` or `.`: no empty, `.` or `..`
/// component and no forbidden character, so valid without the full walk below. Nearly every
/// path is this; every request's path is checked.
fn plainly_valid(bytes: &[u8]) -> bool {
    let mut last = b'/';
    for &b in bytes.iter().skip(1) {
        if !(0x20..0x7f).contains(&b) || (last == b'/' && (b == b'/' || b == b'.')) {
            return false;
        }
        last = b;
    }
    true
}

fn first_invalid_unit<U: Copy + Into<u16>>(units: &[U]) -> Option<String> {
    let unit = |i: usize| -> u16 { units[i].into() };
    let dot = u16::from(b'.');
    let slash = u16::from(b'/');
    let mut lastc = slash;
    for i in 1..units.len() {
        let c = unit(i);
        let ends_component = i + 1 == units.len() || unit(i + 1) == slash;
        if c == 0 {
            return Some(format!("null character not allowed @{i}"));
        } else if c == slash && lastc == slash {
            return Some(format!("empty node name specified @{i}"));
        } else if c == dot && lastc == dot {
            if unit(i - 2) == slash && ends_component {
                return Some(format!("relative paths not allowed @{i}"));
            }
        } else if c == dot {
            if unit(i - 1) == slash && ends_component {
                return Some(format!("relative paths not allowed @{i}"));
            }
        } else if is_forbidden(c) {
            return Some(format!("invalid character @{i}"));
        }
        lastc = c;
    }
    None
}

fn is_forbidden(c: u16) -> bool {
    (0x0001..=0x001f).contains(&c)
        || (0x007f..=0x009f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || c >= 0xfff0
}

/// The parent of `path` exactly as ZooKeeper computes it (`path.substring(0, lastSlash)`):
/// `/a` has parent `""` (the root's alias), `/a/b` has `/a`. `None` without a slash.
pub fn parent_raw(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// The last component of `path` (after the last slash); the whole string without a slash.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The parent as a watch path: the root is `/`, not `""` (`DataTree.createNode` triggers
/// `"".equals(parentName) ? "/" : parentName`).
pub fn parent_for_watch(path: &str) -> &str {
    match parent_raw(path) {
        Some("") | None => "/",
        Some(p) => p,
    }
}

/// `child` under `parent`, without doubling the root's slash.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" || parent.is_empty() {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(path: &str) -> String {
        validate_path(path).unwrap_err().to_string()
    }

    // PathUtils.validatePath: the messages clients see in server logs.
    #[test]
    fn accepts_zookeeper_valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/a..",
            "/..a",
            "/zookeeper/quota",
            "/é",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    // The shortcut never passes a path the full walk refuses: every path of up to six
    // characters after the slash, over the characters each rule looks at.
    #[test]
    fn the_plain_path_shortcut_agrees_with_the_full_walk() {
        let alphabet = [b'/', b'.', b'a', b' ', b'~', 0x00, 0x01, 0x1f, 0x7f];
        let mut paths = vec![vec![b'/']];
        let mut checked = 0;
        for _ in 0..6 {
            let mut next = Vec::new();
            for p in &paths {
                for &c in &alphabet {
                    let mut q = p.clone();
                    q.push(c);
                    if plainly_valid(&q) {
                        assert_eq!(first_invalid_unit(&q), None, "{q:?}");
                        checked += 1;
                    }
                    next.push(q);
                }
            }
            paths = next;
        }
        assert!(checked > 8_000, "{checked}");
        assert!(!plainly_valid(b"/a/./b") && !plainly_valid(b"/a//b") && !plainly_valid(b"/.."));
    }

    #[test]
    fn rejects_with_zookeeper_reasons() {
        assert_eq!(reason(""), "Path length must be > 0");
        assert_eq!(reason("a"), "Path must start with / character");
        assert_eq!(reason("/a/"), "Path must not end with / character");
        assert_eq!(
            reason("/a//b"),
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert_eq!(
            reason("/a/./b"),
            "Invalid path string \"/a/./b\" caused by relative paths not allowed @3"
        );
        assert_eq!(
            reason("/a/.."),
            "Invalid path string \"/a/..\" caused by relative paths not allowed @4"
        );
        assert_eq!(
            reason("/."),
            "Invalid path string \"/.\" caused by relative paths not allowed @1"
        );
        assert_eq!(
            reason("/a\u{0}"),
            "Invalid path string \"/a\u{0}\" caused by null character not allowed @2"
        );
        assert_eq!(
            reason("/a\u{1}"),
            "Invalid path string \"/a\u{1}\" caused by invalid character @2"
        );
        assert_eq!(
            reason("/\u{80}"),
            "Invalid path string \"/\u{80}\" caused by invalid character @1"
        );
        assert_eq!(
            reason("/\u{e000}"),
            "Invalid path string \"/\u{e000}\" caused by invalid character @1"
        );
        assert_eq!(
            reason("/\u{fff0}"),
            "Invalid path string \"/\u{fff0}\" caused by invalid character @1"
        );
        // Positions count UTF-16 units, not bytes ("é" is two bytes, one unit).
        assert_eq!(
            reason("/é//b"),
            "Invalid path string \"/é//b\" caused by empty node name specified @3"
        );
        // A supplementary character is a surrogate pair in Java.
        assert_eq!(
            reason("/\u{1f600}"),
            "Invalid path string \"/\u{1f600}\" caused by invalid character @1"
        );
    }

    #[test]
    fn parent_and_name_follow_substring_rules() {
        assert_eq!(parent_raw("/a"), Some(""));
        assert_eq!(parent_raw("/a/b"), Some("/a"));
        assert_eq!(parent_raw("/a//b"), Some("/a/"));
        assert_eq!(parent_raw("a"), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(parent_for_watch("/a"), "/");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
