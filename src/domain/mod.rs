//! Validated types and the rules of the shop, free of HTTP and SQL.

pub mod account;
pub mod listing;
pub mod order;
pub mod text;

use std::collections::BTreeMap;

pub use account::{Email, Name, Password, Role, User};

/// Validation failures keyed by field, Laravel-style: `{"email": ["..."]}`.
///
/// At most [`FieldErrors::MAX_FIELDS`] fields are kept, the first ones found: a body of
/// thousands of bad keys gets a short answer, not one larger than itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub const MAX_FIELDS: usize = 50;

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        if self.0.len() >= Self::MAX_FIELDS && !self.0.contains_key(&field) {
            return;
        }
        self.0.entry(field).or_default().push(message.into());
    }

    /// Keeps the value when it parsed, records the message under `field` when it did not.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.add(field, message)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_map(self) -> BTreeMap<String, Vec<String>> {
        self.0
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
            errors.add(format!("field_{n:03}"), "bad");
        }
        errors.add("field_000", "worse");
        let map = errors.into_map();
        assert_eq!(map.len(), FieldErrors::MAX_FIELDS);
        assert_eq!(map["field_000"], ["bad", "worse"]);
        assert!(!map.contains_key("field_055"));
    }
}
