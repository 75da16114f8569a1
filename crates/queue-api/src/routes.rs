//! Route 3's endpoints.
//!
//! `POST /notas`: the body and the `Idempotency-Key` are checked as on the other routes (400,
//! 413, 415, 422). The grade is appended to the topic under its key (the client's, or a new
//! UUID, so a redelivered record stores nothing twice) and answered `202` with
//! `{"key", "status": "pending"}` and `Location: /queue/notas/status/{key}`, only once the broker
//! has acknowledged it durably; `503` with `Retry-After` when it has not within
//! `KAFKA_TIMEOUT_MS`. The append may still land, so the `503` names the key too, in an
//! `Idempotency-Key` header and the body's `key`: a retry with it stores the grade once, even
//! when queue-api made the key. The key's other rules (same key with another grade) are the
//! consumer's: such a record is a dead letter and the key keeps its first grade.
//!
//! `GET /notas/status/{key}`: `{"key", "status": "stored", "record": {...}}` once a consumer
//! has stored it, else `{"key", "status": "pending"}`. queue-api keeps no list of what it
//! accepted, so a key it never saw reads as pending too.
//!
//! Both are served at `/notas...` and under `/queue`, the path prefix of route 3 at the entry
//! point, so the `Location` (under `/queue`) reads the status through the entry point and
//! from queue-api itself alike, whichever path accepted the grade (`/queue/notas`, or the
//! three-way split: `/notas` with `x-notas-split: all`).

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use notas_core::{
    grade::StoredGrade,
    http::{ApiError, GradeJson, KeyHeader},
    idempotency::IdempotencyKey,
    mysql::grades::stored_under_key,
    store::{Store, StoreError},
};
use notas_queue::message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use sqlx::MySqlPool;
use std::{fmt::Write, sync::Arc, time::Duration};

#[derive(Clone)]
pub struct AppState {
    pub producer: FutureProducer,
    pub topic: Arc<str>,
    /// Longest the append may wait for room in the producer's queue.
    pub kafka_timeout: Duration,
    pub mysql: MySqlPool,
    pub store_timeout: Duration,
}

/// The entry point's path prefix for route 3.
pub const PREFIX: &str = "/queue";

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/notas", post(accept))
        .route("/notas/status/{key}", get(status))
        .with_state(state);
    Router::new().nest(PREFIX, routes.clone()).merge(routes)
}

/// What route 3 says about an accepted grade.
#[derive(Debug, Serialize)]
pub struct Status {
    pub key: String,
    /// `pending` or `stored`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<StoredGrade>,
}

#[tracing::instrument(level = "debug", skip_all, fields(carnet = grade.carnet()))]
async fn accept(
    State(state): State<AppState>,
    KeyHeader(key): KeyHeader,
    GradeJson(grade): GradeJson,
) -> Result<(StatusCode, HeaderMap, Json<Status>), Unsure> {
    let key = key.unwrap_or_else(|| {
        IdempotencyKey::parse(uuid::Uuid::new_v4().to_string().as_bytes()).expect("a UUID is a key")
    });
    let value = message::value(&grade);
    let record = FutureRecord::to(&state.topic)
        .key(key.as_str())
        .payload(&value)
        .timestamp(now_ms());
    // Resolves once the broker acknowledged the append (acks=all), or failed for good
    // (message.timeout.ms, KAFKA_TIMEOUT_MS); bounded here too, so no answer waits longer.
    let appended = state.producer.send(record, state.kafka_timeout);
    let unsure = |e: StoreError| Unsure {
        error: e.into(),
        key: key.clone(),
    };
    Store::Broker
        .within(state.kafka_timeout, appended)
        .await
        .map_err(unsure)?
        .map_err(|(e, _)| unsure(StoreError::new(Store::Broker, e)))?;
    let mut headers = HeaderMap::new();
    let location = format!("{PREFIX}/notas/status/{}", percent_encoded(key.as_str()));
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("percent-encoded ASCII"),
    );
    let body = Status {
        key: key.to_string(),
        status: "pending",
        record: None,
    };
    Ok((StatusCode::ACCEPTED, headers, Json(body)))
}

/// The name of the header that carries the key, on a request and on a `503` of an append.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// An append whose outcome is unknown: the broker did not acknowledge it in time, yet it may
/// have landed. Answered as `error` (a `503` with `Retry-After`), with the key it was
/// appended under in an `Idempotency-Key` header and in the body's `key`.
pub struct Unsure {
    error: ApiError,
    key: IdempotencyKey,
}

impl IntoResponse for Unsure {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            error: &'a ApiError,
            key: &'a str,
        }
        let body = serde_json::to_vec(&Body {
            error: &self.error,
            key: self.key.as_str(),
        })
        .expect("a JSON object");
        let (mut parts, _) = self.error.into_response().into_parts();
        parts.headers.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(self.key.as_str()).expect("a key is printable ASCII"),
        );
        Response::from_parts(parts, axum::body::Body::from(body))
    }
}

async fn status(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Status>, ApiError> {
    let key = IdempotencyKey::parse(key.as_bytes()).map_err(ApiError::malformed_field)?;
    let record = stored_under_key(&state.mysql, state.store_timeout, &key).await?;
    Ok(Json(Status {
        key: key.to_string(),
        status: if record.is_some() {
            "stored"
        } else {
            "pending"
        },
        record,
    }))
}

/// Unix milliseconds from the system clock.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `key` as one path segment: every byte but RFC 3986's unreserved ones as `%XX`.
fn percent_encoded(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            write!(out, "%{b:02X}").expect("writing to a String");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_becomes_one_path_segment() {
        assert_eq!(super::percent_encoded("a-1_b.~"), "a-1_b.~");
        assert_eq!(super::percent_encoded("a/b c%?"), "a%2Fb%20c%25%3F");
    }
}
