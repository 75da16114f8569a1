//! The consumer loop. Each round takes a batch (the first record, then whatever arrives
//! within `BATCH_MAX_WAIT_MS`, up to `BATCH_MAX_SIZE`) and:
//!
//! 1. decodes each record; one that is not a grade is a poison record;
//! 2. stores the grades with [`GradeStore::insert`] under route 3, keyed, so a record
//!    delivered again (a consumer died before committing) is answered with its first id and
//!    stores nothing; a key already used with another grade makes its record a dead letter;
//! 3. applies the stored grades to the live view (once per id, however often sent);
//! 4. sends the dead letters, with their reason, to the dead-letter topic (acks=all);
//! 5. commits the batch's offsets.
//!
//! Steps 2 to 4 are retried until they succeed: while MySQL or Redis is down the batch's
//! offsets stay uncommitted and the topic holds the records (the queue grows, then
//! drains). A process that stops mid-batch commits nothing; its partitions go to another
//! member, which receives the batch again and, by the keys, stores each grade once.
//!
//! The loop tells [`InHand`] which batch it holds, for the lag's age ([`crate::lag`]).

use crate::lag::InHand;
use notas_core::{
    grade::StoredGrade,
    live::LiveView,
    mysql::grades::{GradeStore, Outcome},
    route::Route,
    shutdown::CancellationToken,
};
use notas_queue::message::{self, Accepted, REASON};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{Header, OwnedHeaders, OwnedMessage},
    producer::{FutureProducer, FutureRecord},
};
use std::{
    collections::BTreeMap,
    fmt::Display,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::time::{Instant, timeout_at};

/// Everything a round needs.
pub struct GradeConsumer {
    pub consumer: Arc<StreamConsumer>,
    pub store: GradeStore,
    pub live_view: LiveView,
    pub dead_letters: FutureProducer,
    pub dead_letter_topic: String,
    pub max_batch: usize,
    pub max_wait: Duration,
    pub kafka_timeout: Duration,
    /// The batch being stored, for the lag gauges.
    pub in_hand: InHand,
}

/// A record that will not be stored, and why.
struct DeadLetter<'a> {
    record: &'a OwnedMessage,
    reason: String,
}

