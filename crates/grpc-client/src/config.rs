//! grpc-client's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::http::HttpLimits;
use std::net::SocketAddr;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "grpc-client",
    about = "Route 1: accepts grades over HTTP and forwards them to grpc-server"
)]
pub struct Config {
    /// Address of the HTTP API (`POST /notas`, /healthz, /readyz, /metrics).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8081")]
    pub listen_addr: SocketAddr,
    /// grpc-server's URL, or several separated by commas. Each host name is resolved every
    /// GRPC_RESOLVE_INTERVAL_MS and the calls are balanced over every address found (a
    /// headless Service in Kubernetes; the replicas' ports in the local fault suite).
    #[arg(
        long,
        env = "GRPC_SERVER_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub grpc_server_url: String,
    /// Longest wait for grpc-server's answer before answering 503, in milliseconds.
    /// Keep it above grpc-server's STORE_TIMEOUT_MS.
    #[arg(long, env = "GRPC_TIMEOUT_MS", default_value_t = 3000)]
    pub grpc_timeout_ms: u64,
    /// How often grpc-server's host name is resolved again, in milliseconds.
    #[arg(long, env = "GRPC_RESOLVE_INTERVAL_MS", default_value_t = 5000)]
    pub grpc_resolve_interval_ms: u64,
    #[command(flatten)]
    pub http: HttpLimits,
}
