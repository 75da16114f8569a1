//! grpc-server's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::{
    http::HttpLimits,
    mysql::{BatchArgs, MySqlArgs},
    redact::SecretUrl,
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
    /// Apply the MySQL migrations as the user of MYSQL_URL and exit (the migration step:
    /// the migration Job on kind and GKE, a step of `just dev`).
    #[arg(long)]
    pub migrate_only: bool,
    /// With --migrate-only: the services' MySQL URL; its user is created if missing, given
    /// this password and exactly the privileges the services need.
    #[arg(
        long,
        env = "APP_MYSQL_URL",
        hide_env_values = true,
        requires = "migrate_only"
    )]
    pub app_mysql_url: Option<SecretUrl>,
    #[command(flatten)]
    pub mysql: MySqlArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub http: HttpLimits,
}
