//! Orders: the status machine, currencies and money. Money is always integer minor units, and
//! every total is computed here, never taken from a client.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
};

use chrono::{DateTime, Utc};

use super::{FieldErrors, Message, precondition::EntityTag, product::Product, text};

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

/// One line of an order, with its total. A line ordered by product holds a copy of the
/// product's name, sku and price as they were then.
#[derive(Debug, Clone)]
pub struct LineItem {
    pub product: String,
    /// `None` for a free line.
    pub product_id: Option<i64>,
    pub sku: Option<String>,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub line_total_cents: i64,
    /// Whether the line's units came out of its product's stock, and so go back to it. A line
    /// written while its product's stock was not tracked took nothing: when tracking starts
    /// later, cancelling its order must not give back units it never took. A product line is
    /// to be taken when its product's stock was tracked as it was looked up (so an untracked
    /// product costs the order no statement), until the stock says otherwise.
    pub stock_taken: bool,
}

/// Two lines are the same when they order the same thing: where their units came from is
/// bookkeeping, not part of the order.
impl PartialEq for LineItem {
    fn eq(&self, other: &Self) -> bool {
        self.product == other.product
            && self.product_id == other.product_id
            && self.sku == other.sku
            && self.quantity == other.quantity
            && self.unit_price_cents == other.unit_price_cents
            && self.line_total_cents == other.line_total_cents
    }
}

impl Eq for LineItem {}

/// A line as a client sends it, before validation: a `product_id`, or a free line's `product`
/// and `unit_price_cents`.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub product_id: Option<i64>,
    pub product: Option<String>,
    pub quantity: i64,
    pub unit_price_cents: Option<i64>,
}

/// A valid line, before the catalogue is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRequest {
    Product { product_id: i64, quantity: i64 },
    Free(LineItem),
}

/// The lines a client asked for: 1 to 100 valid ones, each naming a product or free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRequests(Vec<LineRequest>);

impl ItemRequests {
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
        for (index, input) in inputs.into_iter().enumerate() {
            let field = |name: &str| format!("items.{index}.{name}");
            if !(1..=MAX_QUANTITY).contains(&input.quantity) {
                errors.add(
                    field("quantity"),
                    Message::new("validation-between")
                        .field(field("quantity"))
                        .with("min", 1u32)
                        .with("max", MAX_QUANTITY),
                );
            }
            match (input.product_id, input.product, input.unit_price_cents) {
                (Some(product_id), None, None) => lines.push(LineRequest::Product {
                    product_id,
                    quantity: input.quantity,
                }),
                (Some(_), _, _) => {
                    errors.add(format!("items.{index}"), Message::new("order-line-both"));
                }
                (None, None, None) => {
                    errors.add(format!("items.{index}"), Message::new("order-line-neither"));
                }
                (None, product, price) => {
                    let product = parse_free_name(&mut errors, &field("product"), product);
                    let price = parse_free_price(&mut errors, &field("unit_price_cents"), price);
                    if let (Some(product), Some(unit_price_cents)) = (product, price) {
                        lines.push(LineRequest::Free(LineItem {
                            product,
                            product_id: None,
                            sku: None,
                            quantity: input.quantity,
                            unit_price_cents,
                            // Saturating only for an invalid quantity, refused above.
                            line_total_cents: input.quantity.saturating_mul(unit_price_cents),
                            stock_taken: false,
                        }));
                    }
                }
            }
        }
        errors.finish(|| Self(lines))
    }

    /// The position of each free line.
    pub fn free_lines(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(line, LineRequest::Free(_)))
            .map(|(index, _)| index)
    }

    /// The products the lines name, each once.
    pub fn product_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .0
            .iter()
            .filter_map(|line| match line {
                LineRequest::Product { product_id, .. } => Some(*product_id),
                LineRequest::Free(_) => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The lines of an order in `currency`, each product line a copy of its product as
    /// `products` holds it now. A product that is not there or inactive is unknown (customers
    /// cannot tell them apart), and one priced in another currency does not fit: 422s naming
    /// the line.
    pub fn resolve(
        self,
        currency: &Currency,
        products: &HashMap<i64, Product>,
    ) -> Result<Items, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut lines = Vec::with_capacity(self.0.len());
        for (index, line) in self.0.into_iter().enumerate() {
            let field = || format!("items.{index}.product_id");
            match line {
                LineRequest::Free(line) => lines.push(line),
                LineRequest::Product {
                    product_id,
                    quantity,
                } => match products.get(&product_id).filter(|product| product.active) {
                    None => errors.add(field(), Message::new("order-product-unknown")),
                    Some(product) if product.currency != *currency => errors.add(
                        field(),
                        Message::new("order-product-currency")
                            .with("product_currency", product.currency.as_str())
                            .with("currency", currency.as_str()),
                    ),
                    Some(product) => lines.push(LineItem {
                        product: product.name.clone(),
                        product_id: Some(product.id),
                        sku: Some(product.sku.clone()),
                        quantity,
                        unit_price_cents: product.price_cents,
                        line_total_cents: quantity * product.price_cents,
                        stock_taken: product.stock.is_some(),
                    }),
                },
            }
        }
        errors.finish(|| Items::from_stored(lines))
    }
}

