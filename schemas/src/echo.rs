//! Echoing caller input in errors and logs, bounded.
//!
//! A name, id or value taken from a request can be as large as the request itself (a Firehose
//! record holds up to 1,000 KiB; a Lambda event up to 6 MB). Echoed whole, one hostile input
//! turns into a megabyte-sized log line or API error. Every echo goes through [`bounded`].

use std::borrow::Cow;

/// Characters of an input shown in an error or a log line; enough to recognise a name or an id.
pub const MAX_ECHO_CHARS: usize = 200;

/// `text` as is when it has at most [`MAX_ECHO_CHARS`] characters; otherwise its first
/// [`MAX_ECHO_CHARS`] characters followed by `… (<len> bytes)`, cut on a character boundary.
pub fn bounded(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_shown_whole() {
        assert_eq!(bounded("my-stream"), "my-stream");
        let exactly = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(bounded(&exactly), exactly.as_str());
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_and_says_its_size() {
        let long = "é".repeat(1_000_000);
        let shown = bounded(&long);
        assert_eq!(shown, format!("{}… (2000000 bytes)", "é".repeat(MAX_ECHO_CHARS)));
    }
}
