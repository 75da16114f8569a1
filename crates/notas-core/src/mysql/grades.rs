//! The grades table and the one write every route makes: [`GradeStore::insert`], a batch of
//! grades in one transaction with one multi-row `INSERT`, their idempotency keys, and the
//! rows that owe them to the report summaries and (route 2) the live view. Also the
//! grades' submissions and outcomes, route 1's writer, and a stored row read back.
//!
//! Why the ids can be computed: a multi-row `INSERT` is a "simple insert" for InnoDB, which
//! reserves its auto-increment values as one consecutive run (lock modes 1 and 2 alike), and
//! `LAST_INSERT_ID()` is the first of them. The step between them is
//! `@@auto_increment_increment`, read once at start-up (1 unless the server is in a
//! multi-primary cluster).

use super::{BatchArgs, MySqlArgs, connect, retry_conflicts};
use crate::{
    batch::Flush,
    grade::{Grade, GradeInput, StoredGrade},
    idempotency::IdempotencyKey,
    route::Route,
    store::{Store, StoreError},
};
use sqlx::{MySql, MySqlConnection, MySqlPool, QueryBuilder};
use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

/// The grades table, behind a pool whose waits are bounded by the store timeout.
#[derive(Debug, Clone)]
pub struct GradeStore {
    pub(super) pool: MySqlPool,
    pub(super) timeout: Duration,
    pub(super) id_step: u64,
    pub(super) summary_interval: Duration,
}

impl GradeStore {
    /// Opens the store (see [`connect`]) with a connection per concurrent batch.
    ///
    /// # Errors
    /// MySQL is unreachable, the URL is wrong, or a migration failed.
    pub async fn connect(args: &MySqlArgs, batch: &BatchArgs) -> Result<GradeStore, sqlx::Error> {
        // Besides the batches: readiness, the summarizer, and key purges or outbox replays.
        let pool = connect(args, batch.batch_concurrency as u32 + 3).await?;
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
        let attempt = retry_conflicts(|| self.insert_once(route, batch));
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

    /// Answers whether MySQL can run a query within the store timeout (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        Store::MySql
            .within(self.timeout, sqlx::query("SELECT 1").execute(&self.pool))
            .await??;
        Ok(())
    }
}

/// Route 1's writer: every batch is one [`GradeStore::insert`] under the route's name.
/// grpc-server's calls wait on the [`crate::batch::Batcher`] in front of it.
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

/// The grade committed under `key`, if one is (route 3's status of an accepted grade).
///
/// # Errors
/// [`StoreError`] when MySQL fails or does not answer within `timeout`.
pub async fn stored_under_key(
    pool: &MySqlPool,
    timeout: Duration,
    key: &IdempotencyKey,
) -> Result<Option<StoredGrade>, StoreError> {
    let query = format!(
        "SELECT {GRADE_COLUMNS} FROM idempotency_keys k JOIN grades g ON g.id = k.grade_id \
         WHERE k.idem_key = ?"
    );
    let row: Option<GradeRow> = Store::MySql
        .within(
            timeout,
            sqlx::query_as(&query)
                .bind(key.as_str())
                .fetch_optional(pool),
        )
        .await??;
    Ok(row.and_then(stored_from_row))
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
