//! queue-api: route 3. Accepts `POST /notas` (JSON), checks it as the other routes do,
//! appends it to the Kafka topic, and answers `202 Accepted` once the broker has the record
//! durably (`acks=all`); grade-consumer stores it later. `GET /notas/status/{key}` says
//! whether it is stored yet.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`routes`]: `POST /notas` (append, 202) and `GET /notas/status/{key}` (pending or stored).
//! - [`app`]: `build` wires the producer, MySQL (for the status) and the router;
//!   `run_until_stopped` serves and drains.

pub mod app;
pub mod config;
pub mod routes;
