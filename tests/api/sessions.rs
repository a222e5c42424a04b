//! The sessions API and what ends a session: each device's session listed, ended one by one,
//! all but the current one, or by an admin; every revocation path seen at once by another
//! instance, for the access token and the refresh token alike; `last_used_at` recorded at most
//! once a minute; pruning by the server and by `comptoir prune`; and the upgrade of sessions
//! that predate all this.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use comptoir::db::entities::{
    email_verification_tokens, mail_throttle, password_reset_tokens, refresh_tokens, sessions,
};
use reqwest::Method;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
    helpers::{
        PASSWORD, Reply, TestApp, TestDatabase, claims_of, spawn_app, spawn_app_on, spawn_app_with,
    },
    smtp::SmtpSink,
};

/// One signed-in device: its access token and its refresh token.
struct Device {
    access: String,
    refresh: String,
}

impl Device {
    fn of(reply: &Reply) -> Self {
        Self {
            access: reply.body["access_token"].as_str().unwrap().to_owned(),
            refresh: reply.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

async fn sign_in(app: &TestApp, email: &str, device: &str) -> Device {
    let reply = app
        .post(
            "/api/login",
            None,
            json!({"email": email, "password": PASSWORD, "device_name": device}),
        )
        .await;
    reply.assert_status(200);
    Device::of(&reply)
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(
        "/api/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn assert_alive(app: &TestApp, token: &str) {
    app.get("/api/user", Some(token)).await.assert_status(200);
}

/// Neither of the device's tokens works any more.
async fn assert_dead(app: &TestApp, device: &Device) {
    app.get("/api/user", Some(&device.access))
        .await
        .assert_error(401, "unauthenticated");
    refresh(app, &device.refresh)
        .await
        .assert_error(401, "invalid_refresh_token");
}

/// The caller's sessions, from `GET /api/sessions`.
async fn sessions_of(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app.get("/api/sessions", Some(token)).await;
    reply.assert_status(200);
    reply.data()
}

/// The id of the session named `device` in a list.
#[track_caller]
fn id_of(list: &[Value], device: &str) -> String {
    list.iter()
        .find(|session| session["device_name"] == device)
        .unwrap_or_else(|| panic!("no session {device} in {list:?}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|session| session["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `jti` claim of an access token.
fn jti_of(token: &str) -> String {
    claims_of(token)["jti"].as_str().unwrap().to_owned()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn the_list_shows_the_callers_live_sessions_newest_first_and_marks_the_current_one() {
    let app = spawn_app().await;
    // Registered without a device name nor a User-Agent.
    let ada = app.ordinary_user("Ada").await;
    let phone = sign_in(&app, &ada.email, "Ada’s phone").await;
    let browser = Device::of(
        &app.send(
            app.request(Method::POST, "/api/login")
                .header("user-agent", "Mozilla/5.0 Firefox/145.0")
                .json(&json!({"email": ada.email, "password": PASSWORD})),
        )
        .await,
    );
    let gone = sign_in(&app, &ada.email, "Lost tablet").await;
    app.call(Method::POST, "/api/logout", Some(&gone.access), None)
        .await
        .assert_status(200);
    let bob = app.ordinary_user("Bob").await;
    sign_in(&app, &bob.email, "Bob’s phone").await;

    let list = sessions_of(&app, &phone.access).await;
    let devices: Vec<&str> = list
        .iter()
        .map(|session| session["device_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        devices,
        ["Mozilla/5.0 Firefox/145.0", "Ada’s phone", "unknown"]
    );
    for session in &list {
        let mut keys: Vec<&str> = session
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "current",
                "device_name",
                "expires_at",
                "id",
                "last_used_at"
            ]
        );
        for field in ["created_at", "last_used_at", "expires_at"] {
            crate::helpers::assert_utc_timestamp(&session[field]);
        }
        assert!(time(&session["last_used_at"]) >= time(&session["created_at"]));
        assert!(time(&session["expires_at"]) > time(&session["created_at"]) + TimeDelta::days(1));
    }
    for pair in list.windows(2) {
        assert!(time(&pair[0]["created_at"]) >= time(&pair[1]["created_at"]));
    }
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert_eq!(current[0]["device_name"], "Ada’s phone");
    // Which one is current follows the token.
    let seen_from_browser = sessions_of(&app, &browser.access).await;
    assert_eq!(ids(&seen_from_browser), ids(&list));
    let current: Vec<bool> = seen_from_browser
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [true, false, false]);

    // Bob sees his own two sessions and none of Ada's.
    let bobs = sessions_of(&app, &bob.token).await;
    assert_eq!(bobs.len(), 2);
    assert!(ids(&bobs).iter().all(|id| !ids(&list).contains(id)));
}

#[tokio::test]
async fn session_ids_are_opaque_neither_the_jti_nor_usable_as_a_token() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let phone = sign_in(&app, &ada.email, "phone").await;
    let list = sessions_of(&app, &phone.access).await;
    let ids = ids(&list);
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    let tokens = [ada.token.as_str(), phone.access.as_str()];
    let jtis: Vec<String> = tokens.iter().map(|token| jti_of(token)).collect();
    for id in &ids {
        assert!(!id.is_empty());
        assert!(!jtis.contains(id), "{id} is a jti");
        for token in tokens.iter().chain([&phone.refresh.as_str()]) {
            assert!(!token.contains(id.as_str()), "{id} is in a token");
        }
        app.get("/api/user", Some(id))
            .await
            .assert_error(401, "unauthenticated");
        refresh(&app, id)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
}

#[tokio::test]
async fn ending_a_session_kills_its_access_and_refresh_tokens_on_the_other_instance_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    let phone = sign_in(&a, &ada.email, "phone").await;
    // Cached on the other instance first.
    assert_alive(&b, &laptop.access).await;
    assert_alive(&b, &phone.access).await;

    let id = id_of(&sessions_of(&a, &laptop.access).await, "phone");
    let reply = a
        .delete(&format!("/api/sessions/{id}"), Some(&laptop.access))
        .await;
    reply.assert_status(204);
    assert_eq!(reply.body, Value::Null);

    assert_dead(&b, &phone).await;
    assert_alive(&b, &laptop.access).await;
    assert!(!ids(&sessions_of(&b, &laptop.access).await).contains(&id));
    // Once ended, it is not found.
    a.delete(&format!("/api/sessions/{id}"), Some(&laptop.access))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn another_users_session_id_is_a_404_and_their_session_lives_on() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let bob = a.ordinary_user("Bob").await;
    let bobs_phone = sign_in(&a, &bob.email, "phone").await;
    assert_alive(&b, &bobs_phone.access).await;
    let id = id_of(&sessions_of(&a, &bob.token).await, "phone");

    a.delete(&format!("/api/sessions/{id}"), Some(&ada.token))
        .await
        .assert_error(404, "not_found");
    for unknown in ["0123456789abcdef0123456789abcdef", "nope"] {
        a.delete(&format!("/api/sessions/{unknown}"), Some(&ada.token))
            .await
            .assert_error(404, "not_found");
    }

    assert_alive(&b, &bobs_phone.access).await;
    refresh(&b, &bobs_phone.refresh).await.assert_status(200);
    assert!(ids(&sessions_of(&a, &bob.token).await).contains(&id));
}

#[tokio::test]
async fn ending_ones_current_session_signs_it_out_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let phone = sign_in(&a, &ada.email, "phone").await;
    assert_alive(&b, &phone.access).await;
    let list = sessions_of(&a, &phone.access).await;
    let current = list.iter().find(|s| s["current"] == true).unwrap();

    a.delete(
        &format!("/api/sessions/{}", current["id"].as_str().unwrap()),
        Some(&phone.access),
    )
    .await
    .assert_status(204);

    assert_dead(&b, &phone).await;
    assert_dead(&a, &phone).await;
    assert_alive(&b, &ada.token).await;
}

#[tokio::test]
async fn signing_out_every_other_session_keeps_the_current_one_and_counts_the_rest() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    let phone = sign_in(&a, &ada.email, "phone").await;
    let bob = a.ordinary_user("Bob").await;
    for token in [&ada.token, &laptop.access, &phone.access, &bob.token] {
        assert_alive(&b, token).await;
    }

    let reply = a.delete("/api/sessions", Some(&laptop.access)).await;
    reply.assert_status(200);
    assert_eq!(reply.body, json!({"revoked": 2}));

    assert_dead(&b, &phone).await;
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
    assert_alive(&b, &laptop.access).await;
    assert_alive(&b, &bob.token).await;
    let left = sessions_of(&b, &laptop.access).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["device_name"], "laptop");
    assert_eq!(left[0]["current"], true);
    refresh(&b, &laptop.refresh).await.assert_status(200);

    let again = a.delete("/api/sessions", Some(&laptop.access)).await;
    assert_eq!(again.body, json!({"revoked": 0}));
}

#[tokio::test]
async fn an_admin_lists_a_users_sessions_and_ends_them_all_everywhere() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, admin) = a.admin_token().await;
    let ada = a.ordinary_user("Ada").await;
    let phone = sign_in(&a, &ada.email, "phone").await;
    let bob = a.ordinary_user("Bob").await;
    for token in [&ada.token, &phone.access, &bob.token] {
        assert_alive(&b, token).await;
    }

