//! Every path the documentation names is in the repository: the relative
//! links of the README, the changelog, the guides and the serenity bot's
//! README (and their `#anchors`, against the headings of the page they point
//! to), and every file or folder named in backticks (`src/cog.rs`,
//! `tasks-runtime/tests/schedule_time_zones.rs`), read from the page's folder or from
//! the repository's root. A test file renamed without its mentions fails
//! here. Fenced code blocks are left out: they are compiled as doctests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The pages a reader of the repository starts from, relative to the root.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = [
        "README.md",
        "CHANGELOG.md",
        "examples/serenity-bot/README.md",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let mut folders = vec![PathBuf::from("docs")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(root.join(&folder)).expect("a readable docs folder") {
            let name = PathBuf::from(entry.expect("a folder entry").file_name());
            let path = folder.join(name);
            if root.join(&path).is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                pages.push(path);
            }
        }
    }
    pages
}

/// The page's text outside its fenced code blocks.
fn prose(page: &str) -> String {
    let mut fenced = false;
    let mut kept = String::new();
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The anchors GitHub gives the page's headings: lower case, letters,
/// digits, `-` and `_` kept, spaces made `-`, the rest dropped.
fn anchors(page: &str) -> BTreeSet<String> {
    prose(page)
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The targets of the page's Markdown links, `](target)`.
fn links(prose: &str) -> Vec<&str> {
    prose
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target))
        .collect()
}

/// What the page names in backticks that reads as a path in the
/// repository: a `/`, and a file of the sources or docs or a folder.
fn named_paths(prose: &str) -> Vec<&str> {
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            span.contains('/')
                && !span.starts_with('/')
                && span
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
                && [".rs", ".md", ".toml", "/"]
                    .iter()
                    .any(|end| span.ends_with(end))
        })
        .collect()
}

#[test]
fn every_path_and_anchor_the_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for page in pages(root) {
        let text = std::fs::read_to_string(root.join(&page)).expect("a readable page");
        let folder = root.join(page.parent().expect("a page in a folder"));
        let prose = prose(&text);
        for target in links(&prose) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if path.is_empty() {
                root.join(&page)
            } else {
                folder.join(path)
            };
            if !linked.exists() {
                missing.push(format!("{}: link to {target}", page.display()));
            } else if !anchor.is_empty() && linked.extension().is_some_and(|ext| ext == "md") {
                let heads = anchors(&std::fs::read_to_string(&linked).expect("a readable page"));
                if !heads.contains(anchor) {
                    missing.push(format!("{}: no heading for {target}", page.display()));
                }
            }
        }
        for path in named_paths(&prose) {
            if !folder.join(path).exists() && !root.join(path).exists() {
                missing.push(format!("{}: `{path}`", page.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named in the docs but not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn anchors_are_read_as_github_writes_them() {
    let page = "# The `tasks` guide\n## 9. Running several replicas\n## 2. 정해진 시각에 실행하기\n```\n# not a heading\n```\n### Several replicas (`bench/run --cluster`)\n";
    let anchors = anchors(page);
    assert!(anchors.contains("the-tasks-guide"));
    assert!(anchors.contains("9-running-several-replicas"));
    assert!(anchors.contains("2-정해진-시각에-실행하기"));
    assert!(anchors.contains("several-replicas-benchrun---cluster"));
    assert!(!anchors.contains("not-a-heading"));
}
