//! What a scenario measures: resident memory, CPU time, heap allocations,
//! lateness distributions, and the result record every peer prints.

use std::alloc::System;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

/// Counts every allocation of the process (the Rust peers only): a
/// counting wrapper over the system allocator, from the `stats_alloc` crate.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap counters at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Heap {
    /// Allocations and reallocations so far.
    pub allocations: u64,
    /// Bytes requested and not yet freed.
    pub live_bytes: i64,
}

/// The heap counters now.
pub fn heap() -> Heap {
    let stats = GLOBAL.stats();
    Heap {
        allocations: (stats.allocations + stats.reallocations) as u64,
        live_bytes: stats.bytes_allocated as i64 - stats.bytes_deallocated as i64,
    }
}

/// The resident set size of this process, in bytes (`VmRSS`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// CPU time used by the whole process (all threads) so far.
pub fn cpu_time() -> Duration {
    cpu_time::ProcessTime::try_now()
        .map(|t| t.as_duration())
        .unwrap_or_default()
}

/// The percentiles kept for the lateness chart (a CDF on a log axis).
pub fn cdf_percentiles() -> Vec<f64> {
    let mut points: Vec<f64> = (0..=99).map(f64::from).collect();
    points.extend([99.5, 99.9, 99.99, 100.0]);
    points
}

/// The value at percentile `p` (0–100) of sorted samples (nearest rank).
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
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

/// Lateness samples of one loop, pushed by its body.
#[derive(Debug, Default)]
pub struct Samples(Mutex<Vec<i64>>);

impl Samples {
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Mutex::new(Vec::with_capacity(capacity)))
    }

    pub fn push_ns(&self, lateness_ns: i64) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(lateness_ns);
    }

    pub fn take(&self) -> Vec<i64> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The signed difference `later - earlier` in nanoseconds.
pub fn signed_ns(later: std::time::Instant, earlier: std::time::Instant) -> i64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_nanos() as i64,
        None => -(earlier.duration_since(later).as_nanos() as i64),
    }
}

/// The drift series kept for the chart: at most `points` buckets, each
/// with its iteration index and the largest lateness in it.
pub fn downsample(lateness_ns: &[i64], points: usize) -> Vec<(u64, i64)> {
    if lateness_ns.is_empty() {
        return Vec::new();
    }
    let bucket = lateness_ns.len().div_ceil(points.max(1));
    lateness_ns
        .chunks(bucket)
        .enumerate()
        .map(|(i, chunk)| {
            let worst = chunk.iter().copied().max().unwrap_or(0);
            ((i * bucket + chunk.len() - 1) as u64, worst)
        })
        .collect()
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
