//! Prometheus metrics in the text format, on a listener of their own (`METRICS_BIND_ADDR`),
//! never on the API's: what they tell (routes, volumes, queue depths) is for operators.
//!
//! The code records through the `metrics` facade, which costs nothing while no recorder is
//! installed (metrics off); `metrics-exporter-prometheus` keeps and renders the figures. Counts
//! and latencies are recorded where they happen; what is a state rather than an event (the
//! bcrypt queue, the pool's connections) is read when Prometheus scrapes.

use std::{sync::OnceLock, time::Duration};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poem::{Endpoint, EndpointExt, Response, Route, get, handler, web::Data};

use crate::service::{health::Health, password_hasher::PasswordHasher};

/// The latency buckets, in seconds: from the cached reads' tenth of a millisecond to the
/// request time limit.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

/// How often the recorder folds recorded latencies into its buckets between scrapes, so that
/// memory stays flat when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's recorder, installed by the first server that serves metrics: the facade has
/// one global recorder, and test processes start many servers.
static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether this process records metrics: while none of its servers serves them, requests
/// skip building their labels.
pub fn on() -> bool {
    RECORDER.get().is_some()
}

/// Installs the recorder if no server did yet, and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = RECORDER.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        // Another server of this process won the race: use its recorder.
        return RECORDER
            .get()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("another metrics recorder is installed"));
    }
    describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(RECORDER.get_or_init(|| handle).clone())
}

/// Every metric we record, with its help text (the README lists the same).
fn describe() {
    describe_counter!(
        "comptoir_http_requests_total",
        "Requests answered, by route template, method and status."
    );
    describe_histogram!(
        "comptoir_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its response, by route template and method."
    );
    describe_counter!(
        "comptoir_session_cache_hits_total",
        "Bearer tokens authenticated from the session cache."
    );
    describe_counter!(
        "comptoir_session_cache_misses_total",
        "Bearer tokens the session cache did not hold, looked up in the database."
    );
    describe_gauge!(
        "comptoir_bcrypt_queue_depth",
        "Password hashes and checks waiting for a bcrypt thread."
    );
    describe_gauge!(
        "comptoir_db_pool_connections",
        "Database connections of the pool, by state (in_use, idle)."
    );
    describe_counter!(
        "comptoir_rate_limited_total",
        "Requests refused with a 429, by the limit that refused them."
    );
}

/// What a scrape reads besides the recorded figures.
#[derive(Clone)]
pub struct Gauges {
    pub health: Health,
    pub hasher: PasswordHasher,
}

/// The metrics listener's routes: `GET /metrics`.
pub fn app(handle: PrometheusHandle, gauges: Gauges) -> impl Endpoint {
    Route::new()
        .at("/metrics", get(scrape))
        .data(handle)
        .data(gauges)
}

#[handler]
fn scrape(Data(handle): Data<&PrometheusHandle>, Data(gauges): Data<&Gauges>) -> Response {
    let depth = u32::try_from(gauges.hasher.queue_depth()).unwrap_or(u32::MAX);
    metrics::gauge!("comptoir_bcrypt_queue_depth").set(f64::from(depth));
    let pool = gauges.health.pool_connections();
    metrics::gauge!("comptoir_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.in_use));
    metrics::gauge!("comptoir_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
