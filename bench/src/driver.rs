//! `tasks-bench all`: runs every scenario for every peer in a fresh process,
//! one after the other, then reports.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::measure::Record;
use crate::peers::{CRON, FLOOR, FLOOR_YIELD, TASKS};
use crate::report::{self, Machine};

/// discord.py's peer name.
pub const DPY: &str = "discord.py";

/// One child run: a scenario, a peer, and its parameters.
struct Step {
    scenario: &'static str,
    peer: &'static str,
    args: Vec<(&'static str, u64)>,
}

fn step(scenario: &'static str, peer: &'static str, args: &[(&'static str, u64)]) -> Step {
    Step {
        scenario,
        peer,
        args: args.to_vec(),
    }
}

/// The plan: every scenario, every peer, full size or `--quick`.
fn plan(quick: bool, python: bool) -> Vec<Step> {
    // (full, quick)
    let pick = |full: u64, small: u64| if quick { small } else { full };
    let mut steps = Vec::new();

    // 1. Overhead: iterations of an empty body at interval 0.
    let n = pick(1_000_000, 100_000);
    let reps = pick(5, 3);
    for peer in [FLOOR, FLOOR_YIELD, TASKS] {
        steps.push(step(
            "overhead",
            peer,
            &[("n", n), ("interval-ms", 0), ("reps", reps)],
        ));
    }
    steps.push(step(
        "overhead",
        CRON,
        &[
            ("n", pick(10_000, 1_000)),
            ("settle-ms", 1_500),
            ("duration-ms", pick(5_000, 2_000)),
        ],
    ));
    if python {
        steps.push(step(
            "overhead",
            DPY,
            &[("n", n), ("interval-ms", 0), ("reps", 1)],
        ));
    }

    // 2. Scale: idle loops at 1 s.
    let loops = pick(100_000, 10_000);
    let scale = [
        ("n", loops),
        ("interval-ms", 1_000),
        ("settle-ms", pick(3_000, 1_500)),
        ("duration-ms", pick(10_000, 2_000)),
    ];
    for peer in [FLOOR, TASKS, CRON] {
        steps.push(step("scale", peer, &scale));
    }
    if python {
        steps.push(step("scale", DPY, &scale));
    }

    // 3. Precision: loops at 100 ms (cron: 1 s) for a few seconds.
    let precision = [
        ("n", pick(10_000, 1_000)),
        ("interval-ms", 100),
        ("duration-ms", pick(5_000, 2_000)),
    ];
    // The floor and tasks alternate, three times in the full run: the p99
    // moves with whatever else the machine does, and the report keeps each
    // peer's median run.
    for _ in 0..pick(3, 1) {
        for peer in [FLOOR, TASKS] {
            steps.push(step("precision", peer, &precision));
        }
    }
    steps.push(step(
        "precision",
        CRON,
        &[
            ("n", pick(10_000, 1_000)),
            ("interval-ms", 1_000),
            ("duration-ms", pick(5_000, 3_000)),
        ],
    ));
    if python {
        steps.push(step("precision", DPY, &precision));
        // discord.py cannot keep up with the full count; a tenth shows its
        // precision when it is not saturated.
        let fewer = [
            ("n", pick(1_000, 100)),
            ("interval-ms", 100),
            ("duration-ms", pick(5_000, 2_000)),
        ];
        steps.push(step("precision", DPY, &fewer));
    }

    // 4. Drift: one loop at 10 ms (cron: 1 s, fewer iterations).
    let drift = [("n", pick(10_000, 200)), ("interval-ms", 10)];
    for peer in [FLOOR, TASKS] {
        steps.push(step("drift", peer, &drift));
    }
    steps.push(step(
        "drift",
        CRON,
        &[("n", pick(30, 2)), ("interval-ms", 1_000)],
    ));
    if python {
        steps.push(step("drift", DPY, &drift));
    }
    steps
}

/// Where the bench crate lives (for the Python script and the results).
fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn run(args: &[String]) -> ExitCode {
    let options = match crate::parse_options(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let quick = options.contains_key("quick");
    let python = (!options.contains_key("no-python")).then(|| {
        options
            .get("python")
            .cloned()
            .unwrap_or_else(|| "python3".into())
    });
    let out = options
        .get("out")
        .map_or_else(|| bench_dir().join("results"), PathBuf::from);
    let update_doc = !quick && !options.contains_key("no-doc");

    let steps = plan(quick, python.is_some());
    let load_before = load_average();
    let started = Instant::now();
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        eprint!(
            "[{:>2}/{}] {:<9} {:<20} ",
            i + 1,
            steps.len(),
            step.scenario,
            step.peer
        );
        let t = Instant::now();
        match run_step(step, python.as_deref()) {
            Ok(record) => {
                eprintln!("{:>6.1} s", t.elapsed().as_secs_f64());
                records.push(record);
            }
            Err(error) => {
                eprintln!("FAILED after {:.1} s: {error}", t.elapsed().as_secs_f64());
                failures.push(format!("{} / {}: {error}", step.scenario, step.peer));
            }
        }
    }
    eprintln!("all runs: {:.1} s", started.elapsed().as_secs_f64());

    let machine = Machine::detect(&records, quick, started.elapsed(), load_before);
    let results = Results {
        machine: machine.lines,
        failures,
        records,
    };
    let name = if quick { "quick" } else { "latest" };
    let published = publish(&results, &out, name, update_doc);
    if published && results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Everything a run found: what `{name}.json` holds.
#[derive(Serialize, Deserialize)]
pub struct Results {
    pub machine: Vec<(String, String)>,
    pub failures: Vec<String>,
    pub records: Vec<Record>,
}

/// `tasks-bench report FILE.json [--out DIR] [--update-doc]`: the tables,
/// the chart and the page again, from the results of an earlier run.
pub fn report(args: &[String]) -> ExitCode {
    let Some(file) = args.first() else {
        eprintln!("usage: tasks-bench report FILE.json [--out DIR] [--update-doc]");
        return ExitCode::from(2);
    };
    let options = match crate::parse_options(&args[1..]) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let path = PathBuf::from(file);
    let results: Results = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(results) => results,
        Err(error) => {
            eprintln!("cannot read {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let out = options.get("out").map_or_else(
        || {
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        },
        PathBuf::from,
    );
    let name = path
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    if publish(&results, &out, &name, options.contains_key("update-doc")) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints the tables and writes `{name}.md`, `{name}.json` and the chart to
/// `out`; with `update_doc`, the generated part of BENCHMARKS.md too.
fn publish(results: &Results, out: &Path, name: &str, update_doc: bool) -> bool {
    let records = report::median_runs(&results.records);
    let markdown = report::markdown(&records, &results.machine, &results.failures);
    println!("{markdown}");
    let chart_name = format!("{name}-lateness.svg");
    let written = std::fs::create_dir_all(out)
        .and_then(|()| {
            std::fs::write(
                out.join(format!("{name}.json")),
                serde_json::to_string_pretty(results).unwrap_or_default() + "\n",
            )
        })
        .and_then(|()| std::fs::write(out.join(&chart_name), crate::chart::svg(&records)))
        .and_then(|()| {
            let page = format!("{markdown}\n![Lateness by percentile, and drift]({chart_name})\n");
            std::fs::write(out.join(format!("{name}.md")), page)
        });
    if let Err(error) = written {
        eprintln!("could not write the results to {}: {error}", out.display());
        return false;
    }
    eprintln!(
        "wrote {}/{name}.{{md,json}} and {chart_name}",
        out.display()
    );
    if update_doc {
        let doc = bench_dir().join("..").join("BENCHMARKS.md");
        match update_benchmarks_md(&doc, &markdown, out, &chart_name) {
            Ok(()) => eprintln!("updated {}", doc.display()),
            Err(error) => {
                eprintln!("BENCHMARKS.md not updated: {error}");
                return false;
            }
        }
    }
    true
}

/// The 1-minute load average: other work on the machine skews the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Replaces the generated part of BENCHMARKS.md, between its markers.
fn update_benchmarks_md(doc: &Path, markdown: &str, out: &Path, chart: &str) -> Result<(), String> {
    const BEGIN: &str = "<!-- bench:begin (generated by bench/run; do not edit) -->";
    const END: &str = "<!-- bench:end -->";
    let text = std::fs::read_to_string(doc).map_err(|e| e.to_string())?;
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        return Err("its markers are missing".into());
    };
    let chart_path = out
        .join(chart)
        .canonicalize()
        .ok()
        .and_then(|p| {
            let root = doc.parent()?.canonicalize().ok()?;
            p.strip_prefix(root).ok().map(Path::to_path_buf)
        })
        .map_or_else(|| chart.to_owned(), |p| p.display().to_string());
    let generated = format!(
        "{BEGIN}\n\n{markdown}\n![Lateness by percentile (precision) and over the run (drift)]({chart_path})\n\n"
    );
    let updated = format!("{}{generated}{}", &text[..begin], &text[end..]);
    std::fs::write(doc, updated).map_err(|e| e.to_string())
}

/// Runs one step in a fresh process and parses the record it prints.
fn run_step(step: &Step, python: Option<&str>) -> Result<Record, String> {
    let mut command = if step.peer == DPY {
        let mut command = Command::new(python.unwrap_or("python3"));
        command
            .arg(bench_dir().join("dpy_bench.py"))
            .arg(step.scenario);
        command
    } else {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command.args(["child", step.scenario, step.peer]);
        command
    };
    for (key, value) in &step.args {
        command.arg(format!("--{key}")).arg(value.to_string());
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {:?}: {e}", command.get_program()))?;
    // Read both pipes on threads, so that a chatty child never blocks.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed out after 900 s".into());
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "exit status {status}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| "printed no record".to_owned())?;
    serde_json::from_str(line).map_err(|e| format!("unreadable record: {e}"))
}

/// Reads the version of `name` from bench/Cargo.lock.
pub fn locked_version(name: &str) -> Option<String> {
    let lock = std::fs::read_to_string(bench_dir().join("Cargo.lock")).ok()?;
    let needle = format!("name = \"{name}\"\nversion = \"");
    let at = lock.find(&needle)? + needle.len();
    let rest = &lock[at..];
    Some(rest[..rest.find('"')?].to_owned())
}
