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

/// One host's recent samples, oldest first, as the monitor published them.
#[derive(Debug, Serialize)]
pub struct HostHistory {
    pub host: String,
    pub samples: Vec<Value>,
}

/// Hosts whose last sample is older than this are gone (a node removed, a monitor stopped).
const HOST_GONE_AFTER_SECS: u64 = 60;

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

impl LiveReader {
    /// Every host seen in the last minute with its recent samples.
    pub async fn hosts(&self) -> redis::RedisResult<Vec<HostHistory>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut redis = self.redis.clone();
        let names: Vec<String> = redis
            .zrangebyscore(
                self.keys.hosts(),
                now.saturating_sub(HOST_GONE_AFTER_SECS),
                "+inf",
            )
            .await?;
        if names.is_empty() {
            return Ok(Vec::new()); // and an empty pipeline is an error to Redis
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.lrange(self.keys.host(name), 0, -1);
        }
        let lists: Vec<Vec<String>> = pipe.query_async(&mut redis).await?;
        Ok(names
            .into_iter()
            .zip(lists)
            .map(|(host, newest_first)| {
                let mut samples = parse_records(&newest_first);
                samples.reverse();
                HostHistory { host, samples }
            })
            .collect())
    }
}

fn parse_records(raw: &[String]) -> Vec<Value> {
    raw.iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect()
}

/// `GET /api/hosts`: `{"hosts": [{"host", "samples": [...]}]}`, samples oldest first.
pub async fn hosts(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let hosts = state.live.hosts().await.map_err(StoreError::from)?;
    Ok(Json(serde_json::json!({ "hosts": hosts })))
}

/// `GET /api/live`.
pub async fn snapshot(State(state): State<AppState>) -> Result<Json<Snapshot>, ApiError> {
    let snapshot = state.live.snapshot().await.map_err(StoreError::from)?;
    Ok(Json(snapshot))
}
