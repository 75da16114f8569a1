//! Shared core of the notas services: what both ingestion routes (and the dashboard) must
//! agree on, written once.
//!
//! # Layout
//! - [`grade`]: the grade record; the only way to build one is valid.
//! - [`idempotency`]: the `Idempotency-Key` of a submission.
//! - [`route`]: the two ingestion routes, as named in headers and rows.
//! - [`batch`]: groups concurrent submissions into one flush ([`batch::Flush`], the routes'
//!   writers) and answers each.
//! - [`mysql`]: the settings, the pool and the migrations; [`mysql::grades`], the batched
//!   `INSERT` of grades and route 1's writer; [`mysql::upkeep`], summaries and old keys.
//! - [`summaries`]: the report summaries, owed by each batch and caught up by the writers.
//! - [`live`]: the Redis key layout of the live view (written by route 2, read by the dashboard).
//! - [`store`]: what a store failure is ([`store::StoreError`]), counted in one place, and
//!   the start-up wait for a store.
//! - [`http`]: the wire contract: JSON errors, the grade extractor, health, readiness, metrics.
//! - [`redact`]: connection URLs without their passwords, for `Debug`.
//! - [`metrics`]: the Prometheus recorder.
//! - [`telemetry`]: structured logs.
//! - [`shutdown`]: the process-wide shutdown signal.
//!
//! The test support (a database per test, Redis key prefixes, a severable TCP proxy, the
//! services in-process, the wire contract's suite) is the dev-only crate `notas-testkit`.

pub mod batch;
pub mod grade;
pub mod http;
pub mod idempotency;
pub mod live;
pub mod metrics;
pub mod mysql;
pub mod redact;
pub mod route;
pub mod shutdown;
pub mod store;
pub mod summaries;
pub mod telemetry;

/// The error type of start-up and serving: anything, sendable across tasks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
