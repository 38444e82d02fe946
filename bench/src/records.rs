//! What every other module shares and imports nothing of theirs: the
//! peers' names, the record each run prints, and the saved results of a
//! whole run (`bench/results/*.json`).

use serde::{Deserialize, Serialize};

/// The peers, by the names the command line and the records use.
pub const FLOOR: &str = "tokio";
pub const FLOOR_YIELD: &str = "tokio-yield";
pub const TASKS: &str = "tasks";
pub const CRON: &str = "tokio-cron-scheduler";
/// discord.py runs in `dpy_bench.py`, which prints the same record.
pub const DPY: &str = "discord.py";

/// Everything a run found: what `bench/results/{latest,quick}.json` holds,
/// and what `tasks-bench report` renders again.
#[derive(Serialize, Deserialize)]
pub struct Results {
    pub machine: Vec<(String, String)>,
    pub failures: Vec<String>,
    pub records: Vec<Record>,
}

/// The percentiles kept for the lateness chart (a CDF on a log axis).
fn cdf_percentiles() -> Vec<f64> {
    let mut points: Vec<f64> = (0..=99).map(f64::from).collect();
    points.extend([99.5, 99.9, 99.99, 100.0]);
    points
}

/// The value at percentile `p` (0–100) of sorted samples (nearest rank).
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A lateness distribution, in nanoseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Lateness {
    /// Iterations measured.
    pub count: u64,
    /// Iterations the schedule called for in the window.
    pub expected: u64,
    pub p50_ns: i64,
    pub p99_ns: i64,
    pub max_ns: i64,
    pub mean_ns: f64,
    /// `(percentile, lateness_ns)` pairs for the chart.
    pub cdf: Vec<(f64, i64)>,
}

impl Lateness {
    pub fn from_samples(mut samples: Vec<i64>, expected: u64) -> Self {
        samples.sort_unstable();
        let mean_ns = if samples.is_empty() {
            0.0
        } else {
            samples.iter().map(|&s| s as f64).sum::<f64>() / samples.len() as f64
        };
        Self {
            count: samples.len() as u64,
            expected,
            p50_ns: percentile(&samples, 50.0),
            p99_ns: percentile(&samples, 99.0),
            max_ns: samples.last().copied().unwrap_or(0),
            mean_ns,
            cdf: cdf_percentiles()
                .into_iter()
                .map(|p| (p, percentile(&samples, p)))
                .collect(),
        }
    }
}

/// What one peer reports for one scenario: printed by the child process as
/// one JSON line (the Python script prints the same keys).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub scenario: String,
    pub peer: String,
    /// The runtime it ran on, e.g. "tokio current_thread".
    #[serde(default)]
    pub runtime: String,
    /// Where the peer's setup differs from the scenario (interval, counts).
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub loops: Option<u64>,
    #[serde(default)]
    pub iterations: Option<u64>,
    #[serde(default)]
    pub interval_ms: Option<f64>,

    // Overhead.
    /// Wall time per iteration (median over the repetitions).
    #[serde(default)]
    pub ns_per_iter: Option<f64>,
    /// Every repetition's wall time per iteration.
    #[serde(default)]
    pub ns_per_iter_runs: Option<Vec<f64>>,
    /// Process CPU time per iteration.
    #[serde(default)]
    pub cpu_ns_per_iter: Option<f64>,
    /// Heap allocations during one measured run (setup included).
    #[serde(default)]
    pub allocs_in_run: Option<u64>,
    /// Heap allocations per iteration in steady state.
    #[serde(default)]
    pub allocs_per_iter: Option<f64>,

    // Scale.
    #[serde(default)]
    pub rss_base_bytes: Option<u64>,
    #[serde(default)]
    pub rss_per_loop_bytes: Option<f64>,
    /// Heap bytes live per loop (Rust peers).
    #[serde(default)]
    pub heap_per_loop_bytes: Option<f64>,
    /// Heap allocations per started loop (Rust peers).
    #[serde(default)]
    pub allocs_per_loop: Option<f64>,
    /// Time to create and start all loops.
    #[serde(default)]
    pub setup_ms: Option<f64>,
    /// CPU time over wall time in the idle window, in % of one core.
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    #[serde(default)]
    pub cpu_us_per_iter: Option<f64>,
    #[serde(default)]
    pub iters_per_s: Option<f64>,
    #[serde(default)]
    pub expected_iters_per_s: Option<f64>,

    // Precision and drift.
    #[serde(default)]
    pub lateness: Option<Lateness>,
    /// Drift: lateness of the last iteration against `first + k * interval`.
    #[serde(default)]
    pub last_lateness_ns: Option<i64>,
    /// Drift: median lateness of the first ten iterations.
    #[serde(default)]
    pub early_lateness_ns: Option<i64>,
    /// Drift: median lateness of the last ten iterations.
    #[serde(default)]
    pub late_lateness_ns: Option<i64>,
    #[serde(default)]
    pub max_lateness_ns: Option<i64>,
    /// Drift: `(iteration, lateness_ns)` for the chart.
    #[serde(default)]
    pub series: Option<Vec<(u64, i64)>>,
}

impl Record {
    pub fn new(scenario: &str, peer: &str, runtime: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            peer: peer.to_owned(),
            runtime: runtime.to_owned(),
            ..Self::default()
        }
    }
}

/// One iteration of the cluster scenario: the loop's index, its slot (Unix
/// milliseconds) and how late it started (microseconds).
pub type ReplicaRun = (u32, i64, i64);

/// What one process of the cluster scenario ran: printed by
/// `tasks-bench replica` as one JSON line.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReplicaRecord {
    /// When every loop had started (Unix milliseconds).
    pub ready_ms: i64,
    /// When the process stopped its loops (Unix milliseconds).
    pub stopped_ms: i64,
    pub runs: Vec<ReplicaRun>,
    /// Errors the loops' `error` hook saw (a store that did not answer).
    pub store_errors: u64,
}

/// A claim's cost on one store, against the same call sent by hand.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClaimCost {
    pub store: String,
    /// How the floor was sent.
    pub floor: String,
    pub claims: u64,
    pub floor_p50_ns: i64,
    pub floor_mean_ns: f64,
    pub tasks_p50_ns: i64,
    pub tasks_mean_ns: f64,
}

/// One run of many loops in the cluster scenario, as the parent read it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReplicaRunSummary {
    pub label: String,
    pub processes: u32,
    pub loops: u32,
    /// The whole seconds every process covered.
    pub window_s: u64,
    /// Iterations in the window.
    pub iterations: u64,
    /// Slots in the window, one per loop and second (the cluster only).
    pub slots_expected: Option<u64>,
    pub slots_missed: Option<u64>,
    /// Slots that ran more than once, in or out of the window.
    pub slots_run_twice: Option<u64>,
    pub store_errors: u64,
    pub lateness: Lateness,
}

/// What `tasks-bench cluster` found: `bench/results/cluster*.json`.
#[derive(Serialize, Deserialize)]
pub struct ClusterResults {
    pub machine: Vec<(String, String)>,
    pub claims: Vec<ClaimCost>,
    pub replicas: Vec<ReplicaRunSummary>,
    pub failures: Vec<String>,
}
