//! `spawn_app()`: a real server on port 0 with its own database, and a client for it.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex, OnceLock},
};

use comptoir::{
    config::{Config, LogFormat},
    startup::Application,
    telemetry,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

/// Everything every app of this test process logged, so tests can search it.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        telemetry::init(
            LogFormat::Json,
            "debug,hyper=info,reqwest=info,h2=info",
            move || writer.clone(),
        );
        buffer
    })
}

/// The whole captured log, as text.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

/// The claims of a JWT, read without checking it.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A database of its own for one test: a SQLite file in a temporary folder or, when
/// `TEST_DATABASE_URL` names a PostgreSQL server, a fresh database there, dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    place: Place,
}

enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

/// The PostgreSQL server to test on, if any (`TEST_DATABASE_URL=postgres://…/postgres`).
pub fn postgres_server() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
}

/// `url` with its database name replaced (the URL must name one, e.g. `/postgres`).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, String::new()), |(base, query)| {
            (base, format!("?{query}"))
        });
    let authority_end = base.find("://").map_or(0, |scheme| scheme + 3);
    let path = base[authority_end..]
        .find('/')
        .map_or(base.len(), |slash| authority_end + slash);
    format!("{}/{name}{query}", &base[..path])
}

impl TestDatabase {
    pub async fn create() -> Self {
        let Some(server_url) = postgres_server() else {
            let dir = tempfile::tempdir().unwrap();
            return Self {
                url: format!("sqlite://{}/comptoir.db?mode=rwc", dir.path().display()),
                place: Place::Sqlite(dir),
            };
        };
        let name = format!("comptoir_test_{}", comptoir::service::random_hex(8));
        let server = sea_orm::Database::connect(server_url.as_str())
            .await
            .expect("TEST_DATABASE_URL is reachable");
        sea_orm::ConnectionTrait::execute_unprepared(&server, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        server.close().await.unwrap();
        Self {
            url: with_database(&server_url, &name),
            place: Place::Postgres { server_url, name },
        }
    }

    /// A fresh database with only the first `applied` migrations run, and a connection to it:
    /// the schema an older version left, for the rows it wrote before an upgrade.
    pub async fn at_migration(applied: u32) -> (Self, sea_orm::DatabaseConnection) {
        let database = Self::create().await;
        let db = sea_orm::Database::connect(database.url.as_str())
            .await
            .unwrap();
        <migration::Migrator as migration::MigratorTrait>::up(&db, Some(applied))
            .await
            .unwrap();
        (database, db)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.place, Place::Postgres { .. })
    }

    /// This database's URL with its host and port replaced, e.g. to go through a proxy.
    pub fn url_through(&self, address: &str) -> String {
        let start = self
            .url
            .find('@')
            .map_or_else(|| self.url.find("://").unwrap() + 3, |at| at + 1);
        let end = start + self.url[start..].find('/').unwrap();
        format!("{}{address}{}", &self.url[..start], &self.url[end..])
    }

