//! The `orders` tag: an owner's orders, and every order for an admin. Someone else's order
//! answers 404.

mod schemas;

use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    error::{ApiError, Failure, status::*},
    security::BearerAuth,
    types::{PageMetaResource, Paging, default_per_page},
};
use crate::{
    domain::{
        FieldErrors,
        order::{Currency, OrderStatus},
    },
    service::orders::{NewOrder, OrderEdit, OrderFilter},
};
pub use schemas::*;

pub struct OrdersApi;

/// The errors of an order's replace and update.
const CHANGE: u32 = PER_ID | JSON_BODY | FORBIDDEN | CONFLICT | EMAIL_NOT_VERIFIED;

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
        /// Page number, from 1 (1 unless given). Not with `cursor`.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
        page: Query<Option<u64>>,
        /// Reads the list by cursor instead of by page number: `start` for the first page,
        /// then the previous page's `meta.next_cursor`, with the same filters and sort. Not
        /// with `page`.
        #[oai(validator(max_length = 1000))]
        cursor: Query<Option<String>>,
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
        let sort = sort.0.unwrap_or_default().into();
        let (data, meta) = match Paging::from_query(page.0, cursor.0, per_page.0)? {
            Paging::Number(page) => {
                let page = state.orders.list(&auth.0.user, filter, sort, page).await?;
                (page.data, page.meta.into())
            }
            Paging::Cursor { cursor, per_page } => {
                let page = state
                    .orders
                    .list_by_cursor(&auth.0.user, filter, sort, &cursor, per_page)
                    .await?;
                let meta = PageMetaResource::of_cursor_page(page.per_page, page.next_cursor);
                (page.data, meta)
            }
        };
        Ok(OrderListResponse::Ok(Json(OrderPage {
            data: data.into_iter().map(OrderResource::from).collect(),
            meta,
        })))
    }

    /// Create an order
    ///
    /// The order starts `pending`; totals are computed by the server. Each line names a
    /// `product_id`, whose name, sku and price are copied into it; free lines (`product` and
    /// `unit_price_cents`) are for admins, or for anyone with `ORDER_FREE_LINES=anyone`. A
    /// product whose stock is tracked and short makes it a 409 `out_of_stock` naming the lines,
    /// and nothing is ordered; cancelling, deleting a pending order or changing its items
    /// gives the difference back. When the
    /// server requires a verified email address, an unverified user (not an admin) gets 403
    /// `email_not_verified`.
    #[oai(path = "/orders", method = "post", operation_id = "order_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: JsonBody<CreateOrderRequest>,
    ) -> Result<
        OrderCreatedResponse,
        Failure<{ UNAUTHORIZED | JSON_BODY | CONFLICT | EMAIL_NOT_VERIFIED | ALWAYS }>,
    > {
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
    /// change only while `pending` (409 otherwise); owners may only cancel (403 otherwise). When the server requires a verified email
    /// address, an unverified user (not an admin) gets 403 `email_not_verified`.
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
        let changes = OrderEdit {
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
        let changes = OrderEdit {
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
