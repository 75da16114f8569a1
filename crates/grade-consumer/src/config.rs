//! grade-consumer's configuration: command-line flags or environment variables.

use clap::Parser;
use notas_core::{
    http::HttpLimits,
    live::RedisArgs,
    mysql::{BatchArgs, MySqlArgs},
};
use notas_queue::kafka::KafkaArgs;
use std::{net::SocketAddr, time::Duration};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "grade-consumer",
    about = "Route 3: stores the grades queued in Kafka in MySQL and the Redis live view"
)]
pub struct Config {
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8086")]
    pub listen_addr: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The consumer group: its members share the topic's partitions.
    #[arg(long, env = "KAFKA_GROUP", default_value = "grade-consumer")]
    pub kafka_group: String,
    /// How long a silent member keeps its partitions before the group gives them to
    /// another, in milliseconds.
    #[arg(long, env = "KAFKA_SESSION_TIMEOUT_MS", default_value_t = 10_000)]
    pub kafka_session_timeout_ms: u64,
    /// Create the topics (with KAFKA_PARTITIONS partitions) unless they exist, then exit.
    #[arg(long)]
    pub create_topics: bool,
    /// Partitions of the grades topic made by `--create-topics`: the most consumers that
    /// share the work.
    #[arg(long, env = "KAFKA_PARTITIONS", default_value_t = 3)]
    pub kafka_partitions: i32,
    /// Replicas of each partition made by `--create-topics`.
    #[arg(long, env = "KAFKA_REPLICATION", default_value_t = 1)]
    pub kafka_replication: i32,
    #[command(flatten)]
    pub mysql: MySqlArgs,
    /// Batches: BATCH_MAX_SIZE records at most, waiting BATCH_MAX_WAIT_MS for more.
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Newest records kept in the live list.
    #[arg(long, env = "LIVE_RECENT_LIMIT", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub live_recent_limit: u64,
    #[command(flatten)]
    pub http: HttpLimits,
}

impl Config {
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_session_timeout_ms)
    }
}
