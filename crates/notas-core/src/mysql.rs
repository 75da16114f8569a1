//! MySQL: the connection pool, the schema (sqlx migrations in `migrations/`) and the one
//! write every route makes, a multi-row `INSERT` of a batch of grades.
//!
//! Why the ids can be computed: a multi-row `INSERT` is a "simple insert" for InnoDB, which
//! reserves its auto-increment values as one consecutive run (lock modes 1 and 2 alike), and
//! `LAST_INSERT_ID()` is the first of them. The step between them is
//! `@@auto_increment_increment`, read once at start-up (1 unless the server is in a
//! multi-primary cluster).

use crate::{
    batch::{BatchConfig, Batcher, Flush},
    grade::{Grade, GradeInput, StoredGrade},
    idempotency::IdempotencyKey,
    route::Route,
    shutdown::CancellationToken,
    store::{Store, StoreError},
};
use sqlx::{
    Connection, MySql, MySqlConnection, MySqlPool, QueryBuilder,
    migrate::MigrateDatabase,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};
use std::{
    collections::{BTreeSet, HashMap},
    str::FromStr,
    time::Duration,
};

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
    summary_interval: Duration,
}

impl GradeStore {
    /// Opens the store (see [`connect_and_migrate`]) with a connection per concurrent batch.
    ///
    /// # Errors
    /// MySQL is unreachable, the URL is wrong, or a migration failed.
    pub async fn connect(args: &MySqlArgs, batch: &BatchArgs) -> Result<GradeStore, sqlx::Error> {
        // Besides the batches: readiness, the summarizer, and key purges or outbox replays.
        let pool = connect_and_migrate(args, batch.batch_concurrency as u32 + 3).await?;
        let id_step: u64 =
            sqlx::query_scalar("SELECT CAST(@@auto_increment_increment AS UNSIGNED)")
                .fetch_one(&pool)
                .await?;
        Ok(GradeStore {
            pool,
            timeout: args.store_timeout(),
            id_step,
            summary_interval: batch.summary_interval(),
        })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Stores a batch in one transaction: the new grades with one statement, their keys, the
    /// row that owes their report summaries ([`crate::summaries::owe`]) and, on route 2, the
    /// row that owes them to the live view (`live_backlog`, redis-api's outbox); a submission
    /// whose key was committed before (or comes earlier in the batch) with the same grade is
    /// answered with that grade's id and stores nothing. Either the whole batch is committed
    /// or none of it is.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL fails or does not answer within the store timeout.
    pub async fn insert(
        &self,
        route: Route,
        batch: &[Submission],
    ) -> Result<Vec<Outcome>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let attempt = async {
            // InnoDB may pick a batch as a deadlock victim (concurrent batches insert into
            // the same indexes). And two batches may carry the same new key: the second
            // to insert it fails on its primary key. Either transaction rolled back whole,
            // so it is safe to run again (the retry then finds the committed key).
            let mut tries = 0;
            loop {
                match self.insert_once(route, batch).await {
                    Err(sqlx::Error::Database(e))
                        if (e.code().as_deref() == Some("40001") || e.is_unique_violation())
                            && tries < 3 =>
                    {
                        tries += 1
                    }
                    done => return done,
                }
            }
        };
        Ok(Store::MySql.within(self.timeout, attempt).await??)
    }

    /// One transaction: the keys already committed, the new grades and their keys, then
    /// the backlog row that owes their summaries.
    async fn insert_once(
        &self,
        route: Route,
        batch: &[Submission],
    ) -> Result<Vec<Outcome>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let committed = committed_keys(&mut tx, batch).await?;

        // What each submission is: new (its index among the new), the same as a committed
        // or an earlier new one, or a key reused with another grade.
        enum Plan {
            New(usize),
            SameAsNew(usize),
            Committed(u64),
            KeyReused,
        }
        let mut new: Vec<&Submission> = Vec::new();
        let mut first_with_key: HashMap<&str, usize> = HashMap::new();
        let mut plans = Vec::with_capacity(batch.len());
        for s in batch {
            let key = s.key.as_ref().map(IdempotencyKey::as_str);
            let plan = match key.map(|k| (committed.get(k), first_with_key.get(k))) {
                Some((Some((id, grade)), _)) if *grade == s.grade => Plan::Committed(*id),
                Some((None, Some(&i))) if new[i].grade == s.grade => Plan::SameAsNew(i),
                Some((Some(_), _)) | Some((None, Some(_))) => Plan::KeyReused,
                None | Some((None, None)) => {
                    if let Some(k) = key {
                        first_with_key.insert(k, new.len());
                    }
                    new.push(s);
                    Plan::New(new.len() - 1)
                }
            };
            plans.push(plan);
        }

