//! The route-comparison panel: each route's accepted/s, stored/s, errors/s and p50/p95/p99
//! latency over the last minutes, and route 3's queue (consumer lag in records and seconds,
//! time from `202` to stored), asked of Prometheus (`PROMETHEUS_URL`) through its HTTP query
//! API. The numbers are the services' own: `http_requests_total` and
//! `http_request_duration_seconds` for `POST /notas` by their `route` label (route 3 is
//! also counted at `/queue/notas`, the path the entry point gives it), and grade-consumer's
//! `notas_queue_*`, labelled `route="queue"` here. Prometheus is optional: without it
//! `GET /api/routes` answers a JSON 503 saying so within PROMETHEUS_TIMEOUT_MS, and the rest
//! of the dashboard works.
//!
//! What a record costs: each route's own processes' CPU per stored record and their
//! resident memory, from the `process_*` series every service exports, by `job` (the
//! workload's name on every stack); and beside them the shared stores' (MySQL, Redis, the
//! broker, the entry point), read where the environment sees them ([`StoreMetrics`]).

use crate::app::AppState;
use axum::{Json, extract::State, http::StatusCode};
use notas_core::http::ApiError;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// How far back the panel looks, and its resolution.
const WINDOW: Duration = Duration::from_secs(5 * 60);
const STEP: Duration = Duration::from_secs(5);

/// Grades stored per second, by `route`: a `201` on routes 1 and 2, a row written by
/// grade-consumer on route 3.
macro_rules! stored_per_second {
    () => {
        r#"(sum by (route) (rate(http_requests_total{path=~"/notas|/queue/notas", method="POST", status="201"}[30s])) or label_replace(sum(rate(notas_queue_stored_total[30s])), "route", "queue", "__name__", ".*"))"#
    };
}

/// `$before` each route's own processes `$after`, each series labelled with its `route`:
/// route 1 is grpc-client and grpc-server, route 2 redis-api, route 3 queue-api and
/// grade-consumer.
macro_rules! own_processes {
    ($before:literal, $after:literal) => {
        concat!(
            r#"label_replace("#,
            $before,
            r#"{job=~"grpc-client|grpc-server"}"#,
            $after,
            r#", "route", "grpc", "__name__", ".*")"#,
            r#" or label_replace("#,
            $before,
            r#"{job="redis-api"}"#,
            $after,
            r#", "route", "redis", "__name__", ".*")"#,
            r#" or label_replace("#,
            $before,
            r#"{job=~"queue-api|grade-consumer"}"#,
            $after,
            r#", "route", "queue", "__name__", ".*")"#,
        )
    };
}

/// The panel's series, each one PromQL expression with one result per `route`. Rates over
/// 30 s: several scrapes locally (every 2 s) and in a cluster (every 10 s).
///
/// A grade is accepted with a `201` on routes 1 and 2 (it is stored) and a `202` on route
/// 3 (it is queued; grade-consumer counts it stored later); any other answer is an error.
/// The lag takes the largest value each partition has over the consumers (a member reports
/// 0 for a partition the group gave to another) and adds the partitions up; its seconds are
/// the oldest waiting record's.
///
/// A route's CPU per record is its own processes' CPU seconds per second over its stored
/// grades per second, in microseconds, where it stored more than five a second: below that
/// the figure is mostly the processes' idle work, up to tens of milliseconds a grade as a
/// load ends, which would flatten the chart of the load itself.
pub const SERIES: [(&str, &str); 13] = [
    (
        "accepted_per_second",
        r#"sum by (route) (rate(http_requests_total{path=~"/notas|/queue/notas", method="POST", status=~"201|202"}[30s]))"#,
    ),
    ("stored_per_second", stored_per_second!()),
    (
        "errors_per_second",
        r#"sum by (route) (rate(http_requests_total{path=~"/notas|/queue/notas", method="POST", status!~"201|202"}[30s]))"#,
    ),
    (
        "p50_ms",
        r#"1000 * histogram_quantile(0.50, sum by (route, le) (rate(http_request_duration_seconds_bucket{path=~"/notas|/queue/notas", method="POST"}[30s])))"#,
    ),
    (
        "p95_ms",
        r#"1000 * histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_bucket{path=~"/notas|/queue/notas", method="POST"}[30s])))"#,
    ),
    (
        "p99_ms",
        r#"1000 * histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{path=~"/notas|/queue/notas", method="POST"}[30s])))"#,
    ),
    (
        "queue_lag_records",
        r#"label_replace(sum(max by (group, topic, partition) (notas_queue_lag_records)), "route", "queue", "__name__", ".*")"#,
    ),
    (
        "queue_lag_seconds",
        r#"label_replace(max(notas_queue_lag_seconds), "route", "queue", "__name__", ".*")"#,
    ),
    (
        "time_to_stored_p50_seconds",
        r#"label_replace(histogram_quantile(0.50, sum by (le) (rate(notas_queue_time_to_stored_seconds_bucket[30s]))), "route", "queue", "__name__", ".*")"#,
    ),
    (
        "time_to_stored_p95_seconds",
        r#"label_replace(histogram_quantile(0.95, sum by (le) (rate(notas_queue_time_to_stored_seconds_bucket[30s]))), "route", "queue", "__name__", ".*")"#,
    ),
    (
        "time_to_stored_p99_seconds",
        r#"label_replace(histogram_quantile(0.99, sum by (le) (rate(notas_queue_time_to_stored_seconds_bucket[30s]))), "route", "queue", "__name__", ".*")"#,
    ),
    (
        "cpu_us_per_record",
        concat!(
            "1e6 * sum by (route) (",
            own_processes!("rate(process_cpu_seconds_total", "[30s])"),
            ") / (",
            stored_per_second!(),
            " > 5)"
        ),
    ),
    (
        "memory_bytes",
        concat!(
            "sum by (route) (",
            own_processes!("process_resident_memory_bytes", ""),
            ")"
        ),
    ),
];

