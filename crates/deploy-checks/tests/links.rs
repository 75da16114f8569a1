//! Every relative link in README.md and docs/ resolves: the file it names exists, and an
//! `#anchor` names a heading of that file. The Markdown is parsed with pulldown-cmark, so a
//! link is what a reader can click, not a bracket that only looks like one; anchors are
//! GitHub's heading slugs, since GitHub is where the docs are read.

mod common;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

/// README.md and every Markdown file under docs/, sorted, each with its text.
fn documents() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let repo = common::repo();
    let mut files = vec![repo.join("README.md")];
    walk(&repo.join("docs"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

/// `file` as the repository names it.
fn name(file: &Path) -> String {
    file.strip_prefix(common::repo())
        .unwrap()
        .display()
        .to_string()
}

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_TABLES)
}

/// The destinations of every link and image in `text`.
fn destinations(text: &str) -> Vec<String> {
    parser(text)
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(dest_url.into_string())
            }
            _ => None,
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of every heading in `text`; a repeated heading gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap());
                let n = seen.entry(base.clone()).or_default();
                out.push(if *n == 0 { base } else { format!("{base}-{n}") });
                *n += 1;
            }
            _ => {}
        }
    }
    out
}

/// The links of `text`, written in `file`, that do not resolve, each with why.
fn broken(file: &Path, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for dest in destinations(text) {
        if dest.contains("://") || dest.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = match dest.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (dest.as_str(), None),
        };
        let target = file.parent().unwrap().join(path);
        if !path.is_empty() && !target.exists() {
            out.push(format!("{dest}: no such file"));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        let headings = if path.is_empty() {
            anchors(text)
        } else {
            fs::read_to_string(&target)
                .map(|t| anchors(&t))
                .unwrap_or_default()
        };
        if !headings.iter().any(|h| h == anchor) {
            let place = if path.is_empty() { "this file" } else { path };
            out.push(format!("{dest}: no heading #{anchor} in {place}"));
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let problems: Vec<String> = documents()
        .iter()
        .flat_map(|(file, text)| {
            broken(file, text)
                .into_iter()
                .map(move |p| format!("{}: {p}", name(file)))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_page_of_docs_is_linked_from_another() {
    let documents = documents();
    let linked: Vec<PathBuf> = documents
        .iter()
        .flat_map(|(file, text)| {
            destinations(text)
                .into_iter()
                .filter(|dest| !dest.starts_with('#') && !dest.contains("://"))
                .filter_map(|dest| {
                    let path = dest.split('#').next().unwrap().to_owned();
                    file.parent().unwrap().join(path).canonicalize().ok()
                })
        })
        .collect();
    let orphans: Vec<String> = documents
        .iter()
        .map(|(file, _)| file)
        .filter(|f| **f != common::repo().join("README.md"))
        .filter(|f| !linked.contains(&f.canonicalize().unwrap()))
        .map(|f| name(f))
        .collect();
    assert!(
        orphans.is_empty(),
        "pages no other page links to: {orphans:?}"
    );
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(slug("Route 3's contract"), "route-3s-contract");
    assert_eq!(slug("Faults: just chaos"), "faults-just-chaos");
    assert_eq!(slug("Targets (2 cores)"), "targets-2-cores");
    assert_eq!(slug("socket.io"), "socketio");
    let text = "# A\n## `just smoke`\n## A\n";
    assert_eq!(anchors(text), ["a", "just-smoke", "a-1"]);
}

#[test]
fn a_broken_link_is_named() {
    let readme = common::repo().join("README.md");
    let text = "[ok](README.md#quick-start) [file](no/such.md) [anchor](#no-such-heading) \
                [here](#here) [web](https://example.org/x) `[code](no/such.md)`\n\n# Here\n";
    assert_eq!(
        broken(&readme, text),
        [
            "no/such.md: no such file",
            "#no-such-heading: no heading #no-such-heading in this file"
        ]
    );
}