    let path = format!("/api/users/{}/sessions", ada.id);
    let reply = a.get(&path, Some(&admin)).await;
    reply.assert_status(200);
    let listed = reply.data();
    assert_eq!(ids(&listed), ids(&sessions_of(&a, &ada.token).await));
    assert!(listed.iter().all(|session| session["current"] == false));

    // Not for anyone else, not even about themselves; an unknown user is a 404.
    for (method, path) in [
        (Method::GET, &path),
        (Method::DELETE, &path),
        (Method::GET, &format!("/api/users/{}/sessions", bob.id)),
    ] {
        a.call(method.clone(), path, Some(&ada.token), None)
            .await
            .assert_error(403, "forbidden");
    }
    for method in [Method::GET, Method::DELETE] {
        a.call(method, "/api/users/999999/sessions", Some(&admin), None)
            .await
            .assert_error(404, "not_found");
    }

    let reply = a.delete(&path, Some(&admin)).await;
    reply.assert_status(200);
    assert_eq!(reply.body, json!({"revoked": 2}));
    assert_dead(&b, &phone).await;
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
    assert_alive(&b, &bob.token).await;
    assert_alive(&b, &admin).await;
    assert_eq!(a.get(&path, Some(&admin)).await.data(), Vec::<Value>::new());
}

