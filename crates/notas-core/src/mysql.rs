//! MySQL: the connection pool, the schema (sqlx migrations in `migrations/`) and the one
//! write every route makes, a multi-row `INSERT` of a batch of grades.
//!
//! Why the ids can be computed: a multi-row `INSERT` is a "simple insert" for InnoDB, which
//! reserves its auto-increment values as one consecutive run (lock modes 1 and 2 alike), and
//! `LAST_INSERT_ID()` is the first of them. The step between them is
//! `@@auto_increment_increment`, read once at start-up (1 unless the server is in a
//! multi-primary cluster).

use crate::{
    batch::{BatchConfig, Batcher},
    grade::Grade,
    route::Route,
    store::StoreError,
};
use sqlx::{
    MySql, MySqlPool, QueryBuilder,
    migrate::MigrateDatabase,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};
use std::{str::FromStr, sync::Arc, time::Duration};
use tokio::task::JoinHandle;

/// The migrations, embedded in every binary that writes MySQL.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// MySQL settings of every service that uses it.
#[derive(Debug, Clone, clap::Args)]
pub struct MySqlArgs {
    /// MySQL connection URL; the database is created and migrated at start-up.
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/notas"
    )]
    pub mysql_url: String,
    /// Longest wait for MySQL (a connection, a commit, a query) before answering 503.
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value_t = 2000)]
    pub store_timeout_ms: u64,
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
    /// Batches committed at the same time; the pool holds this many connections plus two.
    /// One by default: every batch updates the same few per-course summary rows, so
    /// concurrent batches (also those of the other route and other replicas) mostly wait
    /// on each other's row locks, while a single one lets the queue grow the next batch.
    #[arg(long, env = "BATCH_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub batch_concurrency: u64,
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
}

/// Creates the database if it is missing, opens a pool of `connections` whose waits are
/// bounded by `timeout`, and applies the migrations. Every service that touches MySQL
/// starts here, so whichever starts first prepares the schema.
///
/// # Errors
/// MySQL is unreachable, the URL is wrong, or a migration failed.
pub async fn connect_and_migrate(
    args: &MySqlArgs,
    connections: u32,
) -> Result<MySqlPool, sqlx::Error> {
    let url = args.mysql_url.as_str();
    if !wait_for_server(url).await?
        && let Err(e) = MySql::create_database(url).await
        // Another replica may have created it in between.
        && !MySql::database_exists(url).await?
    {
        return Err(e);
    }
    let pool = MySqlPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(args.store_timeout())
        .connect_with(MySqlConnectOptions::from_str(url)?)
        .await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// How long a starting service waits for MySQL to accept connections: in a cluster or a
/// local stack the database may be starting at the same time.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// Whether the database exists, once the server accepts connections.
async fn wait_for_server(url: &str) -> Result<bool, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    loop {
        match MySql::database_exists(url).await {
            Err(sqlx::Error::Io(e)) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "waiting for MySQL to accept connections");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            answer => return answer,
        }
    }
}

/// Applies the migrations under a named lock with a bounded wait, so replicas starting
/// together take turns. (sqlx's own lock asks `GET_LOCK(name, -1)`, which MariaDB does not
/// take as "wait forever", so it does not serialize replicas there.)
async fn migrate(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    const LOCK: &str = "notas_migrations";
    let mut conn = pool.acquire().await?;
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 60)")
        .bind(LOCK)
        .fetch_one(&mut *conn)
        .await?;
    if locked != Some(1) {
        return Err(sqlx::Error::Protocol(
            "timed out waiting for another replica's migrations".into(),
        ));
    }
    let applied = MIGRATOR.run(&mut *conn).await;
    sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(applied?)
}

/// The grades table, behind a pool whose waits are bounded by the store timeout.
#[derive(Debug, Clone)]
pub struct GradeStore {
    pool: MySqlPool,
    timeout: Duration,
    id_step: u64,
}

impl GradeStore {
    /// Opens the store (see [`connect_and_migrate`]) with a connection per concurrent batch.
    ///
    /// # Errors
    /// MySQL is unreachable, the URL is wrong, or a migration failed.
    pub async fn connect(args: &MySqlArgs, batch: &BatchArgs) -> Result<GradeStore, sqlx::Error> {
        let pool = connect_and_migrate(args, batch.batch_concurrency as u32 + 2).await?;
        let id_step: u64 =
            sqlx::query_scalar("SELECT CAST(@@auto_increment_increment AS UNSIGNED)")
                .fetch_one(&pool)
                .await?;
        Ok(GradeStore {
            pool,
            timeout: args.store_timeout(),
            id_step,
        })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Inserts `grades` with one statement, updates the report summaries, commits, and
    /// returns the ids in order. Either every row is committed or none is.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL fails or does not answer within the store timeout.
    pub async fn insert(&self, route: Route, grades: &[Grade]) -> Result<Vec<u64>, StoreError> {
        if grades.is_empty() {
            return Ok(Vec::new());
        }
        let attempt = async {
            // Concurrent batches update the same summary rows; InnoDB may pick one of them
            // as a deadlock victim, which is safe to run again (its transaction rolled back).
            let mut tries = 0;
            loop {
                match self.insert_once(route, grades).await {
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some("40001") && tries < 3 =>
                    {
                        tries += 1
                    }
                    done => return done,
                }
            }
        };
        Ok(tokio::time::timeout(self.timeout, attempt).await??)
    }

    /// One transaction: the grades, then the report summaries.
    async fn insert_once(&self, route: Route, grades: &[Grade]) -> Result<Vec<u64>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut insert = QueryBuilder::<MySql>::new(
            "INSERT INTO grades (carnet, nombre, curso, nota, semestre, year, route) ",
        );
        insert.push_values(grades, |mut row, g| {
            row.push_bind(g.carnet())
                .push_bind(g.nombre())
                .push_bind(g.curso().code())
                .push_bind(g.nota())
                .push_bind(g.semestre().code())
                .push_bind(g.year())
                .push_bind(route.as_str());
        });
        let first = insert.build().execute(&mut *tx).await?.last_insert_id();
        crate::summaries::add(&mut tx, grades).await?;
        tx.commit().await?;
        Ok((0..grades.len() as u64)
            .map(|i| first + i * self.id_step)
            .collect())
    }

    /// Answers whether MySQL can run a query within the store timeout (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        tokio::time::timeout(self.timeout, sqlx::query("SELECT 1").execute(&self.pool)).await??;
        Ok(())
    }
}

/// Route 1's writer: every batch is one [`GradeStore::insert`] under the route's name.
/// grpc-server's calls wait on the [`Batcher`] in front of it.
pub struct RouteWriter {
    store: GradeStore,
    route: Route,
}

impl RouteWriter {
    pub fn new(store: GradeStore, route: Route) -> RouteWriter {
        RouteWriter { store, route }
    }

    /// Stores one batch; the ids in order.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL fails or does not answer within the store timeout.
    pub async fn flush(&self, grades: Vec<Grade>) -> Result<Vec<u64>, StoreError> {
        self.store.insert(self.route, &grades).await
    }

    /// Puts a [`Batcher`] in front of this writer; its task ends once every handle is dropped
    /// and the last batch is written.
    pub fn start(self, config: BatchConfig) -> (Batcher<Grade, u64, StoreError>, JoinHandle<()>) {
        let writer = Arc::new(self);
        Batcher::spawn(config, move |grades| {
            let writer = Arc::clone(&writer);
            async move { writer.flush(grades).await }
        })
    }
}