    /// The host and port of the PostgreSQL server.
    pub fn server_address(&self) -> String {
        let start = self
            .url
            .find('@')
            .map_or_else(|| self.url.find("://").unwrap() + 3, |at| at + 1);
        let end = start + self.url[start..].find('/').unwrap();
        self.url[start..end].to_owned()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Place::Postgres { server_url, name } = &self.place else {
            return;
        };
        let (server_url, name) = (server_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sea_orm::ConnectionTrait;
                if let Ok(server) = sea_orm::Database::connect(server_url.as_str()).await {
                    let _ = server
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = server.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

pub struct TestApp {
    pub address: String,
    /// `http://host:port` of the metrics listener, when `METRICS_BIND_ADDR` is set.
    pub metrics_address: Option<String>,
    pub config: Config,
    pub client: reqwest::Client,
    pub database: Option<Arc<TestDatabase>>,
}

/// The settings of a test app: `database_url`, port 0, the cheapest bcrypt cost.
pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.to_owned()),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("BCRYPT_COST".into(), "4".into()),
        // Dozens of tests register and log in from 127.0.0.1 within a minute: the limits are
        // off unless a test sets them (tests/api/limits.rs).
        ("RATE_LIMIT_LOGIN".into(), "off".into()),
        ("RATE_LIMIT_LOGIN_PER_ADDRESS".into(), "off".into()),
        ("RATE_LIMIT_REGISTER".into(), "off".into()),
        ("RATE_LIMIT_FORGOT_PASSWORD".into(), "off".into()),
        ("RATE_LIMIT_API".into(), "off".into()),
        ("RATE_LIMIT_CURRENT_PASSWORD".into(), "off".into()),
        // Every test client is 127.0.0.1, and some race a dozen logins on purpose: the bcrypt
        // shares are as wide as the limits unless a test sets them (tests/api/hardening.rs).
        ("BCRYPT_JOBS_PER_ACCOUNT".into(), "1000".into()),
        ("BCRYPT_JOBS_PER_ADDRESS".into(), "1000".into()),
        // Most order tests are about statuses, owners and lists, and order free lines as any
        // user: allowed unless a test sets the shop's default (tests/api/catalogue_orders.rs).
        ("ORDER_FREE_LINES".into(), "anyone".into()),
    ]);
    for (name, value) in overrides {
        vars.insert((*name).into(), (*value).into());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app on a database of its own, unless `overrides` names a `DATABASE_URL`.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let database = if overrides.iter().any(|(name, _)| *name == "DATABASE_URL") {
        None
    } else {
        Some(Arc::new(TestDatabase::create().await))
    };
    let url = database
        .as_ref()
        .map(|database| database.url.clone())
        .unwrap_or_default();
    start(test_config(&url, overrides), database).await
}

async fn start(config: Config, database: Option<Arc<TestDatabase>>) -> TestApp {
    logs();
    let app = Application::build(&config).await.expect("the app builds");
    let address = format!("http://{}", app.address());
    let metrics_address = app
        .metrics_address()
        .map(|address| format!("http://{address}"));
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        metrics_address,
        config,
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        database,
    }
}

impl TestApp {
    /// A second instance of the service on the same database and secret, as behind a load
    /// balancer.
    pub async fn another_instance(&self) -> TestApp {
        start(self.config.clone(), self.database.clone()).await
    }

    /// Another instance on the same database, with other settings (another JWT secret, say).
    pub async fn sibling_with(&self, overrides: &[(&str, &str)]) -> TestApp {
        let url = self.config.database.url.expose().clone();
        start(test_config(&url, overrides), self.database.clone()).await
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn read(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts the status and, for errors, the error body's shape and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(
            self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "body: {}",
            self.body
        );
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "content-type: {:?}",
            self.header("content-type")
        );
    }

    /// The fields named in a 422's `errors`, sorted.
    pub fn error_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.body["errors"]
            .as_object()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        fields.sort();
        fields
    }
}

impl TestApp {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    pub async fn send(&self, builder: RequestBuilder) -> Reply {
        Reply::read(builder.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = self.request(method, path);
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        self.send(builder).await
    }

    /// Registers an account and returns its token.
    pub async fn register(&self, name: &str, email: &str, password: &str) -> String {
        let reply = self
            .post(
                "/api/register",
                None,
                json!({"name": name, "email": email, "password": password}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/api/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A direct connection to the app's database, for checking or breaking what lies behind the API.
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(self.config.database.url.expose().as_str())
            .await
            .unwrap()
    }
}

/// A unique email address, so that tests never collide.
pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", comptoir::service::random_hex(6))
}

/// The password every helper-made account has.
pub const PASSWORD: &str = "password-1";

/// An account made by a helper: its id, a live token and its (lower-case) email.
pub struct TestUser {
    pub id: i64,
    pub token: String,
    pub email: String,
}

/// One order line as a client sends it.
pub fn item(product: &str, quantity: i64, unit_price_cents: i64) -> Value {
    json!({"product": product, "quantity": quantity, "unit_price_cents": unit_price_cents})
}

/// The allowed transitions, as an admin walks them, that bring a new order to `status`.
pub fn path_to(status: &str) -> &'static [&'static str] {
    match status {
        "pending" => &[],
        "paid" => &["paid"],
        "shipped" => &["paid", "shipped"],
        "delivered" => &["paid", "shipped", "delivered"],
        "cancelled" => &["cancelled"],
        other => panic!("no such status: {other}"),
    }
}

pub const STATUSES: [&str; 5] = ["pending", "paid", "shipped", "delivered", "cancelled"];

/// Whether the status table allows `from → to` (a different status).
pub fn table_allows(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending", "paid" | "cancelled")
            | ("paid", "shipped" | "cancelled")
            | ("shipped", "delivered")
    )
}

