//! The push feed: follows what Redis announces (the `events` channel, and the host
//! monitors' `host` channel) and, every `PUSH_INTERVAL_MS` at most, sends one `live` event,
//! one `count` per room whose count changed and each host's newest sample, however fast
//! grades and samples arrive. Every replica subscribes on its own and pushes
//! only to the browsers connected to it, and websockets need no sticky sessions, so
//! replicas behind a plain Service each serve their own browsers correctly.

use super::{LiveReader, Selection};
use futures_util::StreamExt;
use notas_core::{live::RedisArgs, shutdown::CancellationToken};
use serde::Deserialize;
use serde_json::Value;
use socketioxide::SocketIo;
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

/// What changed since the last push.
#[derive(Default)]
struct Changes {
    any: bool,
    /// Selections whose count changed.
    selections: HashSet<Selection>,
    /// Every watched count may have changed (the feed was resubscribed).
    all_selections: bool,
    /// The newest sample of each host that sent one.
    hosts: HashMap<String, Value>,
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
        for sample in pending.hosts.values() {
            let _ = io.emit("host", sample).await;
            metrics::counter!("notas_dashboard_pushes_total", "event" => "host").increment(1);
        }
        if pending.any {
            let mut selections = pending.selections;
            if pending.all_selections {
                let rooms = io.rooms().await.unwrap_or_default();
                selections.extend(rooms.iter().filter_map(|r| Selection::of_room(r)));
            }
            send_updates(&io, &live, selections).await;
        }
    }
    let _ = follow.await;
}

/// One `live` event to every socket, and a `count` to each changed selection's room.
async fn send_updates(io: &SocketIo, live: &LiveReader, selections: HashSet<Selection>) {
    match live.latest().await {
        Ok(latest) => {
            let _ = io.emit("live", &latest).await;
            metrics::counter!("notas_dashboard_pushes_total", "event" => "live").increment(1);
        }
        Err(e) => tracing::warn!(error = %e, "live push skipped"),
    }
    for selection in selections {
        let room = selection.room();
        if io.to(room.clone()).sockets().is_empty() {
            continue; // nobody watches this selection here
        }
        if let Ok(count) = live.count(&selection).await {
            let _ = io.to(room).emit("count", &count).await;
            metrics::counter!("notas_dashboard_pushes_total", "event" => "count").increment(1);
        }
    }
}

/// The parts of an announced record the feed needs.
#[derive(Deserialize)]
struct Announced {
    curso: String,
    semestre: String,
    year: u16,
}

/// Subscribes to the events and host channels (again after any failure) and notes each change.
async fn follow_events(
    redis: RedisArgs,
    changes: Arc<Mutex<Changes>>,
    shutdown: CancellationToken,
) {
    let (channel, host_channel) = (redis.keys().events(), redis.keys().host_events());
    while !shutdown.is_cancelled() {
        let subscribed = async {
            let mut pubsub = redis.client()?.get_async_pubsub().await?;
            pubsub.subscribe(&[&channel, &host_channel]).await?;
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
            pending.all_selections = true;
        }
        let mut messages = pubsub.on_message();
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = messages.next() => message,
            };
            let Some(message) = message else { break }; // connection lost: subscribe again
            let payload: String = message.get_payload().unwrap_or_default();
            if message.get_channel_name() == host_channel {
                if let Ok(sample) = serde_json::from_str::<Value>(&payload)
                    && let Some(host) = sample["host"].as_str()
                {
                    let host = host.to_owned();
                    changes.lock().unwrap().hosts.insert(host, sample);
                }
                continue;
            }
            let announced: Vec<Announced> = serde_json::from_str(&payload).unwrap_or_default();
            let mut pending = changes.lock().unwrap();
            pending.any = true;
            pending.selections.extend(
                announced
                    .iter()
                    .filter_map(|a| Selection::from_codes(&a.curso, &a.semestre, a.year)),
            );
        }
    }
}
