//! The `orders` tag: an owner's orders, and every order for an admin. Someone else's order
//! answers 404.

mod schemas;

use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::{MaybeUndefined, ParseFromJSON, ToJSON},
};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    conditional::{if_match, not_modified},
    error::{ApiError, Failure, status::*},
    idempotency::IdempotencyKeyHeader,
    layers::RequestId,
    security::BearerAuth,
    types::{PageMetaResource, Paging, default_per_page},
};
use crate::{
    domain::{
        FieldErrors,
        ability::Ability,
        idempotency::Fingerprint,
        listing::PageRequest,
        order::{Currency, ItemRequests, Order, OrderStatus},
    },
    service::{
        ServiceError,
        idempotency::{StoredResponse, is_stored},
        orders::{KeyedCreate, NewOrder, OrderEdit, OrderFilter},
    },
};
pub use schemas::*;

pub struct OrdersApi;

fn created(order: OrderResource, replayed: bool) -> OrderCreatedResponse {
    let location = format!("/api/orders/{}", order.id);
    OrderCreatedResponse::Created(Json(order), location, replayed.then(|| "true".to_owned()))
}

/// The order of a stored 201, answered again.
fn stored_order(body: &str) -> Option<OrderResource> {
    let body = serde_json::from_str(body).ok()?;
    OrderResource::parse_from_json(Some(body)).ok()
}

/// The errors of an order's replace and update.
const CHANGE: u32 = PER_ID
    | JSON_BODY
    | FORBIDDEN
    | CONFLICT
    | EMAIL_NOT_VERIFIED
    | PRECONDITION_FAILED
    | MISSING_ABILITY;

