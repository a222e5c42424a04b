//! Free text that people read (names, product names): which characters it may not hold.

use super::Message;

/// Whether `c` may not appear in a name or a product name: the C0 and C1 control characters,
/// and the format characters that act on the text around them rather than showing
/// themselves. Bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) and the marks U+200E, U+200F and U+061C can make a name read differently
/// from what it holds (`"\u{202E}gnp.exe"` shows as `exe.png`), in a list, an invoice or a
/// mail; the line and paragraph separators (U+2028, U+2029) break a one-line field, and a
/// JavaScript string before ES2019.
///
/// Other invisible format characters stay allowed: the zero-width joiners (U+200C, U+200D)
/// are part of how Persian, Indic scripts and emoji are written, the soft hyphen and the
/// word joiner only affect line breaking, and the tag characters spell subdivision flags.
///
/// The spec's pattern for these fields is [`PATTERN`]; a unit test in `api` checks that both
/// refuse the same characters.
pub fn is_refused(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `raw` trimmed, when it is 1 to `max` characters and none of them [`is_refused`]; else why
/// not, said of `field`.
pub fn one_line(raw: &str, field: &str, max: usize) -> Result<String, Message> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Message::new("validation-required").field(field));
    }
    if text.chars().count() > max {
        return Err(Message::new("validation-max-chars")
            .field(field)
            .with("max", max));
    }
    if text.chars().any(is_refused) {
        return Err(Message::new("validation-control-chars").field(field));
    }
    Ok(text.to_owned())
}

/// A non-blank text without any [`is_refused`] character, as a regular expression that Rust's
/// `regex` and JavaScript read alike (`\uXXXX` escapes, no `\p{…}` classes).
pub const PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_controls_and_separators_are_refused() {
        for c in [
            '\u{0}', '\n', '\u{7F}', '\u{85}', '\u{9F}', '\u{061C}', '\u{200E}', '\u{200F}',
            '\u{2028}', '\u{2029}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_refused(c), "{:04X}", u32::from(c));
        }
    }

    #[test]
    fn letters_and_joiners_are_accepted() {
        for c in [
            'a', 'é', 'ß', '漢', ' ', '\u{200C}', '\u{200D}', '\u{00AD}', '\u{2060}', '👩',
        ] {
            assert!(!is_refused(c), "{:04X}", u32::from(c));
        }
    }
}