fn parse_free_name(errors: &mut FieldErrors, field: &str, raw: Option<String>) -> Option<String> {
    let Some(raw) = raw else {
        errors.add(field, Message::new("validation-required").field(field));
        return None;
    };
    let product = raw.trim().to_owned();
    let refusal = if product.is_empty() {
        Message::new("validation-required").field(field)
    } else if product.chars().any(text::is_refused) {
        Message::new("validation-control-chars").field(field)
    } else if product.chars().count() > MAX_PRODUCT_CHARS {
        Message::new("validation-max-chars")
            .field(field)
            .with("max", MAX_PRODUCT_CHARS)
    } else {
        return Some(product);
    };
    errors.add(field, refusal);
    None
}

fn parse_free_price(errors: &mut FieldErrors, field: &str, raw: Option<i64>) -> Option<i64> {
    match raw {
        Some(cents) if (0..=MAX_UNIT_PRICE_CENTS).contains(&cents) => Some(cents),
        Some(_) => {
            errors.add(
                field,
                Message::new("validation-between")
                    .field(field)
                    .with("min", 0u32)
                    .with("max", MAX_UNIT_PRICE_CENTS),
            );
            None
        }
        None => {
            errors.add(field, Message::new("validation-required").field(field));
            None
        }
    }
}

/// The lines of an order and their total: 1 to 100 valid lines, whose total always fits in an
/// i64 (at most 100 × 10 000 × 100 000 000 cents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Items {
    lines: Vec<LineItem>,
    total_cents: i64,
}

impl Items {
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

    /// How many units of each product the lines took from stock (or are to take), by product id.
    pub fn units_by_product(&self) -> BTreeMap<i64, i64> {
        let mut units = BTreeMap::new();
        for line in &self.lines {
            if let (Some(product_id), true) = (line.product_id, line.stock_taken) {
                *units.entry(product_id).or_default() += line.quantity;
            }
        }
        units
    }

    /// Records that the stock of `product_ids` is not tracked: their lines take nothing.
    pub fn mark_untracked(&mut self, product_ids: &[i64]) {
        for line in &mut self.lines {
            if line.product_id.is_some_and(|id| product_ids.contains(&id)) {
                line.stock_taken = false;
            }
        }
    }

    /// The 422 for lines whose product is not among `products` (any more).
    pub fn unknown_products(&self, products: &HashMap<i64, Product>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        for (index, line) in self.lines.iter().enumerate() {
            if line
                .product_id
                .is_some_and(|id| !products.contains_key(&id))
            {
                errors.add(
                    format!("items.{index}.product_id"),
                    Message::new("order-product-unknown"),
                );
            }
        }
        errors
    }

