//! The `webhooks` tag: where the shop's events are delivered, and each delivery's fate. For
//! admins, or an admin's API token with `webhooks:manage`. A webhook's `secret` is in the
//! answer that creates it, and nowhere after.

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
    error::{Failure, status::*},
    security::BearerAuth,
    types::{PageMetaResource, Timestamp, default_per_page, example_time},
};
use crate::{
    db::{outbox::Delivery, webhooks::Webhook},
    domain::{listing::PageRequest, webhook::EventType},
    service::webhooks::WebhookRequest,
};

pub struct WebhooksApi;

/// An event a webhook may want.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum EventName {
    #[oai(rename = "order.created")]
    OrderCreated,
    #[oai(rename = "order.updated")]
    OrderUpdated,
    #[oai(rename = "order.status_changed")]
    OrderStatusChanged,
    #[oai(rename = "order.deleted")]
    OrderDeleted,
    #[oai(rename = "user.created")]
    UserCreated,
    #[oai(rename = "user.deleted")]
    UserDeleted,
    #[oai(rename = "product.out_of_stock")]
    ProductOutOfStock,
}

impl From<EventName> for EventType {
    fn from(name: EventName) -> Self {
        match name {
            EventName::OrderCreated => Self::OrderCreated,
            EventName::OrderUpdated => Self::OrderUpdated,
            EventName::OrderStatusChanged => Self::OrderStatusChanged,
            EventName::OrderDeleted => Self::OrderDeleted,
            EventName::UserCreated => Self::UserCreated,
            EventName::UserDeleted => Self::UserDeleted,
            EventName::ProductOutOfStock => Self::ProductOutOfStock,
        }
    }
}

impl From<EventType> for EventName {
    fn from(event: EventType) -> Self {
        match event {
            EventType::OrderCreated => Self::OrderCreated,
            EventType::OrderUpdated => Self::OrderUpdated,
            EventType::OrderStatusChanged => Self::OrderStatusChanged,
            EventType::OrderDeleted => Self::OrderDeleted,
            EventType::UserCreated => Self::UserCreated,
            EventType::UserDeleted => Self::UserDeleted,
            EventType::ProductOutOfStock => Self::ProductOutOfStock,
        }
    }
}

/// A new webhook.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CreateWebhookRequest {
    /// Where to deliver: `https://`, on a public address (`http://` and private addresses only
    /// with `WEBHOOK_ALLOW_PRIVATE=true`). Redirects are not followed.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub url: String,
    /// The events to deliver; at least one.
    #[oai(validator(min_items = 1, max_items = 7))]
    pub events: Vec<EventName>,
    /// For people: what the webhook is for.
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub description: Option<String>,
}

impl Example for CreateWebhookRequest {
    fn example() -> Self {
        Self {
            url: "https://warehouse.example.com/comptoir/events".into(),
            events: vec![EventName::OrderCreated, EventName::OrderStatusChanged],
            description: Some("Entrepôt de Lyon".into()),
        }
    }
}

/// The fields to change; absent ones stay. `enabled: false` pauses deliveries: they wait,
/// and go out once it is enabled again.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct UpdateWebhookRequest {
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub url: Option<String>,
    #[oai(validator(min_items = 1, max_items = 7))]
    pub events: Option<Vec<EventName>>,
    /// `null` clears it.
    #[oai(
        nullable,
        validator(
            min_length = 1,
            max_length = 255,
            pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
        )
    )]
    pub description: MaybeUndefined<String>,
    pub enabled: Option<bool>,
}

impl Example for UpdateWebhookRequest {
    fn example() -> Self {
        Self {
            url: None,
            events: None,
            description: MaybeUndefined::Undefined,
            enabled: Some(false),
        }
    }
}

/// A webhook, without its secret.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Webhook", example)]
pub struct WebhookResource {
    pub id: i64,
    pub url: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub events: Vec<EventName>,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Webhook> for WebhookResource {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id,
            url: webhook.url,
            description: webhook.description,
            events: webhook.events.iter().map(EventName::from).collect(),
            enabled: webhook.enabled,
            created_at: webhook.created_at.into(),
            updated_at: webhook.updated_at.into(),
        }
    }
}

impl Example for WebhookResource {
    fn example() -> Self {
        Self {
            id: 1,
            url: "https://warehouse.example.com/comptoir/events".into(),
            description: Some("Entrepôt de Lyon".into()),
            events: vec![EventName::OrderCreated, EventName::OrderStatusChanged],
            enabled: true,
            created_at: example_time(),
            updated_at: example_time(),
        }
    }
}

