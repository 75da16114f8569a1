//! What the monitor reads from a `/proc` tree, and what it makes of it: a [`Reading`] is
//! the tree at one instant (CPU tick counters, memory, each process's state, the watched
//! processes' CPU and memory); two
//! consecutive readings make a [`Sample`], since CPU usage only exists between two instants.
//!
//! Pure apart from reading the files, so it runs as well on fixture trees as on the host's
//! `/proc` (mounted elsewhere in a container, hence the root is always passed in).

use procfs::{FromRead, FromReadSI, KernelStats, Meminfo, ProcError, ProcResult};
use std::{collections::HashMap, path::Path};

/// The `/proc` tree at one instant.
#[derive(Debug, Clone)]
pub struct Reading {
    pub cpu: CpuTicks,
    pub memory: Memory,
    /// The state letter of each process's `stat` (`R`, `S`, `D`, `Z`, ...) by pid.
    pub states: HashMap<i32, char>,
    /// The processes with a watched name, by pid and start time: a pid the kernel hands out
    /// again is another process.
    pub watched: HashMap<(i32, u64), Watched>,
}

/// A process with a watched name, at one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The watched name its command name matched.
    pub name: String,
    /// User and system time, in clock ticks.
    pub cpu_ticks: u64,
    pub resident_bytes: u64,
}

/// The kernel keeps the first 15 bytes of a command name (`TASK_COMM_LEN` less the NUL).
const COMM_LEN: usize = 15;

/// Whether the command name `comm` is `name`, cut as the kernel cuts it. The command name,
/// not the executable: Debian's `redis-server` is a link to `redis-check-rdb`.
fn is_named(comm: &str, name: &str) -> bool {
    comm.as_bytes() == &name.as_bytes()[..name.len().min(COMM_LEN)]
}

/// All CPUs' tick counters since boot (the `cpu` line of `/proc/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    pub total: u64,
    /// Idle and waiting for I/O: the CPU could have run something else.
    pub idle: u64,
}

/// Physical memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    /// What can be allocated without swapping (`MemAvailable`), not the smaller `MemFree`
    /// that leaves out the reclaimable page cache.
    pub available: u64,
}

impl Memory {
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.available)
    }

    pub fn usage_percent(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.used() as f64 * 100.0 / self.total as f64
    }
}

/// Processes by state, as the course brief groups them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCounts {
    /// `R`.
    pub running: u64,
    /// `S`, `D`, `I` (idle kernel threads) and any state not listed elsewhere.
    pub sleeping: u64,
    /// `Z`.
    pub zombie: u64,
    /// `T` (stopped by a signal) and `t` (stopped by a tracer).
    pub stopped: u64,
}

impl ProcessCounts {
    pub fn of<'a>(states: impl IntoIterator<Item = &'a char>) -> ProcessCounts {
        let mut counts = ProcessCounts::default();
        for state in states {
            match state {
                'R' => counts.running += 1,
                'Z' => counts.zombie += 1,
                'T' | 't' => counts.stopped += 1,
                _ => counts.sleeping += 1,
            }
        }
        counts
    }

    pub fn total(&self) -> u64 {
        self.running + self.sleeping + self.zombie + self.stopped
    }
}

/// The host between two readings: CPU usage over the interval, memory and processes at its
/// end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Busy share of all CPUs' time, 0 to 100.
    pub cpu_usage_percent: f64,
    pub memory: Memory,
    pub processes: ProcessCounts,
}

impl Sample {
    pub fn between(earlier: &Reading, later: &Reading) -> Sample {
        let total = later.cpu.total.saturating_sub(earlier.cpu.total);
        // iowait may go down between readings (proc(5)), so the busy share is clamped.
        let idle = later.cpu.idle.saturating_sub(earlier.cpu.idle).min(total);
        let cpu_usage_percent = if total == 0 {
            0.0
        } else {
            (total - idle) as f64 * 100.0 / total as f64
        };
        Sample {
            cpu_usage_percent,
            memory: later.memory,
            processes: ProcessCounts::of(later.states.values()),
        }
    }
}

impl Reading {
    /// Reads `<root>/stat`, `<root>/meminfo` and every `<root>/<pid>/stat`, keeping the CPU
    /// and memory of the processes named one of `watched`.
    ///
    /// # Errors
    /// A file is missing or malformed; a process that exits while the tree is read is not
    /// an error, it is left out.
    pub fn take(root: &Path, watched: &[String]) -> ProcResult<Reading> {
        let stat = KernelStats::from_file(root.join("stat"), procfs::current_system_info())?;
        let meminfo = Meminfo::from_file(root.join("meminfo"))?;
        let (mut states, mut named) = (HashMap::new(), HashMap::new());
        for process in procfs::process::all_processes_with_root(root)? {
            match process.and_then(|p| p.stat()) {
                Ok(stat) => {
                    states.insert(stat.pid, stat.state);
                    if let Some(name) = watched.iter().find(|name| is_named(&stat.comm, name)) {
                        let process = Watched {
                            name: name.clone(),
                            cpu_ticks: stat.utime + stat.stime,
                            resident_bytes: stat.rss * procfs::page_size(),
                        };
                        named.insert((stat.pid, stat.starttime), process);
                    }
                }
                Err(ProcError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Reading {
            cpu: cpu_ticks(&stat.total),
            memory: Memory {
                total: meminfo.mem_total,
                // Kernels before 3.14 have no MemAvailable.
                available: meminfo.mem_available.unwrap_or(meminfo.mem_free),
            },
            states,
            watched: named,
        })
    }
}

fn cpu_ticks(cpu: &procfs::CpuTime) -> CpuTicks {
    let iowait = cpu.iowait.unwrap_or(0);
    // guest and guest_nice are left out: the kernel already counts them in user and nice.
    let total = cpu.user
        + cpu.nice
        + cpu.system
        + cpu.idle
        + iowait
        + cpu.irq.unwrap_or(0)
        + cpu.softirq.unwrap_or(0)
        + cpu.steal.unwrap_or(0);
    CpuTicks {
        total,
        idle: cpu.idle + iowait,
    }
}

/// The machine's host name as the kernel under `root` gives it. In a pod this is usually the
/// pod's own name even with the host's `/proc` mounted (the kernel answers for the reader's
/// UTS namespace), which is why a DaemonSet sets `NODE_NAME` instead.
///
/// # Errors
/// `<root>/sys/kernel/hostname` cannot be read.
pub fn hostname(root: &Path) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(root.join("sys/kernel/hostname"))?
        .trim()
        .to_owned())
}