#[tokio::test]
async fn a_logout_ends_that_session_and_its_refresh_token_on_the_other_instance_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    let phone = sign_in(&a, &ada.email, "phone").await;
    assert_alive(&b, &laptop.access).await;
    assert_alive(&b, &phone.access).await;

    a.call(Method::POST, "/api/logout", Some(&phone.access), None)
        .await
        .assert_status(200);

    assert_dead(&b, &phone).await;
    assert_alive(&b, &laptop.access).await;
    refresh(&b, &laptop.refresh).await.assert_status(200);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_everywhere_and_keeps_the_current_one() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    let phone = sign_in(&a, &ada.email, "phone").await;
    assert_alive(&b, &laptop.access).await;
    assert_alive(&b, &phone.access).await;

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&laptop.access),
        json!({"password": "a-new-password", "current_password": PASSWORD}),
    )
    .await
    .assert_status(200);

    assert_dead(&b, &phone).await;
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
    assert_alive(&b, &laptop.access).await;
    refresh(&b, &laptop.refresh).await.assert_status(200);
    assert_eq!(sessions_of(&b, &laptop.access).await.len(), 1);
}

#[tokio::test]
async fn a_password_an_admin_sets_ends_every_session_of_that_user_everywhere() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, admin) = a.admin_token().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    assert_alive(&b, &laptop.access).await;
    assert_alive(&b, &ada.token).await;

    a.patch(
        &format!("/api/users/{}", ada.id),
        Some(&admin),
        json!({"password": "a-new-password"}),
    )
    .await
    .assert_status(200);

    assert_dead(&b, &laptop).await;
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
    assert_alive(&b, &admin).await;
}

