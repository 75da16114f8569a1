//! Route 2's write of a batch: commit it to MySQL (the `201` promise; the commit also records
//! that the live view owes the batch), then apply it to the Redis live view in one round
//! trip ([`LiveView::apply`]); if Redis fails, the [`Outbox`] applies it later instead of the
//! requests failing.

use crate::outbox::Outbox;
use notas_core::{
    batch::Flush,
    grade::StoredGrade,
    live::LiveView,
    mysql::grades::{GradeStore, Outcome, Submission},
    route::Route,
    store::StoreError,
};
use std::sync::Arc;

pub struct Writer {
    store: GradeStore,
    live_view: LiveView,
    outbox: Arc<Outbox>,
}

impl Writer {
    pub fn new(store: GradeStore, live_view: LiveView, outbox: Arc<Outbox>) -> Writer {
        Writer {
            store,
            live_view,
            outbox,
        }
    }
}

impl Flush for Writer {
    type Item = Submission;
    type Output = Outcome;
    type Error = StoreError;

    /// Stores one batch: MySQL, then the grades it stored now to the live view (noted as
    /// applied in the outbox; if Redis fails, the outbox replays them).
    ///
    /// # Errors
    /// [`StoreError`] when MySQL did not commit; a Redis failure is not an error here.
    async fn flush(&self, batch: Vec<Submission>) -> Result<Vec<Outcome>, StoreError> {
        let outcomes = self.store.insert(Route::Redis, &batch).await?;
        let stored: Vec<StoredGrade> = batch
            .into_iter()
            .zip(&outcomes)
            .filter_map(|(s, outcome)| match outcome {
                Outcome::Stored(id) => Some(StoredGrade {
                    id: *id,
                    grade: s.grade,
                }),
                Outcome::Retried(_) | Outcome::KeyReused => None,
            })
            .collect();
        match self.live_view.apply(&stored).await {
            // The batch's first id names its backlog row.
            Ok(_) => {
                if let Some(first) = stored.first() {
                    self.outbox.applied(first.id);
                }
            }
            Err(e) => {
                let e = StoreError::from(e);
                tracing::warn!(error = %e, count = stored.len(), "live view update failed; the outbox will apply it");
            }
        }
        Ok(outcomes)
    }
}
