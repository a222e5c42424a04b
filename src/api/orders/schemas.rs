//! The JSON shapes of the `orders` tag: what clients send, what they get back, and how those
//! turn into the domain's orders and back.

use poem_openapi::{
    ApiResponse, Enum, Object,
    payload::Json,
    types::{Example, MaybeUndefined},
};

use crate::{
    api::types::{PageMetaResource, RoleName, Timestamp, example_time},
    domain::{
        FieldErrors,
        listing::Sort,
        order::{Currency, ItemInput, ItemRequests, Order, OrderStatus, parse_notes},
        order_event::{OrderEvent, OrderEventKind},
    },
    service::orders::OrderSortKey,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "OrderStatus", rename_all = "lowercase")]
/// `pending → paid | cancelled`, `paid → shipped | cancelled`, `shipped → delivered`;
/// `delivered` and `cancelled` are final.
pub enum OrderStatusName {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl From<OrderStatus> for OrderStatusName {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Pending => Self::Pending,
            OrderStatus::Paid => Self::Paid,
            OrderStatus::Shipped => Self::Shipped,
            OrderStatus::Delivered => Self::Delivered,
            OrderStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<OrderStatusName> for OrderStatus {
    fn from(status: OrderStatusName) -> Self {
        match status {
            OrderStatusName::Pending => Self::Pending,
            OrderStatusName::Paid => Self::Paid,
            OrderStatusName::Shipped => Self::Shipped,
            OrderStatusName::Delivered => Self::Delivered,
            OrderStatusName::Cancelled => Self::Cancelled,
        }
    }
}

/// A sort key; a leading `-` sorts descending. Ties are broken by `id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
pub enum OrderSort {
    #[oai(rename = "id")]
    Id,
    #[oai(rename = "-id")]
    IdDesc,
    #[oai(rename = "created_at")]
    CreatedAt,
    #[default]
    #[oai(rename = "-created_at")]
    CreatedAtDesc,
    #[oai(rename = "total_cents")]
    TotalCents,
    #[oai(rename = "-total_cents")]
    TotalCentsDesc,
}

impl From<OrderSort> for Sort<OrderSortKey> {
    fn from(sort: OrderSort) -> Self {
        let (key, descending) = match sort {
            OrderSort::Id => (OrderSortKey::Id, false),
            OrderSort::IdDesc => (OrderSortKey::Id, true),
            OrderSort::CreatedAt => (OrderSortKey::CreatedAt, false),
            OrderSort::CreatedAtDesc => (OrderSortKey::CreatedAt, true),
            OrderSort::TotalCents => (OrderSortKey::TotalCents, false),
            OrderSort::TotalCentsDesc => (OrderSortKey::TotalCents, true),
        };
        Self { key, descending }
    }
}

/// One line of an order. Amounts are integer cents. A line ordered by product holds the
/// product's name (`product`), sku and price as they were when it was ordered.
#[derive(Debug, Clone, Object)]
#[oai(rename = "OrderItem")]
pub struct OrderItemResource {
    /// The catalogue's product; null for a free line.
    #[oai(nullable)]
    pub product_id: Option<i64>,
    #[oai(nullable)]
    pub sku: Option<String>,
    pub product: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    /// `quantity × unit_price_cents`, computed by the server.
    pub line_total_cents: i64,
}

/// An order. Money is in integer minor units of `currency`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Order", example)]
pub struct OrderResource {
    pub id: i64,
    pub user_id: i64,
    pub status: OrderStatusName,
    /// ISO 4217.
    pub currency: String,
    pub items: Vec<OrderItemResource>,
    /// The sum of the line totals, computed by the server.
    pub total_cents: i64,
    #[oai(nullable)]
    pub notes: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Order> for OrderResource {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            user_id: order.user_id,
            status: order.status.into(),
            currency: order.currency.as_str().to_owned(),
            total_cents: order.items.total_cents(),
            items: order
                .items
                .lines()
                .iter()
                .map(|line| OrderItemResource {
                    product_id: line.product_id,
                    sku: line.sku.clone(),
                    product: line.product.clone(),
                    quantity: line.quantity,
                    unit_price_cents: line.unit_price_cents,
                    line_total_cents: line.line_total_cents,
                })
                .collect(),
            notes: order.notes,
            created_at: order.created_at.into(),
            updated_at: order.updated_at.into(),
        }
    }
}

impl Example for OrderResource {
    fn example() -> Self {
        Self {
            id: 7,
            user_id: 42,
            status: OrderStatusName::Pending,
            currency: "EUR".into(),
            items: vec![OrderItemResource {
                product_id: Some(3),
                sku: Some("COF-1KG".into()),
                product: "Café en grains, 1 kg".into(),
                quantity: 2,
                unit_price_cents: 1_890,
                line_total_cents: 3_780,
            }],
            total_cents: 3_780,
            notes: Some("Livraison le matin".into()),
            created_at: example_time(),
            updated_at: example_time(),
        }
    }
}

/// One page of orders.
#[derive(Debug, Object)]
pub struct OrderPage {
    pub data: Vec<OrderResource>,
    pub meta: PageMetaResource,
}

/// A line as the client sends it: a `product_id` from the catalogue, whose name, sku and
/// price the server copies into the order; or, from admins (and from anyone with
/// `ORDER_FREE_LINES=anyone`), a free line's `product` and `unit_price_cents`. Never both.
/// The total is computed by the server.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OrderItemInput {
    pub product_id: Option<i64>,
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub product: Option<String>,
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub quantity: i64,
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000")))]
    pub unit_price_cents: Option<i64>,
}

