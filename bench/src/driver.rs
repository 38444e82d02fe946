//! `tasks-bench all`: runs every scenario for every peer in a fresh process,
//! one after the other, then hands the records to `publish`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::machine::{load_average, Machine};
use crate::options::parse_options;
use crate::publish::publish;
use crate::records::{Record, Results, CRON, DPY, FLOOR, FLOOR_YIELD, TASKS};

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
    // The floor and tasks alternate three times, in the quick run too: the
    // p99 of one run moves with whatever else the machine does (by half or
    // more between two runs of the same peer), and the report keeps each
    // peer's median run.
    for _ in 0..3 {
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
fn bench_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tasks-bench all [--quick] [--python PATH] [--no-python] [--out DIR]
/// [--no-doc]`: runs the plan, then publishes what it found; fails if a
/// step failed.
pub fn run(args: &[String]) -> ExitCode {
    let options = match parse_options(args) {
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
