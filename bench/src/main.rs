//! The benchmark of `tasks` against its peers: a hand-written tokio loop
//! (the floor), tokio-cron-scheduler and discord.py's `tasks.Loop`.
//!
//! `tasks-bench cluster` measures running once across replicas (claims on
//! PostgreSQL and Redis against their floor; many loops over several
//! `tasks-bench replica` processes); it needs the servers, which
//! `bench/run --cluster` starts.
//!
//! `tasks-bench all [--quick]` runs every scenario for every peer, each in
//! a fresh process (`tasks-bench child SCENARIO PEER ...`, or
//! `dpy_bench.py` for discord.py), then prints the tables and writes them
//! with a chart to `bench/results/`. `bench/run` is the one command that
//! builds it, sets up Python and runs it.
//!
//! The modules import one another in one direction only (an arrow reads
//! "imports"):
//!
//! ```text
//! main ─┬─> driver ──┬─> machine ─────────────> records
//!       │            └─> publish ─┬─> report ─> records, units
//!       ├─> publish               └─> chart ──> records, units
//!       ├─> peers ───> measure, records, units
//!       ├─> cluster ─> machine, records, units
//!       └─> replica ─> records
//! ```
//!
//! `records` (the peers' names, the record a child prints, a saved run),
//! `units` (how figures are written), `measure` (what a child reads of
//! itself) and `options` (the `--key value` pairs of the command line,
//! read by `main`, `driver`, `publish` and `cluster`) import no other
//! module. A child (`peers`, `replica`) and its parent (`driver`,
//! `cluster`) talk through `records` alone: a child prints a record as a
//! JSON line and the parent reads it back.

#![forbid(unsafe_code)]

mod chart;
mod cluster;
mod driver;
mod machine;
mod measure;
mod options;
mod peers;
mod publish;
mod records;
mod replica;
mod report;
mod units;

use std::process::ExitCode;
use std::time::Duration;

use options::parse_options;

const USAGE: &str = "\
usage:
  tasks-bench all [--quick] [--python PATH] [--no-python] [--out DIR] [--no-doc]
  tasks-bench report FILE.json [--out DIR] [--update-doc]
  tasks-bench child SCENARIO PEER [--n N] [--interval-ms MS] [--duration-ms MS]
                                  [--settle-ms MS] [--reps R]
  tasks-bench cluster --postgres URL --redis URL [--quick] [--out DIR]
  tasks-bench replica --prefix NAME [--loops N] [--seconds S] [--postgres URL] [--pool N]
scenarios: overhead, scale, precision, drift
peers: tokio, tokio-yield (overhead only), tasks, tokio-cron-scheduler";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("all") => driver::run(&args[1..]),
        Some("report") => publish::report(&args[1..]),
        Some("child") if args.len() >= 3 => child(&args[1], &args[2], &args[3..]),
        Some("cluster") => cluster::run(&args[1..]),
        Some("replica") => replica(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Runs one process of the cluster scenario and prints its record as a
/// JSON line.
fn replica(args: &[String]) -> ExitCode {
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let number = |key: &str, default: u64| -> u64 {
        options
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let Some(prefix) = options.get("prefix") else {
        eprintln!("tasks-bench replica needs --prefix NAME\n{USAGE}");
        return ExitCode::from(2);
    };
    let params = replica::ReplicaParams {
        prefix: prefix.clone(),
        loops: number("loops", 1000) as u32,
        interval: Duration::from_secs(1),
        run_for: Duration::from_secs(number("seconds", 10)),
        postgres: options.get("postgres").cloned(),
        pool: number("pool", 8) as usize,
    };
    match replica::run(&params) {
        Ok(record) => {
            println!(
                "{}",
                serde_json::to_string(&record).expect("a record serializes")
            );
            // Leaves at once, as a child does.
            std::process::exit(0)
        }
        Err(error) => {
            eprintln!("replica: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one scenario for one peer and prints its record as a JSON line.
fn child(scenario: &str, peer: &str, rest: &[String]) -> ExitCode {
    let options = match parse_options(rest) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let number = |key: &str, default: f64| -> f64 {
        options
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let ms = |key: &str, default: f64| Duration::from_secs_f64(number(key, default) / 1e3);
    let params = peers::Params {
        n: number("n", 1000.0) as u64,
        interval: ms("interval-ms", 0.0),
        duration: ms("duration-ms", 1000.0),
        settle: ms("settle-ms", 1000.0),
        reps: number("reps", 3.0) as u32,
    };
    let record = match scenario {
        "overhead" => peers::overhead(peer, &params),
        "scale" => peers::scale(peer, &params),
        "precision" => peers::precision(peer, &params),
        "drift" => peers::drift(peer, &params),
        other => {
            eprintln!("no scenario {other}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{}",
        serde_json::to_string(&record).expect("a record serializes")
    );
    // Leaves at once: some scenarios leave many loops behind on purpose.
    std::process::exit(0)
}
