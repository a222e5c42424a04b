//! Orders: the status machine, currencies and money. Money is always integer minor units, and
//! every total is computed here, never taken from a client.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{FieldErrors, Message, text};

pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: i64 = 10_000;
pub const MAX_UNIT_PRICE_CENTS: i64 = 100_000_000;
pub const MAX_PRODUCT_CHARS: usize = 200;
pub const MAX_NOTES_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// The transition table: `pending → paid | cancelled`, `paid → shipped | cancelled`,
    /// `shipped → delivered`; `delivered` and `cancelled` are final.
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Paid | Self::Cancelled)
                | (Self::Paid, Self::Shipped | Self::Cancelled)
                | (Self::Shipped, Self::Delivered)
        )
    }

    /// Owners may only cancel; every other transition is an admin's.
    pub fn owner_may_set(next: Self) -> bool {
        next == Self::Cancelled
    }

    /// Items and currency change only while the order is pending, whoever asks.
    pub fn allows_item_changes(self) -> bool {
        self == Self::Pending
    }

    /// Notes: an admin may annotate an order at any time, an owner only while it is pending.
    pub fn allows_note_changes(self, by_admin: bool) -> bool {
        by_admin || self == Self::Pending
    }

    /// An admin deletes any order; an owner only one that never went further than pending,
    /// or was cancelled.
    pub fn deletable_by(self, by_admin: bool) -> bool {
        by_admin || matches!(self, Self::Pending | Self::Cancelled)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 4217 code: three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, Message> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Message::new("validation-currency").field("currency"))
        }
    }

    pub fn euro() -> Self {
        Self("EUR".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One line of an order, with its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub product: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub line_total_cents: i64,
}

/// A line as a client sends it, before validation.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub product: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// The lines of an order and their total: 1 to 100 valid lines whose total fits in an i64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Items {
    lines: Vec<LineItem>,
    total_cents: i64,
}

impl Items {
    pub fn parse(inputs: Vec<ItemInput>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        if inputs.is_empty() {
            errors.add(
                "items",
                Message::new("validation-min-entries")
                    .field("items")
                    .with("min", 1u32),
            );
        }
        if inputs.len() > MAX_ITEMS {
            errors.add(
                "items",
                Message::new("validation-max-entries")
                    .field("items")
                    .with("max", MAX_ITEMS),
            );
        }
        let mut lines = Vec::with_capacity(inputs.len());
        let mut total_cents: i64 = 0;
        for (index, input) in inputs.into_iter().enumerate() {
            let field = |name: &str| format!("items.{index}.{name}");
            let product = input.product.trim().to_owned();
            if product.is_empty() {
                errors.add(
                    field("product"),
                    Message::new("validation-required").field(field("product")),
                );
            } else if product.chars().any(text::is_refused) {
                errors.add(
                    field("product"),
                    Message::new("validation-control-chars").field(field("product")),
                );
            } else if product.chars().count() > MAX_PRODUCT_CHARS {
                errors.add(
                    field("product"),
                    Message::new("validation-max-chars")
                        .field(field("product"))
                        .with("max", MAX_PRODUCT_CHARS),
                );
            }
            if !(1..=MAX_QUANTITY).contains(&input.quantity) {
                errors.add(
                    field("quantity"),
                    Message::new("validation-between")
                        .field(field("quantity"))
                        .with("min", 1u32)
                        .with("max", MAX_QUANTITY),
                );
            }
            if !(0..=MAX_UNIT_PRICE_CENTS).contains(&input.unit_price_cents) {
                errors.add(
                    field("unit_price_cents"),
                    Message::new("validation-between")
                        .field(field("unit_price_cents"))
                        .with("min", 0u32)
                        .with("max", MAX_UNIT_PRICE_CENTS),
                );
            }
            let line_total = input.quantity.checked_mul(input.unit_price_cents);
            match line_total.and_then(|line| total_cents.checked_add(line)) {
                Some(sum) => total_cents = sum,
                None => errors.add("items", Message::new("validation-order-total-too-large")),
            }
            lines.push(LineItem {
                product,
                quantity: input.quantity,
                unit_price_cents: input.unit_price_cents,
                line_total_cents: line_total.unwrap_or_default(),
            });
        }
        errors.finish(|| Self { lines, total_cents })
    }

    /// Lines read back from storage, already validated when they were written.
    pub fn from_stored(lines: Vec<LineItem>) -> Self {
        let total_cents = lines.iter().map(|line| line.line_total_cents).sum();
        Self { lines, total_cents }
    }

