//! redis-api: route 2. Accepts `POST /notas` (JSON), stores each grade in MySQL (batched
//! across concurrent requests) and then adds it to the Redis live view the dashboard
//! shows. Answers 201 once MySQL has committed the record; see [`outbox`] for what happens
//! when Redis fails after that.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`writer`]: a batch to MySQL, then to the live view in one round trip.
//! - [`outbox`]: live updates owed after a Redis failure, replayed when Redis returns.
//! - [`rebuild`]: the live view rebuilt from MySQL after Redis lost it.
//! - [`routes`]: the `POST /notas` handler.
//! - [`app`]: `build` wires MySQL, Redis, the writer and the router; `run_until_stopped` serves and drains.

pub mod app;
pub mod config;
pub mod outbox;
pub mod rebuild;
pub mod routes;
pub mod writer;