#[tokio::test]
async fn a_password_reset_ends_every_session_everywhere() {
    let sink = SmtpSink::start().await;
    let a = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    assert_alive(&b, &laptop.access).await;
    assert_alive(&b, &ada.token).await;

    let token = reset_token(&a, &sink, &ada.email).await;
    a.post(
        "/api/reset-password",
        None,
        json!({"token": token, "email": ada.email, "password": "a-new-password", "password_confirmation": "a-new-password"}),
    )
    .await
    .assert_status(200);

    assert_dead(&b, &laptop).await;
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
}

/// Asks for a reset link for `email` and returns the token it mails.
async fn reset_token(app: &TestApp, sink: &SmtpSink, email: &str) -> String {
    app.post("/api/forgot-password", None, json!({"email": email}))
        .await
        .assert_status(200);
    for _ in 0..100 {
        let link = sink
            .received()
            .into_iter()
            .filter(|mail| mail.recipients == [email])
            .map(|mail| mail.link())
            .find(|link| link.contains("/reset-password?"));
        if let Some(link) = link {
            let query = link.split_once('?').unwrap().1;
            let token = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="));
            return token.unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset link for {email}");
}

#[tokio::test]
async fn deleting_a_user_ends_every_session_everywhere() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let laptop = sign_in(&a, &ada.email, "laptop").await;
    let bob = a.ordinary_user("Bob").await;
    for token in [&ada.token, &laptop.access, &bob.token] {
        assert_alive(&b, token).await;
    }

    a.delete(&format!("/api/users/{}", ada.id), Some(&laptop.access))
        .await
        .assert_status(204);

    assert_dead(&b, &laptop).await;
    b.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
    assert_alive(&b, &bob.token).await;
}

/// Sets the last recorded use of session `public_id` to `ago` before now, behind the server's
/// back (nothing announces it to the session cache); answers that time.
async fn backdate_last_use(app: &TestApp, public_id: &str, ago: TimeDelta) -> DateTime<Utc> {
    let at = Utc::now() - ago;
    let updated = sessions::Entity::update_many()
        .col_expr(sessions::Column::LastUsedAt, Expr::value(at))
        .filter(sessions::Column::PublicId.eq(public_id))
        .exec(&app.db().await)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
    at
}

/// Session `id`'s `last_used_at` as the API shows it, to `watcher` (a token of the same user).
async fn last_used(app: &TestApp, watcher: &str, id: &str) -> DateTime<Utc> {
    let list = sessions_of(app, watcher).await;
    let session = list.iter().find(|session| session["id"] == id).unwrap();
    time(&session["last_used_at"])
}

/// Waits (up to 3 s) until the use is recorded, which happens after the answer.
async fn assert_use_recorded(app: &TestApp, watcher: &str, id: &str) {
    for _ in 0..60 {
        if Utc::now() - last_used(app, watcher, id).await < TimeDelta::seconds(5) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the use of session {id} was not recorded");
}

/// A write that should not happen has had time to; then the row still says `recorded`.
async fn assert_use_not_rewritten(app: &TestApp, watcher: &str, id: &str, recorded: DateTime<Utc>) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        last_used(app, watcher, id).await.timestamp(),
        recorded.timestamp()
    );
}

#[tokio::test]
async fn without_the_cache_a_use_is_recorded_when_the_last_one_is_a_minute_old() {
    let app = spawn_app_with(&[("SESSION_CACHE_SECS", "0")]).await;
    // Ada watches her phone's session from her first one, whose own use does not matter.
    let ada = app.ordinary_user("Ada").await;
    let phone = sign_in(&app, &ada.email, "phone").await;
    let id = id_of(&sessions_of(&app, &ada.token).await, "phone");

    backdate_last_use(&app, &id, TimeDelta::minutes(2)).await;
    assert_alive(&app, &phone.access).await;
    assert_use_recorded(&app, &ada.token, &id).await;

    let recorded = backdate_last_use(&app, &id, TimeDelta::seconds(30)).await;
    assert_alive(&app, &phone.access).await;
    assert_use_not_rewritten(&app, &ada.token, &id, recorded).await;
}