/// An app on a given database, e.g. a file the command line has just written to.
pub async fn spawn_app_on(database_url: &str) -> TestApp {
    spawn_app_with(&[("DATABASE_URL", database_url)]).await
}

/// Asserts `value` is an RFC 3339 timestamp in UTC, written with a `Z`.
#[track_caller]
pub fn assert_utc_timestamp(value: &Value) {
    let text = value.as_str().unwrap_or_default();
    assert!(
        text.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "not an RFC 3339 UTC timestamp: {value}"
    );
}

impl Reply {
    /// Asserts a success status, showing the body when it is not.
    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
    }

    /// Asserts a 422 `validation_failed` whose `errors` name exactly `fields`.
    #[track_caller]
    pub fn assert_invalid(&self, fields: &[&str]) {
        self.assert_error(422, "validation_failed");
        assert_eq!(self.error_fields(), fields, "body: {}", self.body);
    }

    /// The `data` of a list response.
    pub fn data(&self) -> Vec<Value> {
        self.body["data"].as_array().cloned().unwrap_or_default()
    }

    /// The ids in the `data` of a list response, in order.
    pub fn ids(&self) -> Vec<i64> {
        ids_of(&self.data())
    }

    /// Asserts a list response's `meta`.
    #[track_caller]
    pub fn assert_meta(&self, current_page: u64, per_page: u64, total: u64, last_page: u64) {
        let meta = &self.body["meta"];
        assert_eq!(meta["current_page"], current_page, "meta: {meta}");
        assert_eq!(meta["per_page"], per_page, "meta: {meta}");
        assert_eq!(meta["total"], total, "meta: {meta}");
        assert_eq!(meta["last_page"], last_page, "meta: {meta}");
    }
}

