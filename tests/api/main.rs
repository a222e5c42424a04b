//! The one integration-test binary: the real application, over real HTTP, on a real database.

// A test that cannot go on should stop right there, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod cli;
mod cli_admin;
mod errors;
mod helpers;
mod orders;
mod password_reset;
mod smtp;
mod spec;
mod users;