#[tokio::test]
async fn with_the_cache_an_instance_records_a_use_at_most_once_a_minute() {
    // Long enough that the phone's entry outlives the test.
    let a = spawn_app_with(&[("SESSION_CACHE_SECS", "60")]).await;
    let ada = a.ordinary_user("Ada").await;
    // A login authenticates nothing: the phone's session is not cached yet.
    let phone = sign_in(&a, &ada.email, "phone").await;
    let id = id_of(&sessions_of(&a, &ada.token).await, "phone");
    until_caching(&a).await;

    backdate_last_use(&a, &id, TimeDelta::minutes(2)).await;
    assert_alive(&a, &phone.access).await;
    assert_use_recorded(&a, &ada.token, &id).await;

    // The cached entry remembers that use: within the minute, requests write nothing,
    // whatever the row says.
    let recorded = backdate_last_use(&a, &id, TimeDelta::minutes(2)).await;
    assert_alive(&a, &phone.access).await;
    assert_use_not_rewritten(&a, &ada.token, &id, recorded).await;

    // An instance that has not seen the session reads the row, and records the use.
    let b = a.sibling_with(&[("SESSION_CACHE_SECS", "60")]).await;
    assert_alive(&b, &phone.access).await;
    assert_use_recorded(&b, &ada.token, &id).await;

    // And a use recorded less than a minute ago is not recorded again.
    let c = a.sibling_with(&[("SESSION_CACHE_SECS", "60")]).await;
    let recorded = backdate_last_use(&a, &id, TimeDelta::seconds(30)).await;
    assert_alive(&c, &phone.access).await;
    assert_use_not_rewritten(&c, &ada.token, &id, recorded).await;
}

/// On PostgreSQL an instance caches nothing until it listens for changes: waits for that.
async fn until_caching(app: &TestApp) {
    if !app.database.as_ref().unwrap().is_postgres() {
        return;
    }
    let listening = sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = 'comptoir session listener'",
    );
    let db = app.db().await;
    for _ in 0..100 {
        let row = db.query_one_raw(listening.clone()).await.unwrap().unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            // It trusts its cache just after its `LISTEN` returns.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the instance does not listen for changes");
}

