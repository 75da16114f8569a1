//! Readings of `/proc` trees: the fixtures under `tests/fixtures/` (`proc-before` then
//! `proc-after`, one interval later), and this machine's own with a stopped process and a
//! zombie made for the test.

use crate::helpers::fixture;
use chrono::{TimeZone, Utc};
use monitor::{
    proc_stats::{CpuTicks, Memory, ProcessCounts, Reading, Sample, hostname},
    publish::Report,
};
use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command},
    time::{Duration, Instant},
};

const KIB: u64 = 1024;

#[test]
fn a_fixture_tree_is_read_exactly() {
    let reading = Reading::take(&fixture("proc-after")).unwrap();
    let states: HashMap<i32, char> = [
        (1, 'S'),
        (2, 'S'),
        (3, 'I'),
        (10, 'R'),
        (11, 'R'), // its command name has parentheses and spaces
        (20, 'D'),
        (21, 'P'),
        (30, 'Z'),
        (40, 'T'),
        (41, 't'),
    ]
    .into();
    assert_eq!(reading.states, states, "every <pid>/stat, and nothing else");
    assert_eq!(
        reading.memory,
        Memory {
            total: 24_576_000 * KIB,
            available: 9_216_000 * KIB,
        }
    );
    assert_eq!(
        reading.cpu,
        CpuTicks {
            total: 1800,
            idle: 1380 + 90
        },
        "all CPUs, guest time counted once (in user)"
    );
}

#[test]
fn processes_are_counted_in_the_briefs_states() {
    let reading = Reading::take(&fixture("proc-after")).unwrap();
    let counts = ProcessCounts::of(reading.states.values());
    assert_eq!(
        counts,
        ProcessCounts {
            running: 2,  // R
            sleeping: 5, // S, S, I, D, and P (any state not listed)
            zombie: 1,   // Z
            stopped: 2,  // T, t
        }
    );
    assert_eq!(counts.total(), 10);
}

#[test]
fn two_readings_make_a_sample_in_the_briefs_json() {
    let before = Reading::take(&fixture("proc-before")).unwrap();
    let after = Reading::take(&fixture("proc-after")).unwrap();
    let sample = Sample::between(&before, &after);
    // 800 ticks later, 580 of them idle and 40 waiting for I/O: 180 busy.
    assert!((sample.cpu_usage_percent - 22.5).abs() < 1e-9, "{sample:?}");
    assert_eq!(
        sample.memory, after.memory,
        "memory at the end of the interval"
    );

    let at = Utc.with_ymd_and_hms(2026, 11, 23, 23, 10, 0).unwrap();
    let json = serde_json::to_string(&Report::new("fixture-node", &sample, at)).unwrap();
    assert_eq!(
        json,
        r#"{"host":"fixture-node","hora":"2026-11-23 23:10:00","total_ram":24000,"ram_libre":9000,"uso_ram":15000,"porcentaje_ram":62.5,"porcentaje_cpu_uso":22.5,"porcentaje_cpu_libre":77.5,"procesos_corriendo":2,"total_procesos":10,"procesos_durmiendo":5,"procesos_zombie":1,"procesos_parados":2}"#
    );
}

#[test]
fn percentages_have_one_decimal_and_ram_adds_up() {
    let sample = Sample {
        cpu_usage_percent: 100.0 / 3.0,
        memory: Memory {
            total: 2_000 * 1024 * KIB + 700 * KIB,     // 2000.68 MB
            available: 1_000 * 1024 * KIB + 600 * KIB, // 1000.59 MB
        },
        processes: ProcessCounts::default(),
    };
    let report = Report::new("h", &sample, Utc::now());
    assert_eq!(
        (report.porcentaje_cpu_uso, report.porcentaje_cpu_libre),
        (33.3, 66.7)
    );
    assert_eq!((report.total_ram, report.ram_libre), (2001, 1001));
    assert_eq!(report.uso_ram, 1000, "total_ram = ram_libre + uso_ram");
    assert_eq!(report.porcentaje_ram, 50.0);
}

#[test]
fn no_time_between_readings_is_no_cpu_usage() {
    let reading = Reading::take(&fixture("proc-after")).unwrap();
    assert_eq!(Sample::between(&reading, &reading).cpu_usage_percent, 0.0);
}

#[test]
fn the_host_name_is_the_one_under_the_root() {
    assert_eq!(hostname(&fixture("proc-after")).unwrap(), "fixture-node");
}

#[test]
fn a_tree_that_is_not_proc_is_an_error() {
    assert!(Reading::take(&fixture("proc-after").join("sys")).is_err());
    assert!(Reading::take(&fixture("no-such-tree")).is_err());
}

/// A child process killed (if still running) and reaped when dropped, even if the test
/// fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_stopped_process_and_a_zombie_are_counted_on_this_machine() {
    let stopped = Reaped(Command::new("sleep").arg("30").spawn().unwrap());
    let stop = Command::new("kill")
        .args(["-STOP", &stopped.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    // Not waited for until the end: once it exits it stays a zombie.
    let zombie = Reaped(Command::new("true").spawn().unwrap());
    let (stopped_pid, zombie_pid) = (stopped.0.id() as i32, zombie.0.id() as i32);

    let deadline = Instant::now() + Duration::from_secs(5);
    let reading = loop {
        let reading = Reading::take(Path::new("/proc")).unwrap();
        let settled = reading.states.get(&stopped_pid) == Some(&'T')
            && reading.states.get(&zombie_pid) == Some(&'Z');
        if settled || Instant::now() > deadline {
            break reading;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        reading.states.get(&stopped_pid),
        Some(&'T'),
        "sleep, stopped"
    );
    assert_eq!(reading.states.get(&zombie_pid), Some(&'Z'), "true, exited");
    let counts = ProcessCounts::of(reading.states.values());
    assert!(counts.stopped >= 1 && counts.zombie >= 1, "{counts:?}");
    assert_eq!(counts.total(), reading.states.len() as u64);
    assert!(
        reading.memory.total > reading.memory.available,
        "{:?}",
        reading.memory
    );
    drop((stopped, zombie));
}
