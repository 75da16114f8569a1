//! grpc-server's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::{
    http::HttpLimits,
    mysql::{BatchArgs, MySqlArgs},
};
use std::net::SocketAddr;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "grpc-server",
    about = "Route 1: stores grades received over gRPC in MySQL"
)]
pub struct Config {
    /// Address of the gRPC service (and the standard gRPC health service).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen_addr: SocketAddr,
    /// Address of the HTTP admin endpoints: /healthz, /readyz, /metrics.
    #[arg(long, env = "ADMIN_ADDR", default_value = "127.0.0.1:9091")]
    pub admin_addr: SocketAddr,
    /// Apply the MySQL migrations and exit (the Kubernetes migration Job runs this).
    #[arg(long)]
    pub migrate_only: bool,
    #[command(flatten)]
    pub mysql: MySqlArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub http: HttpLimits,
}
