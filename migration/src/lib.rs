//! Comptoir's database schema, as sea-orm migrations that run unchanged on SQLite and PostgreSQL.
//!
//! The service runs them at start-up (`comptoir serve`) or on demand (`comptoir migrate`).

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_users_and_sessions;
mod m20261122_000002_create_orders;
mod m20261122_000003_create_password_reset_tokens;
mod m20261122_000004_unique_lower_email;
mod m20261123_000005_notify_session_changes;
mod m20261201_000006_create_mail_throttle;
mod m20261202_000007_add_user_locale;
mod m20261203_000008_email_verification;
mod m20261204_000009_refresh_tokens;
mod m20261205_000010_create_products;
mod m20261206_000011_order_items_products;
mod m20261207_000012_resource_versions;
mod m20261208_000013_order_events;
mod m20261209_000014_create_idempotency_keys;
mod m20261211_000016_order_items_stock_taken;
mod m20261212_000017_create_api_tokens;
mod m20261213_000018_create_webhooks;

pub struct Migrator;

/// Whether `name` is the migration that adds `users.locale`: the service that runs it gives the
/// accounts that predate the column its own `DEFAULT_LOCALE`, which only the service knows.
pub fn adds_user_locale(name: &str) -> bool {
    name == m20261202_000007_add_user_locale::Migration.name()
}

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_users_and_sessions::Migration),
            Box::new(m20261122_000002_create_orders::Migration),
            Box::new(m20261122_000003_create_password_reset_tokens::Migration),
            Box::new(m20261122_000004_unique_lower_email::Migration),
            Box::new(m20261123_000005_notify_session_changes::Migration),
            Box::new(m20261201_000006_create_mail_throttle::Migration),
            Box::new(m20261202_000007_add_user_locale::Migration),
            Box::new(m20261203_000008_email_verification::Migration),
            Box::new(m20261204_000009_refresh_tokens::Migration),
            Box::new(m20261205_000010_create_products::Migration),
            Box::new(m20261206_000011_order_items_products::Migration),
            Box::new(m20261207_000012_resource_versions::Migration),
            Box::new(m20261208_000013_order_events::Migration),
            Box::new(m20261209_000014_create_idempotency_keys::Migration),
            Box::new(m20261211_000016_order_items_stock_taken::Migration),
            Box::new(m20261212_000017_create_api_tokens::Migration),
            Box::new(m20261213_000018_create_webhooks::Migration),
        ]
    }
}
