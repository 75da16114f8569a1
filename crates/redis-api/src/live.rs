//! Writes to the Redis live view (layout in [`notas_core::live`]).
//!
//! A whole batch goes in one `MULTI`/`EXEC` pipeline: one round trip, and the dashboard
//! never sees a total that disagrees with the counts.

use notas_core::{
    grade::StoredGrade,
    live::{self, LiveKeys, RedisArgs, count_field},
};
use redis::aio::ConnectionManager;
use std::collections::HashMap;

#[derive(Clone)]
pub struct LiveView {
    redis: ConnectionManager,
    keys: LiveKeys,
    recent_limit: isize,
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
    /// announces them on the events channel.
    pub async fn record(&self, records: &[StoredGrade]) -> redis::RedisResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut counts: HashMap<String, i64> = HashMap::new();
        for r in records {
            *counts
                .entry(count_field(
                    r.grade.curso(),
                    r.grade.semestre(),
                    r.grade.year(),
                ))
                .or_default() += 1;
        }
        let json: Vec<String> = records
            .iter()
            .map(|r| serde_json::to_string(r).expect("records serialize"))
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

    /// Answers whether Redis replies to `PING`.
    pub async fn ping(&self) -> redis::RedisResult<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.redis.clone())
            .await
            .map(drop)
    }
}