impl TestApp {
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Registers an ordinary account with this name and email (password [`PASSWORD`]).
    pub async fn new_user(&self, name: &str, email: &str) -> TestUser {
        let reply = self
            .post(
                "/api/register",
                None,
                json!({"name": name, "email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        TestUser {
            id: reply.body["user"]["id"].as_i64().unwrap(),
            token: reply.body["access_token"].as_str().unwrap().to_owned(),
            email: reply.body["user"]["email"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers an ordinary account with a unique email.
    pub async fn ordinary_user(&self, name: &str) -> TestUser {
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        self.new_user(name, &unique_email(&slug)).await
    }

    /// An ordinary user's id and token.
    pub async fn user_token(&self, name: &str) -> (i64, String) {
        let user = self.ordinary_user(name).await;
        (user.id, user.token)
    }

    /// Makes the account an admin with raw SQL, behind the API's back. On SQLite nothing
    /// announces that to the session cache, so promote before the token's first use (or wait
    /// `SESSION_CACHE_SECS`).
    pub async fn promote(&self, id: i64) {
        use sea_orm::ConnectionTrait;
        self.db()
            .await
            .execute_unprepared(&format!("UPDATE users SET role = 'admin' WHERE id = {id}"))
            .await
            .unwrap();
    }

    /// An admin account.
    pub async fn admin(&self) -> TestUser {
        let user = self.ordinary_user("Admin").await;
        self.promote(user.id).await;
        user
    }

    /// An admin's id and token.
    pub async fn admin_token(&self) -> (i64, String) {
        let admin = self.admin().await;
        (admin.id, admin.token)
    }

    /// Creates an active product in euros as the admin behind `admin_token`, asserting the
    /// 201, and returns it.
    pub async fn create_product(
        &self,
        admin_token: &str,
        sku: &str,
        price_cents: i64,
        stock: Option<i64>,
    ) -> Value {
        let body = json!({
            "sku": sku,
            "name": format!("Product {sku}"),
            "price_cents": price_cents,
            "stock": stock,
        });
        let reply = self.post("/api/products", Some(admin_token), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Creates an order from a whole body, asserting the 201, and returns the order.
    pub async fn create_order_with(&self, token: &str, body: Value) -> Value {
        let reply = self.post("/api/orders", Some(token), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Creates an order with these items for the caller and returns it.
    pub async fn create_order(&self, token: &str, items: Value) -> Value {
        self.create_order_with(token, json!({"items": items})).await
    }

    /// Creates a one-line order for the caller and returns its id.
    pub async fn simple_order(&self, token: &str) -> i64 {
        self.create_order(token, json!([item("Widget", 2, 150)]))
            .await["id"]
            .as_i64()
            .unwrap()
    }

    /// The order as `token` sees it, asserting a 200.
    pub async fn order(&self, token: &str, id: i64) -> Value {
        let reply = self.get(&format!("/api/orders/{id}"), Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// The user as `token` sees it, asserting a 200.
    pub async fn user(&self, token: &str, id: i64) -> Value {
        let reply = self.get(&format!("/api/users/{id}"), Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// Sets an order's status as `token`, asserting a 200.
    pub async fn set_status(&self, token: &str, id: i64, status: &str) {
        let reply = self
            .patch(
                &format!("/api/orders/{id}"),
                Some(token),
                json!({"status": status}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "to {status}: {}", reply.body);
        assert_eq!(reply.body["status"], status);
    }

    /// Walks a new order to `status` through allowed transitions, as the admin `admin_token`.
    pub async fn bring_order_to(&self, admin_token: &str, id: i64, status: &str) {
        for step in path_to(status) {
            self.set_status(admin_token, id, step).await;
        }
    }

    /// Reads every page of a list with `per_page` rows a page, checking each page's `meta` and
    /// size and that the page after the last is empty; returns all rows in order.
    pub async fn all_pages(
        &self,
        token: &str,
        path: &str,
        per_page: u64,
        expected_total: u64,
    ) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let last_page = expected_total.div_ceil(per_page).max(1);
        let mut rows = Vec::new();
        for page in 1..=last_page + 1 {
            let url = format!("{path}{separator}page={page}&per_page={per_page}");
            let reply = self.get(&url, Some(token)).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.body);
            let meta = &reply.body["meta"];
            assert_eq!(meta["current_page"], page, "{url}: {meta}");
            assert_eq!(meta["per_page"], per_page, "{url}: {meta}");
            assert_eq!(meta["total"], expected_total, "{url}: {meta}");
            assert_eq!(meta["last_page"], last_page, "{url}: {meta}");
            let expected_len = if page > last_page {
                0
            } else {
                per_page.min(expected_total - (page - 1) * per_page)
            };
            let data = reply.data();
            assert_eq!(u64::try_from(data.len()).unwrap(), expected_len, "{url}");
            rows.extend(data);
        }
        rows
    }
}

/// Asserts that list rows come in the order `sort` asks for (`column` or `-column`); under an
/// ascending sort, rows that tie on the column come by ascending id.
#[track_caller]
pub fn assert_sorted(rows: &[Value], sort: &str) {
    use std::cmp::Ordering;
    let (column, descending) = match sort.strip_prefix('-') {
        Some(column) => (column, true),
        None => (sort, false),
    };
    let compare = |a: &Value, b: &Value| -> Ordering {
        if column.ends_with("_at") {
            let time = |row: &Value| {
                chrono::DateTime::parse_from_rfc3339(row[column].as_str().unwrap()).unwrap()
            };
            time(a).cmp(&time(b))
        } else if let (Some(x), Some(y)) = (a[column].as_i64(), b[column].as_i64()) {
            x.cmp(&y)
        } else {
            a[column].as_str().unwrap().cmp(b[column].as_str().unwrap())
        }
    };
    for pair in rows.windows(2) {
        let mut ordering = compare(&pair[0], &pair[1]);
        if descending {
            ordering = ordering.reverse();
        }
        assert_ne!(
            ordering,
            Ordering::Greater,
            "sort={sort}: {} came before {}",
            pair[0],
            pair[1]
        );
        if ordering == Ordering::Equal && !descending {
            assert!(
                pair[0]["id"].as_i64() < pair[1]["id"].as_i64(),
                "sort={sort}: a tie is not broken by id: {} then {}",
                pair[0],
                pair[1]
            );
        }
    }
}

/// The ids of rows, in order.
pub fn ids_of(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|row| row["id"].as_i64().unwrap()).collect()
}

/// The ids of rows, sorted, to compare with the ids expected in any order.
pub fn sorted_ids(rows: &[Value]) -> Vec<i64> {
    let mut ids = ids_of(rows);
    ids.sort_unstable();
    ids
}
