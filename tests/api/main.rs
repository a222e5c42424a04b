//! The one integration-test binary: the real application, over real HTTP, on a real database.

// A test that cannot go on should stop right there, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod auth;
mod backup;
mod catalogue_orders;
mod cli;
mod cli_admin;
mod config_docs;
mod connections;
mod cursor_pages;
mod email_verification;
mod errors;
mod etags;
mod hardening;
mod helpers;
mod idempotency;
mod instances;
mod languages;
mod limits;
mod mail_language;
mod metrics;
mod normalisation;
mod oauth;
mod order_history;
mod orders;
mod outage;
mod password_reset;
mod probes;
mod products;
mod proxy;
mod query_parameters;
mod refresh;
mod reset_page_language;
mod session_cache;
mod sessions;
mod smtp;
mod spec;
mod stock;
mod storage;
mod tokens;
mod translations;
mod user_locale;
mod users;
mod webhooks;
