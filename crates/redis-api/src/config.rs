//! redis-api's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::{
    http::HttpLimits,
    live::RedisArgs,
    mysql::{BatchArgs, MySqlArgs},
};
use std::net::SocketAddr;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "redis-api",
    about = "Route 2: stores grades in MySQL and updates the Redis live view"
)]
pub struct Config {
    /// Address of the HTTP API (`POST /notas`, /healthz, /readyz, /metrics).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8082")]
    pub listen_addr: SocketAddr,
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Newest records kept in the live list.
    #[arg(long, env = "LIVE_RECENT_LIMIT", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub live_recent_limit: u64,
    /// How often the outbox clears the batches applied to Redis and replays those still owed
    /// (owed three rounds plus REDIS_TIMEOUT_MS after their commit), in milliseconds.
    #[arg(long, env = "OUTBOX_INTERVAL_MS", default_value_t = 1000)]
    pub outbox_interval_ms: u64,
    #[command(flatten)]
    pub mysql: MySqlArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub http: HttpLimits,
}
