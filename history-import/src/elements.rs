//! The elements of a file's top-level JSON array, one at a time, from a bounded buffer: a scanner
//! finds where each object element begins and ends (tracking strings, escapes and nesting, not
//! parsing), and serde_json parses each element from a slice, several times faster than from an
//! `io::Read`. Whatever the scanner does not expect (a file that is not an array of objects, a
//! syntax error, a file cut short, an element longer than [`MAX_ELEMENT_BYTES`]) it leaves to
//! [`Scan::Unsure`]: the caller then reads the file again with serde_json's reader, which reports
//! the error with its line and column exactly as before.

use std::io::{self, Read};

/// The bytes read from the file at a time.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// The longest element the scanner waits for (a play is under 1 KB): one still open after this
/// many bytes is left to the reader, so the buffer stays under this plus [`READ_CHUNK_BYTES`]
/// whatever the file holds.
pub const MAX_ELEMENT_BYTES: usize = 4 * 1024 * 1024;

/// How a scan ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Every element was handed over and the array closed, with only whitespace after it.
    Done,
    /// The scan stopped after handing over `elements` elements; the rest of the file is for a
    /// reader that reports errors with their position.
    Unsure { elements: usize },
}

/// Where the scanner is between elements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the opening `[`.
    Start,
    /// After `[`: an element or `]`.
    First,
    /// After an element: `,` or `]`.
    After,
    /// After `,`: an element.
    Next,
    /// After the closing `]`: whitespace only.
    End,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Hands each object element of the top-level array in `reader` to `element` as its bytes.