/// Runs `comptoir prune` on the app's database; answers the line that counts what it deleted
/// (the log goes to standard output too).
async fn comptoir_prune(app: &TestApp) -> String {
    let url = app.config.database.url.expose().clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_comptoir"))
            .arg("prune")
            .env_clear()
            .env("DATABASE_URL", url)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts = stdout.lines().filter(|line| line.starts_with("deleted "));
    counts.collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn comptoir_prune_deletes_what_can_no_longer_be_used_and_keeps_live_sessions() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let db = app.db().await;
    let past = Utc::now() - TimeDelta::hours(1);

    let ada = app.ordinary_user("Ada").await;
    // A live session whose first refresh token is spent, then expires: pruned, the session kept.
    let keeper = sign_in(&app, &ada.email, "keeper").await;
    let rotated = refresh(&app, &keeper.refresh).await;
    rotated.assert_status(200);
    let keeper = Device::of(&rotated);
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::ExpiresAt, Expr::value(past))
        .filter(refresh_tokens::Column::SpentAt.is_not_null())
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(spent.rows_affected, 1);
    // A revoked session and an expired one: pruned, with their refresh tokens.
    let gone = sign_in(&app, &ada.email, "gone").await;
    app.call(Method::POST, "/api/logout", Some(&gone.access), None)
        .await
        .assert_status(200);
    sign_in(&app, &ada.email, "old").await;
    sessions::Entity::update_many()
        .col_expr(sessions::Column::ExpiresAt, Expr::value(past))
        .filter(sessions::Column::DeviceName.eq("old"))
        .exec(&db)
        .await
        .unwrap();
    // Ada's confirmation link expired.
    email_verification_tokens::Entity::update_many()
        .col_expr(
            email_verification_tokens::Column::ExpiresAt,
            Expr::value(past),
        )
        .filter(email_verification_tokens::Column::UserId.eq(ada.id))
        .exec(&db)
        .await
        .unwrap();

    // Bob used his reset link, which also ended his session; the throttle of that mail is
    // two days old.
    let bob = app.ordinary_user("Bob").await;
    let token = reset_token(&app, &sink, &bob.email).await;
    app.post(
        "/api/reset-password",
        None,
        json!({"token": token, "email": bob.email, "password": "a-new-password", "password_confirmation": "a-new-password"}),
    )
    .await
    .assert_status(200);
    mail_throttle::Entity::update_many()
        .col_expr(
            mail_throttle::Column::SentAt,
            Expr::value(Utc::now() - TimeDelta::days(2)),
        )
        .filter(mail_throttle::Column::Key.eq(format!("password-reset:{}", bob.id)))
        .exec(&db)
        .await
        .unwrap();
    // Carol's reset link expired unused.
    let carol = app.ordinary_user("Carol").await;
    reset_token(&app, &sink, &carol.email).await;
    password_reset_tokens::Entity::update_many()
        .col_expr(password_reset_tokens::Column::ExpiresAt, Expr::value(past))
        .filter(password_reset_tokens::Column::UserId.eq(carol.id))
        .exec(&db)
        .await
        .unwrap();

    // The webhook events: the accounts' `user.created`, which no webhook wanted.
    assert_eq!(
        comptoir_prune(&app).await,
        "deleted 3 sessions, 1 refresh tokens, 2 password reset tokens, 1 email confirmation \
         tokens, 1 mail throttle entries, 0 idempotency keys, 0 API tokens and 3 webhook events"
    );

    // Ada's first session, the keeper and Carol's; a live refresh token each.
    assert_eq!(sessions::Entity::find().count(&db).await.unwrap(), 3);
    assert_eq!(refresh_tokens::Entity::find().count(&db).await.unwrap(), 3);
    assert_eq!(
        password_reset_tokens::Entity::find()
            .count(&db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        email_verification_tokens::Entity::find()
            .count(&db)
            .await
            .unwrap(),
        2
    );
    for token in [&ada.token, &keeper.access, &carol.token] {
        assert_alive(&app, token).await;
    }
    refresh(&app, &keeper.refresh).await.assert_status(200);

    // A second pass finds nothing left.
    assert_eq!(
        comptoir_prune(&app).await,
        "deleted 0 sessions, 0 refresh tokens, 0 password reset tokens, 0 email confirmation \
         tokens, 0 mail throttle entries, 0 idempotency keys, 0 API tokens and 0 webhook events"
    );
}

#[tokio::test]
async fn servers_prune_expired_sessions_now_and_then_together_and_keep_live_ones() {
    // Sessions opened on `short` end after a second; both instances prune every second.
    let short = spawn_app_with(&[
        ("REFRESH_TOKEN_TTL_SECS", "1"),
        ("PRUNE_INTERVAL_SECS", "1"),
    ])
    .await;
    let long = short.sibling_with(&[("PRUNE_INTERVAL_SECS", "1")]).await;
    let ada = long.ordinary_user("Ada").await;
    let laptop = sign_in(&long, &ada.email, "laptop").await;
    sign_in(&short, &ada.email, "kiosk").await;

    let db = short.db().await;
    let on = |device: &'static str| {
        sessions::Entity::find().filter(sessions::Column::DeviceName.eq(device))
    };
    let mut left = 1;
    for _ in 0..50 {
        left = on("kiosk").count(&db).await.unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the expired session was not pruned");
    assert_eq!(on("laptop").count(&db).await.unwrap(), 1);

    for app in [&short, &long] {
        assert_alive(app, &laptop.access).await;
        assert_alive(app, &ada.token).await;
        app.get("/health", None).await.assert_status(200);
    }
    refresh(&short, &laptop.refresh).await.assert_status(200);
    assert!(
        !crate::helpers::captured_logs().contains("pruning failed"),
        "a pass failed"
    );
}

