//! The `orders` tag: an owner's orders, and every order for an admin. Someone else's order
//! answers 404.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::{Example, MaybeUndefined},
};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    error::{ApiError, Failure, status::*},
    security::BearerAuth,
    types::{
        PageMetaResource, Timestamp, default_page, default_per_page, example_time, page_request,
    },
};
use crate::{
    domain::{
        FieldErrors,
        listing::Sort,
        order::{Currency, ItemInput, Items, Order, OrderStatus, parse_notes},
    },
    service::orders::{NewOrder, OrderChanges, OrderFilter, OrderSortKey},
};

pub struct OrdersApi;

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

/// One line of an order. Amounts are integer cents.
#[derive(Debug, Clone, Object)]
#[oai(rename = "OrderItem")]
pub struct OrderItemResource {
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

/// A line as the client sends it; its total is computed by the server.
#[derive(Debug, Clone, Object)]
pub struct OrderItemInput {
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub product: String,
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub quantity: i64,
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000")))]
    pub unit_price_cents: i64,
}

fn example_items() -> Vec<OrderItemInput> {
    vec![OrderItemInput {
        product: "Café en grains, 1 kg".into(),
        quantity: 2,
        unit_price_cents: 1_890,
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
    ),
}

#[derive(ApiResponse)]
pub enum OrderResponse {
    /// The order.
    #[oai(status = 200)]
    Ok(Json<OrderResource>),
}

#[derive(ApiResponse)]
pub enum OrderDeletedResponse {
    /// The order and its lines are gone.
    #[oai(status = 204)]
    Deleted,
}

const CHANGE: u32 = PER_ID | JSON_BODY | FORBIDDEN | CONFLICT;

fn parse_currency(errors: &mut FieldErrors, raw: Option<&str>) -> Option<Currency> {
    raw.and_then(|raw| errors.check("currency", Currency::parse(raw)))
}

fn parse_items(errors: &mut FieldErrors, raw: Option<Vec<OrderItemInput>>) -> Option<Items> {
    let inputs = raw?
        .into_iter()
        .map(|item| ItemInput {
            product: item.product,
            quantity: item.quantity,
            unit_price_cents: item.unit_price_cents,
        })
        .collect();
    Items::parse(inputs)
        .map_err(|item_errors| {
            for (field, messages) in item_errors.into_map() {
                for message in messages {
                    errors.add(field.clone(), message);
                }
            }
        })
        .ok()
}

fn parse_notes_field(errors: &mut FieldErrors, raw: Option<String>) -> Option<String> {
    raw.and_then(|notes| errors.check("notes", parse_notes(notes)))
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// List orders
    ///
    /// Your own orders; an admin sees everyone's and may filter by `user_id`.
    #[oai(path = "/orders", method = "get", operation_id = "order_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page number, from 1.
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "1000000"))
        )]
        page: Query<u64>,
        /// Rows per page, 1 to 100.
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u64>,
        /// Sort key, `-created_at` unless given; a leading `-` sorts descending; ties are broken by
        /// `id`.
        sort: Query<Option<OrderSort>>,
        status: Query<Option<OrderStatusName>>,
        /// Admins: only this user's orders. Others may pass only their own id.
        #[oai(validator(minimum(value = "1")))]
        user_id: Query<Option<i64>>,
    ) -> Result<OrderListResponse, Failure<{ UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE | ALWAYS }>>
    {
        let filter = OrderFilter {
            status: status.0.map(OrderStatus::from),
            user_id: user_id.0,
        };
        let page = state
            .orders
            .list(
                &auth.0.user,
                filter,
                sort.0.unwrap_or_default().into(),
                page_request(page.0, per_page.0),
            )
            .await?;
        Ok(OrderListResponse::Ok(Json(OrderPage {
            data: page.data.into_iter().map(OrderResource::from).collect(),
            meta: page.meta.into(),
        })))
    }

    /// Create an order
    ///
    /// The order starts `pending`; totals are computed by the server.
    #[oai(path = "/orders", method = "post", operation_id = "order_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: JsonBody<CreateOrderRequest>,
    ) -> Result<OrderCreatedResponse, Failure<{ UNAUTHORIZED | JSON_BODY | ALWAYS }>> {
        let request = body.0;
        let mut errors = FieldErrors::new();
        let currency =
            parse_currency(&mut errors, request.currency.as_deref()).unwrap_or_else(Currency::euro);
        let items = parse_items(&mut errors, Some(request.items));
        let notes = parse_notes_field(&mut errors, request.notes);
        let (Some(items), true) = (items, errors.is_empty()) else {
            return Err(ApiError::validation(errors).into());
        };
        let order = NewOrder {
            user_id: request.user_id,
            currency,
            items,
            notes,
        };
        let order = state.orders.create(&auth.0.user, order).await?;
        let location = format!("/api/orders/{}", order.id);
        Ok(OrderCreatedResponse::Created(Json(order.into()), location))
    }

    /// Show an order
    ///
    /// Yours, or any for an admin.
    #[oai(path = "/orders/:id", method = "get", operation_id = "order_view")]
    async fn view(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
    ) -> Result<OrderResponse, Failure<PER_ID>> {
        let order = state.orders.get(&auth.0.user, id.0).await?;
        Ok(OrderResponse::Ok(Json(order.into())))
    }

    /// Replace an order
    ///
    /// Sets the items, currency and notes, and optionally moves the status. Items and currency
    /// change only while `pending` (409 otherwise); owners may only cancel (403 otherwise).
    #[oai(path = "/orders/:id", method = "put", operation_id = "order_replace")]
    async fn replace(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        body: JsonBody<ReplaceOrderRequest>,
    ) -> Result<OrderResponse, Failure<CHANGE>> {
        let request = body.0;
        let mut errors = FieldErrors::new();
        let changes = OrderChanges {
            currency: Some(
                parse_currency(&mut errors, request.currency.as_deref())
                    .unwrap_or_else(Currency::euro),
            ),
            items: parse_items(&mut errors, Some(request.items)),
            notes: Some(parse_notes_field(&mut errors, request.notes)),
            status: request.status.map(OrderStatus::from),
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let order = state.orders.update(&auth.0.user, id.0, changes).await?;
        Ok(OrderResponse::Ok(Json(order.into())))
    }

    /// Update an order
    ///
    /// Changes only the fields sent (a null `notes` clears them); an empty body changes
    /// nothing. Same rules as replace.
    #[oai(path = "/orders/:id", method = "patch", operation_id = "order_update")]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        body: JsonBody<UpdateOrderRequest>,
    ) -> Result<OrderResponse, Failure<CHANGE>> {
        let request = body.0;
        let mut errors = FieldErrors::new();
        let notes = match request.notes {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(notes) => Some(parse_notes_field(&mut errors, Some(notes))),
        };
        let changes = OrderChanges {
            currency: parse_currency(&mut errors, request.currency.as_deref()),
            items: parse_items(&mut errors, request.items),
            notes,
            status: request.status.map(OrderStatus::from),
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let order = state.orders.update(&auth.0.user, id.0, changes).await?;
        Ok(OrderResponse::Ok(Json(order.into())))
    }

    /// Delete an order
    ///
    /// Admins delete any order; an owner only a `pending` or `cancelled` one (409 otherwise).
    #[oai(path = "/orders/:id", method = "delete", operation_id = "order_delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
    ) -> Result<OrderDeletedResponse, Failure<{ PER_ID | CONFLICT }>> {
        state.orders.delete(&auth.0.user, id.0).await?;
        Ok(OrderDeletedResponse::Deleted)
    }
}
