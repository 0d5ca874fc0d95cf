//! The subset of `java.util.Properties.load` that zoo.cfg files rely on.
//!
//! ZooKeeper reads zoo.cfg with `Properties.load(InputStream)`, so a file that
//! ZooKeeper accepts must read the same here: `#`/`!` comment lines, `=`, `:`
//! or whitespace between key and value, backslash line continuation, and the
//! escapes `\t \n \r \f \uXXXX` (any other escaped character stands for
//! itself). The later of two equal keys wins, as in the `Hashtable` behind
//! `Properties`.

/// One `key=value` pair, with the line its logical line starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    pub line: u32,
}

/// A `\uXXXX` escape without four hex digits: `Properties.load` throws
/// `IllegalArgumentException("Malformed \\uxxxx encoding.")` for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MalformedEscape {
    pub line: u32,
}

/// Parses the text of a properties file into its entries, in file order,
/// keeping only the last occurrence of a repeated key.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>, MalformedEscape> {
    let mut entries: Vec<Entry> = Vec::new();
    for (line, logical) in logical_lines(text) {
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).ok_or(MalformedEscape { line })?;
        let value = unescape(raw_value).ok_or(MalformedEscape { line })?;
        entries.retain(|e| e.key != key);
        entries.push(Entry { key, value, line });
    }
    Ok(entries)
}

/// Java's `String.trim`: strips every char at or below U+0020 from both ends.
/// ZooKeeper trims every key and value this way.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// The whitespace `Properties.load` skips: space, tab and form feed.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Joins natural lines into logical lines, dropping blank and comment lines.
/// Returns each logical line with the 1-based number of its first natural line.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (index, natural) in natural_lines(text).into_iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let stripped = natural.trim_start_matches(is_blank);
        let (start, mut buffer) = match pending.take() {
            // A continued line ends at an empty next line, as in Java's LineReader.
            Some((start, buffer)) if stripped.is_empty() => {
                out.push((start, buffer));
                continue;
            }
            Some(continued) => continued,
            None => {
                if stripped.is_empty() || stripped.starts_with(['#', '!']) {
                    continue;
                }
                (number, String::new())
            }
        };
        let trailing = stripped.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            buffer.push_str(&stripped[..stripped.len() - 1]);
            pending = Some((start, buffer));
        } else {
            buffer.push_str(stripped);
            out.push((start, buffer));
        }
    }
    // A continuation backslash on the last line of the file is dropped.
    out.extend(pending);
    out
}

