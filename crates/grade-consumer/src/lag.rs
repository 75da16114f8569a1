//! The group's lag on its topic, as two Prometheus gauges per partition (labels `group`,
//! `topic`, `partition`), refreshed every [`REFRESH`] by a task of its own. It reads the
//! broker with a client of its own (a consumer of the group that never joins it), on
//! connections of its own: its queries block for a round trip each, so they run on tokio's
//! blocking pool, never in the consumer loop, and never queue ahead of the member's
//! heartbeats: a slow offset query on the member's own coordinator connection could hold a
//! heartbeat back past the session timeout, and the group would drop the member.
//!
//! - `notas_queue_lag_records`: records appended and not yet stored, the partition's high
//!   watermark minus the group's committed offset. The consumer commits a batch only after
//!   MySQL and the live view have it, so this is exactly what is still owed to the stores. A
//!   partition the group never committed counts from its low watermark, where a member
//!   starts reading (`auto.offset.reset=earliest`).
//! - `notas_queue_lag_seconds`: how long the oldest of those records has waited since it was
//!   appended (0 when none waits). Exact while this member holds that record (its
//!   create time, in the batch being stored); otherwise estimated from the
//!   refreshes: the record was appended between the last one whose high watermark was at or
//!   below it and the first above it, at a steady rate in between (linear interpolation), so
//!   within one [`REFRESH`] of the truth. Records already waiting when this member started
//!   count from then until a member receives the oldest.
//!
//! Every member reports every partition, whichever member owns it: the lag is the group's
//! committed offsets against the log, and a member that lost its partitions (a session
//! timeout, a rebalance) still sees it; when no member consumes at all, the lag still
//! grows, where gauges of owned partitions only would read 0. `max by (group, topic,
//! partition)` over the members is the group's lag, and a sum of that the queue's. While the
//! broker does not answer the gauges keep their values for [`STALE_AFTER`], then read NaN.

use metrics::Unit;
use notas_core::shutdown::CancellationToken;
use notas_queue::message;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
    error::KafkaResult,
    message::OwnedMessage,
};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::time::{Instant, MissedTickBehavior};

/// How often the gauges are refreshed (the local Prometheus scrapes every 2 s).
pub const REFRESH: Duration = Duration::from_secs(1);
/// How long the gauges keep their values while the broker does not answer; NaN after.
const STALE_AFTER: Duration = Duration::from_secs(10);

const RECORDS: &str = "notas_queue_lag_records";
const SECONDS: &str = "notas_queue_lag_seconds";

/// High watermarks kept per partition while records wait; past this, every other one is
/// dropped (an estimate then interpolates over a longer span).
const MAX_SIGHTINGS: usize = 4096;

/// A partition: its topic and number.
type Key = (String, i32);

/// The oldest record of each partition in the batch the consumer loop is storing: (offset,
/// when it was accepted, Unix ms). Written by the loop, read by the refresh.
#[derive(Clone, Default)]
pub struct InHand(Arc<Mutex<HashMap<Key, (i64, i64)>>>);

impl InHand {
    /// The loop took `batch` and has not committed it yet.
    pub fn hold(&self, batch: &[OwnedMessage]) {
        let mut oldest = self.0.lock().expect("not poisoned");
        oldest.clear();
        for record in batch {
            let Some(at) = message::accepted_at_ms(record) else {
                continue;
            };
            let entry = oldest
                .entry((record.topic().to_owned(), record.partition()))
                .or_insert((record.offset(), at));
            if record.offset() < entry.0 {
                *entry = (record.offset(), at);
            }
        }
    }

    /// The batch is committed (or abandoned to the group).
    pub fn release(&self) {
        self.0.lock().expect("not poisoned").clear();
    }

    fn oldest(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        let held = self.0.lock().expect("not poisoned");
        held.get(&(topic.to_owned(), partition)).copied()
    }
}

