//! Route 2's write of a batch: commit it to MySQL (the `201` promise; the commit also records
//! that the live view owes the batch), then apply it to the Redis live view in one round
//! trip; if Redis fails, the [`Outbox`] applies it later instead of the requests failing.
//!
//! Live view layout in [`notas_core::live`]. A whole batch goes in one Lua script, one
//! round trip and atomic, so the dashboard never sees a total that disagrees with the
//! counts, and each record is applied once however often it is sent.

use crate::outbox::Outbox;
use notas_core::{
    batch::Flush,
    grade::StoredGrade,
    live::{self, LiveKeys, RedisArgs, count_field},
    mysql::grades::{GradeStore, Outcome, Submission},
    route::Route,
    store::StoreError,
};
use redis::{Script, aio::ConnectionManager};
use serde::Serialize;
use std::sync::{Arc, LazyLock};

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

/// The script that applies a batch (`apply_records.lua`); sent once, then run by its hash.
static APPLY_RECORDS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("apply_records.lua")));
/// The script that merges a rebuild's newest records into the recent list.
static MERGE_RECENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("merge_recent.lua")));
/// How long the marks of applied records are kept: replays come within minutes.
const APPLIED_LIFETIME_SECS: u64 = 7 * 24 * 3600;

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

/// A record as the recent list and the events channel carry it.
fn live_record(stored: &StoredGrade) -> String {
    let record = LiveRecord {
        stored,
        route: Route::Redis,
    };
    serde_json::to_string(&record).expect("records serialize")
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
    /// announces them on the events channel, in one atomic script; a record already applied
    /// (its reply was lost, then the outbox replayed it) is skipped. Returns how many were new.
    pub async fn apply(&self, records: &[StoredGrade]) -> redis::RedisResult<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let mut invocation = APPLY_RECORDS.prepare_invoke();
        invocation
            .key(self.keys.total())
            .key(self.keys.counts())
            .key(self.keys.recent())
            .key(self.keys.events())
            .arg(self.recent_limit)
            .arg(APPLIED_LIFETIME_SECS);
        for stored in records {
            let (bitmap, bit) = self.keys.applied(stored.id);
            let g = &stored.grade;
            invocation
                .key(bitmap)
                .arg(bit)
                .arg(count_field(g.curso(), g.semestre(), g.year()))
                .arg(live_record(stored));
        }
        invocation.invoke_async(&mut self.redis.clone()).await
    }

    /// Merges `newest` (route 2's newest records in MySQL) into the recent list, highest
    /// id first, each once, bounded.
    pub(crate) async fn merge_recent(&self, newest: &[StoredGrade]) -> redis::RedisResult<()> {
        let mut invocation = MERGE_RECENT.prepare_invoke();
        invocation.key(self.keys.recent()).arg(self.recent_limit);
        for stored in newest {
            invocation.arg(live_record(stored));
        }
        invocation
            .invoke_async::<usize>(&mut self.redis.clone())
            .await
            .map(drop)
    }

    pub(crate) fn recent_limit(&self) -> usize {
        self.recent_limit as usize
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        live::ping(&self.redis).await
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.redis.clone()
    }

    pub(crate) fn keys(&self) -> &LiveKeys {
        &self.keys
    }
}
