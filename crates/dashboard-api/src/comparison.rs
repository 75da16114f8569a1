//! The route-comparison panel: each route's accepted/s, stored/s, errors/s and p50/p95/p99
//! latency over the last minutes, and route 3's queue (consumer lag in records and seconds,
//! time from `202` to stored), asked of Prometheus (`PROMETHEUS_URL`) through its HTTP query
//! API. The numbers are the services' own: `http_requests_total` and
//! `http_request_duration_seconds` for `POST /notas` by their `route` label (route 3 is
//! also counted at `/queue/notas`, the path the entry point gives it), and grade-consumer's
//! `notas_queue_*`, labelled `route="queue"` here. Prometheus is optional: without it
//! `GET /api/routes` answers a JSON 503 saying so within PROMETHEUS_TIMEOUT_MS, and the rest
//! of the dashboard works.

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

/// The panel's series, each one PromQL expression with one result per `route`. Rates over
/// 30 s: several scrapes locally (every 2 s) and in a cluster (every 10 s).
///
/// A grade is accepted with a `201` on routes 1 and 2 (it is stored) and a `202` on route
/// 3 (it is queued; grade-consumer counts it stored later); any other answer is an error.
/// The lag takes the largest value each partition has over the consumers (a member reports
/// 0 for a partition the group gave to another) and adds the partitions up; its seconds are
/// the oldest waiting record's.
pub const SERIES: [(&str, &str); 11] = [
    (
        "accepted_per_second",
        r#"sum by (route) (rate(http_requests_total{path=~"/notas|/queue/notas", method="POST", status=~"201|202"}[30s]))"#,
    ),
    (
        "stored_per_second",
        r#"sum by (route) (rate(http_requests_total{path=~"/notas|/queue/notas", method="POST", status="201"}[30s])) or label_replace(sum(rate(notas_queue_stored_total[30s])), "route", "queue", "__name__", ".*")"#,
    ),
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
];

/// Prometheus' HTTP API.
#[derive(Clone)]
pub struct Prometheus {
    client: reqwest::Client,
    url: String,
}

/// One series' points per route, `[unix seconds, value]` (a route without requests in the
/// window has none).
pub type ByRoute = BTreeMap<String, Vec<(f64, f64)>>;

/// What `GET /api/routes` answers: each of [`SERIES`] by route.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub window_seconds: u64,
    pub step_seconds: u64,
    pub series: BTreeMap<&'static str, ByRoute>,
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
    /// A client of the Prometheus at `url`, each query bounded by `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Prometheus, reqwest::Error> {
        Ok(Prometheus {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    /// Every series of the panel over the last [`WINDOW`].
    pub async fn comparison(&self) -> Result<Comparison, String> {
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let start = end - WINDOW.as_secs();
        let answers = futures_util::future::join_all(
            SERIES.map(|(_, query)| self.query_range(query, start, end)),
        )
        .await;
        let mut series = BTreeMap::new();
        for ((name, _), answer) in SERIES.iter().zip(answers) {
            series.insert(*name, answer?);
        }
        Ok(Comparison {
            window_seconds: WINDOW.as_secs(),
            step_seconds: STEP.as_secs(),
            series,
        })
    }

    /// One expression's points per `route`; a point that is not a number (a quantile of
    /// no requests) is left out.
    async fn query_range(&self, query: &str, start: u64, end: u64) -> Result<ByRoute, String> {
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
                let route = s.metric.get("route")?.clone();
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