        let ids = if new.is_empty() {
            Vec::new()
        } else {
            let mut insert = QueryBuilder::<MySql>::new(
                "INSERT INTO grades (carnet, nombre, curso, nota, semestre, year, route) ",
            );
            insert.push_values(&new, |mut row, s| {
                let g = &s.grade;
                row.push_bind(g.carnet())
                    .push_bind(g.nombre())
                    .push_bind(g.curso().code())
                    .push_bind(g.nota())
                    .push_bind(g.semestre().code())
                    .push_bind(g.year())
                    .push_bind(route.as_str());
            });
            let first = insert.build().execute(&mut *tx).await?.last_insert_id();
            let ids: Vec<u64> = (0..new.len() as u64)
                .map(|i| first + i * self.id_step)
                .collect();
            let keyed: Vec<(&str, u64)> = new
                .iter()
                .zip(&ids)
                .filter_map(|(s, id)| Some((s.key.as_ref()?.as_str(), *id)))
                .collect();
            if !keyed.is_empty() {
                let mut keys = QueryBuilder::<MySql>::new(
                    "INSERT INTO idempotency_keys (idem_key, grade_id) ",
                );
                keys.push_values(&keyed, |mut row, (key, id)| {
                    row.push_bind(*key).push_bind(*id);
                });
                keys.build().execute(&mut *tx).await?;
            }
            let last = *ids.last().expect("not empty");
            crate::summaries::owe(&mut tx, first, last).await?;
            if route == Route::Redis {
                // Route 2's live view is owed the batch too, committed with it: redis-api's
                // outbox applies it even if the Redis update after the commit never happens.
                sqlx::query("INSERT INTO live_backlog (first_id, last_id) VALUES (?, ?)")
                    .bind(first)
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
            }
            ids
        };
        tx.commit().await?;
        Ok(plans
            .into_iter()
            .map(|plan| match plan {
                Plan::New(i) => Outcome::Stored(ids[i]),
                Plan::SameAsNew(i) => Outcome::Retried(ids[i]),
                Plan::Committed(id) => Outcome::Retried(id),
                Plan::KeyReused => Outcome::KeyReused,
            })
            .collect())
    }

    /// Deletes the keys committed more than [`KEY_LIFETIME`] ago, at most [`PURGE_BATCH`]
    /// of them; how many it deleted.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL fails or does not answer within the store timeout.
    pub async fn purge_keys(&self) -> Result<u64, StoreError> {
        let purge = sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < NOW(3) - INTERVAL ? SECOND
             ORDER BY created_at LIMIT ?",
        )
        .bind(KEY_LIFETIME.as_secs())
        .bind(PURGE_BATCH)
        .execute(&self.pool);
        Ok(Store::MySql
            .within(self.timeout, purge)
            .await??
            .rows_affected())
    }

    /// Purges old keys every `every` until `shutdown`, a bounded batch at a time so that
    /// no statement holds many locks.
    async fn purge_keys_until(&self, every: Duration, shutdown: CancellationToken) {
        crate::shutdown::every(every, &shutdown, || async {
            while let Ok(PURGE_BATCH) = self.purge_keys().await {}
        })
        .await
    }

    /// One round of the summarizer ([`crate::summaries::catch_up`]), retried like a batch
    /// when InnoDB picks it as a deadlock victim; how many owed batches it cleared.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL fails or does not answer within the store timeout.
    pub async fn summarize(&self) -> Result<u64, StoreError> {
        let attempt = async {
            let mut conn = self.pool.acquire().await?;
            let mut tries = 0;
            loop {
                match crate::summaries::catch_up(&mut conn, self.id_step).await {
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some("40001") && tries < 3 =>
                    {
                        tries += 1
                    }
                    done => return done,
                }
            }
        };
        Ok(Store::MySql.within(self.timeout, attempt).await??)
    }

    /// The writers' upkeep until `shutdown`: the report summaries catch up every
    /// `SUMMARY_INTERVAL_MS` (rounds of [`GradeStore::summarize`] until the backlog is
    /// cleared), and old keys are purged every [`PURGE_EVERY`]. A round under way is
    /// finished; what is left is owed to the next summarizer, of this replica or another.
    pub async fn upkeep_until(&self, shutdown: CancellationToken) {
        let summarize = crate::shutdown::every(self.summary_interval, &shutdown, || async {
            while let Ok(crate::summaries::CATCH_UP_BATCHES) = self.summarize().await {}
        });
        tokio::join!(
            summarize,
            self.purge_keys_until(PURGE_EVERY, shutdown.clone())
        );
    }

    /// Answers whether MySQL can run a query within the store timeout (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        Store::MySql
            .within(self.timeout, sqlx::query("SELECT 1").execute(&self.pool))
            .await??;
        Ok(())
    }
}

