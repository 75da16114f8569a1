//! monitor: the host monitor, one per node (a DaemonSet in the cluster). Every
//! `MONITOR_INTERVAL_MS` it reads `/proc` (the host's, at `PROC_ROOT`) into a sample of CPU
//! usage, RAM and processes by state, sets its Prometheus gauges and publishes it through
//! Redis, where dashboard-api lists the hosts and pushes their samples to browsers.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`proc_stats`]: a `/proc` tree read at one instant, and two readings made a sample.
//! - [`publish`]: a sample as the gauges and as JSON in Redis, in one round trip.
//! - [`sampler`]: the loop that reads, compares and publishes every interval.
//! - [`app`]: `build` takes the first reading, connects Redis and binds the port;
//!   `run_until_stopped` samples and serves `/healthz`, `/readyz`, `/metrics`.

pub mod app;
pub mod config;
pub mod proc_stats;
pub mod publish;
pub mod sampler;
