//! The writers' upkeep beside their batches: the report summaries catch up with the stored
//! grades ([`crate::summaries::catch_up`]) every `SUMMARY_INTERVAL_MS`, and idempotency
//! keys older than [`KEY_LIFETIME`] are deleted. Every replica of a writer does both; the
//! rounds take their rows with `SKIP LOCKED` or in bounded batches, so replicas share the
//! work without waiting on each other.

use super::{grades::GradeStore, retry_conflicts};
use crate::{
    shutdown::CancellationToken,
    store::{Store, StoreError},
};
use std::time::Duration;

/// How long a key is kept, at least. A client retries within seconds or minutes; a record
/// of route 3's topic can be delivered again as long as the topic keeps it, so the keys
/// outlive its retention (`notas_queue::kafka::GRADES_READABLE`, 7 days and 65 minutes).
pub const KEY_LIFETIME: Duration = Duration::from_secs(8 * 24 * 3600);
/// Keys deleted per purge statement.
pub const PURGE_BATCH: u64 = 1000;
/// How often the writers purge old keys.
pub const PURGE_EVERY: Duration = Duration::from_secs(600);

impl GradeStore {
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
    /// on a conflict ([`retry_conflicts`]); how many owed batches it cleared.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL fails or does not answer within the store timeout.
    pub async fn summarize(&self) -> Result<u64, StoreError> {
        let round = retry_conflicts(|| async {
            let mut conn = self.pool.acquire().await?;
            crate::summaries::catch_up(&mut conn, self.id_step).await
        });
        Ok(Store::MySql.within(self.timeout, round).await??)
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
}