/// Splits on `\r\n`, `\r` or `\n`, the line terminators `Properties.load` knows.
fn natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            Some(at) => {
                lines.push(&rest[..at]);
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[at + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

/// Splits a logical line into its still-escaped key and value: the key ends at
/// the first unescaped `=`, `:` or blank; then blanks and at most one `=` or
/// `:` are skipped.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut value_start = line.len();
    let mut key_end = line.len();
    let mut has_separator = false;
    for (at, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':' || is_blank(c)) {
            key_end = at;
            value_start = at + c.len_utf8();
            has_separator = c == '=' || c == ':';
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    let mut rest = &line[value_start..];
    loop {
        rest = rest.trim_start_matches(is_blank);
        match rest.chars().next() {
            Some(c @ ('=' | ':')) if !has_separator => {
                has_separator = true;
                rest = &rest[c.len_utf8()..];
            }
            _ => break,
        }
    }
    (&line[..key_end], rest)
}

/// Resolves the escapes of `Properties.loadConvert`. `None` for a malformed
/// `\uXXXX`. UTF-16 surrogate pairs written as two `\u` escapes combine into
/// one character; a lone surrogate becomes U+FFFD.
fn unescape(raw: &str) -> Option<String> {
    let mut units: Vec<u16> = Vec::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        let plain = if c == '\\' {
            match chars.next() {
                // A lone trailing backslash only survives at the end of the file.
                None => break,
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        return None;
                    }
                    units.push(u16::from_str_radix(&hex, 16).ok()?);
                    continue;
                }
                Some('t') => '\t',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('f') => '\u{c}',
                Some(other) => other,
            }
        } else {
            c
        };
        let mut buf = [0u16; 2];
        units.extend_from_slice(plain.encode_utf16(&mut buf));
    }
    Some(String::from_utf16_lossy(&units))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .expect("parses")
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    // java.util.Properties.load: "=", ":" and whitespace all separate key and value.
    #[test]
    fn equals_colon_and_blank_separate_key_from_value() {
        assert_eq!(
            pairs("a=1\nb:2\nc 3\nd\t=\t4\ne   :  5\nf\u{c}6\n"),
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", "4"),
                pair("e", "5"),
                pair("f", "6")
            ]
        );
    }

    // Properties.load: only one separator is skipped; a second one belongs to the value.
    #[test]
    fn only_the_first_separator_is_skipped() {
        assert_eq!(
            pairs("a = = b\nc :=d\n"),
            vec![pair("a", "= b"), pair("c", "=d")]
        );
    }

    // Properties.load: a key alone on its line has the empty value.
    #[test]
    fn key_without_value_is_empty() {
        assert_eq!(pairs("lonely\n"), vec![pair("lonely", "")]);
    }

    // Properties.load: '#' and '!' start comments only as the first non-blank character.
    #[test]
    fn comments_and_blank_lines_are_skipped() {
        assert_eq!(
            pairs("# c\n   ! c\n\n \t \nk=v # not a comment\n"),
            vec![pair("k", "v # not a comment")]
        );
    }

    // Properties.load: a comment line ending in a backslash does not continue.
    #[test]
    fn comment_lines_do_not_continue() {
        assert_eq!(pairs("# c \\\nk=v\n"), vec![pair("k", "v")]);
    }

    // Properties.load: an odd number of trailing backslashes continues the line,
    // and the next line's leading whitespace is dropped.
    #[test]
    fn backslash_continues_a_line() {
        assert_eq!(
            pairs("k=a,\\\n    b,\\\n\t# c\nx=1\\\\\ny=2\n"),
            vec![pair("k", "a,b,# c"), pair("x", "1\\"), pair("y", "2")]
        );
    }

    // Java's LineReader: an empty line ends a continued logical line.
    #[test]
    fn empty_line_ends_a_continuation() {
        assert_eq!(
            pairs("k=a\\\n\nb=c\n"),
            vec![pair("k", "a"), pair("b", "c")]
        );
    }

    // LineReader.readLine drops a continuation backslash at end of input.
    #[test]
    fn trailing_backslash_at_eof_is_dropped() {
        assert_eq!(pairs("k=v\\"), vec![pair("k", "v")]);
    }

    // Properties.load accepts \n, \r and \r\n as line terminators.
    #[test]
    fn all_line_terminators() {
        assert_eq!(
            pairs("a=1\r\nb=2\rc=3\nd=4"),
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", "4")
            ]
        );
    }

    // Properties.loadConvert: \t \n \r \f \uXXXX, other escaped chars stand for themselves.
    #[test]
    fn escapes_are_resolved() {
        assert_eq!(
            pairs("k\\ e\\:y\\=x = \\t\\u0041\\q\\\\\\uD83D\\uDE00\n"),
            vec![pair("k e:y=x", "\tAq\\\u{1F600}")]
        );
    }

    // Properties.loadConvert throws "Malformed \uxxxx encoding."
    #[test]
    fn malformed_unicode_escape_is_an_error() {
        assert_eq!(parse("a=1\nb=\\u12G4\n"), Err(MalformedEscape { line: 2 }));
        assert_eq!(parse("b=\\u12"), Err(MalformedEscape { line: 1 }));
    }

    // Hashtable.put: the later of two equal keys wins.
    #[test]
    fn later_duplicate_wins() {
        let entries = parse("a=1\nb=2\na=3\n").expect("parses");
        assert_eq!(
            entries,
            vec![
                Entry {
                    key: "b".into(),
                    value: "2".into(),
                    line: 2
                },
                Entry {
                    key: "a".into(),
                    value: "3".into(),
                    line: 3
                },
            ]
        );
    }

    // String.trim strips every control character, not only whitespace.
    #[test]
    fn java_trim_strips_controls() {
        assert_eq!(java_trim("\u{1} x \u{7f}\t"), "x \u{7f}");
    }

    proptest::proptest! {
        // Hostile input: the parser returns entries or an error, never panics.
        #[test]
        fn never_panics(text in "[a-z=:#! \\\\u0-9A-F\t\r\n\u{e9}\u{1F600}]{0,64}") {
            let _ = parse(&text);
        }
    }
}