/// Where the shared stores' CPU and memory are read, by environment (`STORE_METRICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreMetrics {
    /// The host monitor's counters of the stores' processes, by program name: the local
    /// stack, where MariaDB, Redis, nisshi and nginx run beside the monitor.
    Host,
    /// The kubelets' cAdvisor, by container of so1p2: kind (MySQL, Redis, Kafka) and GKE
    /// through GMP (Kafka; Cloud SQL and Memorystore run outside the cluster, where no
    /// Prometheus sees them). The entry point, ingress-nginx or GKE's Gateway, is outside
    /// so1p2 and not counted.
    Cadvisor,
}

impl StoreMetrics {
    /// The stores' series, each one PromQL expression with one result per `process`: CPU per
    /// record stored by any route, in microseconds, and resident memory.
    pub fn series(self) -> [(&'static str, &'static str); 2] {
        match self {
            StoreMetrics::Host => [
                (
                    "cpu_us_per_record",
                    concat!(
                        "1e6 * sum by (process) (rate(notas_host_process_cpu_seconds_total[30s])) / scalar(sum(",
                        stored_per_second!(),
                        ") > 5)"
                    ),
                ),
                (
                    "memory_bytes",
                    "sum by (process) (notas_host_process_resident_memory_bytes)",
                ),
            ],
            StoreMetrics::Cadvisor => [
                (
                    "cpu_us_per_record",
                    concat!(
                        r#"1e6 * label_replace(sum by (container) (rate(container_cpu_usage_seconds_total{namespace="so1p2", container=~"mysql|redis|kafka"}[30s])), "process", "$1", "container", "(.*)") / scalar(sum("#,
                        stored_per_second!(),
                        ") > 5)"
                    ),
                ),
                (
                    "memory_bytes",
                    r#"label_replace(sum by (container) (container_memory_working_set_bytes{namespace="so1p2", container=~"mysql|redis|kafka"}), "process", "$1", "container", "(.*)")"#,
                ),
            ],
        }
    }
}

/// Prometheus' HTTP API.
#[derive(Clone)]
pub struct Prometheus {
    client: reqwest::Client,
    url: String,
    stores: StoreMetrics,
}

/// One series' points per route (or per store process), `[unix seconds, value]` (a route
/// without requests in the window has none).
pub type ByRoute = BTreeMap<String, Vec<(f64, f64)>>;

/// What `GET /api/routes` answers: each of [`SERIES`] by route, and each of
/// [`StoreMetrics::series`] by store process.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub window_seconds: u64,
    pub step_seconds: u64,
    pub series: BTreeMap<&'static str, ByRoute>,
    pub stores: BTreeMap<&'static str, ByRoute>,
}

/// A `query_range` answer, the parts used.
#[derive(Deserialize)]
struct RangeAnswer {
    data: RangeData,
}

#[derive(Deserialize)]
struct RangeData {
    result: Vec<RangeSeries>,
}

#[derive(Deserialize)]
struct RangeSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// A client of the Prometheus at `url`, each query bounded by `timeout`, reading the
    /// stores from `stores`.
    pub fn new(
        url: &str,
        timeout: Duration,
        stores: StoreMetrics,
    ) -> Result<Prometheus, reqwest::Error> {
        Ok(Prometheus {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            url: url.trim_end_matches('/').to_owned(),
            stores,
        })
    }

    /// Every series of the panel over the last [`WINDOW`].
    pub async fn comparison(&self) -> Result<Comparison, String> {
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let start = end - WINDOW.as_secs();
        let ask = |series: &[(&'static str, &'static str)], key| {
            futures_util::future::try_join_all(series.iter().map(|&(name, query)| async move {
                Ok::<_, String>((name, self.query_range(query, key, start, end).await?))
            }))
        };
        let (series, stores) = futures_util::future::try_join(
            ask(&SERIES, "route"),
            ask(&self.stores.series(), "process"),
        )
        .await?;
        Ok(Comparison {
            window_seconds: WINDOW.as_secs(),
            step_seconds: STEP.as_secs(),
            series: series.into_iter().collect(),
            stores: stores.into_iter().collect(),
        })
    }

    /// One expression's points per value of its label `key`; a point that is not a number
    /// (a quantile of no requests) is left out.
    async fn query_range(
        &self,
        query: &str,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<ByRoute, String> {
        let answer = self
            .client
            .get(format!("{}/api/v1/query_range", self.url))
            .query(&[
                ("query", query),
                ("start", &start.to_string()),
                ("end", &end.to_string()),
                ("step", &STEP.as_secs().to_string()),
            ])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.without_url().to_string())?
            .json::<RangeAnswer>()
            .await
            .map_err(|e| format!("unexpected answer: {}", e.without_url()))?;
        Ok(answer
            .data
            .result
            .into_iter()
            .filter_map(|s| {
                let route = s.metric.get(key)?.clone();
                let points = s
                    .values
                    .into_iter()
                    .filter_map(|(t, v)| {
                        v.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .map(|v| (t, v))
                    })
                    .collect();
                Some((route, points))
            })
            .collect())
    }
}

/// `GET /api/routes`.
pub async fn routes(State(state): State<AppState>) -> Result<Json<Comparison>, ApiError> {
    state
        .prometheus
        .comparison()
        .await
        .map(Json)
        .map_err(|why| {
            tracing::warn!(error = %why, "route comparison unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the route comparison needs Prometheus, which did not answer at {}: {why}",
                    state.prometheus.url
                ),
            )
        })
}
