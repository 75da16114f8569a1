//! [`LiveReader`]: the dashboard's reads of the live view, each one round trip, and
//! `GET /api/live`.

use super::Selection;
use crate::app::AppState;
use axum::{Json, extract::State};
use notas_core::{
    grade::{Course, Semester},
    http::ApiError,
    live::{self, LiveKeys, RedisArgs},
    store::StoreError,
};
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct LiveReader {
    redis: ConnectionManager,
    keys: LiveKeys,
    /// How many of the newest records a browser is shown.
    shown: isize,
}

/// What `GET /api/live` answers: the values for a first paint.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub total: u64,
    pub recent: Vec<Value>,
    /// Records per `COURSE:SEMESTER:YEAR`.
    pub counts: BTreeMap<String, u64>,
}

/// The `live` event: the total and the newest records.
#[derive(Debug, Serialize)]
pub struct Latest {
    total: u64,
    recent: Vec<Value>,
}

/// The `count` event: one selection's count.
#[derive(Debug, Serialize)]
pub struct SelectionCount {
    curso: Course,
    semestre: Semester,
    year: u16,
    count: u64,
}

impl LiveReader {
    pub async fn connect(args: &RedisArgs, shown: u64) -> redis::RedisResult<LiveReader> {
        Ok(LiveReader {
            redis: live::connect(args).await?,
            keys: args.keys(),
            shown: shown as isize,
        })
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        live::ping(&self.redis).await
    }

    /// Total, newest records and every count.
    pub async fn snapshot(&self) -> redis::RedisResult<Snapshot> {
        let (total, recent, counts): (Option<u64>, Vec<String>, BTreeMap<String, u64>) =
            redis::pipe()
                .get(self.keys.total())
                .lrange(self.keys.recent(), 0, self.shown - 1)
                .hgetall(self.keys.counts())
                .query_async(&mut self.redis.clone())
                .await?;
        Ok(Snapshot {
            total: total.unwrap_or(0),
            recent: parse_records(&recent),
            counts,
        })
    }

    /// Total and newest records.
    pub async fn latest(&self) -> redis::RedisResult<Latest> {
        let (total, recent): (Option<u64>, Vec<String>) = redis::pipe()
            .get(self.keys.total())
            .lrange(self.keys.recent(), 0, self.shown - 1)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(Latest {
            total: total.unwrap_or(0),
            recent: parse_records(&recent),
        })
    }

    pub async fn count(&self, selection: &Selection) -> redis::RedisResult<SelectionCount> {
        let count: Option<u64> = self
            .redis
            .clone()
            .hget(self.keys.counts(), selection.field())
            .await?;
        Ok(SelectionCount {
            curso: selection.curso,
            semestre: selection.semestre,
            year: selection.year,
            count: count.unwrap_or(0),
        })
    }
}

fn parse_records(raw: &[String]) -> Vec<Value> {
    raw.iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect()
}

/// `GET /api/live`.
pub async fn snapshot(State(state): State<AppState>) -> Result<Json<Snapshot>, ApiError> {
    let snapshot = state.live.snapshot().await.map_err(StoreError::from)?;
    Ok(Json(snapshot))
}
