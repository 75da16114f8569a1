//! Where each sample goes: the Prometheus gauges of `/metrics`, and the Redis feed that
//! dashboard-api lists and pushes to browsers, written in one atomic round trip.
//!
//! Keys in [`notas_core::live`]: each host's list keeps its last [`HISTORY_LEN`] samples
//! (five minutes at one a second) and goes ten minutes after the last.
//!
//! Gauges, labelled `host`: `notas_host_cpu_usage_percent`, `notas_host_memory_bytes`
//! (`kind`: `total`, `used`, `free`), `notas_host_memory_usage_percent`,
//! `notas_host_processes` (`state`: `running`, `sleeping`, `zombie`, `stopped`); and, labelled
//! `host` and `process` (each watched name), `notas_host_process_cpu_seconds_total` and
//! `notas_host_process_resident_memory_bytes`. The CPU seconds are a gauge only because a
//! `metrics` counter counts whole numbers; the value never goes down, so `rate()` reads it.

use crate::{proc_stats::Sample, process_totals::NameTotal};
use chrono::{DateTime, Utc};
use notas_core::{live::LiveKeys, store::StoreError};
use redis::aio::ConnectionManager;
use serde::Serialize;

/// Samples kept per host.
pub const HISTORY_LEN: isize = 300;
/// How long a host's list outlives its last sample, in seconds.
const HISTORY_TTL_SECS: i64 = 600;
const MIB: u64 = 1024 * 1024;

/// One sample as JSON, with the field names of the VM-monitoring brief the dashboard's
/// users know: RAM in MB, percentages with one decimal, `hora` in UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub host: String,
    pub hora: String,
    pub total_ram: u64,
    pub ram_libre: u64,
    pub uso_ram: u64,
    pub porcentaje_ram: f64,
    pub porcentaje_cpu_uso: f64,
    pub porcentaje_cpu_libre: f64,
    pub procesos_corriendo: u64,
    pub total_procesos: u64,
    pub procesos_durmiendo: u64,
    pub procesos_zombie: u64,
    pub procesos_parados: u64,
}

impl Report {
    pub fn new(host: &str, sample: &Sample, at: DateTime<Utc>) -> Report {
        let (memory, processes) = (sample.memory, sample.processes);
        let (total_ram, ram_libre) = (mib(memory.total), mib(memory.available));
        let porcentaje_cpu_uso = one_decimal(sample.cpu_usage_percent);
        Report {
            host: host.to_owned(),
            hora: at.format("%Y-%m-%d %H:%M:%S").to_string(),
            total_ram,
            ram_libre,
            // From the rounded figures, so that total_ram = ram_libre + uso_ram.
            uso_ram: total_ram.saturating_sub(ram_libre),
            porcentaje_ram: one_decimal(memory.usage_percent()),
            porcentaje_cpu_uso,
            porcentaje_cpu_libre: one_decimal(100.0 - porcentaje_cpu_uso),
            procesos_corriendo: processes.running,
            total_procesos: processes.total(),
            procesos_durmiendo: processes.sleeping,
            procesos_zombie: processes.zombie,
            procesos_parados: processes.stopped,
        }
    }
}

fn mib(bytes: u64) -> u64 {
    (bytes + MIB / 2) / MIB
}

fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Sends one host's samples to the gauges and to Redis.
pub struct Publisher {
    redis: ConnectionManager,
    keys: LiveKeys,
    host: String,
}

impl Publisher {
    pub fn new(redis: ConnectionManager, keys: LiveKeys, host: String) -> Publisher {
        Publisher { redis, keys, host }
    }

    /// Sets the gauges, the watched processes' among them, then writes the sample to Redis.
    ///
    /// # Errors
    /// Redis failed or did not answer in time (counted in `notas_store_errors_total`); the
    /// gauges are set all the same.
    pub async fn publish(
        &self,
        sample: &Sample,
        processes: &[NameTotal],
    ) -> Result<(), StoreError> {
        self.record_gauges(sample);
        self.record_processes(processes);
        let at = Utc::now();
        let json = serde_json::to_string(&Report::new(&self.host, sample, at))
            .expect("a report serializes");
        let list = self.keys.host(&self.host);
        redis::pipe()
            .atomic()
            .lpush(&list, &json)
            .ignore()
            .ltrim(&list, 0, HISTORY_LEN - 1)
            .ignore()
            .expire(&list, HISTORY_TTL_SECS)
            .ignore()
            .zadd(self.keys.hosts(), &self.host, at.timestamp())
            .ignore()
            .publish(self.keys.host_events(), &json)
            .ignore()
            .query_async::<()>(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    fn record_gauges(&self, sample: &Sample) {
        let (memory, processes) = (sample.memory, sample.processes);
        let host = || ("host", self.host.clone());
        metrics::gauge!("notas_host_cpu_usage_percent", &[host()]).set(sample.cpu_usage_percent);
        for (kind, bytes) in [
            ("total", memory.total),
            ("used", memory.used()),
            ("free", memory.available),
        ] {
            metrics::gauge!(
                "notas_host_memory_bytes",
                &[host(), ("kind", kind.to_owned())]
            )
            .set(bytes as f64);
        }
        metrics::gauge!("notas_host_memory_usage_percent", &[host()]).set(memory.usage_percent());
        for (state, count) in [
            ("running", processes.running),
            ("sleeping", processes.sleeping),
            ("zombie", processes.zombie),
            ("stopped", processes.stopped),
        ] {
            metrics::gauge!(
                "notas_host_processes",
                &[host(), ("state", state.to_owned())]
            )
            .set(count as f64);
        }
    }

    fn record_processes(&self, processes: &[NameTotal]) {
        for process in processes {
            let labels = [
                ("host", self.host.clone()),
                ("process", process.name.clone()),
            ];
            metrics::gauge!("notas_host_process_cpu_seconds_total", &labels)
                .set(process.cpu_seconds());
            metrics::gauge!("notas_host_process_resident_memory_bytes", &labels)
                .set(process.resident_bytes as f64);
        }
    }
}
