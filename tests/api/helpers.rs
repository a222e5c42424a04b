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

pub struct TestApp {
    pub address: String,
    pub config: Config,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The settings of a test app: its own SQLite file, port 0, the cheapest bcrypt cost.
pub fn test_config(dir: &tempfile::TempDir, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/comptoir.db?mode=rwc", dir.path().display()),
        ),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("BCRYPT_COST".into(), "4".into()),
    ]);
    for (name, value) in overrides {
        vars.insert((*name).into(), (*value).into());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(&dir, overrides);
    let app = Application::build(&config).await.expect("the app builds");
    let address = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        config,
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
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
