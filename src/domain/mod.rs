//! Validated types and the rules of the shop, free of HTTP and SQL.

pub mod ability;
pub mod account;
pub mod idempotency;
pub mod listing;
pub mod message;
pub mod order;
pub mod order_event;
pub mod precondition;
pub mod product;
pub mod session;
pub mod text;
pub mod webhook;

use std::collections::BTreeMap;

pub use account::{Email, Name, Password, Role, User};
pub use message::Message;
pub use session::DeviceName;

/// Validation failures keyed by field, Laravel-style: `{"email": ["..."]}`, each a [`Message`]
/// that the API writes in the client's language.
///
/// At most [`FieldErrors::MAX_FIELDS`] fields are kept, the first ones found: a body of
/// thousands of bad keys gets a short answer, not one larger than itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<Message>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: Message) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub const MAX_FIELDS: usize = 50;

    pub fn add(&mut self, field: impl Into<String>, message: Message) {
        let field = field.into();
        if self.0.len() >= Self::MAX_FIELDS && !self.0.contains_key(&field) {
            return;
        }
        self.0.entry(field).or_default().push(message);
    }

    /// Adds every message of `other`.
    pub fn merge(&mut self, other: Self) {
        for (field, messages) in other.0 {
            for message in messages {
                self.add(field.clone(), message);
            }
        }
    }

    /// Keeps the value when it parsed, records the message under `field` when it did not.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Message>) -> Option<T> {
        result.map_err(|message| self.add(field, message)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each field with its messages, fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Message])> {
        self.0
            .iter()
            .map(|(field, messages)| (field.as_str(), messages.as_slice()))
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_the_first_fields_up_to_the_cap() {
        let mut errors = FieldErrors::new();
        for n in 0..FieldErrors::MAX_FIELDS + 10 {
            errors.add(format!("field_{n:03}"), Message::new("bad"));
        }
        errors.add("field_000", Message::new("worse"));
        let fields: Vec<_> = errors.iter().collect();
        assert_eq!(fields.len(), FieldErrors::MAX_FIELDS);
        assert_eq!(fields[0].1, [Message::new("bad"), Message::new("worse")]);
        assert!(fields.iter().all(|(field, _)| *field != "field_055"));
    }
}
