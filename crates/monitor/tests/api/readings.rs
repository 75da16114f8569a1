//! Readings of `/proc` trees: the fixtures under `tests/fixtures/` (`proc-before` then
//! `proc-after`, one interval later: meanwhile nginx replaced a worker, whose pid went to
//! the new one), and this machine's own with a stopped process, a zombie and two processes
//! of one name made for the test.

use crate::helpers::fixture;
use chrono::{TimeZone, Utc};
use monitor::{
    proc_stats::{CpuTicks, Memory, ProcessCounts, Reading, Sample, Watched, hostname},
    process_totals::{NameTotal, ProcessTotals},
    publish::Report,
};
use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command},
    time::{Duration, Instant},
};

const KIB: u64 = 1024;

/// The monitor's default names, and one longer than the kernel keeps.
fn watched() -> Vec<String> {
    [
        "mariadbd",
        "redis-server",
        "nisshi",
        "nginx",
        "notas-long-name-daemon",
    ]
    .map(String::from)
    .to_vec()
}

fn take(fixture_name: &str) -> Reading {
    Reading::take(&fixture(fixture_name), &watched()).unwrap()
}

fn pages(count: u64) -> u64 {
    count * procfs::page_size()
}

#[test]
fn a_fixture_tree_is_read_exactly() {
    let reading = take("proc-after");
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
        (50, 'S'),
        (52, 'S'),
        (60, 'S'),
        (70, 'S'),
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
    let reading = take("proc-after");
    let counts = ProcessCounts::of(reading.states.values());
    assert_eq!(
        counts,
        ProcessCounts {
            running: 2,  // R
            sleeping: 9, // S (six), I, D, and P (any state not listed)
            zombie: 1,   // Z
            stopped: 2,  // T, t
        }
    );
    assert_eq!(counts.total(), 14);
}

#[test]
fn two_readings_make_a_sample_in_the_briefs_json() {
    let before = take("proc-before");
    let after = take("proc-after");
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
        r#"{"host":"fixture-node","hora":"2026-11-23 23:10:00","total_ram":24000,"ram_libre":9000,"uso_ram":15000,"porcentaje_ram":62.5,"porcentaje_cpu_uso":22.5,"porcentaje_cpu_libre":77.5,"procesos_corriendo":2,"total_procesos":14,"procesos_durmiendo":9,"procesos_zombie":1,"procesos_parados":2}"#
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
    let reading = take("proc-after");
    assert_eq!(Sample::between(&reading, &reading).cpu_usage_percent, 0.0);
}

#[test]
fn the_host_name_is_the_one_under_the_root() {
    assert_eq!(hostname(&fixture("proc-after")).unwrap(), "fixture-node");
}

#[test]
fn a_tree_that_is_not_proc_is_an_error() {
    assert!(Reading::take(&fixture("proc-after").join("sys"), &watched()).is_err());
    assert!(Reading::take(&fixture("no-such-tree"), &watched()).is_err());
}

#[test]
fn watched_processes_are_read_by_command_name() {
    let watched = |name: &str, cpu_ticks, resident_pages| Watched {
        name: name.to_owned(),
        cpu_ticks,
        resident_bytes: pages(resident_pages),
    };
    let expected: HashMap<(i32, u64), Watched> = [
        ((50, 1000), watched("nginx", 410, 1000)),
        ((52, 1200), watched("nginx", 30, 1500)),
        ((60, 900), watched("mariadbd", 6120, 50000)),
        // The kernel keeps "notas-long-name" of it.
        ((70, 1300), watched("notas-long-name-daemon", 10, 250)),
    ]
    .into();
    assert_eq!(take("proc-after").watched, expected);
    assert!(
        Reading::take(&fixture("proc-after"), &[])
            .unwrap()
            .watched
            .is_empty()
    );
}

#[test]
fn a_names_cpu_time_keeps_its_exited_processes() {
    let (before, after) = (take("proc-before"), take("proc-after"));
    let mut totals = ProcessTotals::new(&watched());
    let total = |name: &str, cpu_ticks, resident_pages| NameTotal {
        name: name.to_owned(),
        cpu_ticks,
        resident_bytes: pages(resident_pages),
    };
    assert_eq!(
        totals.between(&before, &before),
        [
            total("mariadbd", 6000, 50000),
            total("nginx", 400 + 200, 1000 + 2000),
            total("nisshi", 0, 0),
            total("notas-long-name-daemon", 0, 0),
            total("redis-server", 0, 0),
        ]
    );
    let later = totals.between(&before, &after);
    assert_eq!(
        later,
        [
            total("mariadbd", 6120, 50000),
            // The old worker's 200 ticks stay, though its pid now is the new worker's.
            total("nginx", 200 + 410 + 30, 1000 + 1500),
            total("nisshi", 0, 0),
            total("notas-long-name-daemon", 10, 250),
            total("redis-server", 0, 0),
        ]
    );
    assert_eq!(
        totals.between(&after, &after),
        later,
        "an exit is counted once"
    );
    let seconds = later[1].cpu_seconds() * procfs::ticks_per_second() as f64;
    assert!((seconds - 640.0).abs() < 1e-9, "{seconds}");
}

#[test]
fn each_name_is_watched_once_and_an_empty_one_not_at_all() {
    let names = ["nginx", "", "mariadbd", "nginx"].map(String::from);
    let totals = ProcessTotals::new(&names);
    assert_eq!(*totals.names(), ["mariadbd", "nginx"].map(String::from));
    assert!(ProcessTotals::new(&[String::new()]).names().is_empty());
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
        let reading = Reading::take(Path::new("/proc"), &[]).unwrap();
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

#[test]
fn processes_of_one_name_are_summed_on_this_machine() {
    // Two `sleep`s under a name of this test's own: a process's command name is that of the
    // link it was started through.
    let name = format!("nap{}", std::process::id());
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let sleep = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|folder| folder.join("sleep"))
        .find(|path| path.exists())
        .expect("sleep on PATH");
    let link = dir.join(&name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(sleep, &link).unwrap();
    let spawn = || Reaped(Command::new(&link).arg("30").spawn().unwrap());
    let (first, second) = (spawn(), spawn());
    let watched = [name.clone()];

    let both = Reading::take(Path::new("/proc"), &watched).unwrap();
    let mut pids: Vec<i32> = both.watched.keys().map(|(pid, _)| *pid).collect();
    pids.sort_unstable();
    let mut expected = [first.0.id() as i32, second.0.id() as i32];
    expected.sort_unstable();
    assert_eq!(pids, expected, "{:?}", both.watched);
    let mut totals = ProcessTotals::new(&watched);
    let [two] = totals.between(&both, &both).try_into().unwrap();
    let resident = |reading: &Reading, pid: u32| {
        let found = reading.watched.iter().find(|((p, _), _)| *p == pid as i32);
        found.map(|(_, process)| process.resident_bytes).unwrap()
    };
    assert!(resident(&both, first.0.id()) > 0);
    assert_eq!(
        two.resident_bytes,
        resident(&both, first.0.id()) + resident(&both, second.0.id())
    );

    let remaining = second.0.id();
    drop(first);
    let one = Reading::take(Path::new("/proc"), &watched).unwrap();
    let [after] = totals.between(&both, &one).try_into().unwrap();
    assert_eq!(one.watched.len(), 1);
    assert_eq!(after.resident_bytes, resident(&one, remaining));
    assert!(after.cpu_ticks >= two.cpu_ticks, "{two:?} then {after:?}");
    drop(second);
    std::fs::remove_dir_all(dir).unwrap();
}
