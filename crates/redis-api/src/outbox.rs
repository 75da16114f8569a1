//! What happens when Redis fails after MySQL has committed a batch.
//!
//! MySQL is the record of truth, and its commit is what the client's `201` promises: the
//! grade is stored and must not be submitted again (a retry would store it twice). So a
//! failed live update does not fail the request. Instead the batch's ids go into the
//! `live_outbox` table, and [`Outbox::run`] replays them into Redis once it answers again,
//! then deletes them. The live view lags during a Redis outage and catches up after it;
//! replayed records enter the recent list as its newest entries.
//!
//! Replays lock the rows they take (`FOR UPDATE SKIP LOCKED`), so several replicas never
//! replay the same record. If MySQL is also gone when the ids are deferred, they are kept
//! in memory and written to the outbox on the next round; only a crash in that window loses
//! them, and then only from the live view, never from MySQL.

use crate::{rebuild::rebuild_if_lost, writer::LiveView};
use notas_core::{
    grade::StoredGrade,
    mysql::{GRADE_COLUMNS, GradeRow, GradeStore, stored_from_row},
    shutdown::{self, CancellationToken},
};
use sqlx::{MySql, QueryBuilder};
use std::{sync::Mutex, time::Duration};

/// Records replayed per round.
const REPLAY_BATCH: i64 = 500;

/// Why a replay round was postponed: a store still does not answer.
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
    /// Ids that could not be written to the outbox table yet.
    unsaved: Mutex<Vec<u64>>,
}

impl Outbox {
    pub fn new(store: GradeStore, live_view: LiveView) -> Outbox {
        Outbox {
            store,
            live_view,
            unsaved: Mutex::new(Vec::new()),
        }
    }

    /// Remembers that the live view still owes these records.
    pub async fn defer(&self, ids: &[u64]) {
        if let Err(e) = self.save(ids).await {
            tracing::error!(error = %e, count = ids.len(), "cannot write the live outbox; keeping the ids in memory");
            self.unsaved.lock().unwrap().extend_from_slice(ids);
        }
    }

    async fn save(&self, ids: &[u64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut insert = QueryBuilder::<MySql>::new("INSERT IGNORE INTO live_outbox (grade_id) ");
        insert.push_values(ids, |mut row, id| {
            row.push_bind(id);
        });
        insert.build().execute(self.store.pool()).await.map(drop)
    }

    /// Every `interval` until `shutdown` is cancelled: rebuilds the live view if Redis lost
    /// it ([`rebuild_if_lost`]), then replays owed records.
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

    /// One round: persist in-memory ids, then replay up to `REPLAY_BATCH` records.
    /// Returns how many records were replayed.
    pub async fn replay_once(&self) -> Result<usize, ReplayError> {
        let unsaved = std::mem::take(&mut *self.unsaved.lock().unwrap());
        if let Err(e) = self.save(&unsaved).await {
            self.unsaved.lock().unwrap().extend(unsaved);
            return Err(e.into());
        }

        let mut tx = self.store.pool().begin().await?;
        let rows: Vec<GradeRow> = sqlx::query_as(&format!(
            "SELECT {GRADE_COLUMNS} FROM live_outbox o JOIN grades g ON g.id = o.grade_id
             ORDER BY o.grade_id LIMIT ? FOR UPDATE SKIP LOCKED"
        ))
        .bind(REPLAY_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<u64> = rows.iter().map(|row| row.0).collect();
        let records: Vec<StoredGrade> = rows.into_iter().filter_map(stored_from_row).collect();
        self.live_view.apply(&records).await?;

        let mut delete = QueryBuilder::<MySql>::new("DELETE FROM live_outbox WHERE grade_id IN ");
        delete.push_tuples(&ids, |mut t, id| {
            t.push_bind(id);
        });
        delete.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(records.len())
    }

    async fn report_pending(&self) {
        let in_memory = self.unsaved.lock().unwrap().len() as f64;
        let in_table: Option<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM live_outbox")
            .fetch_one(self.store.pool())
            .await
            .ok();
        metrics::gauge!("notas_live_pending").set(in_memory + in_table.unwrap_or(0) as f64);
    }
}
