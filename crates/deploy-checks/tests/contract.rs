//! The facts the Python tools and the frontend copy from the services are the services' own:
//! `scripts/common/contract.py` (printed by `python3 -m scripts.common.contract`) and `frontend/src/api.ts`
//! against the courses and semesters of `notas_core::grade`, its pass mark, the routes' names
//! (`notas_core::route`, the frontend's), the live view's keys of `notas_core::live`, and the
//! defaults in each binary's clap definition. A change on one side fails here, naming the
//! fact and both values, until the other side follows.

mod common;

use common::cluster::commands;
use common::{repo, run};
use notas_core::grade::{Course, PASS_THRESHOLD, Semester};
use notas_core::live::{LiveKeys, count_field};
use notas_core::route::Route;
use serde_json::{Value, json};
use std::process::Command;

/// Grade ids on both sides of the `applied` bitmaps' boundaries (2^20 ids each), and past 2^32.
const IDS: [u64; 6] = [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 5, (1 << 32) + 7];

/// What `python3 -m scripts.common.contract IDS...` prints: the Python tools' copy of every fact.
fn python() -> Value {
    let mut command = Command::new("python3");
    command
        .current_dir(repo())
        .args(["-m", "scripts.common.contract"])
        .args(IDS.map(|id| id.to_string()));
    serde_json::from_str(&run(&mut command, "python3")).unwrap()
}

/// The facts whose value in the copy (the file `copy`) differs from the Rust one.
struct Differences {
    copy: &'static str,
    found: Vec<String>,
}

impl Differences {
    fn of(copy: &'static str) -> Self {
        Differences {
            copy,
            found: vec![],
        }
    }

    fn compare(&mut self, fact: &str, rust: Value, copied: &Value) {
        if &rust != copied {
            let copy = self.copy;
            self.found
                .push(format!("{fact}: Rust has {rust}, {copy} has {copied}"));
        }
    }

    fn assert_none(self) {
        assert!(self.found.is_empty(), "\n{}", self.found.join("\n"));
    }
}

fn courses() -> Value {
    json!(Course::ALL.map(Course::code))
}

fn semesters() -> Value {
    json!(Semester::ALL.map(Semester::code))
}

/// Each binary's default for the setting read from `variable`, by binary.
fn clap_defaults(variable: &str) -> Vec<(&'static str, String)> {
    commands()
        .into_iter()
        .filter_map(|(binary, command)| {
            let argument = command
                .get_arguments()
                .find(|a| a.get_env().is_some_and(|e| e == variable))?;
            let default = argument.get_default_values().first()?;
            Some((binary, default.to_string_lossy().into_owned()))
        })
        .collect()
}

#[test]
fn the_python_tools_facts_are_the_services() {
    let python = python();
    let mut differences = Differences::of("scripts/common/contract.py");
    differences.compare("the courses", courses(), &python["courses"]);
    differences.compare("the semesters", semesters(), &python["semesters"]);
    differences.compare("the pass mark", json!(PASS_THRESHOLD), &python["pass_mark"]);

    let defaults = python["defaults"].as_object().unwrap();
    assert!(defaults.len() >= 4, "{defaults:?}");
    for (variable, value) in defaults {
        let rust = clap_defaults(variable);
        assert!(
            !rust.is_empty(),
            "scripts/common/contract.py: no binary reads {variable}"
        );
        for (binary, default) in rust {
            let fact = format!("{variable}'s default in {binary}");
            differences.compare(&fact, json!(default), value);
        }
    }

    // The live view's keys under the binaries' default prefix.
    let (_, prefix) = &clap_defaults("REDIS_KEY_PREFIX")[0];
    let keys = LiveKeys::new(prefix);
    let python_keys = &python["keys"];
    differences.compare(
        "the total's key",
        json!(keys.total()),
        &python_keys["total"],
    );
    differences.compare(
        "the counts' key",
        json!(keys.counts()),
        &python_keys["counts"],
    );
    let field = &python_keys["count_field"];
    let (course, semester) = (
        Course::from_code(field["curso"].as_str().unwrap()).unwrap(),
        Semester::from_code(field["semestre"].as_str().unwrap()).unwrap(),
    );
    let year = u16::try_from(field["year"].as_u64().unwrap()).unwrap();
    differences.compare(
        &format!("the counts' field for {course} {semester} {year}"),
        json!(count_field(course, semester, year)),
        &field["field"],
    );
    for id in IDS {
        differences.compare(
            &format!("the applied bitmap and bit of grade {id}"),
            json!(keys.applied(id)),
            &python_keys["applied"][id.to_string()],
        );
    }
    differences.assert_none();
}

/// The array of strings `export const NAME = [...]` in `text`.
fn typescript_strings(text: &str, name: &str) -> Value {
    let start = format!("export const {name} = [");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&start))
        .unwrap_or_else(|| panic!("no `{start}` line"));
    let items = line.split(']').next().unwrap().split(',');
    json!(
        items
            .map(|s| s.trim().trim_matches('"'))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    )
}

#[test]
fn the_frontends_facts_are_the_services() {
    const API: &str = "frontend/src/api.ts";
    let text = std::fs::read_to_string(repo().join(API)).unwrap();
    let pass_mark = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("export const PASS_MARK = ")?
                .strip_suffix(';')
        })
        .and_then(|n| n.parse::<u8>().ok())
        .expect("no `export const PASS_MARK = <number>;` line");
    let mut differences = Differences::of(API);
    differences.compare(
        "the courses",
        courses(),
        &typescript_strings(&text, "COURSES"),
    );
    differences.compare(
        "the semesters",
        semesters(),
        &typescript_strings(&text, "SEMESTERS"),
    );
    differences.compare("the pass mark", json!(PASS_THRESHOLD), &json!(pass_mark));
    differences.compare(
        "the routes' names",
        json!(Route::ALL.map(Route::as_str)),
        &typescript_strings(&text, "ROUTE_NAMES"),
    );
    differences.assert_none();
}