impl GradeConsumer {
    /// Consumes until `shutdown`; the batch in hand when it comes is finished first if its
    /// stores answer, else left uncommitted for the group to deliver again.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                first = self.consumer.recv() => first,
            };
            let first = match first {
                Ok(record) => record.detach(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not receive from the broker");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let mut batch = vec![first];
            let deadline = Instant::now() + self.max_wait;
            while batch.len() < self.max_batch {
                match timeout_at(deadline, self.consumer.recv()).await {
                    Ok(Ok(record)) => batch.push(record.detach()),
                    Ok(Err(_)) | Err(_) => break,
                }
            }
            self.in_hand.hold(&batch);
            if self.handle(&batch, &shutdown).await.is_none() {
                break;
            }
            self.in_hand.release();
        }
        tracing::info!("grade-consumer stopped consuming");
    }

    /// One batch, steps 1 to 5; `None` when `shutdown` came before it was stored.
    async fn handle(&self, batch: &[OwnedMessage], shutdown: &CancellationToken) -> Option<()> {
        metrics::histogram!("notas_queue_batch_size").record(batch.len() as f64);
        let mut grades: Vec<(&OwnedMessage, Accepted)> = Vec::with_capacity(batch.len());
        let mut dead = Vec::new();
        for record in batch {
            match message::decode(record) {
                Ok(accepted) => grades.push((record, accepted)),
                Err(poison) => dead.push(DeadLetter {
                    record,
                    reason: poison.to_string(),
                }),
            }
        }

        let submissions: Vec<_> = grades.iter().map(|(_, a)| a.submission()).collect();
        let outcomes = until_done("MySQL", shutdown, || {
            self.store.insert(Route::Queue, &submissions)
        })
        .await?;
        let now_ms = unix_ms();
        let mut stored = Vec::with_capacity(grades.len());
        for ((record, accepted), outcome) in grades.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Stored(id) | Outcome::Retried(id) => {
                    if let (Outcome::Stored(_), Some(at)) = (outcome, accepted.accepted_at_ms) {
                        let waited = (now_ms - at).max(0) as f64 / 1000.0;
                        metrics::histogram!("notas_queue_time_to_stored_seconds").record(waited);
                    }
                    stored.push(StoredGrade {
                        id,
                        grade: accepted.grade,
                    });
                }
                Outcome::KeyReused => dead.push(DeadLetter {
                    record,
                    reason: notas_core::idempotency::reused().to_string(),
                }),
            }
        }
        let new = until_done("Redis", shutdown, || self.live_view.apply(&stored)).await?;
        metrics::counter!("notas_queue_stored_total").increment(new as u64);
        for letter in &dead {
            until_done("the dead-letter topic", shutdown, || {
                self.send_dead_letter(letter)
            })
            .await?;
            metrics::counter!("notas_queue_dead_letters_total").increment(1);
        }
        self.commit(batch).await;
        Some(())
    }

    /// Appends `letter` to the dead-letter topic: its key and value as they came, its reason
    /// and where it came from in headers.
    async fn send_dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), String> {
        let source = format!(
            "{}/{}/{}",
            letter.record.topic(),
            letter.record.partition(),
            letter.record.offset()
        );
        tracing::warn!(%source, reason = %letter.reason, "dead letter");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: REASON,
                value: Some(&letter.reason),
            })
            .insert(Header {
                key: "source",
                value: Some(&source),
            });
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.dead_letter_topic).headers(headers);
        if let Some(key) = letter.record.key() {
            record = record.key(key);
        }
        if let Some(value) = letter.record.payload() {
            record = record.payload(value);
        }
        self.dead_letters
            .send(record, self.kafka_timeout)
            .await
            .map(drop)
            .map_err(|(e, _)| e.to_string())
    }

    /// Commits the offsets after the batch's last record of each partition. A commit that
    /// fails (the group moved the partition meanwhile) is only logged: the next owner
    /// receives those records again and stores nothing twice.
    async fn commit(&self, batch: &[OwnedMessage]) {
        let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for record in batch {
            let offset = next
                .entry((record.topic(), record.partition()))
                .or_default();
            *offset = (*offset).max(record.offset() + 1);
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            offsets
                .add_partition_offset(topic, partition, Offset::Offset(offset))
                .expect("a valid offset");
        }
        let consumer = Arc::clone(&self.consumer);
        // A synchronous commit blocks its thread for a round trip to the broker.
        let committed =
            tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync)).await;
        if let Ok(Err(e)) = committed {
            tracing::warn!(error = %e, "offsets not committed; the records will come again");
        }
    }
}

/// The `# HELP` of the loop's metrics.
pub fn describe_metrics() {
    use metrics::Unit;
    metrics::describe_histogram!(
        "notas_queue_batch_size",
        Unit::Count,
        "Records per consumer batch (BATCH_MAX_SIZE at most, poison records included)."
    );
    metrics::describe_histogram!(
        "notas_queue_time_to_stored_seconds",
        Unit::Seconds,
        "From the record's create time, which queue-api sets just before the append (so the broker's acknowledgement is included), to the grade's row committed in MySQL, for each grade stored for the first time."
    );
    metrics::describe_counter!(
        "notas_queue_stored_total",
        "Grades this member stored and applied to the live view, each counted once."
    );
    metrics::describe_counter!(
        "notas_queue_dead_letters_total",
        "Records sent to the dead-letter topic: not a grade, or a key reused with another grade."
    );
}

/// Runs `attempt` until it succeeds, waiting longer after each failure (up to 2 s); `None`
/// when `shutdown` comes first.
async fn until_done<T, E: Display, Fut: Future<Output = Result<T, E>>>(
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: impl FnMut() -> Fut,
) -> Option<T> {
    let mut pause = Duration::from_millis(50);
    loop {
        match attempt().await {
            Ok(done) => return Some(done),
            Err(e) => tracing::warn!(error = %e, "{what} failed; the batch waits and retries"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
