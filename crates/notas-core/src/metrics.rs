//! The process-wide Prometheus recorder behind every service's `GET /metrics`.
//!
//! Metrics recorded across the workspace (all carry the labels listed):
//! - `http_requests_total`, `http_request_duration_seconds`: `service`, `route`, `path`, `method`, `status`
//! - `grpc_requests_total`, `grpc_request_duration_seconds`: `method`, `code` (grpc-server)
//! - `notas_batch_size`: grades per batch: per MySQL insert in the writers, per
//!   `RegisterGrades` call in grpc-client
//! - `notas_batch_flush_seconds`: how long each batch took to flush: its MySQL transaction
//!   (and route 2's Redis write) in the writers, its `RegisterGrades` call in grpc-client
//! - `notas_store_errors_total`: `store` (`mysql`, `redis` or `grpc`), counted where each
//!   failure becomes a [`StoreError`](crate::store::StoreError)
//! - `notas_live_pending`: route 2 records committed to MySQL still owed to Redis past the
//!   outbox's grace period
//! - `notas_summarized_total`: grades added to the report summaries by this replica's summarizer
//! - route 3's (grade-consumer, `crates/grade-consumer`): `notas_queue_batch_size` (records
//!   per consumer batch), `notas_queue_time_to_stored_seconds` (from acceptance, stamped before the append, to the row),
//!   `notas_queue_stored_total`, `notas_queue_dead_letters_total`, and the lag gauges
//!   `notas_queue_lag_records` and `notas_queue_lag_seconds` (`group`, `topic`, `partition`)
//!   and `notas_queue_assigned_partitions` (the same labels)
//! - this process's, named as Prometheus' client libraries name them and read at each render
//!   (`metrics-process`): `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//!   `process_virtual_memory_bytes`, `process_threads`, `process_open_fds`, `process_max_fds`,
//!   `process_start_time_seconds`. The CPU seconds are a gauge of fractional seconds: a
//!   `metrics` counter is a whole number, and would move in steps of one second; the value
//!   only goes up, so `rate()` reads it as it reads a counter.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_process::Collector;
use std::{
    sync::{LazyLock, OnceLock},
    time::Duration,
};

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
];
/// A batch's flush: a durable commit of a few milliseconds, finer than the request buckets
/// where the latency target (25 ms at p99) is decided.
const FLUSH_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1.0, 5.0,
];
/// From `202` to stored: a batch's wait and commit at best, minutes while MySQL is down.
const TIME_TO_STORED_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: LazyLock<Collector> = LazyLock::new(Collector::default);

/// Installs the recorder on first use (tests start several services in one process) and
/// returns the handle that renders it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Histograms without buckets would be rendered as summaries, whose quantiles cannot
        // be added up over replicas: every histogram recorded here has its buckets.
        let buckets = [
            (Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS),
            (Matcher::Full("notas_batch_size".into()), BATCH_BUCKETS),
            (
                Matcher::Full("notas_batch_flush_seconds".into()),
                FLUSH_BUCKETS,
            ),
            (
                Matcher::Full("notas_queue_batch_size".into()),
                BATCH_BUCKETS,
            ),
            (
                Matcher::Full("notas_queue_time_to_stored_seconds".into()),
                TIME_TO_STORED_BUCKETS,
            ),
        ];
        let recorder = buckets
            .into_iter()
            .try_fold(PrometheusBuilder::new(), |b, (matcher, buckets)| {
                b.set_buckets_for_metric(matcher, buckets)
            })
            .expect("bucket lists are non-empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed by an embedding program; keep ours usable.
        let _ = metrics::set_global_recorder(recorder);
        PROCESS.describe();
        // Histograms accumulate samples until rendered; drain them even if nobody scrapes.
        let upkeep = handle.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// The Prometheus text exposition of every metric recorded so far, this process's CPU and
/// memory read just before.
pub fn render() -> String {
    let handle = handle();
    PROCESS.collect();
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// The value of the unlabelled series `name`.
    fn value(text: &str, name: &str) -> f64 {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '));
        let value = line.unwrap_or_else(|| panic!("no {name} in\n{text}"));
        value.parse().unwrap()
    }

    fn cpu_seconds() -> f64 {
        value(&render(), "process_cpu_seconds_total")
    }

    #[test]
    fn this_process_cpu_time_moves_in_fractions_of_a_second() {
        let before = cpu_seconds();
        assert!(before >= 0.0);
        // Burn CPU until the next clock tick is counted: a few milliseconds, not a second.
        let mut after = before;
        for round in 0..100_000u64 {
            (0..100_000u64).fold(round, |x, i| black_box(x.wrapping_mul(31) ^ i));
            after = cpu_seconds();
            if after > before {
                break;
            }
        }
        assert!(after > before, "CPU time never moved from {before}");
        assert!(after - before < 1.0, "{before} then {after}: whole seconds");
    }

    #[test]
    fn this_process_resident_memory_is_exported() {
        let resident = value(&render(), "process_resident_memory_bytes");
        assert!(resident > 1024.0 * 1024.0, "{resident} bytes");
    }
}
