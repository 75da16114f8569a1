//! monitor: the host monitor, one per node (a DaemonSet in the cluster). Every
//! `MONITOR_INTERVAL_MS` it reads `/proc` (the host's, at `PROC_ROOT`) into a sample of CPU
//! usage, RAM and processes by state, sets its Prometheus gauges and publishes it through
//! Redis, where dashboard-api lists the hosts and pushes their samples to browsers. It also
//! exports the CPU and memory of the processes named in `MONITOR_PROCESSES` (the shared
//! stores, the broker, the entry point), which export none of their own.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`proc_stats`]: a `/proc` tree read at one instant, and two readings made a sample.
//! - [`process_totals`]: the watched processes' CPU and memory, summed by name.
//! - [`publish`]: a sample as the gauges and as JSON in Redis, in one round trip.
//! - [`sampler`]: the loop that reads, compares and publishes every interval.
//! - [`app`]: `build` takes the first reading, connects Redis and binds the port;
//!   `run_until_stopped` samples and serves `/healthz`, `/readyz`, `/metrics`.

pub mod app;
pub mod config;
pub mod proc_stats;
pub mod process_totals;
pub mod publish;
pub mod sampler;