fn example_items() -> Vec<OrderItemInput> {
    vec![OrderItemInput {
        product_id: Some(3),
        product: None,
        quantity: 2,
        unit_price_cents: None,
    }]
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CreateOrderRequest {
    /// ISO 4217; `EUR` unless given.
    #[oai(validator(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    /// 1 to 100 lines.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub items: Vec<OrderItemInput>,
    #[oai(nullable, validator(max_length = 2000, pattern = r"^[^\x00]*$"))]
    pub notes: Option<String>,
    /// Admins only: the owner of the new order (the caller by default).
    pub user_id: Option<i64>,
}

impl Example for CreateOrderRequest {
    fn example() -> Self {
        Self {
            currency: Some("EUR".into()),
            items: example_items(),
            notes: Some("Livraison le matin".into()),
            user_id: None,
        }
    }
}

/// The whole editable order: `items` is required; an absent `currency` is `EUR` and an absent
/// `notes` is null. `status`, when given, must be a transition the caller may make.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ReplaceOrderRequest {
    #[oai(validator(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[oai(validator(min_items = 1, max_items = 100))]
    pub items: Vec<OrderItemInput>,
    #[oai(nullable, validator(max_length = 2000, pattern = r"^[^\x00]*$"))]
    pub notes: Option<String>,
    pub status: Option<OrderStatusName>,
}

impl Example for ReplaceOrderRequest {
    fn example() -> Self {
        Self {
            currency: Some("EUR".into()),
            items: example_items(),
            notes: None,
            status: None,
        }
    }
}

/// The fields to change; absent fields stay as they are, a null `notes` clears them.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct UpdateOrderRequest {
    #[oai(validator(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[oai(validator(min_items = 1, max_items = 100))]
    pub items: Option<Vec<OrderItemInput>>,
    #[oai(nullable, validator(max_length = 2000, pattern = r"^[^\x00]*$"))]
    pub notes: MaybeUndefined<String>,
    pub status: Option<OrderStatusName>,
}

impl Example for UpdateOrderRequest {
    fn example() -> Self {
        Self {
            currency: None,
            items: None,
            notes: MaybeUndefined::Undefined,
            status: Some(OrderStatusName::Cancelled),
        }
    }
}

#[derive(ApiResponse)]
pub enum OrderListResponse {
    /// One page of orders.
    #[oai(status = 200)]
    Ok(Json<OrderPage>),
}