/// What one refresh read of a partition: the group's committed offset (`None`: never
/// committed) and the partition's watermarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub committed: Option<i64>,
    pub low: i64,
    pub high: i64,
}

/// One owned partition's estimator: the high watermarks the refreshes saw, each with the
/// first and the last time it was seen. The oldest kept is the last at or below the next
/// record to store: with the first above it, it dates that record.
#[derive(Debug, Default)]
struct Partition {
    sightings: VecDeque<Sighting>,
}

/// A high watermark and when the refreshes saw it (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sighting {
    high: i64,
    first: i64,
    last: i64,
}

impl Partition {
    /// The lag at `now_ms`: records waiting, and how long the oldest has waited in seconds.
    /// `held`: the oldest record of this partition the loop holds (offset, accepted-at).
    fn lag(&mut self, offsets: Offsets, held: Option<(i64, i64)>, now_ms: i64) -> (i64, f64) {
        let next = offsets
            .committed
            .map_or(offsets.low, |c| c.max(offsets.low));
        let waiting = (offsets.high - next).max(0);
        match self.sightings.back_mut() {
            Some(seen) if seen.high >= offsets.high => seen.last = now_ms,
            _ => self.sightings.push_back(Sighting {
                high: offsets.high,
                first: now_ms,
                last: now_ms,
            }),
        }
        while self.sightings.get(1).is_some_and(|s| s.high <= next) {
            self.sightings.pop_front();
        }
        if self.sightings.len() > MAX_SIGHTINGS {
            let kept = self.sightings.iter().step_by(2).copied().collect();
            self.sightings = kept;
        }
        if waiting == 0 {
            return (0, 0.0);
        }
        let appended = self.appended_at(next, now_ms);
        let since = match held {
            Some((offset, accepted)) if offset == next => accepted,
            // An older record waits than the one held: it is at least as old.
            Some((offset, accepted)) if offset > next => accepted.min(appended),
            _ => appended,
        };
        (waiting, (now_ms - since).max(0) as f64 / 1000.0)
    }

    /// When the record at `offset` was appended, in Unix ms: interpolated between the last
    /// time a refresh saw the partition without it and the first time one saw it, at a steady
    /// rate in between; that first time when no refresh saw the partition before (the member
    /// found the record waiting).
    fn appended_at(&self, offset: i64, now_ms: i64) -> i64 {
        let Some(at) = self.sightings.iter().position(|s| s.high > offset) else {
            return now_ms;
        };
        let after = self.sightings[at];
        let Some(before) = at.checked_sub(1).map(|i| self.sightings[i]) else {
            return after.first;
        };
        // Records before.high..after.high were appended between the two.
        let (span, records) = (after.first - before.last, after.high - before.high);
        let into = i128::from(span) * i128::from(offset + 1 - before.high) / i128::from(records);
        before.last + into as i64
    }
}

/// The refresh task's state.
pub struct Lag {
    /// A client of the group's own that never joins it: its queries travel on connections
    /// of their own, so a slow answer never holds back the member's heartbeats.
    client: Arc<StreamConsumer>,
    group: String,
    topic: String,
    timeout: Duration,
    in_hand: InHand,
    partitions: BTreeMap<Key, Partition>,
    /// When the gauges were last refreshed.
    refreshed: Instant,
    /// The gauges read NaN: the broker has not answered for [`STALE_AFTER`].
    unknown: bool,
}

