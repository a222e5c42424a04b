//! The catalogue: skus, products, their prices and their stock.

use chrono::{DateTime, Utc};

use super::{
    Message,
    order::{Currency, MAX_PRODUCT_CHARS, MAX_UNIT_PRICE_CENTS},
    precondition::EntityTag,
    text,
};

pub const MAX_SKU_CHARS: usize = 64;
/// A product's name becomes an order line's `product`: the same limit.
pub const MAX_PRODUCT_NAME_CHARS: usize = MAX_PRODUCT_CHARS;
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// A product's price becomes an order line's unit price: the same limit.
pub const MAX_PRICE_CENTS: i64 = MAX_UNIT_PRICE_CENTS;
pub const MAX_STOCK: i64 = 1_000_000_000;

/// A stock keeping unit: 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or a
/// digit, as the spec's pattern says. Kept as written; two skus that differ only in case are the
/// same product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, Message> {
        let sku = raw;
        if sku.is_empty() {
            return Err(Message::new("validation-required").field("sku"));
        }
        if sku.chars().count() > MAX_SKU_CHARS {
            return Err(Message::new("validation-max-chars")
                .field("sku")
                .with("max", MAX_SKU_CHARS));
        }
        let mut chars = sku.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err(Message::new("validation-sku").field("sku"));
        }
        Ok(Self(sku.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product's name: trimmed, 1 to 200 characters, none of them [`text::is_refused`].
pub fn parse_product_name(raw: &str) -> Result<String, Message> {
    text::one_line(raw, "name", MAX_PRODUCT_NAME_CHARS)
}

/// A description: at most 2 000 characters; line breaks are welcome.
pub fn parse_description(raw: String) -> Result<String, Message> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        Err(Message::new("validation-max-chars")
            .field("description")
            .with("max", MAX_DESCRIPTION_CHARS))
    } else {
        Ok(raw)
    }
}

pub fn parse_price(cents: i64) -> Result<i64, Message> {
    if (0..=MAX_PRICE_CENTS).contains(&cents) {
        Ok(cents)
    } else {
        Err(Message::new("validation-between")
            .field("price_cents")
            .with("min", 0u32)
            .with("max", MAX_PRICE_CENTS))
    }
}

pub fn parse_stock(units: i64) -> Result<i64, Message> {
    if (0..=MAX_STOCK).contains(&units) {
        Ok(units)
    } else {
        Err(Message::new("validation-between")
            .field("stock")
            .with("min", 0u32)
            .with("max", MAX_STOCK))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub price_cents: i64,
    pub currency: Currency,
    /// `None`: not tracked, never short.
    pub stock: Option<i64>,
    /// An inactive product is hidden from customers and cannot be ordered.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every write: what its `ETag` is made of.
    pub version: i64,
}

impl Product {
    pub fn entity_tag(&self) -> EntityTag {
        EntityTag::new(self.id, self.version)
    }
}

/// What a list of products can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSortKey {
    Id,
    CreatedAt,
    Name,
    PriceCents,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_letters_digits_and_a_few_separators() {
        for good in ["COF-1KG", "tea_earl.grey", "7", &"A".repeat(MAX_SKU_CHARS)] {
            assert!(Sku::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " ",
            " COF",
            "-COF",
            "café",
            "a b",
            "a/b",
            &"A".repeat(MAX_SKU_CHARS + 1),
        ] {
            assert!(Sku::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prices_and_stock_have_bounds() {
        assert!(parse_price(0).is_ok() && parse_price(MAX_PRICE_CENTS).is_ok());
        assert!(parse_price(-1).is_err() && parse_price(MAX_PRICE_CENTS + 1).is_err());
        assert!(parse_stock(0).is_ok() && parse_stock(MAX_STOCK).is_ok());
        assert!(parse_stock(-1).is_err() && parse_stock(MAX_STOCK + 1).is_err());
    }
}