#[derive(ApiResponse)]
pub enum OrderCreatedResponse {
    /// The order was created, `pending`.
    #[oai(status = 201)]
    Created(
        Json<OrderResource>,
        /// Where the new order lives: `/api/orders/{id}`.
        #[oai(header = "Location")]
        String,
        /// `true` when this is the stored response of an earlier request with the same
        /// `Idempotency-Key`, answered again: no order was created this time.
        #[oai(header = "Idempotent-Replayed")]
        Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum OrderViewResponse {
    /// The order.
    #[oai(status = 200)]
    Ok(
        Json<OrderResource>,
        /// The order's strong entity tag, for `If-None-Match` and `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-None-Match` named the current tag: what you hold is current. No body.
    #[oai(status = 304)]
    NotModified(
        /// The order's current entity tag.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum OrderResponse {
    /// The order as it now is.
    #[oai(status = 200)]
    Ok(
        Json<OrderResource>,
        /// The order's new strong entity tag.
        #[oai(header = "ETag")]
        String,
    ),
}

impl OrderResponse {
    pub fn new(order: Order) -> Self {
        let tag = order.entity_tag().header_value();
        Self::Ok(Json(order.into()), tag)
    }
}

/// One event of an order's history.
#[derive(Debug, Clone, Object)]
#[oai(rename = "OrderEvent")]
pub struct OrderEventResource {
    pub id: i64,
    // Described on the enum: a field's own description would wrap the reference in an
    // `allOf`, which generators cannot take of an enum.
    #[oai(rename = "type")]
    pub kind: OrderEventType,
    /// Who made the change, with the role they had then.
    #[oai(nullable)]
    pub actor: Option<OrderEventActor>,
    /// The status before: null for `created`.
    #[oai(nullable)]
    pub from_status: Option<OrderStatusName>,
    /// The status after.
    #[oai(nullable)]
    pub to_status: Option<OrderStatusName>,
    /// The fields an `updated` event changed (`items`, `currency`, `notes`); empty for the
    /// other types.
    pub changes: Vec<String>,
    /// The `X-Request-Id` of the request that made the change.
    #[oai(nullable)]
    pub request_id: Option<String>,
    pub created_at: Timestamp,
}

/// `created`, `updated` (items, currency or notes: the event's `changes` names which) or
/// `status_changed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum OrderEventType {
    Created,
    Updated,
    StatusChanged,
}

/// Who made a change.
#[derive(Debug, Clone, Object)]
pub struct OrderEventActor {
    pub id: i64,
    pub role: RoleName,
}

impl From<OrderEvent> for OrderEventResource {
    fn from(stored: OrderEvent) -> Self {
        let event = stored.event;
        Self {
            id: stored.id,
            kind: match event.kind {
                OrderEventKind::Created => OrderEventType::Created,
                OrderEventKind::Updated => OrderEventType::Updated,
                OrderEventKind::StatusChanged => OrderEventType::StatusChanged,
            },
            actor: event.actor.map(|actor| OrderEventActor {
                id: actor.id,
                role: actor.role.into(),
            }),
            from_status: event.from_status.map(OrderStatusName::from),
            to_status: event.to_status.map(OrderStatusName::from),
            changes: event.changes.into_iter().map(str::to_owned).collect(),
            request_id: event.request_id,
            created_at: Timestamp(stored.created_at),
        }
    }
}

/// One page of an order's events, oldest first.
#[derive(Debug, Object)]
pub struct OrderEventPage {
    pub data: Vec<OrderEventResource>,
    pub meta: PageMetaResource,
}

#[derive(ApiResponse)]
pub enum OrderEventListResponse {
    /// One page of the order's events, oldest first.
    #[oai(status = 200)]
    Ok(Json<OrderEventPage>),
}

#[derive(ApiResponse)]
pub enum OrderDeletedResponse {
    /// The order and its lines are gone.
    #[oai(status = 204)]
    Deleted,
}

pub fn parse_currency(errors: &mut FieldErrors, raw: Option<&str>) -> Option<Currency> {
    raw.and_then(|raw| errors.check("currency", Currency::parse(raw)))
}

pub fn parse_items(
    errors: &mut FieldErrors,
    raw: Option<Vec<OrderItemInput>>,
) -> Option<ItemRequests> {
    let inputs = raw?
        .into_iter()
        .map(|item| ItemInput {
            product_id: item.product_id,
            product: item.product,
            quantity: item.quantity,
            unit_price_cents: item.unit_price_cents,
        })
        .collect();
    ItemRequests::parse(inputs)
        .map_err(|item_errors| errors.merge(item_errors))
        .ok()
}

pub fn parse_notes_field(errors: &mut FieldErrors, raw: Option<String>) -> Option<String> {
    raw.and_then(|notes| errors.check("notes", parse_notes(notes)))
}
