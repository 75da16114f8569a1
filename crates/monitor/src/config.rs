//! The monitor's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::{http::HttpLimits, live::RedisArgs};
use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "monitor",
    about = "Host monitor: samples CPU, RAM and processes from /proc into Redis and Prometheus gauges"
)]
pub struct Config {
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8084")]
    pub listen_addr: SocketAddr,
    /// The host's name in samples and labels; a DaemonSet sets it to the node's
    /// (`spec.nodeName`). Unset: the host name the kernel under PROC_ROOT gives.
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// The `/proc` tree to read; in a container, the host's mounted (e.g. `/host/proc`).
    #[arg(long, env = "PROC_ROOT", default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Time between two samples, in milliseconds.
    #[arg(long, env = "MONITOR_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub monitor_interval_ms: u64,
    /// Processes whose CPU and memory are exported, summed over every process of each name
    /// (its command name, as `ps -o comm` shows it), comma-separated. Empty: none.
    #[arg(
        long,
        env = "MONITOR_PROCESSES",
        default_value = "mariadbd,redis-server,nisshi,nginx",
        value_delimiter = ','
    )]
    pub processes: Vec<String>,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub http: HttpLimits,
}
