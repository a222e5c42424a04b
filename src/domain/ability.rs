//! What an API token may do: a set of abilities, Laravel Sanctum's word for scopes. A token's
//! abilities narrow what its owner may do; they never widen it.

use super::{Message, User};

/// One thing an API token may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ability {
    OrdersRead,
    OrdersWrite,
    /// Free order lines, with their own prices (a back-office system's).
    OrdersPrice,
    ProductsWrite,
    UsersRead,
    UsersWrite,
    WebhooksManage,
}

impl Ability {
    pub const ALL: [Self; 7] = [
        Self::OrdersRead,
        Self::OrdersWrite,
        Self::OrdersPrice,
        Self::ProductsWrite,
        Self::UsersRead,
        Self::UsersWrite,
        Self::WebhooksManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrdersRead => "orders:read",
            Self::OrdersWrite => "orders:write",
            Self::OrdersPrice => "orders:price",
            Self::ProductsWrite => "products:write",
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::WebhooksManage => "webhooks:manage",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|ability| ability.as_str() == raw)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Whether `owner` may hold this ability at all: the catalogue and webhooks are admins'
    /// work, free lines too unless the shop opens them to everyone (`ORDER_FREE_LINES`).
    pub fn may_be_held_by(self, owner: &User, free_lines_for_anyone: bool) -> bool {
        match self {
            Self::OrdersPrice => owner.is_admin() || free_lines_for_anyone,
            Self::ProductsWrite | Self::WebhooksManage => owner.is_admin(),
            Self::OrdersRead | Self::OrdersWrite | Self::UsersRead | Self::UsersWrite => true,
        }
    }
}

/// The word that grants every ability its owner may hold.
pub const EVERY_ABILITY: &str = "*";

/// The most abilities one token may be asked for: each of them and `*`.
pub const MAX_ABILITIES: usize = Ability::ALL.len() + 1;

/// The shortest and longest lifetimes an API token may be given, in seconds: a minute, five
/// years.
pub const MIN_TOKEN_LIFETIME_SECS: u64 = 60;
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 5 * 366 * 24 * 3600;

/// A set of abilities, stored as the words a client sent (`*` included), space-separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Abilities {
    bits: u8,
    /// `*`: every ability the owner may hold, including ones added later.
    every: bool,
}

impl Abilities {
    /// The abilities a client asked for for `owner`: each word known, and held by the owner;
    /// at least one. The error is for the `abilities` field.
    pub fn requested(
        words: &[String],
        owner: &User,
        free_lines_for_anyone: bool,
    ) -> Result<Self, Message> {
        if words.is_empty() {
            return Err(Message::new("abilities-empty"));
        }
        let mut abilities = Self::default();
        for word in words {
            if word == EVERY_ABILITY {
                abilities.every = true;
                continue;
            }
            let ability = Ability::parse(word)
                .ok_or_else(|| Message::new("ability-unknown").with("ability", word.as_str()))?;
            if !ability.may_be_held_by(owner, free_lines_for_anyone) {
                return Err(Message::new("ability-not-yours").with("ability", word.as_str()));
            }
            abilities.bits |= ability.bit();
        }
        Ok(abilities)
    }

    /// Read back from storage; unknown words (from a later version) grant nothing.
    pub fn from_stored(stored: &str) -> Self {
        let mut abilities = Self::default();
        for word in stored.split(' ') {
            if word == EVERY_ABILITY {
                abilities.every = true;
            } else if let Some(ability) = Ability::parse(word) {
                abilities.bits |= ability.bit();
            }
        }
        abilities
    }

    /// Whether a token with these abilities may use `ability`. Its owner's own rights are
    /// checked after, by the operation, as for a session.
    pub fn allow(self, ability: Ability) -> bool {
        self.every || self.bits & ability.bit() != 0
    }

    /// The words, `*` first, then in [`Ability::ALL`]'s order.
    pub fn words(self) -> Vec<&'static str> {
        let every = self.every.then_some(EVERY_ABILITY);
        every
            .into_iter()
            .chain(
                Ability::ALL
                    .into_iter()
                    .filter(|ability| self.bits & ability.bit() != 0)
                    .map(Ability::as_str),
            )
            .collect()
    }

    pub fn to_stored(self) -> String {
        self.words().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{domain::Role, i18n::Locale};

    fn user_with_role(role: Role) -> User {
        let at = chrono::Utc::now();
        User {
            id: 1,
            name: "Ada".into(),
            email: "ada@example.com".into(),
            role,
            email_verified_at: None,
            pending_email: None,
            locale: Locale::english(),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|&word| word.to_owned()).collect()
    }

    #[test]
    fn a_customer_cannot_ask_for_admin_work() {
        let customer = user_with_role(Role::User);
        for word in ["orders:price", "products:write", "webhooks:manage"] {
            assert!(Abilities::requested(&words(&[word]), &customer, false).is_err());
        }
        assert!(Abilities::requested(&words(&["orders:price"]), &customer, true).is_ok());
        let admin = user_with_role(Role::Admin);
        assert!(Abilities::requested(&words(&["webhooks:manage"]), &admin, false).is_ok());
    }

    #[test]
    fn unknown_and_empty_requests_are_refused() {
        let customer = user_with_role(Role::User);
        assert!(Abilities::requested(&[], &customer, false).is_err());
        assert!(Abilities::requested(&words(&["orders:delete"]), &customer, false).is_err());
    }

    #[test]
    fn the_stored_form_reads_back_alike() {
        let admin = user_with_role(Role::Admin);
        let asked = words(&["users:read", "*", "orders:read"]);
        let abilities = Abilities::requested(&asked, &admin, false).unwrap();
        assert_eq!(abilities.to_stored(), "* orders:read users:read");
        assert_eq!(Abilities::from_stored(&abilities.to_stored()), abilities);
        assert!(abilities.allow(Ability::WebhooksManage));
        let narrow = Abilities::from_stored("orders:read future:thing");
        assert!(narrow.allow(Ability::OrdersRead));
        assert!(!narrow.allow(Ability::OrdersWrite));
    }
}
