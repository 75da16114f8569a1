//! The Redis side of the dashboard: the live view route 2 maintains (layout in
//! [`notas_core::live`]), served as a REST snapshot and pushed over socket.io.
//!
//! # socket.io protocol (namespace `/`, websocket transport only)
//! - server → client `live`: `{"total": n, "recent": [record, ...]}`, on connect and
//!   whenever route 2 stored grades since the last push;
//! - client → server `select`: `{"curso": "SO1", "semestre": "2S", "year": 2023}` puts the
//!   socket in that selection's room (leaving its previous one);
//! - server → client `count`: `{"curso", "semestre", "year", "count"}`, right after `select`
//!   and whenever that selection's count changed; `select_error`: `{"error", "field"}`.
//!
//! Pushes are coalesced: a feed task notes what Redis announces (`events` channel) and a
//! ticker sends at most one `live` and one `count` per room every `PUSH_INTERVAL_MS`,
//! however fast grades arrive. Every replica subscribes on its own and pushes only to the
//! browsers connected to it, and websockets need no sticky sessions, so replicas behind a
//! plain Service each serve their own browsers correctly.

use axum::{Json, extract::State};
use futures_util::StreamExt;
use notas_core::{
    grade::{Course, GradeInput, Semester},
    http::ApiError,
    live::{LiveKeys, RedisArgs, count_field},
    shutdown::CancellationToken,
};
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use socketioxide::{
    SocketIo,
    extract::{Data, SocketRef},
    handler::ConnectHandler,
};
use std::{
    collections::{BTreeMap, HashSet},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::app::AppState;

/// Reads of the live view.
#[derive(Clone)]
pub struct LiveReader {
    redis: ConnectionManager,
    keys: LiveKeys,
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

/// The `live` push.
#[derive(Debug, Serialize)]
struct LivePush {
    total: u64,
    recent: Vec<Value>,
}

/// A course in a semester of a year, as a browser selects it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selection {
    curso: Course,
    semestre: Semester,
    year: u16,
}

#[derive(Debug, Deserialize)]
struct SelectionInput {
    curso: Option<String>,
    semestre: Option<String>,
    year: Option<i64>,
}

/// The `count` push.
#[derive(Debug, Serialize)]
struct CountPush {
    curso: Course,
    semestre: Semester,
    year: u16,
    count: u64,
}

impl Selection {
    /// Checks a selection with the grade rules (a valid course, semester and year).
    fn parse(input: SelectionInput) -> Result<Selection, ApiError> {
        // Borrow the grade's validation: fill the other fields with valid values.
        let grade = notas_core::grade::Grade::parse(GradeInput {
            carnet: Some(1),
            nombre: Some("-".into()),
            nota: Some(0),
            curso: input.curso,
            semestre: input.semestre,
            year: input.year,
        })?;
        Ok(Selection {
            curso: grade.curso(),
            semestre: grade.semestre(),
            year: grade.year(),
        })
    }

    fn from_codes(curso: &str, semestre: &str, year: u16) -> Option<Selection> {
        Some(Selection {
            curso: Course::from_code(curso)?,
            semestre: Semester::from_code(semestre)?,
            year,
        })
    }

    /// `SO1:2S:2023` back into a selection.
    fn from_field(field: &str) -> Option<Selection> {
        let mut parts = field.split(':');
        let (curso, semestre, year) = (parts.next()?, parts.next()?, parts.next()?);
        Selection::from_codes(curso, semestre, year.parse().ok()?)
    }

    fn field(&self) -> String {
        count_field(self.curso, self.semestre, self.year)
    }

    fn room(field: &str) -> String {
        format!("count:{field}")
    }
}

impl LiveReader {
    pub async fn connect(args: &RedisArgs, shown: u64) -> redis::RedisResult<LiveReader> {
        Ok(LiveReader {
            redis: notas_core::live::connect(args).await?,
            keys: args.keys(),
            shown: shown as isize,
        })
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.redis.clone())
            .await
            .map(drop)
    }

    /// Total, newest records and every count, in one round trip.
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

    async fn live(&self) -> redis::RedisResult<LivePush> {
        let (total, recent): (Option<u64>, Vec<String>) = redis::pipe()
            .get(self.keys.total())
            .lrange(self.keys.recent(), 0, self.shown - 1)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(LivePush {
            total: total.unwrap_or(0),
            recent: parse_records(&recent),
        })
    }

    async fn count(&self, selection: &Selection) -> redis::RedisResult<CountPush> {
        let count: Option<u64> = self
            .redis
            .clone()
            .hget(self.keys.counts(), selection.field())
            .await?;
        Ok(CountPush {
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
    state.live.snapshot().await.map(Json).map_err(|e| {
        tracing::warn!(error = %e, "redis snapshot failed");
        metrics::counter!("notas_store_errors_total", "store" => "redis").increment(1);
        ApiError::unavailable("the live view")
    })
}

/// Registers the socket.io handlers on `io`.
pub fn serve_sockets(io: &SocketIo, live: LiveReader) {
    // Event handlers are registered in a connect middleware, which socketioxide awaits
    // before it sends the client its CONNECT; the connect handler itself runs later in a
    // spawned task, and a `select` sent right after connecting could arrive before it.
    let on_select = live.clone();
    let listen = move |socket: SocketRef| {
        let live = on_select.clone();
        async move {
            metrics::gauge!("notas_dashboard_sockets").increment(1.0);
            socket.on(
                "select",
                move |socket: SocketRef, Data(input): Data<SelectionInput>| {
                    let live = live.clone();
                    async move { select(&socket, &live, input).await }
                },
            );
            socket
                .on_disconnect(async || metrics::gauge!("notas_dashboard_sockets").decrement(1.0));
            Ok::<(), Infallible>(())
        }
    };
    let greet = move |socket: SocketRef| {
        let live = live.clone();
        async move {
            if let Ok(push) = live.live().await {
                let _ = socket.emit("live", &push);
            }
        }
    };
    io.ns("/", greet.with(listen));
}

async fn select(socket: &SocketRef, live: &LiveReader, input: SelectionInput) {
    let selection = match Selection::parse(input) {
        Ok(selection) => selection,
        Err(e) => {
            let _ = socket.emit("select_error", &e);
            return;
        }
    };
    for room in socket
        .rooms()
        .into_iter()
        .filter(|r| r.starts_with("count:"))
    {
        socket.leave(room);
    }
    socket.join(Selection::room(&selection.field()));
    if let Ok(push) = live.count(&selection).await {
        let _ = socket.emit("count", &push);
    }
}

/// What changed since the last push.
#[derive(Default)]
struct Changes {
    any: bool,
    /// Count fields that changed.
    fields: HashSet<String>,
    /// Every watched count may have changed (the feed was resubscribed).
    all_fields: bool,
}

/// Follows Redis' announcements and pushes coalesced updates until `shutdown`.
pub async fn run_feed(
    io: SocketIo,
    live: LiveReader,
    redis: RedisArgs,
    every: Duration,
    shutdown: CancellationToken,
) {
    let changes = Arc::new(Mutex::new(Changes::default()));
    let follow = tokio::spawn(follow_events(redis, Arc::clone(&changes), shutdown.clone()));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let pending = std::mem::take(&mut *changes.lock().unwrap());
        if pending.any {
            let mut fields = pending.fields;
            if pending.all_fields {
                let rooms = io.rooms().await.unwrap_or_default();
                fields.extend(
                    rooms
                        .iter()
                        .filter_map(|r| r.strip_prefix("count:"))
                        .map(str::to_owned),
                );
            }
            push(&io, &live, fields).await;
        }
    }
    let _ = follow.await;
}

async fn push(io: &SocketIo, live: &LiveReader, fields: HashSet<String>) {
    match live.live().await {
        Ok(update) => {
            let _ = io.emit("live", &update).await;
            metrics::counter!("notas_dashboard_pushes_total", "event" => "live").increment(1);
        }
        Err(e) => tracing::warn!(error = %e, "live push skipped"),
    }
    for field in fields {
        let room = Selection::room(&field);
        if io.to(room.clone()).sockets().is_empty() {
            continue; // nobody watches this selection here
        }
        let Some(selection) = Selection::from_field(&field) else {
            continue;
        };
        if let Ok(push) = live.count(&selection).await {
            let _ = io.to(room).emit("count", &push).await;
            metrics::counter!("notas_dashboard_pushes_total", "event" => "count").increment(1);
        }
    }
}

/// The parts of a record the feed needs.
#[derive(Deserialize)]
struct Announced {
    curso: String,
    semestre: String,
    year: u16,
}

/// Subscribes to the events channel (again after any failure) and notes each change.
async fn follow_events(
    redis: RedisArgs,
    changes: Arc<Mutex<Changes>>,
    shutdown: CancellationToken,
) {
    let channel = redis.keys().events();
    while !shutdown.is_cancelled() {
        let subscribed = async {
            let mut pubsub = redis::Client::open(redis.redis_url.as_str())?
                .get_async_pubsub()
                .await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let mut pubsub = match subscribed.await {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to the live events; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        // Whatever happened while unsubscribed is unknown: refresh everything once.
        {
            let mut pending = changes.lock().unwrap();
            pending.any = true;
            pending.all_fields = true;
        }
        let mut messages = pubsub.on_message();
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = messages.next() => message,
            };
            let Some(message) = message else { break }; // connection lost: subscribe again
            let payload: String = message.get_payload().unwrap_or_default();
            let announced: Vec<Announced> = serde_json::from_str(&payload).unwrap_or_default();
            let mut pending = changes.lock().unwrap();
            pending.any = true;
            pending.fields.extend(
                announced
                    .iter()
                    .filter_map(|a| Selection::from_codes(&a.curso, &a.semestre, a.year))
                    .map(|s| s.field()),
            );
        }
    }
}
