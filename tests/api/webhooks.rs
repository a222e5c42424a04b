//! Webhooks against a real HTTP receiver in the test process: management and its rules, every
//! event type delivered and signed, retries after 500s and time-outs, `failed` after the
//! schedule, nothing for a rolled-back change, private targets refused at creation and at
//! delivery, at least once when the delivering instance is killed mid-delivery, and exactly
//! one delivery per attempt with two instances.

use std::{
    collections::{HashMap, VecDeque},
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use comptoir::db::entities::outbox_events;
use hmac::{Hmac, Mac};
use poem::{
    EndpointExt, Route, Server,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::Data,
};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, TestDatabase, spawn_app_with, test_config};

/// What the receiver answers, request after request; `200` once the plan runs out.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// A 307 to `/elsewhere`, which records what reaches it too.
    Redirect,
    /// No answer for this long (past the sender's time-out).
    Hang(Duration),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    event_id: String,
    signature: String,
    body: String,
}

#[derive(Default)]
struct Inbox {
    hits: Vec<Hit>,
    plan: VecDeque<Answer>,
}

/// A real HTTP server that records what it is sent.
struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
}

#[poem::handler]
async fn receive(
    inbox: Data<&Arc<Mutex<Inbox>>>,
    uri: &poem::http::Uri,
    headers: &poem::http::HeaderMap,
    body: String,
) -> poem::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let answer = {
        let mut inbox = inbox.lock().unwrap();
        inbox.hits.push(Hit {
            path: uri.path().to_owned(),
            event_id: header("comptoir-event-id"),
            signature: header("comptoir-signature"),
            body,
        });
        inbox.plan.pop_front().unwrap_or(Answer::Status(200))
    };
    let status = match answer {
        Answer::Status(status) => poem::http::StatusCode::from_u16(status).unwrap(),
        Answer::Redirect => {
            return poem::Response::builder()
                .status(poem::http::StatusCode::TEMPORARY_REDIRECT)
                .header("Location", "/elsewhere")
                .finish();
        }
        Answer::Hang(duration) => {
            tokio::time::sleep(duration).await;
            poem::http::StatusCode::OK
        }
    };
    poem::Response::builder().status(status).finish()
}