/// `element` returns `false` when it cannot take an element (serde_json did not parse it): the
/// scan then stops, unsure, before that element. Errors are the reader's.
pub fn each_element(mut reader: impl Read, mut element: impl FnMut(&[u8]) -> bool) -> io::Result<Scan> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK_BYTES);
    // `buf[pos..]` is not scanned yet; `eof`: the reader has nothing more.
    let (mut pos, mut eof, mut at, mut elements) = (0, false, At::Start, 0);
    let unsure = |elements| Ok(Scan::Unsure { elements });
    loop {
        // Between elements: the structure of the array.
        while pos < buf.len() {
            let b = buf[pos];
            if is_space(b) {
                pos += 1;
                continue;
            }
            match (at, b) {
                (At::Start, b'[') => at = At::First,
                (At::First, b']') | (At::After, b']') => at = At::End,
                (At::After, b',') => at = At::Next,
                (At::First, b'{') | (At::Next, b'{') => match object_end(&buf[pos..]) {
                    Some(len) => {
                        if !element(&buf[pos..pos + len]) {
                            return unsure(elements);
                        }
                        elements += 1;
                        pos += len;
                        at = At::After;
                        continue;
                    }
                    None if buf.len() - pos > MAX_ELEMENT_BYTES => return unsure(elements),
                    // The element goes on past the bytes read so far.
                    None => break,
                },
                _ => return unsure(elements),
            }
            pos += 1;
        }
        if eof {
            return if at == At::End && pos == buf.len() {
                Ok(Scan::Done)
            } else {
                unsure(elements)
            };
        }
        // Keep the unscanned tail (part of an element at most), then read more after it.
        buf.drain(..pos);
        pos = 0;
        let filled = buf.len();
        buf.resize(filled + READ_CHUNK_BYTES, 0);
        let n = loop {
            match reader.read(&mut buf[filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        buf.truncate(filled + n);
        eof = n == 0;
    }
}

/// The length of the object or array that `bytes` starts with (its first byte is `{` or `[`),
/// or `None` if it does not end within `bytes`. Brackets inside strings do not count; a string
/// ends at a quote not escaped by a backslash.
fn object_end(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    loop {
        i = find_any(bytes, i, [b'"', b'{', b'}', b'[', b']'])?;
        match bytes[i] {
            b'"' => loop {
                i = find_any(bytes, i + 1, [b'"', b'\\'])?;
                if bytes[i] == b'"' {
                    break;
                }
                // The escaped byte, whatever it is, cannot end the string.
                i += 1;
            },
            b'{' | b'[' => depth += 1,
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
        }
        i += 1;
    }
}

/// The index of the first of `needles` in `bytes` at or after `from`, eight bytes at a time (a
/// play is mostly string bytes and indentation, which the scanner only passes over).
fn find_any<const N: usize>(bytes: &[u8], from: usize, needles: [u8; N]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let mut found = 0;
        for needle in needles {
            let x = word ^ (ONES * u64::from(needle));
            // The lowest high bit set marks the first zero byte of `x` (later ones may be false).
            found |= x.wrapping_sub(ONES) & !x & HIGHS;
        }
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = bytes.get(i..)?;
    rest.iter().position(|b| needles.contains(b)).map(|at| i + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives at most `step` bytes per read, so that elements straddle reads.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn elements(json: &str, step: usize) -> (Vec<String>, Scan) {
        let mut seen = Vec::new();
        let scan = each_element(Trickle(json.as_bytes(), step), |e| {
            seen.push(String::from_utf8(e.to_vec()).unwrap());
            true
        })
        .unwrap();
        (seen, scan)
    }

    #[test]
    fn elements_end_where_their_object_ends_not_at_brackets_or_quotes_in_strings() {
        let json = r#" [
  {"name": "a ] } [ { b", "n": 1},
  {"quote": "say \"}\" and \\", "nested": {"list": [1, [2], {"x": "]"}]}},
  {"end": "\\\""}
] "#;
        for step in [1, 2, 7, 4096] {
            let (seen, scan) = elements(json, step);
            assert_eq!(scan, Scan::Done, "step {step}");
            assert_eq!(
                seen,
                [
                    r#"{"name": "a ] } [ { b", "n": 1}"#,
                    r#"{"quote": "say \"}\" and \\", "nested": {"list": [1, [2], {"x": "]"}]}}"#,
                    r#"{"end": "\\\""}"#,
                ],
                "step {step}"
            );
            for element in &seen {
                serde_json::from_str::<serde_json::Value>(element).unwrap();
            }
        }
        assert_eq!(elements("[]", 1), (vec![], Scan::Done));
    }

    #[test]
    fn the_first_needle_is_found_wherever_it_lies_in_a_word() {
        for len in 0..20 {
            for at in 0..len {
                // Multi-byte UTF-8 around it: bytes whose high bit is set are not quotes.
                let mut bytes = "–a".repeat(len).into_bytes()[..len].to_vec();
                bytes[at] = b'"';
                if at + 2 < len {
                    bytes[at + 2] = b'\\';
                }
                assert_eq!(find_any(&bytes, 0, [b'"', b'\\']), Some(at), "{len} {at}");
                assert_eq!(find_any(&bytes, at + 1, [b'"']), None, "{len} {at}");
            }
        }
    }

    #[test]
    fn what_the_scanner_does_not_expect_is_left_to_the_reader_after_the_elements_before_it() {
        let cases = [
            // Cut short: inside an element, between elements, before the array.
            (r#"[{"a": 1}, {"b": "x]"#, 1),
            (r#"[{"a": 1}, "#, 1),
            ("", 0),
            ("  ", 0),
            // Not an array of objects, or not JSON after it.
            (r#"{"playlists": []}"#, 0),
            (r#"[{"a": 1}, 2]"#, 1),
            (r#"[{"a": 1} {"b": 2}]"#, 1),
            (r#"[{"a": 1},]"#, 1),
            (r#"[{"a": 1}] x"#, 1),
        ];
        for (json, before) in cases {
            for step in [1, 4096] {
                let (seen, scan) = elements(json, step);
                assert_eq!(scan, Scan::Unsure { elements: before }, "{json:?}");
                assert_eq!(seen.len(), before, "{json:?}");
            }
        }
    }

    #[test]
    fn an_element_refused_or_too_long_stops_the_scan_before_it() {
        let mut calls = 0;
        let scan = each_element(&br#"[{"a": 1}, {"b": 2}, {"c": 3}]"#[..], |_| {
            calls += 1;
            calls < 2
        })
        .unwrap();
        assert_eq!(scan, Scan::Unsure { elements: 1 });

        let long = format!(
            r#"[{{"a": 1}}, {{"b": "{}"}}]"#,
            "x".repeat(MAX_ELEMENT_BYTES + READ_CHUNK_BYTES)
        );
        let (seen, scan) = elements(&long, READ_CHUNK_BYTES);
        assert_eq!((seen.len(), scan), (1, Scan::Unsure { elements: 1 }));
    }
}
