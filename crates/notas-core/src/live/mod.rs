//! The Redis live view: key layout and payloads. Routes 2 (redis-api) and 3 (grade-consumer)
//! write it through [`LiveView`], the dashboard reads it; all build key names here so they
//! cannot drift apart.
//!
//! With prefix `p` (config `REDIS_KEY_PREFIX`, default `notas:`):
//! - `p total`: string counter, records written by routes 2 and 3;
//! - `p counts`: hash, field `COURSE:SEMESTER:YEAR` (e.g. `SO1:2S:2023`) → records;
//! - `p recent`: list of the newest records as JSON [`StoredGrade`](crate::grade::StoredGrade)s
//!   with their `route`, newest first, trimmed to a bound;
//! - `p events`: pub/sub channel; each message is the JSON array of the records of one batch;
//! - `p applied:N`: bitmaps of the grade ids already applied (bit `id mod 2^20` of bitmap
//!   `id / 2^20`), set in the same atomic step as the counts so that a record applied twice
//!   counts once; each expires a week after its last write;
//! - `p built`: set once the view holds every route 2 and route 3 grade in MySQL (Redis
//!   keeps nothing on disk, so after a restart it is missing and route 2 rebuilds the view);
//! - `p rebuilding`: the lock of the replica rebuilding it, expiring.
//!
//! The host monitor (`crates/monitor`) publishes its samples beside the live view:
//! - `p host:NAME`: list of host NAME's newest samples (JSON), newest first, bounded;
//! - `p hosts`: sorted set of host names scored by their last sample's unix time;
//! - `p host`: pub/sub channel; each message is one sample.

use crate::{
    grade::{Course, Semester},
    store::Store,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::{path::PathBuf, time::Duration};

mod view;
pub use view::LiveView;

/// Redis settings of every service that uses the live view.
#[derive(Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis URL (Memorystore in production): `redis://:PASSWORD@host:port` with a password
    /// (AUTH), `rediss://` over TLS. Its value is never shown: it may carry a password.
    #[arg(
        long,
        env = "REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// PEM file of the certificate authority that signs the server's certificate, for a
    /// `rediss://` server whose authority is not in the system's store (Memorystore's); a
    /// `redis://` URL does not read it.
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of every live-view key, so several deployments (or tests) can share a Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "notas:")]
    pub redis_key_prefix: String,
    /// Longest wait for Redis, in milliseconds.
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = 500)]
    pub redis_timeout_ms: u64,
}

impl std::fmt::Debug for RedisArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisArgs")
            .field("redis_url", &crate::redact::url(&self.redis_url))
            .field("redis_ca_file", &self.redis_ca_file)
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .finish()
    }
}

impl RedisArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    pub fn keys(&self) -> LiveKeys {
        LiveKeys::new(self.redis_key_prefix.clone())
    }

    /// A client of `REDIS_URL`, trusting `REDIS_CA_FILE` for a `rediss://` URL when it is
    /// given.
    ///
    /// # Errors
    /// The URL is malformed, or the CA file cannot be read.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        let tls = self.redis_url.starts_with("rediss://");
        let Some(ca_file) = self.redis_ca_file.as_ref().filter(|_| tls) else {
            return redis::Client::open(self.redis_url.as_str());
        };
        let root_cert = std::fs::read(ca_file).map_err(|e| {
            let what = format!("REDIS_CA_FILE {}: {e}", ca_file.display());
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "unreadable CA file",
                what,
            ))
        })?;
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        };
        redis::Client::build_with_tls(self.redis_url.as_str(), certificates)
    }
}

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub struct LiveKeys {
    prefix: String,
}

impl LiveKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        LiveKeys {
            prefix: prefix.into(),
        }
    }

    pub fn total(&self) -> String {
        format!("{}total", self.prefix)
    }

    pub fn counts(&self) -> String {
        format!("{}counts", self.prefix)
    }

    pub fn recent(&self) -> String {
        format!("{}recent", self.prefix)
    }

    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    pub fn host(&self, name: &str) -> String {
        format!("{}host:{name}", self.prefix)
    }

    pub fn hosts(&self) -> String {
        format!("{}hosts", self.prefix)
    }

    pub fn host_events(&self) -> String {
        format!("{}host", self.prefix)
    }

    pub fn built(&self) -> String {
        format!("{}built", self.prefix)
    }

    pub fn rebuilding(&self) -> String {
        format!("{}rebuilding", self.prefix)
    }

    /// The bitmap that records whether grade `id` was applied, and the bit for it.
    pub fn applied(&self, id: u64) -> (String, u64) {
        (
            format!("{}applied:{}", self.prefix, id >> APPLIED_BITS),
            id & ((1 << APPLIED_BITS) - 1),
        )
    }
}

/// Ids per `applied` bitmap: 2^20 bits, 128 KiB each.
const APPLIED_BITS: u32 = 20;

/// A Redis connection whose waits are bounded by `REDIS_TIMEOUT_MS`; it reconnects by
/// itself after a failure. At start-up it waits up to a minute for Redis to come up.
///
/// # Errors
/// The URL is wrong or Redis does not answer.
pub async fn connect(args: &RedisArgs) -> redis::RedisResult<ConnectionManager> {
    let client = args.client()?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(args.timeout()))
        .set_response_timeout(Some(args.timeout()))
        .set_number_of_retries(1);
    Store::Redis
        .wait_for_startup(
            || ConnectionManager::new_with_config(client.clone(), config.clone()),
            redis::RedisError::is_io_error,
        )
        .await
}

/// Answers whether Redis replies to `PING` (for `/readyz`).
pub async fn ping(redis: &ConnectionManager) -> redis::RedisResult<()> {
    redis::cmd("PING")
        .query_async::<String>(&mut redis.clone())
        .await
        .map(drop)
}

/// The field of `counts` for one course in one semester of one year.
pub fn count_field(curso: Course, semestre: Semester, year: u16) -> String {
    format!("{curso}:{semestre}:{year}")
}
