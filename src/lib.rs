//! Comptoir: a REST API for a shop's user accounts and orders.

pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod http_server;
pub mod i18n;
pub mod mail;
pub mod service;
pub mod startup;
pub mod telemetry;