/// Free lines set their own prices: an API token needs `orders:price` for them, besides what
/// its owner may do.
fn require_price_ability(
    auth: &BearerAuth,
    items: Option<&ItemRequests>,
) -> Result<(), ServiceError> {
    if items.is_some_and(|items| items.free_lines().next().is_some()) {
        auth.0.require(Ability::OrdersPrice)
    } else {
        Ok(())
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// List orders
    ///
    /// Your own orders; an admin sees everyone's and may filter by `user_id`. API tokens need
    /// `orders:read`.
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
    ) -> Result<
        OrderListResponse,
        Failure<{ UNAUTHORIZED | FORBIDDEN | MISSING_ABILITY | LIST | ALWAYS }>,
    > {
        auth.0.require(Ability::OrdersRead)?;
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
    /// `email_not_verified`. API tokens need `orders:write`, and `orders:price` for free lines.
    ///
    /// With an `Idempotency-Key`, a repeat of the request (same user, key and body) is answered
    /// the first response again, with `Idempotent-Replayed: true`, and orders nothing; the same
    /// key with another body is a 422 `idempotency_key_reused`, and a repeat while the first
    /// still runs a 409 `idempotency_key_in_use` (on SQLite, another instance waits for the
    /// first and answers its replay). Created orders and `out_of_stock` refusals are kept for
    /// the key (`IDEMPOTENCY_KEY_TTL_SECS`); any other failure frees it.
    #[oai(path = "/orders", method = "post", operation_id = "order_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// Makes retrying safe: 1 to 255 visible ASCII characters of the client's choosing
        /// (a UUID, say), new for each order the client means to create.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: IdempotencyKeyHeader,
        body: JsonBody<CreateOrderRequest>,
    ) -> Result<
        OrderCreatedResponse,
        Failure<
            {
                UNAUTHORIZED
                    | JSON_BODY
                    | CONFLICT
                    | EMAIL_NOT_VERIFIED
                    | MISSING_ABILITY
                    | IDEMPOTENT
                    | ALWAYS
            },
        >,
    > {
        auth.0.require(Ability::OrdersWrite)?;
        let request = body.0;
        // The request as a repeat must match it: before anything is taken out of it.
        let fingerprint = idempotency_key.0.as_ref().map(|_| {
            Fingerprint::of(
                "POST",
                "/api/orders",
                &request.to_json().unwrap_or_default(),
            )
        });
        let mut errors = FieldErrors::new();
        let currency =
            parse_currency(&mut errors, request.currency.as_deref()).unwrap_or_else(Currency::euro);
        let items = parse_items(&mut errors, Some(request.items));
        let notes = parse_notes_field(&mut errors, request.notes);
        let (Some(items), true) = (items, errors.is_empty()) else {
            return Err(ApiError::validation(errors).into());
        };
        require_price_ability(&auth, Some(&items))?;
        let order = NewOrder {
            user_id: request.user_id,
            currency,
            items,
            notes,
        };
        let user = &auth.0.user;
        let request_id = Some(request_id.0.0.as_str());
        let (Some(key), Some(fingerprint)) = (idempotency_key.0, fingerprint) else {
            let order = state.orders.create(user, order, request_id, None).await?;
            return Ok(created(order.into(), false));
        };
        let running = state.idempotency_keys.start(user.id, &key, &fingerprint)?;
        let response = |order: &Order| StoredResponse {
            status: 201,
            body: OrderResource::from(order.clone()).to_json_string(),
        };
        let keyed = KeyedCreate {
            key: &running,
            response: &response,
        };
        let err = match state
            .orders
            .create(user, order, request_id, Some(keyed))
            .await
        {
            Ok(order) => return Ok(created(order.into(), false)),
            Err(err) => err,
        };
        let keep = is_stored(&err);
        let error = ApiError::from(err);
        // The key may be another request's already: a repeat answers what that one did,
        // whatever this attempt ran into (its product gone since, say), and its order was
        // rolled back. Else an answer the key keeps is stored, unless another request's got
        // there first.
        let mut stored = state.idempotency_keys.stored(&running).await?;
        if stored.is_none() && keep {
            match state
                .idempotency_keys
                .store(&running, &error.to_stored())
                .await
            {
                Ok(true) => {}
                Ok(false) => stored = state.idempotency_keys.stored(&running).await?,
                Err(failure) => {
                    tracing::warn!(error = %failure, "could not store an idempotency key");
                }
            }
        }
        let Some(stored) = stored else {
            return Err(error.into());
        };
        if stored.status != 201 {
            return Err(ApiError::replayed(stored).into());
        }
        let Some(order) = stored_order(&stored.body) else {
            tracing::error!("a stored order response does not parse");
            return Err(ApiError::internal().into());
        };
        Ok(created(order, true))
    }

    /// Show an order
    ///
    /// Yours, or any for an admin. The `ETag` changes with every change to the order (its
    /// status included); send it back in `If-None-Match` to get a 304 while it is current, or
    /// in `If-Match` to change only the version you read. API tokens need `orders:read`.
    #[oai(path = "/orders/:id", method = "get", operation_id = "order_view")]
    async fn view(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Tags you hold (or `*`): 304 without a body while one is current.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<OrderViewResponse, Failure<{ PER_ID | MISSING_ABILITY }>> {
        auth.0.require(Ability::OrdersRead)?;
        let order = state.orders.get(&auth.0.user, id.0).await?;
        let tag = order.entity_tag();
        if not_modified(&if_none_match, tag) {
            return Ok(OrderViewResponse::NotModified(tag.header_value()));
        }
        Ok(OrderViewResponse::Ok(
            Json(order.into()),
            tag.header_value(),
        ))
    }

    /// List an order's history
    ///
    /// Yours, or any for an admin: every `created`, `updated` and `status_changed` event,
    /// oldest first, with who made it and the request's `X-Request-Id`. A request that changed
    /// both fields and the status has two events, `updated` then `status_changed`. Events are
    /// never edited; they go only with the order. API tokens need `orders:read`.
    #[oai(
        path = "/orders/:id/events",
        method = "get",
        operation_id = "order_event_list"
    )]
    async fn events(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Page number, from 1 (1 unless given).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
        page: Query<Option<u64>>,
        /// Rows per page, 1 to 100.
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u64>,
    ) -> Result<OrderEventListResponse, Failure<{ PER_ID | UNPROCESSABLE | MISSING_ABILITY }>> {
        auth.0.require(Ability::OrdersRead)?;
        let page = state
            .orders
            .events(
                &auth.0.user,
                id.0,
                PageRequest {
                    page: page.0.unwrap_or(1),
                    per_page: per_page.0,
                },
            )
            .await?;
        Ok(OrderEventListResponse::Ok(Json(OrderEventPage {
            data: page
                .data
                .into_iter()
                .map(OrderEventResource::from)
                .collect(),
            meta: page.meta.into(),
        })))
    }

    /// Replace an order
    ///
    /// Sets the items, currency and notes, and optionally moves the status. Items and currency
    /// change only while `pending` (409 otherwise); owners may only cancel (403 otherwise). When the server requires a verified email
    /// address, an unverified user (not an admin) gets 403 `email_not_verified`. A request
    /// that changes nothing (the same content again) keeps the version and the `ETag`, and
    /// adds no event. API tokens need `orders:write`, and `orders:price` for free lines.
    #[oai(path = "/orders/:id", method = "put", operation_id = "order_replace")]
    async fn replace(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        id: Path<i64>,
        /// Change only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing changes.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
        body: JsonBody<ReplaceOrderRequest>,
    ) -> Result<OrderResponse, Failure<CHANGE>> {
        auth.0.require(Ability::OrdersWrite)?;
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
        require_price_ability(&auth, changes.items.as_ref())?;
        let order = state
            .orders
            .update(
                &auth.0.user,
                id.0,
                changes,
                if_match(&if_match_header).as_ref(),
                Some(&request_id.0.0),
            )
            .await?;
        Ok(OrderResponse::new(order))
    }

    /// Update an order
    ///
    /// Changes only the fields sent (a null `notes` clears them); an empty body changes
    /// nothing. Same rules as replace. API tokens need `orders:write`, and `orders:price` for
    /// free lines.
    #[oai(path = "/orders/:id", method = "patch", operation_id = "order_update")]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        id: Path<i64>,
        /// Change only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing changes.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
        body: JsonBody<UpdateOrderRequest>,
    ) -> Result<OrderResponse, Failure<CHANGE>> {
        auth.0.require(Ability::OrdersWrite)?;
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
        require_price_ability(&auth, changes.items.as_ref())?;
        let order = state
            .orders
            .update(
                &auth.0.user,
                id.0,
                changes,
                if_match(&if_match_header).as_ref(),
                Some(&request_id.0.0),
            )
            .await?;
        Ok(OrderResponse::new(order))
    }

    /// Delete an order
    ///
    /// Admins delete any order; an owner only a `pending` or `cancelled` one (409 otherwise).
    /// Its history goes with it. API tokens need `orders:write`.
    #[oai(path = "/orders/:id", method = "delete", operation_id = "order_delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Delete only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing is deleted.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
    ) -> Result<
        OrderDeletedResponse,
        Failure<{ PER_ID | CONFLICT | PRECONDITION_FAILED | MISSING_ABILITY }>,
    > {
        auth.0.require(Ability::OrdersWrite)?;
        state
            .orders
            .delete(&auth.0.user, id.0, if_match(&if_match_header).as_ref())
            .await?;
        Ok(OrderDeletedResponse::Deleted)
    }
}
