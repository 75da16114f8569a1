//! Each watched name's CPU time and resident memory, summed over its processes (nginx's
//! master and workers, say). A process that exits leaves the sum, so the CPU time it had at
//! its last reading is kept aside: the total never goes down, as a Prometheus `_total` must
//! not. What it used after that reading, less than one interval's worth, is not counted.

use crate::proc_stats::Reading;
use std::{collections::HashMap, sync::Arc};

/// One watched name's processes, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTotal {
    pub name: String,
    /// User and system time of its processes since each started, exited ones included, in
    /// clock ticks.
    pub cpu_ticks: u64,
    /// Of its live processes (pages they share are counted in each).
    pub resident_bytes: u64,
}

impl NameTotal {
    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_ticks as f64 / procfs::ticks_per_second() as f64
    }
}

pub struct ProcessTotals {
    /// Every watched name, so that one without a process is reported as zero.
    names: Arc<[String]>,
    /// The CPU ticks of each name's exited processes.
    exited: HashMap<String, u64>,
}

impl ProcessTotals {
    /// Watches `names`, each once; an empty one (`MONITOR_PROCESSES=`) is none.
    pub fn new(names: &[String]) -> ProcessTotals {
        let mut unique: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
        unique.sort_unstable();
        unique.dedup();
        ProcessTotals {
            names: unique.into(),
            exited: HashMap::new(),
        }
    }

    pub fn names(&self) -> Arc<[String]> {
        Arc::clone(&self.names)
    }

    /// The totals at `later`, the processes seen at `earlier` and gone since added to the
    /// exited ones. Called with each pair of consecutive readings.
    pub fn between(&mut self, earlier: &Reading, later: &Reading) -> Vec<NameTotal> {
        for (key, process) in &earlier.watched {
            if !later.watched.contains_key(key) {
                *self.exited.entry(process.name.clone()).or_default() += process.cpu_ticks;
            }
        }
        self.names
            .iter()
            .map(|name| {
                let live = later.watched.values().filter(|p| &p.name == name);
                let (cpu_ticks, resident_bytes) = live.fold((0, 0), |(cpu, rss), p| {
                    (cpu + p.cpu_ticks, rss + p.resident_bytes)
                });
                NameTotal {
                    name: name.clone(),
                    cpu_ticks: cpu_ticks + self.exited.get(name).copied().unwrap_or(0),
                    resident_bytes,
                }
            })
            .collect()
    }
}
