//! Accounts: names, email addresses, passwords and roles.

use std::fmt;

use chrono::{DateTime, Utc};

use unicode_normalization::UnicodeNormalization;

use super::{Message, precondition::EntityTag, text};
use crate::{config::Secret, i18n::Locale};

pub const MAX_NAME_CHARS: usize = 255;
/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL_BYTES: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// All that bcrypt reads: a longer password is refused, never cut.
pub const MAX_PASSWORD_BYTES: usize = 72;
/// A password being checked (login, `current_password`) may be any length up to this: a longer
/// one is refused before bcrypt sees it.
pub const MAX_CHECKED_PASSWORD_CHARS: usize = 1024;
/// Reset links carry 64 hex digits; anything much longer is not one of ours.
pub const MAX_RESET_TOKEN_CHARS: usize = 128;

/// A display name: trimmed, 1 to 255 characters, none of them [`text::is_refused`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, Message> {
        text::one_line(raw, "name", MAX_NAME_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address in the one form it is compared and stored in, so that two spellings of
/// one mailbox are one account: trimmed, NFKC-normalised (fullwidth `ａｄａ` is `ada`),
/// lower-cased, and its domain in IDNA's ASCII form (`bücher.example` is
/// `xn--bcher-kva.example`).
///
/// ASCII rather than Unicode for the domain because it is what SMTP takes without the
/// SMTPUTF8 extension and what DNS resolves, so the stored address can be mailed as it is;
/// and because every ASCII domain stored before normalisation existed is already in this
/// form, so no stored row needs rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Message> {
        let invalid = || Message::new("validation-email").field("email");
        // Lower-casing can leave text that NFKC maps further (and NFKC can leave capitals,
        // as from `ℌ`): normalise on both sides so that parsing the result changes nothing.
        let email: String = raw
            .trim()
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .nfkc()
            .collect();
        if email.is_empty() {
            return Err(Message::new("validation-required").field("email"));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(invalid());
        };
        let Ok(domain) = idna::domain_to_ascii(domain) else {
            return Err(invalid());
        };
        let email = format!("{local}@{domain}");
        if email.len() > MAX_EMAIL_BYTES {
            return Err(Message::new("validation-max-chars")
                .field("email")
                .with("max", MAX_EMAIL_BYTES));
        }
        let domain_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        if domain_ok && local_ok {
            Ok(Self(email))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: 8 characters or more, and at most 72 bytes, which is all bcrypt reads.
/// Longer ones are refused rather than silently cut.
#[derive(Clone)]
pub struct Password(Secret<String>);

impl Password {
    pub fn parse(raw: String) -> Result<Self, Message> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(Message::new("validation-min-chars")
                .field("password")
                .with("min", MIN_PASSWORD_CHARS));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(Message::new("validation-max-bytes")
                .field("password")
                .with("max", MAX_PASSWORD_BYTES));
        }
        Ok(Self(Secret::new(raw)))
    }

    /// A new password together with its optional confirmation, errors keyed by field.
    pub fn parse_confirmed(raw: String, confirmation: Option<&str>) -> Result<Self, Message> {
        if confirmation.is_some_and(|confirmation| confirmation != raw) {
            return Err(Message::new("validation-password-confirmation"));
        }
        Self::parse(raw)
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Message> {
        match raw {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(Message::new("validation-one-of")
                .field("role")
                .with("allowed", "user, admin")),
        }
    }
}

/// An account as the rest of the service sees it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub email_verified_at: Option<DateTime<Utc>>,
    /// A new address the user asked for: it becomes `email` when its confirmation link is
    /// followed.
    pub pending_email: Option<String>,
    /// The language of everything written to this user, mails first.
    pub locale: Locale,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every write: what its `ETag` is made of.
    pub version: i64,
}

impl User {
    pub fn entity_tag(&self) -> EntityTag {
        EntityTag::new(self.id, self.version)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the user may create or change orders when the shop requires a verified
    /// address (`required`): admins always may, everyone else once their address is verified.
    pub fn may_order(&self, required: bool) -> bool {
        !required || self.is_admin() || self.email_verified_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn compatibility_forms_of_an_address_are_one_address() {
        for raw in [
            "ａｄａ@example.com",
            "ＡＤＡ@ＥＸＡＭＰＬＥ.ＣＯＭ",
            "ada@example\u{3002}com",
        ] {
            assert_eq!(
                Email::parse(raw).unwrap().as_str(),
                "ada@example.com",
                "{raw}"
            );
        }
    }

    #[test]
    fn an_international_domain_is_kept_in_its_ascii_form() {
        for raw in [
            "x@bücher.example",
            "x@BÜCHER.example",
            "x@xn--bcher-kva.example",
        ] {
            assert_eq!(
                Email::parse(raw).unwrap().as_str(),
                "x@xn--bcher-kva.example",
                "{raw}"
            );
        }
        // The local part keeps its letters: only its owner's server may say what they mean.
        assert_eq!(
            Email::parse("Zoë@Example.com").unwrap().as_str(),
            "zoë@example.com"
        );
    }

    #[test]
    fn parsing_a_parsed_address_changes_nothing() {
        for raw in [
            "ada@example.com",
            "ＡＤＡ@bücher.example",
            "\u{210C}ans@example.com",
            "ﬁle@example.com",
        ] {
            let once = Email::parse(raw).unwrap();
            assert_eq!(Email::parse(once.as_str()).unwrap(), once, "{raw}");
        }
    }

    #[test]
    fn invalid_international_domains_are_refused() {
        for raw in [
            "x@xn--a.example",
            "x@b\u{fffd}cher.example",
            "x@exa_mple.example",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn names_with_direction_controls_or_separators_are_refused() {
        for raw in [
            "Ada\u{202E}ecalevol",
            "Ada\u{2028}Lovelace",
            "\u{2066}Ada\u{2069}",
        ] {
            assert!(Name::parse(raw).is_err(), "{raw:?}");
        }
        assert!(Name::parse("Ada Lovelace").is_ok());
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@exa_mple.com",
            ".ada@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn passwords_between_8_characters_and_72_bytes_are_accepted() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("x".repeat(72)).is_ok());
        assert!(Password::parse("x".repeat(73)).is_err());
        // 8 characters but 24 bytes: the character count is what users see.
        assert!(Password::parse("éééééééé".into()).is_ok());
        // 37 two-byte characters are 74 bytes: refused, never cut.
        assert!(Password::parse("é".repeat(37)).is_err());
    }

    #[test]
    fn a_confirmation_must_match_when_given() {
        assert!(Password::parse_confirmed("password1".into(), Some("password2")).is_err());
        assert!(Password::parse_confirmed("password1".into(), Some("password1")).is_ok());
        assert!(Password::parse_confirmed("password1".into(), None).is_ok());
    }

    #[test]
    fn only_verified_users_and_admins_may_order_when_a_verified_address_is_required() {
        let mut user = User {
            id: 1,
            name: "Ada".into(),
            email: "ada@example.com".into(),
            role: Role::User,
            email_verified_at: None,
            pending_email: None,
            locale: Locale::english(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        };
        assert!(user.may_order(false));
        assert!(!user.may_order(true));
        user.role = Role::Admin;
        assert!(user.may_order(true));
        user.role = Role::User;
        user.email_verified_at = Some(Utc::now());
        assert!(user.may_order(true));
    }

    #[test]
    fn passwords_do_not_show_in_debug_output() {
        let password = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
