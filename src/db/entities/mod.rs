//! Table rows as sea-orm sees them. API types and domain types are separate on purpose.

pub mod api_tokens;
pub mod email_verification_tokens;
pub mod idempotency_keys;
pub mod mail_throttle;
pub mod order_events;
pub mod order_items;
pub mod orders;
pub mod outbox_events;
pub mod password_reset_tokens;
pub mod products;
pub mod refresh_tokens;
pub mod sessions;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;
