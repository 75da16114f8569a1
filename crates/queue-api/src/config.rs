//! queue-api's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::{http::HttpLimits, mysql::MySqlArgs};
use notas_queue::kafka::KafkaArgs;
use std::net::SocketAddr;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "queue-api",
    about = "Route 3: appends grades to Kafka and answers 202 once the broker has them"
)]
pub struct Config {
    /// Address of the HTTP API (`POST /notas`, `GET /notas/status/{key}`, /healthz, /readyz,
    /// /metrics).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8085")]
    pub listen_addr: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// MySQL, read by the status endpoint only: accepting a grade never waits for it.
    #[command(flatten)]
    pub mysql: MySqlArgs,
    #[command(flatten)]
    pub http: HttpLimits,
}
