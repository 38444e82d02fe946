//! The machine and the run, described beside every table: figures from a
//! shared or busy machine are noisy, so its load is part of them.

use std::path::Path;
use std::time::Duration;

use crate::records::{Record, DPY};

/// The machine and the run.
pub struct Machine {
    pub lines: Vec<(String, String)>,
}

impl Machine {
    pub fn detect(records: &[Record], quick: bool, took: Duration, load_before: String) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kib| format!("{:.1} GiB", kib / 1048576.0),
            );
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned());
        let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
            .arg("-V")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let python = records
            .iter()
            .find(|r| r.peer == DPY)
            .map_or_else(|| "not run".into(), |r| r.runtime.clone());
        let version = |name: &str| locked_version(name).unwrap_or_else(|| "?".into());
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let commit = match git(&["rev-parse", "--short", "HEAD"]) {
            Some(commit) => {
                let dirty = git(&[
                    "status",
                    "--porcelain",
                    "--",
                    "src",
                    "tasks-runtime",
                    "tasks-macros",
                    "tasks-syntax",
                    "Cargo.toml",
                ])
                .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{commit} with uncommitted changes to the library")
                } else {
                    commit
                }
            }
            None => "unknown (not a git checkout)".into(),
        };
        let lines = vec![
            (
                "date (UTC)".into(),
                chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string(),
            ),
            (
                "mode".into(),
                if quick {
                    "--quick".into()
                } else {
                    "full".to_owned()
                },
            ),
            ("CPU".into(), format!("{cpu}, {cores} cores (nproc)")),
            ("memory".into(), memory),
            ("kernel".into(), format!("Linux {kernel}")),
            ("rustc".into(), rustc),
            (
                "crates".into(),
                format!(
                    "tokio {}, tokio-cron-scheduler {}, tasks (this repository, release build)",
                    version("tokio"),
                    version("tokio-cron-scheduler")
                ),
            ),
            ("tasks measured at".into(), commit),
            ("Python".into(), python),
            (
                "all runs took".into(),
                format!("{:.0} s", took.as_secs_f64()),
            ),
            (
                "load average (1 min), before / after".into(),
                format!("{load_before} / {}", load_average()),
            ),
        ];
        Self { lines }
    }
}

/// The 1-minute load average: other work on the machine skews the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Reads the version of `name` from bench/Cargo.lock.
fn locked_version(name: &str) -> Option<String> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).ok()?;
    let needle = format!("name = \"{name}\"\nversion = \"");
    let at = lock.find(&needle)? + needle.len();
    let rest = &lock[at..];
    Some(rest[..rest.find('"')?].to_owned())
}
