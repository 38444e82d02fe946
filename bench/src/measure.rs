//! What a scenario measures, inside the child process: resident memory,
//! CPU time, heap allocations and lateness samples.

use std::alloc::System;
use std::sync::Mutex;
use std::time::Duration;

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