    /// Where the lines naming `product_ids` are, as a message lists them: `items.0 (TEA)`.
    pub fn positions_of(&self, product_ids: &[i64]) -> String {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| line.product_id.is_some_and(|id| product_ids.contains(&id)))
            .map(|(index, line)| format!("items.{index} ({})", line.sku.as_deref().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Per product, the units to take from stock (positive) or to give back (negative) for an
/// order that held `before` to hold `after`; products whose count stays are left out. In
/// product id order, the order in which every writer locks products, so that two orders
/// never wait for each other.
pub fn stock_moves(before: &BTreeMap<i64, i64>, after: &BTreeMap<i64, i64>) -> BTreeMap<i64, i64> {
    let mut moves = after.clone();
    for (product_id, units) in before {
        *moves.entry(*product_id).or_default() -= units;
    }
    moves.retain(|_, units| *units != 0);
    moves
}

impl OrderStatus {
    /// Whether an order in this status holds its products' stock: all but a cancelled one.
    pub fn holds_stock(self) -> bool {
        self != Self::Cancelled
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
    /// Incremented by every write: what its `ETag` is made of.
    pub version: i64,
}

impl Order {
    pub fn entity_tag(&self) -> EntityTag {
        EntityTag::new(self.id, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(quantity: i64, unit_price_cents: i64) -> ItemInput {
        ItemInput {
            product_id: None,
            product: Some("Tea".into()),
            quantity,
            unit_price_cents: Some(unit_price_cents),
        }
    }

    fn by_product(product_id: i64, quantity: i64) -> ItemInput {
        ItemInput {
            product_id: Some(product_id),
            product: None,
            quantity,
            unit_price_cents: None,
        }
    }

    /// Free lines only: no catalogue to look up.
    fn parse(inputs: Vec<ItemInput>) -> Result<Items, FieldErrors> {
        ItemRequests::parse(inputs)?.resolve(&Currency::euro(), &HashMap::new())
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(field, _)| field).collect()
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
        let items = parse(vec![item(3, 250), item(1, 1_000)]).unwrap();
        assert_eq!(items.total_cents(), 1_750);
        assert_eq!(items.lines()[0].line_total_cents, 750);
    }

    #[test]
    fn the_largest_allowed_order_fits() {
        let items = parse(
            (0..MAX_ITEMS)
                .map(|_| item(MAX_QUANTITY, MAX_UNIT_PRICE_CENTS))
                .collect(),
        )
        .unwrap();
        assert_eq!(items.total_cents(), 100_000_000_000_000);
    }

    #[test]
    fn stock_moves_are_the_difference_per_product() {
        let units = |pairs: &[(i64, i64)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        assert_eq!(
            stock_moves(
                &units(&[(1, 2), (2, 5), (3, 1)]),
                &units(&[(1, 2), (2, 3), (4, 7)])
            ),
            units(&[(2, -2), (3, -1), (4, 7)])
        );
        assert!(stock_moves(&units(&[(1, 2)]), &units(&[(1, 2)])).is_empty());
        assert!(!OrderStatus::Cancelled.holds_stock() && OrderStatus::Pending.holds_stock());
    }

    #[test]
    fn an_absurd_quantity_is_refused_not_overflowed() {
        let errors = parse(vec![item(i64::MAX, 2)]).unwrap_err();
        assert_eq!(fields(&errors), ["items.0.quantity"]);
    }

    #[test]
    fn a_line_names_a_product_or_is_free_never_both_or_neither() {
        let both = ItemInput {
            product_id: Some(1),
            ..item(1, 1)
        };
        let neither = ItemInput {
            product: None,
            unit_price_cents: None,
            ..item(1, 1)
        };
        let half_free = ItemInput {
            unit_price_cents: None,
            ..item(1, 1)
        };
        let errors =
            ItemRequests::parse(vec![both, neither, half_free, by_product(4, 1)]).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["items.0", "items.1", "items.2.unit_price_cents"]
        );
        let requests =
            ItemRequests::parse(vec![by_product(4, 1), item(1, 1), by_product(4, 2)]).unwrap();
        assert_eq!(requests.product_ids(), [4]);
        assert_eq!(requests.free_lines().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn product_lines_copy_the_product_and_refuse_what_cannot_be_sold() {
        let product = |id: i64, currency: &str, active: bool| Product {
            id,
            sku: format!("SKU-{id}"),
            name: format!("Product {id}"),
            description: None,
            price_cents: 250,
            currency: Currency::parse(currency).unwrap(),
            stock: None,
            active,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            version: 1,
        };
        let catalogue: HashMap<i64, Product> = [
            (1, product(1, "EUR", true)),
            (2, product(2, "EUR", false)),
            (3, product(3, "CHF", true)),
        ]
        .into_iter()
        .collect();
        let items = ItemRequests::parse(vec![by_product(1, 3), item(1, 100)])
            .unwrap()
            .resolve(&Currency::euro(), &catalogue)
            .unwrap();
        assert_eq!(items.total_cents(), 850);
        let line = &items.lines()[0];
        assert_eq!(
            (line.product.as_str(), line.sku.as_deref(), line.product_id),
            ("Product 1", Some("SKU-1"), Some(1))
        );
        assert_eq!(line.unit_price_cents, 250);
        let errors = ItemRequests::parse(vec![
            by_product(1, 1),
            by_product(2, 1),
            by_product(3, 1),
            by_product(9, 1),
        ])
        .unwrap()
        .resolve(&Currency::euro(), &catalogue)
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "items.1.product_id",
                "items.2.product_id",
                "items.3.product_id"
            ]
        );
    }

    #[test]
    fn bad_lines_are_reported_by_their_dotted_path() {
        let errors = parse(vec![item(1, 1), item(0, -5)]).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["items.1.quantity", "items.1.unit_price_cents"]
        );
    }

    #[test]
    fn product_names_with_direction_controls_or_separators_are_refused() {
        let named = |product: &str| ItemInput {
            product: Some(product.into()),
            ..item(1, 1)
        };
        let errors = parse(vec![named("Tea\u{202E}aet"), named("Tea\u{2028}Tea")]).unwrap_err();
        assert_eq!(fields(&errors), ["items.0.product", "items.1.product"]);
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EURO", "E1R", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