impl Lag {
    /// Describes the gauges (their `# HELP`) of group `group`'s lag on `topic`, read with
    /// `client` (a consumer of that group that never subscribes); each broker query waits at
    /// most `timeout`.
    pub fn new(
        client: StreamConsumer,
        group: &str,
        topic: &str,
        timeout: Duration,
        in_hand: InHand,
    ) -> Lag {
        metrics::describe_gauge!(
            RECORDS,
            Unit::Count,
            "Records appended to the partition and not yet stored by the group: high watermark minus the group's committed offset (commits follow MySQL and Redis). Every member reports every partition; NaN while the broker has not answered for 10 s."
        );
        metrics::describe_gauge!(
            SECONDS,
            Unit::Seconds,
            "How long the partition's oldest record not yet stored has waited since it was appended: exact while this member holds it in its batch, else interpolated between the 1 s refreshes that saw the high watermark before and after it. 0 when none waits; NaN while the broker has not answered for 10 s."
        );
        Lag {
            client: Arc::new(client),
            group: group.to_owned(),
            topic: topic.to_owned(),
            timeout,
            in_hand,
            partitions: BTreeMap::new(),
            refreshed: Instant::now(),
            unknown: false,
        }
    }

    /// Refreshes the gauges every [`REFRESH`] until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let (client, topic, timeout) =
                (Arc::clone(&self.client), self.topic.clone(), self.timeout);
            let read = tokio::task::spawn_blocking(move || read(&client, &topic, timeout));
            let read = tokio::select! {
                _ = shutdown.cancelled() => break,
                read = read => read,
            };
            match read {
                Ok(Ok(offsets)) => {
                    if std::mem::take(&mut self.unknown) {
                        tracing::info!("consumer lag known again");
                    }
                    self.refreshed = Instant::now();
                    self.publish(offsets, unix_ms());
                }
                Ok(Err(e)) => self.unanswered(&e),
                Err(e) => self.unanswered(&e),
            }
        }
    }

    /// Sets the gauges of every partition in `offsets`.
    fn publish(&mut self, offsets: Vec<(Key, Offsets)>, now_ms: i64) {
        for (key, offsets) in offsets {
            let partition = self.partitions.entry(key.clone()).or_default();
            let held = self.in_hand.oldest(&key.0, key.1);
            let (records, seconds) = partition.lag(offsets, held, now_ms);
            self.set(&key, records as f64, seconds);
        }
    }

    /// A refresh failed: the gauges keep their values for [`STALE_AFTER`], then read NaN
    /// (unknown) rather than a lag that may be long past.
    fn unanswered(&mut self, error: &dyn std::fmt::Display) {
        let silent = self.refreshed.elapsed();
        if silent < STALE_AFTER || self.unknown {
            tracing::debug!(%error, "consumer lag not refreshed");
            return;
        }
        tracing::warn!(%error, silent_s = silent.as_secs(), "consumer lag unknown: the broker does not answer");
        self.unknown = true;
        for key in self.partitions.keys() {
            self.set(key, f64::NAN, f64::NAN);
        }
    }

    fn set(&self, (topic, partition): &Key, records: f64, seconds: f64) {
        let labels = [
            ("group", self.group.clone()),
            ("topic", topic.clone()),
            ("partition", partition.to_string()),
        ];
        metrics::gauge!(RECORDS, &labels).set(records);
        metrics::gauge!(SECONDS, &labels).set(seconds);
    }
}

