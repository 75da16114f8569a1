//! README's "How a grade flows" held to the code. Each route's walk is a list of steps
//! written "`path`, `start`": the file a reader opens and where to start reading in it.
//! The walk must be followable: every file exists and defines its start, every start is
//! named in a file opened before it (where go-to-definition comes from), the count of
//! files the walk announces is the count it lists, and each route's writer (an
//! `impl Flush for`) is on its route's walk.

mod common;

use std::{collections::BTreeSet, fs};

/// One step: a file, and the item in it where reading starts (`Type::method` or a name).
#[derive(Debug)]
struct Step {
    path: String,
    start: String,
}

/// A route's walk: the files it announces ("11 files") and its steps in order.
#[derive(Debug)]
struct Walk {
    title: String,
    announced: usize,
    steps: Vec<Step>,
}

fn section() -> String {
    let readme = fs::read_to_string(common::repo().join("README.md")).unwrap();
    let start = readme
        .find("## How a grade flows")
        .expect("README has a section \"How a grade flows\"");
    let rest = &readme[start + 3..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
}

/// The backticked spans of `text`, in order.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn looks_like_path(span: &str) -> bool {
    span.contains('/') && span.rsplit('/').next().unwrap().contains('.')
}

fn walks(section: &str) -> Vec<Walk> {
    section
        .split("\n**")
        .skip(1)
        .map(|block| {
            let title = block[..block.find("**").unwrap()].to_owned();
            let announced = block
                .split_once("), ")
                .and_then(|(_, rest)| rest.split_once(" files:"))
                .and_then(|(n, _)| n.parse().ok())
                .unwrap_or_else(|| panic!("{title}: the walk says how many files, \"N files:\""));
            // "`path`, `start`" pairs: a path span followed by ", " and a span.
            let mut steps = Vec::new();
            let spans: Vec<&str> = block.split('`').collect();
            for i in (1..spans.len().saturating_sub(2)).step_by(2) {
                if looks_like_path(spans[i]) && spans[i + 1] == ", " {
                    steps.push(Step {
                        path: spans[i].to_owned(),
                        start: spans[i + 2].to_owned(),
                    });
                }
            }
            Walk {
                title,
                announced,
                steps,
            }
        })
        .collect()
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = text[..at].chars().next_back().is_none_or(|c| !ident(c));
        let after = text[at + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

/// Whether `text` defines `name` (Rust items, and the proto's messages and calls).
fn defines(text: &str, name: &str) -> bool {
    const KINDS: [&str; 9] = [
        "fn", "struct", "enum", "trait", "type", "const", "static", "message", "rpc",
    ];
    KINDS
        .iter()
        .any(|kind| has_word(text, &format!("{kind} {name}")))
}

fn read(path: &str) -> String {
    fs::read_to_string(common::repo().join(path))
        .unwrap_or_else(|e| panic!("README's walk names {path}, which cannot be read: {e}"))
}

#[test]
fn every_path_the_walk_names_exists() {
    let section = section();
    let missing: Vec<&str> = code_spans(&section)
        .into_iter()
        .filter(|span| looks_like_path(span) && !common::repo().join(span).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "README's walk names missing files: {missing:?}"
    );
}

#[test]
fn each_walk_can_be_followed_by_go_to_definition() {
    let walks = walks(&section());
    assert_eq!(walks.len(), 3, "a walk for each route: {walks:?}");
    for walk in &walks {
        let files: BTreeSet<&str> = walk.steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            files.len(),
            walk.announced,
            "{}: announces {} files and lists {files:?}",
            walk.title,
            walk.announced
        );
        let first = read(&walk.steps[0].path);
        assert!(
            first.contains("\"/notas\""),
            "{}: the walk starts at the router of POST /notas",
            walk.title
        );
        let mut opened = String::new();
        for (i, step) in walk.steps.iter().enumerate() {
            let text = read(&step.path);
            let (owner, item) = match step.start.split_once("::") {
                Some((owner, item)) => (Some(owner), item),
                None => (None, step.start.as_str()),
            };
            assert!(
                defines(&text, item) && owner.is_none_or(|o| has_word(&text, o)),
                "{}: {} does not define `{}`",
                walk.title,
                step.path,
                step.start
            );
            if i > 0 {
                let reached = has_word(&opened, item) && owner.is_none_or(|o| has_word(&opened, o));
                assert!(
                    reached,
                    "{}: no file opened before {} names `{}`: a step is missing before it",
                    walk.title, step.path, step.start
                );
            }
            opened.push_str(&text);
        }
    }
}

#[test]
fn every_writer_is_on_a_walk() {
    let named: BTreeSet<String> = walks(&section())
        .into_iter()
        .flat_map(|w| w.steps.into_iter().map(|s| s.path))
        .collect();
    let crates = common::repo().join("crates");
    let mut writers = Vec::new();
    for krate in fs::read_dir(&crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        let mut folders = vec![src];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && fs::read_to_string(&path)
                        .unwrap()
                        .lines()
                        .any(|l| l.starts_with("impl Flush for"))
                {
                    let relative = path.strip_prefix(common::repo()).unwrap();
                    writers.push(relative.to_string_lossy().into_owned());
                }
            }
        }
    }
    assert!(
        !writers.is_empty(),
        "no `impl Flush for` found under crates/"
    );
    let unnamed: Vec<&String> = writers.iter().filter(|w| !named.contains(*w)).collect();
    assert!(
        unnamed.is_empty(),
        "writers missing from README's walk: {unnamed:?}"
    );
}
