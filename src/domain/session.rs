//! What a session is called: the device it was opened on, as its owner will recognise it in
//! the list of their sessions.

use super::{Message, text};

pub const MAX_DEVICE_NAME_CHARS: usize = 255;

/// Longer than any refresh token we give (64 characters), so a longer one is refused unread.
pub const MAX_REFRESH_TOKEN_CHARS: usize = 128;

/// Said of a session whose client named no device and sent no `User-Agent`.
const UNKNOWN_DEVICE: &str = "unknown";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceName(String);

impl DeviceName {
    /// A name the client chose: 1 to 255 characters once trimmed, no control characters.
    pub fn parse(raw: &str) -> Result<Self, Message> {
        text::one_line(raw, "device_name", MAX_DEVICE_NAME_CHARS).map(Self)
    }

    /// The name of a session whose client named none: its `User-Agent`, without what could not
    /// be shown and cut to 255 characters, else `unknown`. Never refused: a client's headers
    /// are not its input.
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        let shown: String = user_agent
            .unwrap_or_default()
            .chars()
            .filter(|c| !text::is_refused(*c))
            .collect();
        let shown: String = shown.trim().chars().take(MAX_DEVICE_NAME_CHARS).collect();
        let shown = shown.trim_end();
        Self(if shown.is_empty() {
            UNKNOWN_DEVICE.to_owned()
        } else {
            shown.to_owned()
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_name_is_trimmed_and_bounded() {
        assert_eq!(
            DeviceName::parse("  Ada's phone ").unwrap().as_str(),
            "Ada's phone"
        );
        assert!(DeviceName::parse("   ").is_err());
        assert!(DeviceName::parse(&"é".repeat(256)).is_err());
        assert!(DeviceName::parse(&"é".repeat(255)).is_ok());
        assert!(DeviceName::parse("tab\there").is_err());
    }

    #[test]
    fn a_user_agent_is_cut_on_a_character_and_cleaned() {
        let long = "ü".repeat(300);
        assert_eq!(
            DeviceName::from_user_agent(Some(&long))
                .as_str()
                .chars()
                .count(),
            255
        );
        assert_eq!(
            DeviceName::from_user_agent(Some("curl/8.5.0\u{7}")).as_str(),
            "curl/8.5.0"
        );
        assert_eq!(DeviceName::from_user_agent(Some(" \t")).as_str(), "unknown");
        assert_eq!(DeviceName::from_user_agent(None).as_str(), "unknown");
    }
}
