//! grade-consumer: route 3's storing half. A member of a Kafka consumer group that takes the
//! records queue-api appended, in batches, stores each batch with route 2's write (one
//! multi-row `INSERT`, the idempotency key committed with the grade, so a redelivered record
//! stores nothing twice), applies it to the Redis live view, and only then commits the
//! batch's offsets. A record that cannot be stored goes to the dead-letter topic with its
//! reason.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`consumer`]: the loop: a batch, MySQL, the live view, the dead letters, the offsets.
//! - [`lag`]: the group's lag on this member's partitions (records and seconds), as gauges
//!   refreshed beside the loop.
//! - [`assignment`]: the partitions this member holds, as a gauge per partition.
//! - [`app`]: `build` wires the group member, the stores and the health endpoints;
//!   `run_until_stopped` consumes and drains.

pub mod app;
pub mod assignment;
pub mod config;
pub mod consumer;
pub mod lag;
