//! [`LiveView`]: the live view as the routes that keep it write it (route 2's redis-api and
//! route 3's grade-consumer), each record tagged with its route. A whole batch goes in one
//! Lua script, one round trip and atomic, so the dashboard never sees a total that
//! disagrees with the counts, and each record is applied once however often it is sent.

use super::{LiveKeys, RedisArgs, count_field};
use crate::{grade::StoredGrade, route::Route};
use redis::{Script, aio::ConnectionManager};
use serde::Serialize;
use std::sync::LazyLock;

/// The script that applies a batch (`apply_records.lua`); sent once, then run by its hash.
static APPLY_RECORDS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("apply_records.lua")));
/// The script that merges a rebuild's newest records into the recent list.
static MERGE_RECENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("merge_recent.lua")));
/// How long the marks of applied records are kept: replays come within minutes.
const APPLIED_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// The live view as one route writes it.
#[derive(Clone)]
pub struct LiveView {
    redis: ConnectionManager,
    keys: LiveKeys,
    recent_limit: isize,
    route: Route,
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
fn live_record(stored: &StoredGrade, route: Route) -> String {
    let record = LiveRecord { stored, route };
    serde_json::to_string(&record).expect("records serialize")
}

impl LiveView {
    /// Connects to Redis for `route`'s records; the connection manager reconnects by itself
    /// after a failure.
    pub async fn connect(
        args: &RedisArgs,
        recent_limit: u64,
        route: Route,
    ) -> redis::RedisResult<LiveView> {
        Ok(LiveView {
            redis: super::connect(args).await?,
            keys: args.keys(),
            recent_limit: recent_limit as isize,
            route,
        })
    }

    /// The same view, over the same connection, for `route`'s records.
    pub fn for_route(&self, route: Route) -> LiveView {
        LiveView {
            route,
            ..self.clone()
        }
    }

    pub fn route(&self) -> Route {
        self.route
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
                .arg(live_record(stored, self.route));
        }
        invocation.invoke_async(&mut self.redis.clone()).await
    }

    /// Merges `newest` (this route's newest records in MySQL) into the recent list, highest
    /// id first, each once, bounded.
    pub async fn merge_recent(&self, newest: &[StoredGrade]) -> redis::RedisResult<()> {
        let mut invocation = MERGE_RECENT.prepare_invoke();
        invocation.key(self.keys.recent()).arg(self.recent_limit);
        for stored in newest {
            invocation.arg(live_record(stored, self.route));
        }
        invocation
            .invoke_async::<usize>(&mut self.redis.clone())
            .await
            .map(drop)
    }

    pub fn recent_limit(&self) -> usize {
        self.recent_limit as usize
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        super::ping(&self.redis).await
    }

    pub fn connection(&self) -> ConnectionManager {
        self.redis.clone()
    }

    pub fn keys(&self) -> &LiveKeys {
        &self.keys
    }
}
