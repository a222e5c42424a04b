//! The session cache: whatever changes a session or its user, on whichever instance, is seen by
//! every instance at once, although they answer known sessions from memory. Each test first
//! has the other instance answer the token, so that it is cached there.

use std::time::Duration;

use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

async fn me(app: &TestApp, token: &str) -> serde_json::Value {
    let reply = app.get("/api/user", Some(token)).await;
    reply.assert_status(200);
    reply.body
}

#[tokio::test]
async fn a_role_change_on_one_instance_takes_effect_on_the_other_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, admin) = a.admin_token().await;
    let ada = a.ordinary_user("Ada").await;
    b.get("/api/users", Some(&ada.token))
        .await
        .assert_error(403, "forbidden");

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&admin),
        json!({"role": "admin"}),
    )
    .await
    .assert_status(200);
    b.get("/api/users", Some(&ada.token))
        .await
        .assert_status(200);

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&admin),
        json!({"role": "user"}),
    )
    .await
    .assert_status(200);
    b.get("/api/users", Some(&ada.token))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_password_change_on_one_instance_ends_the_other_sessions_on_the_other() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let other = a.login(&ada.email, PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    me(&b, &other).await;
    me(&b, &ada.token).await;

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&ada.token),
        json!({"password": "a-new-password", "current_password": PASSWORD}),
    )
    .await
    .assert_status(200);
    b.get("/api/user", Some(&other))
        .await
        .assert_error(401, "unauthenticated");
    // The session that made the change lives on.
    me(&b, &ada.token).await;
}

#[tokio::test]
async fn a_new_name_or_email_is_shown_by_the_other_instance_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    assert_eq!(me(&b, &ada.token).await["name"], "Ada");

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&ada.token),
        json!({"name": "Ada Lovelace"}),
    )
    .await
    .assert_status(200);
    assert_eq!(me(&b, &ada.token).await["name"], "Ada Lovelace");

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&ada.token),
        json!({"email": "countess@example.com", "current_password": PASSWORD}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        me(&b, &ada.token).await["pending_email"],
        "countess@example.com"
    );
}

/// On PostgreSQL the other instance learns of a logout from a notification that races the
/// client's next request, so this repeats the race many times.
#[tokio::test]
async fn logouts_are_refused_by_the_other_instance_every_time() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    for round in 0..50 {
        let token = a.login(&ada.email, PASSWORD).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        me(&b, &token).await;
        a.call(Method::POST, "/api/logout", Some(&token), None)
            .await
            .assert_status(200);
        let after = b.get("/api/user", Some(&token)).await;
        assert_eq!(after.status, 401, "round {round}: {}", after.body);
    }
}

/// A change nobody announces (raw SQL on SQLite) is seen once the entry's age limit passes.
#[tokio::test]
async fn an_unannounced_change_is_seen_within_the_age_limit() {
    let app = spawn_app_with(&[("SESSION_CACHE_SECS", "1")]).await;
    let ada = app.ordinary_user("Ada").await;
    me(&app, &ada.token).await;
    app.promote(ada.id).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(me(&app, &ada.token).await["role"], "admin");
}

#[tokio::test]
async fn with_the_cache_off_every_request_reads_the_database() {
    let app = spawn_app_with(&[("SESSION_CACHE_SECS", "0")]).await;
    let ada = app.ordinary_user("Ada").await;
    me(&app, &ada.token).await;
    app.promote(ada.id).await;
    assert_eq!(me(&app, &ada.token).await["role"], "admin");
}

/// The PIDs of the connections listening for session changes on the app's database.
async fn listeners(app: &TestApp) -> Vec<i32> {
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'comptoir session listener'",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<i32>("", "pid").unwrap())
        .collect()
}

async fn wait_for_listeners(app: &TestApp, count: usize) -> Vec<i32> {
    for _ in 0..100 {
        let pids = listeners(app).await;
        if pids.len() == count {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {count} listening connections");
}

#[tokio::test]
async fn an_instance_that_loses_its_listener_reconnects_and_still_hears_every_change() {
    let a = spawn_app().await;
    if !a.database.as_ref().unwrap().is_postgres() {
        return; // SQLite has no listener; the other tests cover its change counter.
    }
    let b = a.another_instance().await;
    let before = wait_for_listeners(&a, 2).await;
    a.db()
        .await
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY{before:?}) AS pid"
        ))
        .await
        .unwrap();
    let after = wait_for_listeners(&a, 2).await;
    assert!(
        after.iter().all(|pid| !before.contains(pid)),
        "new connections"
    );
    // The instance trusts its cache again just after its `LISTEN` returns.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let ada = a.ordinary_user("Ada").await;
    me(&b, &ada.token).await;
    a.call(Method::POST, "/api/logout", Some(&ada.token), None)
        .await
        .assert_status(200);
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
}
