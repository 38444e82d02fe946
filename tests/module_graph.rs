//! Dependencies between modules run one way: no module of the crates (or of
//! the benchmark) uses a module that uses it back, directly or through
//! others. The graph is read from the sources: every `use` path and every
//! `crate::`, `super::` or `self::` path outside the unit tests, resolved
//! to the file of the module it names. A folder's `mod.rs` that re-exports
//! its files counts as using them, so its files must not use it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`run::drive`, `""` for the crate root) to its source.
fn modules(root: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a readable source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(root).expect("under the root");
            let mut name = relative
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            if name.ends_with("/mod") {
                name.truncate(name.len() - "/mod".len());
            }
            if name == "lib" || name == "main" {
                name.clear();
            }
            let source = std::fs::read_to_string(&path).expect("a readable file");
            found.insert(name.replace('/', "::"), source);
        }
    }
    found
}

/// The source without unit tests and comments.
fn code(source: &str) -> String {
    let source = source.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` names, with its braces expanded.
fn use_paths(code: &str) -> Vec<String> {
    fn expand(prefix: &str, body: &str, out: &mut Vec<String>) {
        let (mut depth, mut part) = (0, String::new());
        let mut parts = Vec::new();
        for ch in body.chars() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(std::mem::take(&mut part));
                    continue;
                }
                _ => {}
            }
            part.push(ch);
        }
        parts.push(part);
        for part in parts {
            let part = part.trim();
            match part.find("::{") {
                Some(at) if part.ends_with('}') => {
                    let inner = &part[at + 3..part.len() - 1];
                    expand(&format!("{prefix}{}::", &part[..at]), inner, out);
                }
                _ if !part.is_empty() => {
                    let path = part.split(" as ").next().unwrap_or(part).trim();
                    out.push(format!("{prefix}{path}"));
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for statement in code.split(';') {
        let Some(at) = statement.find("use ") else {
            continue;
        };
        let starts_a_word = at == 0
            || !statement[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if starts_a_word {
            expand("", &statement[at + 4..], &mut out);
        }
    }
    // Paths written in place, such as `crate::backoff::Backoff` in a bound.
    for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        if ["crate::", "super::", "self::"]
            .iter()
            .any(|root| word.starts_with(root))
        {
            out.push(word.trim_end_matches(':').to_owned());
        }
    }
    out
}

/// The module `path`, used from `from`, names: the longest known prefix.
fn resolve(from: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = from.split("::").filter(|s| !s.is_empty()).collect();
    match segments.first().copied() {
        Some("crate") => {
            base.clear();
            segments.remove(0);
        }
        Some("super") | Some("self") => {
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
            if segments.first() == Some(&"self") {
                segments.remove(0);
            }
        }
        Some(first) => {
            let child = if from.is_empty() {
                first.to_owned()
            } else {
                format!("{from}::{first}")
            };
            if !known.contains(&child) {
                return None;
            }
        }
        None => return None,
    }
    let full: Vec<&str> = base.into_iter().chain(segments).collect();
    (0..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|candidate| known.contains(candidate))
}

/// The cycles of the module graph of the sources under `root`.
fn cycles(root: &Path) -> Vec<Vec<String>> {
    let modules = modules(root);
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, source) in &modules {
        let targets = use_paths(&code(source))
            .into_iter()
            .filter_map(|path| resolve(name, &path, &known))
            .filter(|target| target != name)
            .collect();
        edges.insert(name.clone(), targets);
    }
    // A module is in a cycle when it reaches itself.
    let mut found: Vec<Vec<String>> = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = edges[start].iter().collect();
        while let Some(next) = stack.pop() {
            if next == start {
                let mut cycle: Vec<String> = edges
                    .keys()
                    .filter(|m| reaches(&edges, start, m) && reaches(&edges, m, start))
                    .cloned()
                    .collect();
                cycle.sort();
                if !found.contains(&cycle) {
                    found.push(cycle);
                }
                break;
            }
            if seen.insert(next) {
                stack.extend(edges.get(next).into_iter().flatten());
            }
        }
    }
    found
}

fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from];
    while let Some(next) = stack.pop() {
        if next == to && next != from {
            return true;
        }
        for target in edges.get(next).into_iter().flatten() {
            if target == to {
                return true;
            }
            if seen.insert(target.as_str()) {
                stack.push(target);
            }
        }
    }
    false
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for crate_source in [
        "src",
        "tasks-runtime/src",
        "tasks-macros/src",
        "tasks-syntax/src",
        "tasks-stores/src",
        "bench/src",
    ] {
        let cycles = cycles(&root.join(crate_source));
        assert!(cycles.is_empty(), "{crate_source}: {cycles:?}");
    }
}

#[test]
fn the_check_finds_a_cycle() {
    let dir = std::env::temp_dir().join(format!("tasks-module-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod run;\nmod state;\n").unwrap();
    std::fs::write(dir.join("state.rs"), "use crate::run::drive::Drive;\n").unwrap();
    std::fs::write(
        dir.join("run/mod.rs"),
        "mod drive;\npub(crate) use drive::Drive;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("run/drive.rs"),
        "use crate::state::{State, Core};\npub struct Drive;\n",
    )
    .unwrap();
    let found = cycles(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, [vec!["run::drive".to_owned(), "state".to_owned()]]);
}