impl Receiver {
    async fn start(plan: &[Answer]) -> Self {
        let inbox = Arc::new(Mutex::new(Inbox {
            hits: Vec::new(),
            plan: plan.iter().copied().collect(),
        }));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let address = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        let app = Route::new()
            .at("/hook", post(receive))
            .at("/elsewhere", post(receive))
            .data(inbox.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self {
            url: format!("http://{address}/hook"),
            inbox,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.inbox.lock().unwrap().hits.clone()
    }

    /// Waits up to `seconds` for at least `count` requests, and returns them all.
    async fn wait_for(&self, count: usize, seconds: u64) -> Vec<Hit> {
        for _ in 0..seconds * 10 {
            let hits = self.hits();
            if hits.len() >= count {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let hits = self.hits();
        panic!("{} requests, not {count}: {hits:?}", hits.len());
    }
}

const EVERY_EVENT: [&str; 7] = [
    "order.created",
    "order.updated",
    "order.status_changed",
    "order.deleted",
    "user.created",
    "user.deleted",
    "product.out_of_stock",
];

/// Settings of an instance that delivers to the test's receiver quickly.
const FAST: [(&str, &str); 3] = [
    ("WEBHOOK_ALLOW_PRIVATE", "true"),
    ("WEBHOOK_RETRY_SCHEDULE", "1,1"),
    ("WEBHOOK_TIMEOUT_SECS", "2"),
];

/// A webhook for `events` to the receiver; its id and secret.
async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (i64, String) {
    let reply = app
        .post(
            "/api/webhooks",
            Some(admin),
            json!({"url": url, "events": events}),
        )
        .await;
    reply.assert_status(201);
    (
        reply.body["id"].as_i64().unwrap(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

fn body_of(hit: &Hit) -> Value {
    serde_json::from_str(&hit.body).unwrap()
}

/// Checks `Comptoir-Signature` as a receiver would.
fn assert_signed(hit: &Hit, secret: &str) {
    let (t, v1) = hit
        .signature
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("signature {:?}", hit.signature));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    let expected = comptoir::service::to_hex(&mac.finalize().into_bytes());
    assert_eq!(v1, expected, "the signature does not verify");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "t is {age} s old");
    assert_eq!(body_of(hit)["id"], hit.event_id);
}

async fn deliveries(app: &TestApp, admin: &str, webhook: i64) -> Vec<Value> {
    let reply = app
        .get(&format!("/api/webhooks/{webhook}/deliveries"), Some(admin))
        .await;
    reply.assert_status(200);
    reply.data()
}

/// Waits until every delivery of `webhook` has left `pending`.
async fn settled(app: &TestApp, admin: &str, webhook: i64) -> Vec<Value> {
    for _ in 0..200 {
        let log = deliveries(app, admin, webhook).await;
        if !log.is_empty() && log.iter().all(|delivery| delivery["state"] != "pending") {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still pending: {:?}", deliveries(app, admin, webhook).await);
}

#[tokio::test]
async fn webhooks_are_for_admins_and_their_secret_is_shown_once() {
    let app = spawn_app_with(&FAST).await;
    let admin = app.admin().await;
    let customer = app.ordinary_user("Ada").await;
    let body = json!({"url": "http://127.0.0.1:9/hook", "events": ["order.created"], "description": "Entrepôt"});
    app.post("/api/webhooks", Some(&customer.token), body.clone())
        .await
        .assert_error(403, "forbidden");
    let reply = app.post("/api/webhooks", Some(&admin.token), body).await;
    reply.assert_status(201);
    let id = reply.body["id"].as_i64().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/webhooks/{id}").as_str())
    );
    assert!(reply.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(reply.body["enabled"], true);
    let listed = app.get("/api/webhooks", Some(&admin.token)).await;
    assert_eq!(listed.data().len(), 1);
    assert!(listed.data()[0].get("secret").is_none());
    let path = format!("/api/webhooks/{id}");
    let viewed = app.get(&path, Some(&admin.token)).await;
    assert!(viewed.body.get("secret").is_none());
    assert_eq!(viewed.body["description"], "Entrepôt");

    let changed = app
        .patch(
            &path,
            Some(&admin.token),
            json!({"enabled": false, "description": null, "events": ["user.deleted", "order.created"]}),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["description"], Value::Null);
    assert_eq!(
        changed.body["events"],
        json!(["order.created", "user.deleted"])
    );

    // API tokens: an admin's, with `webhooks:manage` only.
    let token = |abilities: Value| {
        let app = &app;
        let admin = &admin.token;
        async move {
            let reply = app
                .post(
                    "/api/tokens",
                    Some(admin),
                    json!({"name": "Ops", "abilities": abilities}),
                )
                .await;
            reply.body["token"].as_str().unwrap().to_owned()
        }
    };
    let without = token(json!(["orders:read"])).await;
    app.get("/api/webhooks", Some(&without))
        .await
        .assert_error(403, "missing_ability");
    let with = token(json!(["webhooks:manage"])).await;
    app.get("/api/webhooks", Some(&with))
        .await
        .assert_status(200);

    app.delete(&path, Some(&admin.token))
        .await
        .assert_status(204);
    app.get(&path, Some(&admin.token))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn bad_webhooks_are_422_and_private_targets_are_refused() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    for (body, field) in [
        (
            json!({"url": "http://hooks.example.com/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "https://127.0.0.1/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "https://[::1]:8443/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "https://localhost/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "https://10.0.0.7/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "https://u:p@hooks.example.com/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": ["order.paid"]}),
            "events.0",
        ),
    ] {
        let reply = app
            .post("/api/webhooks", Some(&admin.token), body.clone())
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.body);
    }
    let reply = app.get("/api/webhooks", Some(&admin.token)).await;
    assert!(reply.data().is_empty());
    // A public address is fine (nothing is sent: no event is wanted yet).
    let body = json!({"url": "https://93.184.216.34/x", "events": ["user.deleted"]});
    app.post("/api/webhooks", Some(&admin.token), body)
        .await
        .assert_status(201);
}

#[tokio::test]
async fn every_event_is_delivered_once_and_signed() {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_with(&FAST).await;
    let admin = app.admin().await;
    let (webhook, secret) = subscribe(&app, &admin.token, &receiver.url, &EVERY_EVENT).await;
    let product = app
        .create_product(&admin.token, "HOOK-1", 900, Some(1))
        .await;

    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order(
            &ada.token,
            json!([{"product_id": product["id"], "quantity": 1}]),
        )
        .await;
    let path = format!("/api/orders/{}", order["id"]);
    app.patch(
        &path,
        Some(&ada.token),
        json!({"notes": "Sonnez deux fois"}),
    )
    .await
    .assert_status(200);
    app.patch(&path, Some(&admin.token), json!({"status": "paid"}))
        .await
        .assert_status(200);
    app.delete(&path, Some(&admin.token))
        .await
        .assert_status(204);
    app.delete(&format!("/api/users/{}", ada.id), Some(&admin.token))
        .await
        .assert_status(204);

    let hits = receiver.wait_for(7, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hits_later = receiver.hits();
    assert_eq!(
        hits_later.len(),
        hits.len(),
        "more than one delivery an event"
    );
    let mut types: Vec<String> = Vec::new();
    for hit in &hits {
        assert_signed(hit, &secret);
        types.push(body_of(hit)["type"].as_str().unwrap().to_owned());
    }
    types.sort();
    let mut expected: Vec<String> = EVERY_EVENT.iter().map(|t| (*t).to_owned()).collect();
    expected.sort();
    assert_eq!(types, expected);
    let by_type: HashMap<String, Value> = hits
        .iter()
        .map(|hit| {
            (
                body_of(hit)["type"].as_str().unwrap().to_owned(),
                body_of(hit),
            )
        })
        .collect();
    assert_eq!(by_type["order.created"]["data"]["id"], order["id"]);
    assert_eq!(
        by_type["order.created"]["data"]["items"][0]["sku"],
        "HOOK-1"
    );
    assert_eq!(
        by_type["order.updated"]["data"]["notes"],
        "Sonnez deux fois"
    );
    assert_eq!(
        by_type["order.status_changed"]["data"]["from_status"],
        "pending"
    );
    assert_eq!(
        by_type["order.status_changed"]["data"]["order"]["status"],
        "paid"
    );
    assert_eq!(by_type["user.created"]["data"]["id"], ada.id);
    assert_eq!(by_type["user.deleted"]["data"]["id"], ada.id);
    assert_eq!(by_type["product.out_of_stock"]["data"]["id"], product["id"]);
    assert_eq!(by_type["product.out_of_stock"]["data"]["stock"], 0);

    let log = settled(&app, &admin.token, webhook).await;
    assert_eq!(log.len(), 7);
    for delivery in &log {
        assert_eq!(delivery["state"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["status_code"], 200);
        assert!(delivery["duration_ms"].is_i64());
    }
    // Newest first.
    let ids: Vec<i64> = log.iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
}

#[tokio::test]
async fn failures_are_retried_on_the_schedule_then_failed() {
    let receiver = Receiver::start(&[
        Answer::Redirect,
        Answer::Hang(Duration::from_secs(4)),
        Answer::Status(200),
    ])
    .await;
    let app = spawn_app_with(&FAST).await;
    let admin = app.admin().await;
    let (webhook, secret) = subscribe(&app, &admin.token, &receiver.url, &["user.created"]).await;
    let ada = app.ordinary_user("Ada").await;

    // A redirect (not followed), a time-out, then a 200: three attempts of the same event.
    let hits = receiver.wait_for(3, 20).await;
    assert!(hits.iter().all(|hit| hit.event_id == hits[0].event_id));
    assert!(hits.iter().all(|hit| hit.path == "/hook"), "{hits:?}");
    for hit in &hits {
        assert_signed(hit, &secret);
        assert_eq!(body_of(hit)["data"]["id"], ada.id);
    }
    let log = settled(&app, &admin.token, webhook).await;
    assert_eq!(log[0]["state"], "delivered");
    assert_eq!(log[0]["attempts"], 3);

    // A receiver that always fails: 1 + 2 retries, then `failed`, and nothing more.
    let broken = Receiver::start(&[Answer::Status(500); 10]).await;
    let (failing, _) = subscribe(&app, &admin.token, &broken.url, &["user.created"]).await;
    app.ordinary_user("Bob").await;
    let log = settled(&app, &admin.token, failing).await;
    assert_eq!(log[0]["state"], "failed", "{:?}", log[0]);
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!(log[0]["next_attempt_at"], Value::Null);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(broken.hits().len(), 3);

    // Replayed from the log: the same event, once more, in a new round.
    let delivery = log[0]["id"].as_i64().unwrap();
    let redeliver = format!("/api/webhooks/{failing}/deliveries/{delivery}/redeliver");
    let reply = app
        .call(Method::POST, &redeliver, Some(&admin.token), None)
        .await;
    reply.assert_status(202);
    let hits = broken.wait_for(4, 10).await;
    assert_eq!(hits[3].event_id, hits[0].event_id);
    assert_eq!(hits[3].body, hits[0].body);
    let elsewhere = format!("/api/webhooks/{webhook}/deliveries/{delivery}/redeliver");
    app.call(Method::POST, &elsewhere, Some(&admin.token), None)
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn no_event_is_sent_for_a_change_that_rolled_back() {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_with(&FAST).await;
    let admin = app.admin().await;
    let product = app
        .create_product(&admin.token, "HOOK-2", 900, Some(1))
        .await;
    subscribe(&app, &admin.token, &receiver.url, &["order.created"]).await;
    let ada = app.ordinary_user("Ada").await;
    // The order's event is written, then its stock is short: the whole transaction goes.
    let short = json!({"items": [{"product_id": product["id"], "quantity": 2}]});
    app.post("/api/orders", Some(&ada.token), short)
        .await
        .assert_error(409, "out_of_stock");
    let fits = json!({"items": [{"product_id": product["id"], "quantity": 1}]});
    let order = app.post("/api/orders", Some(&ada.token), fits).await;
    order.assert_status(201);
    let hits = receiver.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(body_of(&hits[0])["data"]["id"], order.body["id"]);
    let events = outbox_events::Entity::find()
        .filter(outbox_events::Column::EventType.eq("order.created"))
        .count(&app.db().await)
        .await
        .unwrap();
    assert_eq!(
        events, 1,
        "only the committed order's event is in the outbox"
    );
}

#[tokio::test]
async fn private_targets_are_refused_at_delivery_too() {
    let receiver = Receiver::start(&[]).await;
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    // As if the names had resolved to public addresses when the webhooks were made, and
    // point inside now (DNS rebinding): written behind the API's back.
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let db = app.db().await;
    for url in [
        format!("https://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO webhooks (url, description, events, secret, enabled, created_at, \
             updated_at) VALUES ('{url}', NULL, ' user.created ', 'whsec_x', true, \
             '2026-12-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00')"
        ))
        .await
        .unwrap();
    }
    app.ordinary_user("Ada").await;
    let listed = app.get("/api/webhooks", Some(&admin.token)).await.data();
    for webhook in listed {
        let id = webhook["id"].as_i64().unwrap();
        let mut log = Vec::new();
        for _ in 0..50 {
            log = deliveries(&app, &admin.token, id).await;
            if log.first().is_some_and(|d| d["attempts"] == 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = log[0]["error"].as_str().unwrap_or_default();
        assert!(error.contains("not a public address"), "{}", log[0]);
        assert_eq!(log[0]["status_code"], Value::Null);
        assert_eq!(log[0]["state"], "pending");
    }
    assert!(receiver.hits().is_empty());
}

/// The server binary, on `database_url`, delivering quickly; its address.
fn serve(database_url: &str, dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_comptoir"))
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("JWT_SECRET", crate::helpers::JWT_SECRET)
        .envs(FAST)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("it logs where it serves").unwrap();
        if let Some((_, rest)) = line.split_once("Swagger UI at http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, format!("http://{address}"))
}

/// The instance that holds a delivery dies before the receiver answers: once its claim runs
/// out, another instance sends the same event again.
#[tokio::test]
async fn a_delivery_cut_off_by_a_dying_instance_is_sent_again_by_another() {
    let receiver = Receiver::start(&[Answer::Hang(Duration::from_mins(1))]).await;
    let database = Arc::new(TestDatabase::create().await);
    let dir = tempfile::tempdir().unwrap();
    let (mut doomed, address) = serve(&database.url, dir.path());
    let first = TestApp {
        address,
        metrics_address: None,
        config: test_config(&database.url, &FAST),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        database: Some(database.clone()),
    };
    let admin = first.admin().await;
    subscribe(&first, &admin.token, &receiver.url, &["user.created"]).await;
    first.ordinary_user("Ada").await;
    let hits = receiver.wait_for(1, 20).await;
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    let second = spawn_app_on_with(&database, &FAST).await;
    let hits_again = receiver.wait_for(2, 30).await;
    assert_eq!(hits_again[1].event_id, hits[0].event_id);
    assert_eq!(hits_again[1].body, hits[0].body);
    let webhooks = second.get("/api/webhooks", Some(&admin.token)).await;
    let id = webhooks.data()[0]["id"].as_i64().unwrap();
    let log = settled(&second, &admin.token, id).await;
    assert_eq!(log[0]["state"], "delivered");
    assert_eq!(log[0]["attempts"], 1, "the cut-off attempt left no record");
}

/// An instance in this process on `database`, delivering quickly.
async fn spawn_app_on_with(database: &Arc<TestDatabase>, overrides: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("DATABASE_URL", database.url.as_str())];
    settings.extend_from_slice(overrides);
    spawn_app_with(&settings).await
}

/// Two instances deliver side by side: every event reaches the receiver exactly once.
#[tokio::test]
async fn two_instances_send_each_attempt_exactly_once() {
    let receiver = Receiver::start(&[]).await;
    let a = spawn_app_with(&FAST).await;
    let b = a.another_instance().await;
    let admin = a.admin().await;
    let product = a.create_product(&admin.token, "HOOK-3", 100, None).await;
    subscribe(&a, &admin.token, &receiver.url, &["order.created"]).await;
    let ada = a.ordinary_user("Ada").await;
    let line = json!({"items": [{"product_id": product["id"], "quantity": 1}]});
    let orders = 40;
    let mut writes = Vec::new();
    for n in 0..orders {
        let app = if n % 2 == 0 { &a } else { &b };
        writes.push(app.post("/api/orders", Some(&ada.token), line.clone()));
    }
    for reply in futures_util::future::join_all(writes).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let hits = receiver.wait_for(orders, 30).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hits = if receiver.hits().len() > hits.len() {
        receiver.hits()
    } else {
        hits
    };
    let mut ids: Vec<&str> = hits.iter().map(|hit| hit.event_id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "an event was delivered twice");
    assert_eq!(ids.len(), orders);
}

/// Pruning drops the events no webhook wanted at once, and a delivered event 30 days after
/// its delivery ended.
#[tokio::test]
async fn pruning_drops_unwanted_events_at_once_and_delivered_ones_after_30_days() {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_with(&FAST).await;
    // Its `user.created` is wanted by nobody.
    let admin = app.admin().await;
    let (webhook, _) = subscribe(&app, &admin.token, &receiver.url, &["user.created"]).await;
    app.ordinary_user("Ada").await;
    settled(&app, &admin.token, webhook).await;
    let db = app.db().await;
    let prune = comptoir::service::prune::Pruner::new(db.clone());
    let pruned = prune.prune().await.unwrap().unwrap();
    assert_eq!(pruned.webhook_events, 1);
    assert_eq!(deliveries(&app, &admin.token, webhook).await.len(), 1);

    db.execute_unprepared(
        "UPDATE webhook_deliveries SET last_attempt_at = '2020-01-01 00:00:00+00:00'",
    )
    .await
    .unwrap();
    let pruned = prune.prune().await.unwrap().unwrap();
    assert_eq!(pruned.webhook_events, 1);
    assert!(deliveries(&app, &admin.token, webhook).await.is_empty());
    assert_eq!(receiver.hits().len(), 1);
}