/// Route 1's writer: every batch is one [`GradeStore::insert`] under the route's name.
/// grpc-server's calls wait on the [`Batcher`] in front of it ([`Batcher::start`]).
pub struct RouteWriter {
    store: GradeStore,
    route: Route,
}

impl RouteWriter {
    pub fn new(store: GradeStore, route: Route) -> RouteWriter {
        RouteWriter { store, route }
    }
}

impl Flush for RouteWriter {
    type Item = Submission;
    type Output = Outcome;
    type Error = StoreError;

    /// Stores one batch; what became of each submission, in order.
    async fn flush(&self, batch: Vec<Submission>) -> Result<Vec<Outcome>, StoreError> {
        self.store.insert(self.route, &batch).await
    }
}

/// A grade to store, with the client's `Idempotency-Key` if it sent one.
#[derive(Debug, Clone)]
pub struct Submission {
    pub grade: Grade,
    pub key: Option<IdempotencyKey>,
}

impl From<Grade> for Submission {
    fn from(grade: Grade) -> Self {
        Submission { grade, key: None }
    }
}

/// What became of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now, with this id.
    Stored(u64),
    /// Its key was stored before with the same grade, under this id; nothing stored now.
    Retried(u64),
    /// Its key was stored before with another grade: refused.
    KeyReused,
}

/// What the services submit to: a [`Batcher`] in front of a writer.
pub type Submissions = Batcher<Submission, Outcome, StoreError>;

/// How long a key is kept, at least: a client retries within seconds or minutes.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Keys deleted per purge statement.
pub const PURGE_BATCH: u64 = 1000;
/// How often the writers purge old keys.
pub const PURGE_EVERY: Duration = Duration::from_secs(600);

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

/// A `grades` row as [`GRADE_COLUMNS`] reads it.
pub type GradeRow = (u64, u32, String, String, u8, String, u16);
/// The columns of a [`GradeRow`], for tables aliased `g`.
pub const GRADE_COLUMNS: &str =
    "g.id, g.carnet, g.nombre, g.curso, g.nota, CAST(g.semestre AS CHAR), g.year";

/// A stored row back into a [`StoredGrade`]; the row passed the same checks when it was
/// written, so a row that no longer does is logged and skipped.
pub fn stored_from_row(
    (id, carnet, nombre, curso, nota, semestre, year): GradeRow,
) -> Option<StoredGrade> {
    let input = GradeInput {
        carnet: Some(carnet.into()),
        nombre: Some(nombre),
        curso: Some(curso),
        nota: Some(nota.into()),
        semestre: Some(semestre),
        year: Some(year.into()),
    };
    match Grade::parse(input) {
        Ok(grade) => Some(StoredGrade { id, grade }),
        Err(e) => {
            tracing::error!(id, error = %e, "stored grade no longer valid");
            None
        }
    }
}

/// The keys of `batch` already committed, with their grades.
async fn committed_keys(
    tx: &mut MySqlConnection,
    batch: &[Submission],
) -> Result<HashMap<String, (u64, Grade)>, sqlx::Error> {
    let keys: BTreeSet<&str> = batch
        .iter()
        .filter_map(|s| Some(s.key.as_ref()?.as_str()))
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT CAST(k.idem_key AS CHAR), {GRADE_COLUMNS} FROM idempotency_keys k \
         JOIN grades g ON g.id = k.grade_id WHERE k.idem_key IN "
    ));
    query.push_tuples(keys, |mut t, key| {
        t.push_bind(key);
    });
    // The key, then a [`GradeRow`].
    type KeyRow = (String, u64, u32, String, String, u8, String, u16);
    let rows: Vec<KeyRow> = query.build_query_as().fetch_all(&mut *tx).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, id, carnet, nombre, curso, nota, semestre, year)| {
            let stored = stored_from_row((id, carnet, nombre, curso, nota, semestre, year))?;
            Some((key, (stored.id, stored.grade)))
        })
        .collect())
}