    pub fn lines(&self) -> &[LineItem] {
        &self.lines
    }

    pub fn total_cents(&self) -> i64 {
        self.total_cents
    }
}

/// Free text attached to an order: at most 2 000 characters.
pub fn parse_notes(notes: String) -> Result<String, Message> {
    if notes.chars().count() > MAX_NOTES_CHARS {
        Err(Message::new("validation-max-chars")
            .field("notes")
            .with("max", MAX_NOTES_CHARS))
    } else {
        Ok(notes)
    }
}

/// What a list of orders can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSortKey {
    Id,
    CreatedAt,
    TotalCents,
}

/// The changes of a PUT or PATCH: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct OrderChanges {
    pub currency: Option<Currency>,
    pub items: Option<Items>,
    /// `Some(None)` clears the notes.
    pub notes: Option<Option<String>>,
    pub status: Option<OrderStatus>,
}

impl OrderChanges {
    pub fn is_empty(&self) -> bool {
        self.currency.is_none()
            && self.items.is_none()
            && self.notes.is_none()
            && self.status.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub user_id: i64,
    pub status: OrderStatus,
    pub currency: Currency,
    pub items: Items,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(quantity: i64, unit_price_cents: i64) -> ItemInput {
        ItemInput {
            product: "Tea".into(),
            quantity,
            unit_price_cents,
        }
    }

    #[test]
    fn owners_edit_items_notes_and_delete_only_while_nothing_has_happened() {
        use OrderStatus::*;
        let for_owner = |rule: fn(OrderStatus) -> bool| -> Vec<OrderStatus> {
            OrderStatus::ALL.into_iter().filter(|s| rule(*s)).collect()
        };
        assert_eq!(for_owner(OrderStatus::allows_item_changes), [Pending]);
        assert_eq!(for_owner(|s| s.allows_note_changes(false)), [Pending]);
        assert_eq!(for_owner(|s| s.deletable_by(false)), [Pending, Cancelled]);
        // Admins annotate and delete in any status, but items still freeze after pending.
        assert!(
            OrderStatus::ALL
                .into_iter()
                .all(|s| s.allows_note_changes(true))
        );
        assert!(OrderStatus::ALL.into_iter().all(|s| s.deletable_by(true)));
        let owner_moves: Vec<OrderStatus> = OrderStatus::ALL
            .into_iter()
            .filter(|next| OrderStatus::owner_may_set(*next))
            .collect();
        assert_eq!(owner_moves, [Cancelled]);
    }

    #[test]
    fn the_transition_table_allows_exactly_five_moves() {
        use OrderStatus::*;
        let allowed: Vec<(OrderStatus, OrderStatus)> = OrderStatus::ALL
            .into_iter()
            .flat_map(|from| OrderStatus::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Pending, Paid),
                (Pending, Cancelled),
                (Paid, Shipped),
                (Paid, Cancelled),
                (Shipped, Delivered)
            ]
        );
    }

    #[test]
    fn totals_are_computed_from_the_lines() {
        let items = Items::parse(vec![item(3, 250), item(1, 1_000)]).unwrap();
        assert_eq!(items.total_cents(), 1_750);
        assert_eq!(items.lines()[0].line_total_cents, 750);
    }

    #[test]
    fn the_largest_allowed_order_fits() {
        let items = Items::parse(
            (0..MAX_ITEMS)
                .map(|_| item(MAX_QUANTITY, MAX_UNIT_PRICE_CENTS))
                .collect(),
        )
        .unwrap();
        assert_eq!(items.total_cents(), 100_000_000_000_000);
    }

    #[test]
    fn a_total_that_would_overflow_is_refused_not_wrapped() {
        let errors = Items::parse(vec![item(i64::MAX, 2)]).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["items", "items.0.quantity"]);
    }

    #[test]
    fn bad_lines_are_reported_by_their_dotted_path() {
        let errors = Items::parse(vec![item(1, 1), item(0, -5)]).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["items.1.quantity", "items.1.unit_price_cents"]);
    }

    #[test]
    fn product_names_with_direction_controls_or_separators_are_refused() {
        let named = |product: &str| ItemInput {
            product: product.into(),
            ..item(1, 1)
        };
        let errors =
            Items::parse(vec![named("Tea\u{202E}aet"), named("Tea\u{2028}Tea")]).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["items.0.product", "items.1.product"]);
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EURO", "E1R", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
