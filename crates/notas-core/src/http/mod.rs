//! The HTTP contract every notas service keeps (docs/contract.md).
//!
//! - [`error`]: [`ApiError`], every error as `{"error": "...", "field": ...}` with its
//!   status; 503 always carries `Retry-After`.
//! - [`grade_json`]: [`GradeJson`], the `POST /notas` body, checked in order: content type
//!   (415), size (413), JSON syntax (400), field types (422), field domains (422); and
//!   [`KeyHeader`], its `Idempotency-Key`.
//! - [`contract`]: [`with_contract`], which adds `/healthz`, `/readyz`, `/metrics`, a JSON
//!   404, and the layers (route header, request timeout, body limit, panic catcher,
//!   tracing, request metrics).

pub mod contract;
pub mod error;
pub mod grade_json;

pub use contract::{HttpLimits, NotReady, ROUTE_HEADER, ReadyCheck, ready_check, with_contract};
pub use error::{ApiError, RETRY_AFTER_SECS};
pub use grade_json::{GradeJson, KeyHeader};
