//! Which of our languages a request gets, from its `Accept-Language` header (RFC 9110 §12.5.4):
//! the highest `q` wins, earlier entries win ties, `fr-CA` falls back to `fr`, `*` means any
//! language not refused with `q=0`, and entries that do not parse are skipped.
//!
//! Our own code rather than fluent-langneg's: that crate ranks by its own matching strategy and
//! knows neither `q`-values nor `*`. Every request runs this, so it does not allocate.

use super::Locale;

/// The language for a request whose `Accept-Language` is `header`; `default` when no entry of it
/// names one of ours.
pub fn negotiate(header: Option<&str>, default: Locale) -> Locale {
    let Some(header) = header else {
        return default;
    };
    let mut best: Option<(u16, Locale)> = None;
    let mut wildcard: Option<u16> = None;
    // Languages refused with `q=0`, which `*` must not pick; a bit per language.
    let mut refused: u64 = 0;
    for entry in header.split(',').take(MAX_ENTRIES) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let Some(weight) = weight(parts) else {
            continue;
        };
        if tag == "*" {
            wildcard = wildcard.max(Some(weight));
            continue;
        }
        let Some(locale) = matching(tag) else {
            continue;
        };
        if weight == 0 {
            refused |= bit(locale);
        } else if best.is_none_or(|(best_weight, _)| weight > best_weight) {
            best = Some((weight, locale));
        }
    }
    let any = wildcard.filter(|weight| *weight > 0).and_then(|weight| {
        let locale = if refused & bit(default) == 0 {
            Some(default)
        } else {
            Locale::all().find(|locale| refused & bit(*locale) == 0)
        };
        locale.map(|locale| (weight, locale))
    });
    match (best, any) {
        (Some((named, locale)), Some((any, _))) if named >= any => locale,
        (_, Some((_, locale))) | (Some((_, locale)), None) => locale,
        (None, None) => default,
    }
}

/// Entries after this many are not read: no browser sends more.
const MAX_ENTRIES: usize = 32;

fn bit(locale: Locale) -> u64 {
    1u64.checked_shl(u32::try_from(locale.0).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// The language a tag names, exactly or by its primary subtag (`fr-CA` is `fr`), when the tag
/// is well formed.
fn matching(tag: &str) -> Option<Locale> {
    let mut subtags = tag.split('-');
    let primary = subtags.next()?;
    let well_formed = (1..=8).contains(&primary.len())
        && primary.bytes().all(|byte| byte.is_ascii_alphabetic())
        && subtags.all(|subtag| {
            (1..=8).contains(&subtag.len())
                && subtag.bytes().all(|byte| byte.is_ascii_alphanumeric())
        });
    if !well_formed {
        return None;
    }
    Locale::parse(tag).or_else(|| Locale::parse(primary))
}

/// The entry's `q` in thousandths (1000 when absent), or `None` when it does not parse.
fn weight<'a>(mut parameters: impl Iterator<Item = &'a str>) -> Option<u16> {
    let Some(parameter) = parameters.next() else {
        return Some(1000);
    };
    if parameters.next().is_some() {
        return None;
    }
    let (name, value) = parameter.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |sum, digit| sum * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Locale {
        Locale::parse("en").unwrap()
    }

    fn fr() -> Locale {
        Locale::parse("fr").unwrap()
    }

    #[test]
    fn no_header_or_nothing_usable_is_the_default() {
        assert_eq!(negotiate(None, fr()), fr());
        assert_eq!(negotiate(Some(""), fr()), fr());
        assert_eq!(negotiate(Some("de, ja;q=0.5"), fr()), fr());
        assert_eq!(negotiate(Some("%%%, ;;;, fr;q=abc, en;q=2"), fr()), fr());
    }

    #[test]
    fn the_highest_q_wins_and_earlier_entries_win_ties() {
        assert_eq!(negotiate(Some("en;q=0.5, fr;q=0.8"), en()), fr());
        assert_eq!(negotiate(Some("fr;q=0.5, en;q=0.5"), en()), fr());
        assert_eq!(negotiate(Some("de, fr;q=0.1"), en()), fr());
        assert_eq!(negotiate(Some("fr;q=0.001, en;q=0.0005"), en()), fr());
    }

    #[test]
    fn a_region_falls_back_to_its_language() {
        assert_eq!(negotiate(Some("fr-CA"), en()), fr());
        assert_eq!(negotiate(Some("FR-ch, en;q=0.9"), en()), fr());
        assert_eq!(negotiate(Some("en-GB,en;q=0.9,fr;q=0.8"), fr()), en());
    }

    #[test]
    fn q_zero_refuses_a_language_even_for_the_wildcard() {
        assert_eq!(negotiate(Some("fr;q=0"), fr()), fr());
        assert_eq!(negotiate(Some("fr;q=0, en;q=0.1"), fr()), en());
        assert_eq!(negotiate(Some("*, fr;q=0"), fr()), en());
        assert_eq!(negotiate(Some("*"), fr()), fr());
        assert_eq!(negotiate(Some("*;q=0"), fr()), fr());
    }

    #[test]
    fn the_wildcard_loses_to_a_named_language_of_equal_or_higher_q() {
        assert_eq!(negotiate(Some("de;q=1, *;q=0.5, fr;q=0.4"), en()), en());
        assert_eq!(negotiate(Some("*;q=0.5, fr;q=0.5"), en()), fr());
        assert_eq!(negotiate(Some("fr;q=0.4, *;q=0.9"), en()), en());
    }

    #[test]
    fn malformed_entries_are_skipped_not_fatal() {
        assert_eq!(negotiate(Some("fr;q=1.5, en"), fr()), en());
        assert_eq!(negotiate(Some("fr;level=1, en;q=0.2"), fr()), en());
        assert_eq!(negotiate(Some("fr_FR, en;q=0.2"), fr()), en());
        assert_eq!(negotiate(Some("français, en;q=0.2"), fr()), en());
        assert_eq!(
            negotiate(Some("toolongsubtag-fr, fr ; q = 0.3"), en()),
            fr()
        );
    }
}