/// The group's committed offset and the watermarks of every partition of `topic`
/// (blocking: a round trip to the broker for the partitions, one for the offsets and one per
/// partition). A partition whose offset came back with an error is left out this time.
fn read(
    client: &StreamConsumer,
    topic: &str,
    timeout: Duration,
) -> KafkaResult<Vec<(Key, Offsets)>> {
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    let mut partitions = TopicPartitionList::new();
    for found in metadata.topics().iter().filter(|t| t.name() == topic) {
        for partition in found.partitions() {
            partitions.add_partition(topic, partition.id());
        }
    }
    if partitions.count() == 0 {
        return Ok(vec![]);
    }
    let committed = client.committed_offsets(partitions, timeout)?;
    let mut found = vec![];
    for element in committed.elements() {
        if element.error().is_err() {
            continue;
        }
        let (topic, partition) = (element.topic(), element.partition());
        let (low, high) = client.fetch_watermarks(topic, partition, timeout)?;
        let committed = match element.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        };
        found.push((
            (topic.to_owned(), partition),
            Offsets {
                committed,
                low,
                high,
            },
        ));
    }
    Ok(found)
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(committed: Option<i64>, low: i64, high: i64) -> Offsets {
        Offsets {
            committed,
            low,
            high,
        }
    }

    #[test]
    fn records_are_the_high_watermark_past_the_committed_offset_or_the_low_one() {
        let mut p = Partition::default();
        assert_eq!(p.lag(offsets(None, 0, 0), None, 1_000), (0, 0.0));
        assert_eq!(
            p.lag(offsets(None, 5, 12), None, 2_000).0,
            7,
            "never committed"
        );
        assert_eq!(p.lag(offsets(Some(10), 5, 12), None, 3_000).0, 2);
        assert_eq!(
            p.lag(offsets(Some(2), 5, 12), None, 4_000).0,
            7,
            "committed before the records kept"
        );
        assert_eq!(p.lag(offsets(Some(12), 5, 12), None, 5_000), (0, 0.0));
    }

    #[test]
    fn seconds_are_the_age_of_the_oldest_record_waiting() {
        let mut p = Partition::default();
        // Offsets 0..3 appended by 10 s (the first refresh: no earlier one to date them by),
        // 3..5 between 10 s and 11 s; nothing stored.
        assert_eq!(p.lag(offsets(None, 0, 3), None, 10_000), (3, 0.0));
        assert_eq!(p.lag(offsets(None, 0, 5), None, 11_000), (5, 1.0));
        assert_eq!(p.lag(offsets(None, 0, 5), None, 14_000), (5, 4.0));
        // 0..3 stored: the oldest waiting (3), the first of the two appended between 10 s
        // and 11 s, was appended at 10.5 s.
        assert_eq!(p.lag(offsets(Some(3), 0, 5), None, 15_000), (2, 4.5));
        assert_eq!(p.lag(offsets(Some(4), 0, 5), None, 15_000), (1, 4.0));
        assert_eq!(p.lag(offsets(Some(5), 0, 5), None, 16_000), (0, 0.0));
        assert_eq!(p.sightings.len(), 1, "{:?}", p.sightings);
        // Ten records between 16 s and 17 s, the oldest at 16.1 s.
        assert_eq!(p.lag(offsets(Some(5), 0, 15), None, 17_000), (10, 0.9));
        // At a steady rate the estimate follows the stores instead of falling to 0 each time
        // a refresh finds everything it saw before stored.
        assert_eq!(p.lag(offsets(Some(14), 0, 25), None, 18_000), (11, 1.0));
    }

    #[test]
    fn a_held_record_gives_its_exact_age() {
        let mut p = Partition::default();
        // The member got the partition with a backlog: its first sighting is now, but the
        // batch it holds says the record at the committed offset was accepted 30 s ago.
        assert_eq!(
            p.lag(offsets(Some(4), 0, 9), Some((4, 70_000)), 100_000),
            (5, 30.0)
        );
        assert_eq!(p.lag(offsets(Some(4), 0, 9), None, 101_000), (5, 1.0));
        assert_eq!(
            p.lag(offsets(Some(6), 0, 9), Some((4, 70_000)), 102_000),
            (3, 2.0),
            "a held record behind the committed offset is not waiting"
        );
        assert_eq!(
            p.lag(offsets(Some(6), 0, 9), Some((7, 90_000)), 103_000),
            (3, 13.0),
            "an older record waits than the one held: at least as old"
        );
    }

    #[test]
    fn sightings_are_bounded_keeping_the_oldest() {
        let mut p = Partition::default();
        for i in 0..(MAX_SIGHTINGS as i64 + 10) {
            p.lag(offsets(None, 0, i + 1), None, i * 1_000);
        }
        assert!(p.sightings.len() <= MAX_SIGHTINGS);
        assert_eq!(p.sightings[0].high, 1, "the oldest sighting stays");
    }
}
