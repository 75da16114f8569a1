//! dashboard-api's configuration: command-line flags or environment variables.

use crate::comparison::StoreMetrics;
use clap::Parser;
use notas_core::{http::HttpLimits, live::RedisArgs, mysql::MySqlArgs};
use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "dashboard-api",
    about = "The dashboard's backend: MySQL reports over REST, the Redis live view over socket.io"
)]
pub struct Config {
    /// Address of the HTTP API (/api/..., /socket.io/, /healthz, /readyz, /metrics).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8083")]
    pub listen_addr: SocketAddr,
    /// Newest live records sent to browsers.
    #[arg(long, env = "LIVE_SHOWN", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub live_shown: u64,
    /// Shortest time between two live pushes to a browser, in milliseconds: however fast
    /// grades arrive, each browser gets at most 1000 / PUSH_INTERVAL_MS updates a second.
    #[arg(long, env = "PUSH_INTERVAL_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(20..))]
    pub push_interval_ms: u64,
    /// Origins allowed to call the REST API from a browser (comma-separated), e.g. the
    /// Cloud Run frontend's URL. Empty: same origin only.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', default_value = "")]
    pub cors_origins: Vec<String>,
    /// Folder of the built frontend (`frontend/dist`) to serve at `/`; unset: API only.
    #[arg(long, env = "FRONTEND_DIR")]
    pub frontend_dir: Option<PathBuf>,
    /// Prometheus, for the route-comparison panel (`GET /api/routes`); optional: without it
    /// that panel says so and the rest works.
    #[arg(long, env = "PROMETHEUS_URL", default_value = "http://127.0.0.1:9090")]
    pub prometheus_url: String,
    /// Where the route comparison reads the shared stores' CPU and memory: `host`, the host
    /// monitor's per-process counters (the local stack); `cadvisor`, the kubelets' container
    /// counters (kind, GKE).
    #[arg(long, env = "STORE_METRICS", value_enum, default_value = "host")]
    pub store_metrics: StoreMetrics,
    /// Longest wait for Prometheus, in milliseconds.
    #[arg(long, env = "PROMETHEUS_TIMEOUT_MS", default_value_t = 2000)]
    pub prometheus_timeout_ms: u64,
    #[command(flatten)]
    pub mysql: MySqlArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub http: HttpLimits,
}
