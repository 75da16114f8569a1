//! dashboard-api: the backend of the live dashboard. Serves the reports the brief asks of
//! MySQL as JSON, and the Redis live view (total, newest records, per-course counts) as a
//! REST snapshot and as coalesced socket.io pushes, the host monitors' samples, and the
//! route comparison from Prometheus. Optionally serves the built frontend.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`params`]: query parameters into domain values (422 naming the parameter).
//! - [`reports`]: stored records and the three MySQL reports, SQL in plain sight.
//! - [`live`]: the Redis snapshot, the hosts' samples, the socket.io protocol and the
//!   coalescing feed.
//! - [`comparison`]: each route's rate, errors and latency, asked of Prometheus.
//! - [`edge`]: the entry point's refusals (429, 413), answered in the contract's JSON.
//! - [`app`]: `build` wires MySQL, Redis, socket.io, CORS and the frontend; `run_until_stopped` serves and drains.

pub mod app;
pub mod comparison;
pub mod config;
pub mod edge;
pub mod live;
pub mod params;
pub mod reports;
