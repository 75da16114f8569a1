//! MySQL: the settings, the connection pool, and what every transaction on it shares.
//! - [`migrate`]: the migration step (the schema, as sqlx migrations in `migrations/`, and
//!   the services' user with exactly the privileges they need), and the services' check
//!   that it has run;
//! - [`grades`]: [`grades::GradeStore`], the one write every route makes (a multi-row
//!   `INSERT` of a batch of grades with their idempotency keys) and route 1's writer;
//! - [`upkeep`]: what the writers do besides: the report summaries catch up, old keys go;
//! - [`crate::summaries`]: the report summaries' SQL.

pub mod grades;
pub mod migrate;
pub mod upkeep;

use crate::{batch::BatchConfig, store::Store};
use sqlx::{
    Connection, MySql, MySqlConnection, MySqlPool,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};
use std::{future::Future, str::FromStr, time::Duration};

/// MySQL settings of every service that uses it.
#[derive(Clone, clap::Args)]
pub struct MySqlArgs {
    /// MySQL connection URL: the services' user (the migration step's user for
    /// `--migrate-only`). Its value is never shown: it may carry a password.
    #[arg(
        long,
        env = "MYSQL_URL",
        hide_env_values = true,
        default_value = "mysql://root@127.0.0.1:3306/notas"
    )]
    pub mysql_url: String,
    /// Longest wait for MySQL (a connection, a commit, a query) before answering 503.
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value_t = 2000)]
    pub store_timeout_ms: u64,
}

impl std::fmt::Debug for MySqlArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlArgs")
            .field("mysql_url", &crate::redact::url(&self.mysql_url))
            .field("store_timeout_ms", &self.store_timeout_ms)
            .finish()
    }
}

impl MySqlArgs {
    pub fn store_timeout(&self) -> Duration {
        Duration::from_millis(self.store_timeout_ms)
    }
}

/// How the services that write grades batch them.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchArgs {
    /// Most grades written in one INSERT.
    #[arg(long, env = "BATCH_MAX_SIZE", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=5000))]
    pub batch_max_size: u64,
    /// Longest a batch waits for more grades once it has its first, in milliseconds.
    #[arg(long, env = "BATCH_MAX_WAIT_MS", default_value_t = 2)]
    pub batch_max_wait_ms: u64,
    /// Batches committed at the same time; the pool holds this many connections plus three.
    /// One by default: while it commits, the queue grows the next batch (two at a time
    /// measured the same rate).
    #[arg(long, env = "BATCH_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub batch_concurrency: u64,
    /// How often the report summaries catch up with the stored grades, in milliseconds
    /// (the dashboard's reports lag the grades by about this much).
    #[arg(long, env = "SUMMARY_INTERVAL_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=60000))]
    pub summary_interval_ms: u64,
}

impl BatchArgs {
    pub fn config(&self) -> BatchConfig {
        BatchConfig {
            max_size: self.batch_max_size as usize,
            max_wait: Duration::from_millis(self.batch_max_wait_ms),
            concurrency: self.batch_concurrency as usize,
            queue: 10 * self.batch_max_size as usize,
        }
    }

    pub fn summary_interval(&self) -> Duration {
        Duration::from_millis(self.summary_interval_ms)
    }
}

/// Opens a pool of `connections` whose waits are bounded by the store timeout, once MySQL
/// accepts them and holds the schema this build needs. Services do not migrate (their user
/// may not change the schema): in a cluster or a local stack the migration step may still
/// be running, so they wait for it, up to [`crate::store::STARTUP_WAIT`].
///
/// # Errors
/// The URL is wrong, MySQL is unreachable, or the schema is still behind after the wait.
pub async fn connect(args: &MySqlArgs, connections: u32) -> Result<MySqlPool, sqlx::Error> {
    let pool = MySqlPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(args.store_timeout())
        .connect_lazy_with(MySqlConnectOptions::from_str(&args.mysql_url)?);
    Store::MySql
        .wait_for_startup(|| migrate::check_schema(&pool), migrate::worth_waiting)
        .await?;
    Ok(pool)
}

/// Begins a READ COMMITTED transaction on `conn`, for taking the oldest rows of a backlog
/// (`summary_backlog`, `live_backlog`) with `FOR UPDATE SKIP LOCKED`: under READ COMMITTED
/// that locking read takes no gap locks that would block the writers adding rows to it.
pub async fn begin_read_committed(
    conn: &mut MySqlConnection,
) -> sqlx::Result<sqlx::Transaction<'_, MySql>> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *conn)
        .await?;
    conn.begin().await
}

/// Runs `transaction` again, up to three times, when it failed on a conflict: InnoDB picked
/// it as a deadlock victim (concurrent batches insert into the same indexes), or another
/// transaction committed the same new key first (a unique violation). Either way the
/// attempt's transaction was rolled back whole (InnoDB's victim; an attempt drops its
/// transaction on the error), so running it again is safe, and the next attempt sees what
/// the other committed.
async fn retry_conflicts<T, F, Fut>(mut transaction: F) -> sqlx::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<T>>,
{
    let mut tries = 0;
    loop {
        match transaction().await {
            Err(sqlx::Error::Database(e))
                if (e.code().as_deref() == Some("40001") || e.is_unique_violation())
                    && tries < 3 =>
            {
                tries += 1
            }
            done => return done,
        }
    }
}