/// A new webhook, with the secret its deliveries are signed with: shown this once.
#[derive(Debug, Object)]
#[oai(rename = "NewWebhook", example)]
pub struct NewWebhookResource {
    pub id: i64,
    pub url: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub events: Vec<EventName>,
    pub enabled: bool,
    /// Verifies `Comptoir-Signature`. Keep it secret: it is not shown again.
    pub secret: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Example for NewWebhookResource {
    fn example() -> Self {
        let webhook = WebhookResource::example();
        Self {
            id: webhook.id,
            url: webhook.url,
            description: webhook.description,
            events: webhook.events,
            enabled: webhook.enabled,
            secret: "whsec_5f0c8a1e2d4b6f7a9c0e1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f".into(),
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

/// Every webhook, oldest first.
#[derive(Debug, Object)]
#[oai(rename = "WebhookList")]
pub struct WebhookList {
    pub data: Vec<WebhookResource>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "DeliveryState", rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet: waiting for its first attempt or its next.
    Pending,
    /// A 2xx answered it.
    Delivered,
    /// Every attempt of the schedule failed.
    Failed,
}

/// One event for one webhook, with its last attempt.
#[derive(Debug, Clone, Object)]
#[oai(rename = "WebhookDelivery", example)]
pub struct DeliveryResource {
    pub id: i64,
    /// The event's id (`Comptoir-Event-Id`): the same in every attempt.
    pub event_id: String,
    pub event_type: EventName,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i32,
    /// The status of the last attempt's answer; `null` when there was none.
    #[oai(nullable)]
    pub status_code: Option<i32>,
    /// Why the last attempt got no answer (time-out, refused address…).
    #[oai(nullable)]
    pub error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    #[oai(nullable)]
    pub duration_ms: Option<i64>,
    #[oai(nullable)]
    pub last_attempt_at: Option<Timestamp>,
    /// When a pending delivery is tried next.
    #[oai(nullable)]
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl From<Delivery> for DeliveryResource {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: delivery.id,
            event_id: delivery.event_public_id,
            event_type: EventType::parse(&delivery.event_type)
                .map_or(EventName::OrderCreated, EventName::from),
            state: match delivery.state.as_str() {
                "delivered" => DeliveryState::Delivered,
                "failed" => DeliveryState::Failed,
                _ => DeliveryState::Pending,
            },
            attempts: delivery.attempts,
            status_code: delivery.last_status,
            error: delivery.last_error,
            duration_ms: delivery.last_duration_ms,
            last_attempt_at: delivery.last_attempt_at.map(Timestamp),
            next_attempt_at: delivery.next_attempt_at.map(Timestamp),
            created_at: delivery.created_at.into(),
        }
    }
}

impl Example for DeliveryResource {
    fn example() -> Self {
        Self {
            id: 12,
            event_id: "evt_3f2a9c0e1d2b3a4f5e6d7c8b9a0f1e2d".into(),
            event_type: EventName::OrderCreated,
            state: DeliveryState::Delivered,
            attempts: 2,
            status_code: Some(200),
            error: None,
            duration_ms: Some(84),
            last_attempt_at: Some(example_time()),
            next_attempt_at: None,
            created_at: example_time(),
        }
    }
}

/// One page of a webhook's deliveries, newest first.
#[derive(Debug, Object)]
#[oai(rename = "WebhookDeliveryPage")]
pub struct DeliveryPage {
    pub data: Vec<DeliveryResource>,
    pub meta: PageMetaResource,
}

#[derive(ApiResponse)]
pub enum WebhookCreatedResponse {
    /// The webhook, with its secret: shown this once.
    #[oai(status = 201)]
    Created(
        Json<NewWebhookResource>,
        /// Where the webhook lives: `/api/webhooks/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum WebhookListResponse {
    /// Every webhook, oldest first.
    #[oai(status = 200)]
    Ok(Json<WebhookList>),
}

#[derive(ApiResponse)]
pub enum WebhookResponse {
    /// The webhook.
    #[oai(status = 200)]
    Ok(Json<WebhookResource>),
}

#[derive(ApiResponse)]
pub enum WebhookDeletedResponse {
    /// The webhook and its delivery log are gone; what it had not delivered is dropped.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum DeliveryListResponse {
    /// One page of the deliveries, newest first.
    #[oai(status = 200)]
    Ok(Json<DeliveryPage>),
}

#[derive(ApiResponse)]
pub enum RedeliveryResponse {
    /// Queued: the delivery is `pending` again, due now, with a new round of attempts.
    #[oai(status = 202)]
    Accepted(Json<DeliveryResource>),
}

const MANAGE: u32 = FORBIDDEN | MISSING_ABILITY;

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Create a webhook
    ///
    /// Admins only. Every event of the chosen types is then delivered to `url`, signed with
    /// the `secret` of this answer (shown once). API tokens need `webhooks:manage`.
    #[oai(path = "/webhooks", method = "post", operation_id = "webhook_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: JsonBody<CreateWebhookRequest>,
    ) -> Result<WebhookCreatedResponse, Failure<{ UNAUTHORIZED | MANAGE | JSON_BODY | ALWAYS }>>
    {
        let body = body.0;
        let request = WebhookRequest {
            url: Some(body.url),
            description: Some(body.description),
            events: Some(body.events.into_iter().map(EventType::from).collect()),
            enabled: None,
        };
        let (webhook, secret) = state.webhooks.create(&auth.0, request).await?;
        let shown = WebhookResource::from(webhook);
        let location = format!("/api/webhooks/{}", shown.id);
        Ok(WebhookCreatedResponse::Created(
            Json(NewWebhookResource {
                id: shown.id,
                url: shown.url,
                description: shown.description,
                events: shown.events,
                enabled: shown.enabled,
                secret: secret.expose().clone(),
                created_at: shown.created_at,
                updated_at: shown.updated_at,
            }),
            location,
        ))
    }

    /// List webhooks
    ///
    /// Admins only: every webhook, oldest first, without their secrets. API tokens need
    /// `webhooks:manage`.
    #[oai(path = "/webhooks", method = "get", operation_id = "webhook_list")]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> Result<WebhookListResponse, Failure<{ UNAUTHORIZED | MANAGE | ALWAYS }>> {
        let webhooks = state.webhooks.list(&auth.0).await?;
        Ok(WebhookListResponse::Ok(Json(WebhookList {
            data: webhooks.into_iter().map(WebhookResource::from).collect(),
        })))
    }

    /// Show a webhook
    ///
    /// Admins only, without its secret. API tokens need `webhooks:manage`.
    #[oai(path = "/webhooks/:id", method = "get", operation_id = "webhook_view")]
    async fn view(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
    ) -> Result<WebhookResponse, Failure<{ PER_ID | MANAGE }>> {
        let webhook = state.webhooks.get(&auth.0, id.0).await?;
        Ok(WebhookResponse::Ok(Json(webhook.into())))
    }

    /// Update a webhook
    ///
    /// Admins only: changes the fields sent. `enabled: false` pauses deliveries until it is
    /// enabled again. API tokens need `webhooks:manage`.
    #[oai(
        path = "/webhooks/:id",
        method = "patch",
        operation_id = "webhook_update"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        body: JsonBody<UpdateWebhookRequest>,
    ) -> Result<WebhookResponse, Failure<{ PER_ID | MANAGE | JSON_BODY }>> {
        let body = body.0;
        let request = WebhookRequest {
            url: body.url,
            description: match body.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(description) => Some(Some(description)),
            },
            events: body
                .events
                .map(|events| events.into_iter().map(EventType::from).collect()),
            enabled: body.enabled,
        };
        let webhook = state.webhooks.update(&auth.0, id.0, request).await?;
        Ok(WebhookResponse::Ok(Json(webhook.into())))
    }

    /// Delete a webhook
    ///
    /// Admins only. Its delivery log goes with it, and what it had not delivered is dropped.
    /// API tokens need `webhooks:manage`.
    #[oai(
        path = "/webhooks/:id",
        method = "delete",
        operation_id = "webhook_delete"
    )]
    async fn delete(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
    ) -> Result<WebhookDeletedResponse, Failure<{ PER_ID | MANAGE }>> {
        state.webhooks.delete(&auth.0, id.0).await?;
        Ok(WebhookDeletedResponse::Deleted)
    }

    /// List a webhook's deliveries
    ///
    /// Admins only: newest first, each event once with its last attempt (status code or
    /// error, duration) and its state. API tokens need `webhooks:manage`.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        operation_id = "webhook_delivery_list"
    )]
    async fn deliveries(
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
    ) -> Result<DeliveryListResponse, Failure<{ PER_ID | MANAGE | UNPROCESSABLE }>> {
        let request = PageRequest {
            page: page.0.unwrap_or(1),
            per_page: per_page.0,
        };
        let page = state.webhooks.deliveries(&auth.0, id.0, request).await?;
        Ok(DeliveryListResponse::Ok(Json(DeliveryPage {
            data: page.data.into_iter().map(DeliveryResource::from).collect(),
            meta: page.meta.into(),
        })))
    }

    /// Send a delivery again
    ///
    /// Admins only: replays one event of the log to the webhook, whatever its state (a
    /// `failed` one after the receiver was down, a `delivered` one it lost), with the same
    /// event id and body, as a new round of attempts. API tokens need `webhooks:manage`.
    #[oai(
        path = "/webhooks/:id/deliveries/:delivery_id/redeliver",
        method = "post",
        operation_id = "webhook_delivery_redeliver"
    )]
    async fn redeliver(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// The delivery's `id` in the log.
        delivery_id: Path<i64>,
    ) -> Result<RedeliveryResponse, Failure<{ PER_ID | MANAGE }>> {
        let delivery = state
            .webhooks
            .redeliver(&auth.0, id.0, delivery_id.0)
            .await?;
        Ok(RedeliveryResponse::Accepted(Json(delivery.into())))
    }
}