/// Two instances that prune at the very same moment: on PostgreSQL one skips (or finds the
/// other's work done), on SQLite they take turns; either way no error, and each row is
/// deleted once.
#[tokio::test]
async fn two_passes_at_once_neither_fail_nor_delete_a_row_twice() {
    use comptoir::service::prune::Pruner;
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let one = Pruner::new(comptoir::db::connect(&app.config.database).await.unwrap());
    let two = Pruner::new(comptoir::db::connect(&app.config.database).await.unwrap());
    let db = app.db().await;
    for round in 0..10 {
        for device in ["a", "b", "c"] {
            sign_in(&app, &ada.email, device).await;
        }
        sessions::Entity::update_many()
            .col_expr(
                sessions::Column::ExpiresAt,
                Expr::value(Utc::now() - TimeDelta::seconds(1)),
            )
            .filter(sessions::Column::DeviceName.is_in(["a", "b", "c"]))
            .exec(&db)
            .await
            .unwrap();

        let (first, second) = tokio::join!(one.prune(), two.prune());
        let pruned: u64 = [first, second]
            .into_iter()
            .map(|pass| pass.expect("a pass fails").map_or(0, |p| p.sessions))
            .sum();
        assert_eq!(pruned, 3, "round {round}");
    }
    assert_alive(&app, &ada.token).await;
}

#[tokio::test]
async fn sessions_from_before_the_upgrade_get_an_id_and_a_last_use() {
    // The schema before refresh tokens, with an account signed in on two devices.
    let (database, db) = TestDatabase::at_migration(8).await;
    let email = crate::helpers::unique_email("before");
    db.execute_unprepared(&format!(
        "INSERT INTO users (name, email, password_hash, role, created_at, updated_at) \
         VALUES ('Before', '{email}', 'not a hash', 'user', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
    ))
    .await
    .unwrap();
    for (jti, issued_at) in [
        ("old-jti-one", "2026-11-02 10:00:00"),
        ("old-jti-two", "2026-11-03 10:00:00"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO sessions (jti, user_id, issued_at, expires_at) \
             SELECT '{jti}', id, '{issued_at}', '2099-01-01 00:00:00' FROM users \
             WHERE email = '{email}'"
        ))
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    let app = spawn_app_on(&database.url).await;
    let admin = app.admin().await;
    let users = app.get("/api/users?q=before", Some(&admin.token)).await;
    let id = users.data()[0]["id"].as_i64().unwrap();
    let path = format!("/api/users/{id}/sessions");
    let list = app.get(&path, Some(&admin.token)).await.data();
    assert_eq!(list.len(), 2);
    let ids = ids(&list);
    assert_ne!(ids[0], ids[1]);
    for (session, created_at) in list.iter().zip(["2026-11-03", "2026-11-02"]) {
        let id = session["id"].as_str().unwrap();
        assert!(
            id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        assert_eq!(
            session["created_at"],
            format!("{created_at}T10:00:00Z").as_str()
        );
        assert_eq!(session["last_used_at"], session["created_at"]);
        assert_eq!(session["device_name"], "unknown");
    }
    let reply = app.delete(&path, Some(&admin.token)).await;
    assert_eq!(reply.body, json!({"revoked": 2}));
}

#[tokio::test]
async fn sessions_an_older_instance_opens_during_the_upgrade_each_get_an_id() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    // Two sign-ins by an instance of the previous version, which writes none of the new
    // columns.
    let db = app.db().await;
    for jti in ["older-instance-one", "older-instance-two"] {
        db.execute_unprepared(&format!(
            "INSERT INTO sessions (jti, user_id, issued_at, expires_at) \
             SELECT '{jti}', user_id, issued_at, expires_at FROM sessions WHERE jti = '{}'",
            jti_of(&ada.token)
        ))
        .await
        .unwrap();
    }

    let list = sessions_of(&app, &ada.token).await;
    assert_eq!(list.len(), 3);
    let mut ids = ids(&list);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{list:?}");
    for session in list.iter().filter(|session| session["current"] == false) {
        assert_eq!(session["device_name"], "unknown");
        assert_eq!(session["last_used_at"], session["created_at"]);
        app.delete(
            &format!("/api/sessions/{}", session["id"].as_str().unwrap()),
            Some(&ada.token),
        )
        .await
        .assert_status(204);
    }
    assert_eq!(sessions_of(&app, &ada.token).await.len(), 1);
}
