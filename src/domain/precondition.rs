//! Conditional requests (RFC 9110, section 13): the strong entity tag of a versioned resource,
//! and the `If-Match` and `If-None-Match` headers compared with it.

/// The strong entity tag of a user, order or product: its id and its version, which every
/// write increments. Sent as `"<id>-<version>"`; clients must treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag {
    pub id: i64,
    pub version: i64,
}

impl EntityTag {
    pub fn new(id: i64, version: i64) -> Self {
        Self { id, version }
    }

    /// The `ETag` header's value, quotes included.
    pub fn header_value(self) -> String {
        format!("\"{}-{}\"", self.id, self.version)
    }

    /// Whether `opaque` (an entity tag without its quotes) is this one.
    fn is(self, opaque: &str) -> bool {
        opaque
            .split_once('-')
            .and_then(|(id, version)| Some((id.parse::<i64>().ok()?, version.parse().ok()?)))
            == Some((self.id, self.version))
    }
}

/// What an `If-Match` or `If-None-Match` header says: `*`, or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    /// The tags listed, in order; a member that is not an entity tag ends the list (and so
    /// can only make a match less likely).
    Tags(Vec<ListedTag>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTag {
    pub weak: bool,
    /// The tag between its quotes.
    pub opaque: String,
}

impl Condition {
    pub fn parse(header: &str) -> Self {
        if header.trim() == "*" {
            return Self::Any;
        }
        let mut tags = Vec::new();
        let mut rest = header;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let (weak, quoted) = match rest.strip_prefix("W/") {
                Some(quoted) => (true, quoted),
                None => (false, rest),
            };
            let Some(Some((opaque, after))) = quoted.strip_prefix('"').map(|q| q.split_once('"'))
            else {
                break;
            };
            tags.push(ListedTag {
                weak,
                opaque: opaque.to_owned(),
            });
            rest = after;
        }
        Self::Tags(tags)
    }

    /// `If-Match`: true when `*`, or when a listed strong tag is `current` (the strong
    /// comparison: a weak tag never matches).
    pub fn strongly_matches(&self, current: EntityTag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| !tag.weak && current.is(&tag.opaque)),
        }
    }

    /// `If-None-Match`: true when `*`, or when a listed tag, weak or strong, is `current`
    /// (the weak comparison); a GET then answers 304.
    pub fn weakly_matches(&self, current: EntityTag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| current.is(&tag.opaque)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: EntityTag = EntityTag { id: 7, version: 3 };

    #[test]
    fn the_tag_is_quoted_id_and_version() {
        assert_eq!(CURRENT.header_value(), "\"7-3\"");
    }

    #[test]
    fn if_match_takes_star_or_any_strong_tag_of_a_list() {
        assert!(Condition::parse("*").strongly_matches(CURRENT));
        assert!(Condition::parse("\"7-3\"").strongly_matches(CURRENT));
        assert!(Condition::parse("\"7-2\", \"7-3\"").strongly_matches(CURRENT));
        assert!(Condition::parse("\"7-2\",\"7-3\"").strongly_matches(CURRENT));
        assert!(!Condition::parse("\"7-2\"").strongly_matches(CURRENT));
        assert!(!Condition::parse("\"8-3\"").strongly_matches(CURRENT));
    }

    #[test]
    fn a_weak_tag_never_matches_if_match_but_matches_if_none_match() {
        let weak = Condition::parse("W/\"7-3\"");
        assert!(!weak.strongly_matches(CURRENT));
        assert!(weak.weakly_matches(CURRENT));
    }

    #[test]
    fn garbage_matches_nothing() {
        for header in ["7-3", "\"7-3", "", "\"7-3x\"", "\"\"", "W/7-3", "**"] {
            assert!(
                !Condition::parse(header).strongly_matches(CURRENT),
                "{header}"
            );
            assert!(
                !Condition::parse(header).weakly_matches(CURRENT),
                "{header}"
            );
        }
    }

    #[test]
    fn a_member_that_is_no_tag_ends_the_list() {
        let condition = Condition::parse("\"7-1\", junk, \"7-3\"");
        assert_eq!(
            condition,
            Condition::Tags(vec![ListedTag {
                weak: false,
                opaque: "7-1".into()
            }])
        );
    }
}
