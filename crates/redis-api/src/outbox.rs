//! The live view's transactional outbox: what reaches Redis when the update after a commit
//! does not.
//!
//! MySQL is the record of truth, and its commit is what the client's `201` promises; Redis
//! is updated after it, so the two can part: Redis fails or stalls after the commit, the
//! writer's process dies between the two, or the commit went through while its answer was
//! lost (the store timeout elapsed: the client's retry is then answered from the stored key,
//! perhaps by route 1, and stores nothing). So every route 2 batch commits, with its grades,
//! a `live_backlog` row (its first and last id, written by `GradeStore::insert`) saying that
//! the live view owes it. The writer that applied a batch has its row deleted on the next
//! round ([`Outbox::applied`]); each round then applies the rows nobody deleted within the
//! grace period, and deletes them. The live view's script skips the records it has already
//! applied, so a batch applied twice (by its writer and by a replay) counts once.
//!
//! Replays lock the rows they take (`FOR UPDATE SKIP LOCKED`, in a READ COMMITTED
//! transaction that does not block the writers adding rows), so several replicas never
//! replay the same batch at once.

use crate::rebuild::rebuild_if_lost;
use notas_core::live::LiveView;
use notas_core::{
    mysql::{
        begin_read_committed,
        grades::{GRADE_COLUMNS, GradeRow, GradeStore, stored_from_row},
    },
    shutdown::{self, CancellationToken},
};
use sqlx::{MySql, QueryBuilder};
use std::{sync::Mutex, time::Duration};

/// Batches replayed per round.
const REPLAY_BATCHES: i64 = 20;
/// Records per live view script when replaying (a batch holds up to `BATCH_MAX_SIZE`).
const REPLAY_CHUNK: usize = 500;

/// Why a round was postponed: a store still does not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("mysql: {0}")]
    MySql(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

pub struct Outbox {
    store: GradeStore,
    live_view: LiveView,
    /// How long a batch's writer has to apply it and have its row deleted before a replay
    /// takes it.
    grace: Duration,
    /// First ids of the batches this replica applied whose rows are not deleted yet.
    applied: Mutex<Vec<u64>>,
}

impl Outbox {
    pub fn new(store: GradeStore, live_view: LiveView, grace: Duration) -> Outbox {
        Outbox {
            store,
            live_view,
            grace,
            applied: Mutex::new(Vec::new()),
        }
    }

    /// Notes that the batch whose first id is `first_id` reached the live view: its row is
    /// deleted on the next round, in one statement with the others.
    pub fn applied(&self, first_id: u64) {
        self.applied.lock().unwrap().push(first_id);
    }

    /// Every `interval` until `shutdown` is cancelled: rebuilds the live view if Redis lost
    /// it ([`rebuild_if_lost`]), then deletes the applied batches' rows and replays the
    /// batches still owed after the grace period.
    pub async fn run(&self, interval: Duration, shutdown: CancellationToken) {
        shutdown::every(interval, &shutdown, || async {
            if let Err(e) = rebuild_if_lost(&self.store, &self.live_view).await {
                tracing::warn!(error = %e, "live view rebuild postponed");
            }
            match self.replay_once().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "live view caught up from the outbox"),
                Err(e) => tracing::debug!(error = %e, "outbox replay postponed"),
            }
            self.report_pending().await;
        })
        .await
    }

    /// One round: deletes the rows of the batches this replica applied, then applies the
    /// batches owed for longer than the grace period (at most `REPLAY_BATCHES`) and deletes
    /// their rows. Returns how many records were replayed.
    pub async fn replay_once(&self) -> Result<usize, ReplayError> {
        self.delete_applied().await?;

        let mut conn = self.store.pool().acquire().await?;
        let mut tx = begin_read_committed(&mut conn).await?;
        let owed: Vec<(u64, u64)> = sqlx::query_as(
            "SELECT first_id, last_id FROM live_backlog
             WHERE created_at < NOW(6) - INTERVAL ? MICROSECOND
             ORDER BY first_id LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind(self.grace.as_micros() as u64)
        .bind(REPLAY_BATCHES)
        .fetch_all(&mut *tx)
        .await?;
        if owed.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let mut records = Vec::new();
        for &(first, last) in &owed {
            let rows: Vec<GradeRow> = sqlx::query_as(&format!(
                "SELECT {GRADE_COLUMNS} FROM grades g
                 WHERE g.id BETWEEN ? AND ? AND g.route = 'redis' ORDER BY g.id"
            ))
            .bind(first)
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
            records.extend(rows.into_iter().filter_map(stored_from_row));
        }
        for chunk in records.chunks(REPLAY_CHUNK) {
            self.live_view.apply(chunk).await?;
        }
        let firsts: Vec<u64> = owed.iter().map(|&(first, _)| first).collect();
        delete_rows(&firsts).build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(records.len())
    }

    /// Deletes the rows of the batches [`Outbox::applied`] noted; kept for the next round
    /// if MySQL does not answer.
    async fn delete_applied(&self) -> Result<(), sqlx::Error> {
        let applied = std::mem::take(&mut *self.applied.lock().unwrap());
        if applied.is_empty() {
            return Ok(());
        }
        if let Err(e) = delete_rows(&applied)
            .build()
            .execute(self.store.pool())
            .await
        {
            self.applied.lock().unwrap().extend(applied);
            return Err(e);
        }
        Ok(())
    }

    /// `notas_live_pending`: the records owed to the live view past the grace period.
    async fn report_pending(&self) {
        let pending: Option<i64> = sqlx::query_scalar(
            "SELECT COUNT(*) FROM live_backlog b
             JOIN grades g ON g.id BETWEEN b.first_id AND b.last_id AND g.route = 'redis'
             WHERE b.created_at < NOW(6) - INTERVAL ? MICROSECOND",
        )
        .bind(self.grace.as_micros() as u64)
        .fetch_one(self.store.pool())
        .await
        .ok();
        if let Some(pending) = pending {
            metrics::gauge!("notas_live_pending").set(pending as f64);
        }
    }
}

/// `DELETE` of the backlog rows of the batches whose first ids are `firsts`.
fn delete_rows(firsts: &[u64]) -> QueryBuilder<'_, MySql> {
    let mut delete = QueryBuilder::<MySql>::new("DELETE FROM live_backlog WHERE first_id IN ");
    delete.push_tuples(firsts, |mut t, id| {
        t.push_bind(*id);
    });
    delete
}
