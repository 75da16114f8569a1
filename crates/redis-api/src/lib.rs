//! redis-api: route 2. Accepts `POST /notas` (JSON), stores each grade in MySQL (batched
//! across concurrent requests) and then adds it to the Redis live view the dashboard
//! shows. Answers 201 once MySQL has committed the record; see [`outbox`] for what happens
//! when Redis fails after that.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`live`]: the one-round-trip Redis update of a batch.
//! - [`outbox`]: live updates owed after a Redis failure, replayed when Redis returns.
//! - [`routes`]: the `POST /notas` handler.
//! - [`app`]: wires MySQL, Redis, the batch writer and the router; runs until shutdown.

pub mod app;
pub mod config;
pub mod live;
pub mod outbox;
pub mod routes;
