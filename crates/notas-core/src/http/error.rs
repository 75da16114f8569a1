//! [`ApiError`]: the one shape of every error answer, with one constructor per kind of
//! failure.

use crate::{
    batch::BatchError,
    grade::InvalidField,
    store::{Store, StoreError},
};
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Seconds a client is asked to wait before retrying a 503 or a 429.
pub const RETRY_AFTER_SECS: u64 = 1;

/// An error answer: `{"error": "...", "field": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub error: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    /// Any status with its message; the kinds below say which to use.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    /// 400: the body is not JSON, or not the JSON object the contract describes.
    pub fn malformed(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    /// 400 naming what is malformed (the `Idempotency-Key` header).
    pub fn malformed_field(e: InvalidField) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error: e.to_string(),
            field: Some(e.field),
        }
    }

    /// 404: no such endpoint.
    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
    }

    /// 413: the body is over the limit.
    pub fn too_large() -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large")
    }

    /// 415: the body is not declared as JSON.
    pub fn not_json() -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )
    }

    /// 422: a field (or query parameter) outside its domain, named.
    pub fn invalid(e: InvalidField) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: e.to_string(),
            field: Some(e.field),
        }
    }

    /// 429 with `Retry-After`: this client sent more than the edge admits (its per-address
    /// rate limit, answered for the entry point by dashboard-api's `edge` module).
    pub fn rate_limited() -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address; retry later",
        )
    }

    /// 503 with `Retry-After`: `what` cannot answer now.
    pub fn unavailable(what: &str) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} is unavailable; retry later"),
        )
    }
}

impl From<InvalidField> for ApiError {
    fn from(e: InvalidField) -> Self {
        ApiError::invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "answering 503");
        match e.store {
            Store::Redis => ApiError::unavailable("the live view"),
            Store::MySql | Store::GrpcServer => ApiError::unavailable("the grade store"),
            Store::Broker => ApiError::unavailable("the grade queue"),
        }
    }
}

impl From<BatchError<StoreError>> for ApiError {
    fn from(e: BatchError<StoreError>) -> Self {
        match e {
            BatchError::Flush(e) => e.into(),
            BatchError::Stopped => ApiError::unavailable("the service (shutting down)"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(&self)).into_response();
        if matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}
