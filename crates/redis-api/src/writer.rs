//! Route 2's write of a batch: commit it to MySQL (the `201` promise), then apply it to the
//! Redis live view in one round trip; if Redis fails, the live update is deferred to the
//! [`Outbox`] instead of failing the requests.
//!
//! Live view layout in [`notas_core::live`]. A whole batch goes in one `MULTI`/`EXEC`
//! pipeline, so the dashboard never sees a total that disagrees with the counts.

use crate::outbox::Outbox;
use notas_core::{
    batch::{BatchConfig, Batcher},
    grade::{Grade, StoredGrade},
    live::{self, LiveKeys, RedisArgs, count_field},
    mysql::GradeStore,
    route::Route,
    store::StoreError,
};
use redis::aio::ConnectionManager;
use serde::Serialize;
use std::{collections::HashMap, sync::Arc};
use tokio::task::JoinHandle;

/// What the handlers submit to: a batcher in front of [`Writer::flush`].
pub type Submissions = Batcher<Grade, StoredGrade, StoreError>;

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

    /// Stores one batch: MySQL, then the live view or else the outbox.
    ///
    /// # Errors
    /// [`StoreError`] when MySQL did not commit; a Redis failure is not an error here.
    pub async fn flush(&self, grades: Vec<Grade>) -> Result<Vec<StoredGrade>, StoreError> {
        let ids = self.store.insert(Route::Redis, &grades).await?;
        let stored: Vec<StoredGrade> = ids
            .into_iter()
            .zip(grades)
            .map(|(id, grade)| StoredGrade { id, grade })
            .collect();
        if let Err(e) = self.live_view.apply(&stored).await {
            let e = StoreError::from(e);
            tracing::warn!(error = %e, count = stored.len(), "live view update failed; deferred to the outbox");
            let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
            self.outbox.defer(&ids).await;
        }
        Ok(stored)
    }

    /// Puts a [`Batcher`] in front of this writer; its task ends once every handle is dropped
    /// and the last batch is written.
    pub fn start(self, config: BatchConfig) -> (Submissions, JoinHandle<()>) {
        let writer = Arc::new(self);
        Batcher::spawn(config, move |grades| {
            let writer = Arc::clone(&writer);
            async move { writer.flush(grades).await }
        })
    }
}

/// The live view as route 2 writes it.
#[derive(Clone)]
pub struct LiveView {
    redis: ConnectionManager,
    keys: LiveKeys,
    recent_limit: isize,
}

/// A record of the live view: the stored grade and the route that stored it, as the
/// dashboard's stored records carry it.
#[derive(Serialize)]
struct LiveRecord<'a> {
    #[serde(flatten)]
    stored: &'a StoredGrade,
    route: Route,
}

impl LiveView {
    /// Connects to Redis; the connection manager reconnects by itself after a failure.
    pub async fn connect(args: &RedisArgs, recent_limit: u64) -> redis::RedisResult<LiveView> {
        Ok(LiveView {
            redis: live::connect(args).await?,
            keys: args.keys(),
            recent_limit: recent_limit as isize,
        })
    }

    /// Adds `records` to the total, the per-course counts and the recent list, and
    /// announces them on the events channel, in one `MULTI`/`EXEC`.
    pub async fn apply(&self, records: &[StoredGrade]) -> redis::RedisResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut counts: HashMap<String, i64> = HashMap::new();
        for r in records {
            let g = &r.grade;
            *counts
                .entry(count_field(g.curso(), g.semestre(), g.year()))
                .or_default() += 1;
        }
        let json: Vec<String> = records
            .iter()
            .map(|stored| {
                let record = LiveRecord {
                    stored,
                    route: Route::Redis,
                };
                serde_json::to_string(&record).expect("records serialize")
            })
            .collect();

        let mut pipe = redis::pipe();
        pipe.atomic()
            .incr(self.keys.total(), records.len())
            .ignore();
        for (field, n) in counts {
            pipe.hincr(self.keys.counts(), field, n).ignore();
        }
        pipe.lpush(self.keys.recent(), &json)
            .ignore()
            .ltrim(self.keys.recent(), 0, self.recent_limit - 1)
            .ignore()
            .publish(self.keys.events(), format!("[{}]", json.join(",")))
            .ignore();
        pipe.query_async::<()>(&mut self.redis.clone()).await
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        live::ping(&self.redis).await
    }
}
