//! The Rust peers in each scenario, run in a child process of their own:
//! `tasks`, the hand-written tokio loop (the floor) and
//! `tokio-cron-scheduler`. discord.py runs in `dpy_bench.py`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::measure::{cpu_time, downsample, heap, rss_bytes, signed_ns, Samples};
use crate::records::{Lateness, Record, CRON, FLOOR, FLOOR_YIELD, TASKS};
use crate::units::group;

/// The shortest interval tokio-cron-scheduler supports: it keeps repeated
/// intervals in whole seconds and polls its jobs every 500 ms.
const CRON_INTERVAL: Duration = Duration::from_secs(1);

/// Iterations run by the scale and overhead bodies, all loops together.
static ITERATIONS: AtomicU64 = AtomicU64::new(0);

/// The body of the scale and cron-overhead scenarios: count, nothing else.
fn count_iteration() {
    ITERATIONS.fetch_add(1, Ordering::Relaxed);
}

/// The scenario's parameters, from the command line.
#[derive(Clone, Debug)]
pub struct Params {
    /// Loops (scale, precision, cron overhead) or iterations (overhead, drift).
    pub n: u64,
    pub interval: Duration,
    /// Precision: how long the loops run. Scale and cron overhead: the
    /// measuring window.
    pub duration: Duration,
    /// Scale and cron overhead: the wait between the start and the window.
    pub settle: Duration,
    /// Overhead: measured repetitions.
    pub reps: u32,
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn multi_thread_name() -> String {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("tokio multi_thread ({workers} workers)")
}

// ---------------------------------------------------------------------------
// The floor: a hand-written tokio loop on absolute deadlines.

/// `n` iterations of an empty body, deadlines `start + k * interval`. With
/// `yield_when_due`, an iteration whose deadline has passed yields instead
/// of calling `sleep_until` (what `tasks` does).
async fn floor_run(n: u64, interval: Duration, yield_when_due: bool) {
    tokio::spawn(async move {
        let body = || async {};
        let mut next = Instant::now();
        for _ in 0..n {
            body().await;
            next += interval;
            if yield_when_due && next <= Instant::now() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep_until(next).await;
            }
        }
    })
    .await
    .expect("the floor loop");
}

/// An endless floor loop calling `body(deadline)` at every deadline.
fn floor_spawn<F, Fut>(interval: Duration, body: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(Instant) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut next = Instant::now();
        loop {
            body(next).await;
            next += interval;
            tokio::time::sleep_until(next).await;
        }
    })
}

// ---------------------------------------------------------------------------
// tasks

async fn tasks_run(n: u64, interval: Duration) {
    let ticker = tasks::Loop::builder(|()| async {})
        .seconds(interval.as_secs_f64())
        .count(n)
        .build()
        .expect("a valid loop");
    let outcome = ticker.start(()).expect("not running").await;
    assert_eq!(outcome, tasks::RunOutcome::Completed);
}

// ---------------------------------------------------------------------------
// tokio-cron-scheduler

type CronFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A scheduler whose channels hold `jobs` messages: with the default (200)
/// a burst of due jobs overflows its broadcast channels and runs are lost.
async fn cron_scheduler(jobs: u64) -> JobScheduler {
    let size = usize::try_from(jobs).unwrap_or(usize::MAX).max(200) + 200;
    JobScheduler::new_with_channel_size(size)
        .await
        .expect("a job scheduler")
}

/// The first deadline of a 1 s job made now: tokio-cron-scheduler keeps
/// its ticks in whole seconds of the wall clock, so the job is due at the
/// start of the next wall-clock second (as a monotonic instant).
fn cron_first_deadline() -> std::time::Instant {
    let (mono, wall) = (std::time::Instant::now(), chrono::Utc::now());
    let next_second = (wall.timestamp() + 1) * 1_000_000_000;
    let ahead = next_second - wall.timestamp_nanos_opt().unwrap_or(0);
    mono + Duration::from_nanos(u64::try_from(ahead).unwrap_or(0))
}

/// Adds a job repeated every `interval`.
async fn cron_add<F>(sched: &JobScheduler, interval: Duration, body: F)
where
    F: Fn() -> CronFuture + Send + Sync + 'static,
{
    let job = Job::new_repeated_async(interval, move |_id, _sched| body()).expect("a job");
    sched.add(job).await.expect("the job added");
}

// ---------------------------------------------------------------------------
// Scenario 1: overhead.

/// Times `reps` runs of `run(n)` after a warm-up; counts allocations.
async fn timed<F, Fut>(record: &mut Record, n: u64, reps: u32, run: F)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    run(n).await;
    let mut per_iter = Vec::new();
    let cpu0 = cpu_time();
    for _ in 0..reps {
        let start = std::time::Instant::now();
        run(n).await;
        per_iter.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    let cpu = cpu_time() - cpu0;
    // Allocations: a full run and a half run; the difference is what the
    // iterations allocate, setup aside.
    let heap0 = heap();
    run(n).await;
    let full = heap().allocations - heap0.allocations;
    let heap1 = heap();
    run(n / 2).await;
    let half = heap().allocations - heap1.allocations;
    let mut sorted = per_iter.clone();
    sorted.sort_by(f64::total_cmp);
    record.iterations = Some(n);
    record.ns_per_iter = Some(sorted[sorted.len() / 2]);
    record.ns_per_iter_runs = Some(per_iter);
    record.cpu_ns_per_iter = Some(cpu.as_nanos() as f64 / (f64::from(reps) * n as f64));
    record.allocs_in_run = Some(full);
    record.allocs_per_iter = Some(full.saturating_sub(half) as f64 / (n - n / 2) as f64);
}

pub fn overhead(peer: &str, p: &Params) -> Record {
    let mut record = Record::new("overhead", peer, "tokio current_thread");
    record.interval_ms = Some(p.interval.as_secs_f64() * 1e3);
    let rt = current_thread();
    rt.block_on(async {
        match peer {
            FLOOR => {
                timed(&mut record, p.n, p.reps, |n| {
                    floor_run(n, p.interval, false)
                })
                .await
            }
            FLOOR_YIELD => {
                timed(&mut record, p.n, p.reps, |n| floor_run(n, p.interval, true)).await;
            }
            TASKS => timed(&mut record, p.n, p.reps, |n| tasks_run(n, p.interval)).await,
            CRON => cron_overhead(&mut record, p).await,
            other => panic!("no peer {other} in the overhead scenario"),
        }
    });
    record
}

/// tokio-cron-scheduler cannot run faster than once a second: its cost per
/// iteration is measured on `n` jobs at 1 s instead, as CPU time.
async fn cron_overhead(record: &mut Record, p: &Params) {
    let sched = cron_scheduler(p.n).await;
    for _ in 0..p.n {
        cron_add(&sched, CRON_INTERVAL, || {
            Box::pin(async { count_iteration() })
        })
        .await;
    }
    sched.start().await.expect("the scheduler started");
    tokio::time::sleep(p.settle).await;
    let (i0, c0, h0) = (ITERATIONS.load(Ordering::Relaxed), cpu_time(), heap());
    tokio::time::sleep(p.duration).await;
    let (i1, c1, h1) = (ITERATIONS.load(Ordering::Relaxed), cpu_time(), heap());
    let done = (i1 - i0).max(1);
    record.loops = Some(p.n);
    record.iterations = Some(i1 - i0);
    record.interval_ms = Some(CRON_INTERVAL.as_secs_f64() * 1e3);
    record.cpu_ns_per_iter = Some((c1 - c0).as_nanos() as f64 / done as f64);
    record.allocs_per_iter = Some((h1.allocations - h0.allocations) as f64 / done as f64);
    record.note = Some(format!(
        "{} jobs at 1 s (its shortest interval) for {:.0} s: CPU time per run",
        group(p.n),
        p.duration.as_secs_f64()
    ));
}

// ---------------------------------------------------------------------------
// Scenario 2: scale.

/// What a peer keeps alive for its loops.
enum Keep {
    Floor(#[allow(dead_code)] Vec<tokio::task::JoinHandle<()>>),
    Tasks(#[allow(dead_code)] Vec<(tasks::Loop, tasks::RunHandle)>),
    Cron(#[allow(dead_code)] JobScheduler),
}

pub fn scale(peer: &str, p: &Params) -> Record {
    let mut record = Record::new("scale", peer, &multi_thread_name());
    record.loops = Some(p.n);
    record.interval_ms = Some(p.interval.as_secs_f64() * 1e3);
    let rt = multi_thread();
    rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // tokio-cron-scheduler's scheduler and channels are part of the base.
        let sched = if peer == CRON {
            Some(cron_scheduler(p.n).await)
        } else {
            None
        };
        let (rss0, heap0) = (rss_bytes(), heap());
        let start = std::time::Instant::now();
        let keep = match peer {
            FLOOR => Keep::Floor(
                (0..p.n)
                    .map(|_| floor_spawn(p.interval, |_| async { count_iteration() }))
                    .collect(),
            ),
            TASKS => Keep::Tasks(
                (0..p.n)
                    .map(|_| {
                        let ticker = tasks::Loop::builder(|()| async { count_iteration() })
                            .seconds(p.interval.as_secs_f64())
                            .build()
                            .expect("a valid loop");
                        let run = ticker.start(()).expect("not running");
                        (ticker, run)
                    })
                    .collect(),
            ),
            CRON => {
                let sched = sched.expect("made above");
                for _ in 0..p.n {
                    cron_add(&sched, p.interval, || Box::pin(async { count_iteration() })).await;
                }
                sched.start().await.expect("the scheduler started");
                record.interval_ms = Some(p.interval.as_secs_f64() * 1e3);
                Keep::Cron(sched)
            }
            other => panic!("no peer {other} in the scale scenario"),
        };
        let heap_started = heap();
        record.setup_ms = Some(start.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(p.settle).await;
        let (rss1, heap1) = (rss_bytes(), heap());
        let n = p.n as f64;
        record.rss_base_bytes = Some(rss0);
        record.rss_per_loop_bytes = Some((rss1 as f64 - rss0 as f64) / n);
        record.heap_per_loop_bytes = Some((heap1.live_bytes - heap0.live_bytes) as f64 / n);
        record.allocs_per_loop = Some((heap_started.allocations - heap0.allocations) as f64 / n);
        let (i0, c0, h0, w0) = (
            ITERATIONS.load(Ordering::Relaxed),
            cpu_time(),
            heap(),
            std::time::Instant::now(),
        );
        tokio::time::sleep(p.duration).await;
        let (i1, c1, h1, wall) = (
            ITERATIONS.load(Ordering::Relaxed),
            cpu_time(),
            heap(),
            w0.elapsed(),
        );
        let done = (i1 - i0).max(1) as f64;
        record.iterations = Some(i1 - i0);
        record.cpu_percent = Some((c1 - c0).as_secs_f64() / wall.as_secs_f64() * 100.0);
        record.cpu_us_per_iter = Some((c1 - c0).as_secs_f64() * 1e6 / done);
        record.iters_per_s = Some((i1 - i0) as f64 / wall.as_secs_f64());
        record.expected_iters_per_s = Some(n / p.interval.as_secs_f64());
        record.allocs_per_iter = Some((h1.allocations - h0.allocations) as f64 / done);
        // Ends the process at once, without dropping 100,000 loops.
        std::mem::forget(keep);
    });
    std::mem::forget(rt);
    record
}

// ---------------------------------------------------------------------------
// Scenario 3: precision.

/// One `tasks` loop of the precision scenario: its body reads the loop's
/// next deadline (a wall-clock time) and turns it into a monotonic one.
struct TasksProbe {
    ticker: OnceLock<tasks::Loop<Arc<TasksProbe>>>,
    pending: Mutex<Option<std::time::Instant>>,
    samples: Samples,
}

impl TasksProbe {
    fn iteration(&self) {
        let now = std::time::Instant::now();
        let wall = chrono::Utc::now();
        let mut pending = self.pending.lock().expect("not poisoned");
        if let Some(deadline) = pending.take() {
            self.samples.push_ns(signed_ns(now, deadline));
        }
        if let Some(next) = self.ticker.get().and_then(tasks::Loop::next_iteration) {
            let ahead = next - wall;
            *pending = Some(match ahead.to_std() {
                Ok(ahead) => now + ahead,
                Err(_) => now - (-ahead).to_std().unwrap_or_default(),
            });
        }
    }
}

pub fn precision(peer: &str, p: &Params) -> Record {
    let mut record = Record::new("precision", peer, &multi_thread_name());
    record.loops = Some(p.n);
    let rt = multi_thread();
    let per_loop = (p.duration.as_secs_f64() / p.interval.as_secs_f64()).ceil() as usize + 4;
    let (samples, expected) = rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let offset0 = wall_minus_mono();
        let (samples, expected): (Vec<i64>, u64) = match peer {
            FLOOR => {
                record.interval_ms = Some(p.interval.as_secs_f64() * 1e3);
                let t0 = Instant::now() + LEAD;
                let mut handles = Vec::new();
                let mut all = Vec::new();
                for i in 0..p.n {
                    let samples = Arc::new(Samples::with_capacity(per_loop));
                    let mine = Arc::clone(&samples);
                    let (interval, start) = (p.interval, t0 + phase(p, i));
                    handles.push(tokio::spawn(async move {
                        tokio::time::sleep_until(start).await;
                        let mut next = Instant::now();
                        let mut first = true;
                        loop {
                            probe_floor(&mine, next, first).await;
                            first = false;
                            next += interval;
                            tokio::time::sleep_until(next).await;
                        }
                    }));
                    all.push(samples);
                }
                tokio::time::sleep_until(t0 + p.duration).await;
                handles.iter().for_each(tokio::task::JoinHandle::abort);
                (merge(&all), expected_after_first(p))
            }
            TASKS => {
                record.interval_ms = Some(p.interval.as_secs_f64() * 1e3);
                let t0 = Instant::now() + LEAD;
                let mut probes = Vec::new();
                for i in 0..p.n {
                    let probe = Arc::new(TasksProbe {
                        ticker: OnceLock::new(),
                        pending: Mutex::new(None),
                        samples: Samples::with_capacity(per_loop),
                    });
                    let ticker = tasks::Loop::builder(|probe: Arc<TasksProbe>| async move {
                        probe.iteration();
                    })
                    .seconds(p.interval.as_secs_f64())
                    .build()
                    .expect("a valid loop");
                    let _ = probe.ticker.set(ticker.clone());
                    let (mine, start) = (Arc::clone(&probe), t0 + phase(p, i));
                    tokio::spawn(async move {
                        tokio::time::sleep_until(start).await;
                        ticker.start(mine).expect("not running");
                    });
                    probes.push(probe);
                }
                tokio::time::sleep_until(t0 + p.duration).await;
                for probe in &probes {
                    if let Some(ticker) = probe.ticker.get() {
                        ticker.cancel();
                    }
                }
                let all = probes
                    .iter()
                    .flat_map(|probe| probe.samples.take())
                    .collect();
                (all, expected_after_first(p))
            }
            CRON => {
                let interval = CRON_INTERVAL;
                record.interval_ms = Some(interval.as_secs_f64() * 1e3);
                record.note =
                    Some("1 s interval: the shortest tokio-cron-scheduler supports".into());
                let sched = cron_scheduler(p.n).await;
                let mut all = Vec::new();
                for _ in 0..p.n {
                    let samples = Arc::new(Samples::with_capacity(per_loop));
                    let mine = Arc::clone(&samples);
                    let runs = Arc::new(AtomicU64::new(0));
                    let first = cron_first_deadline();
                    cron_add(&sched, interval, move || {
                        let now = std::time::Instant::now();
                        let k = runs.fetch_add(1, Ordering::Relaxed);
                        let deadline = first + interval * u32::try_from(k).unwrap_or(u32::MAX);
                        mine.push_ns(signed_ns(now, deadline));
                        Box::pin(async {})
                    })
                    .await;
                    all.push(samples);
                }
                sched.start().await.expect("the scheduler started");
                tokio::time::sleep(p.duration).await;
                let mut sched = sched;
                let _ = sched.shutdown().await;
                let expected = p.n * (p.duration.as_millis() / interval.as_millis()) as u64;
                (merge(&all), expected)
            }
            other => panic!("no peer {other} in the precision scenario"),
        };
        let moved = (wall_minus_mono() - offset0).abs();
        if moved > 100_000 {
            record.note = Some(format!(
                "the wall clock moved {} µs against the monotonic one during the run",
                moved / 1000
            ));
        }
        (samples, expected)
    });
    record.lateness = Some(Lateness::from_samples(samples, expected));
    std::mem::forget(rt);
    record
}

/// The precision scenario starts its loops this long after making them.
const LEAD: Duration = Duration::from_millis(300);

/// When loop `i` of the precision scenario starts, after the common start:
/// the starts are spread evenly over one interval, so that every peer
/// meets the same load at every instant (and the time a peer takes to
/// start its loops does not decide how many share a deadline).
fn phase(p: &Params, i: u64) -> Duration {
    p.interval.mul_f64(i as f64 / p.n as f64)
}

/// The precision body of the tokio loop: the lateness against `deadline`.
async fn probe_floor(samples: &Samples, deadline: Instant, first: bool) {
    if !first {
        samples.push_ns(signed_ns(std::time::Instant::now(), deadline.into_std()));
    }
}

/// Iterations after the first one (which runs at the loop's start) that
/// fit in the run, all loops together.
fn expected_after_first(p: &Params) -> u64 {
    (0..p.n)
        .map(|i| ((p.duration - phase(p, i)).as_nanos() / p.interval.as_nanos()) as u64)
        .sum()
}

/// The wall clock minus the monotonic one, in ns (changes only when the
/// wall clock is stepped or slewed).
fn wall_minus_mono() -> i64 {
    static ANCHOR: OnceLock<std::time::Instant> = OnceLock::new();
    let anchor = *ANCHOR.get_or_init(std::time::Instant::now);
    let mono = anchor.elapsed().as_nanos() as i64;
    let wall = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    wall - mono
}

/// Every loop's samples in one list.
fn merge(all: &[Arc<Samples>]) -> Vec<i64> {
    all.iter().flat_map(|samples| samples.take()).collect()
}

// ---------------------------------------------------------------------------
// Scenario 4: drift.

pub fn drift(peer: &str, p: &Params) -> Record {
    let mut record = Record::new("drift", peer, "tokio current_thread");
    let rt = current_thread();
    let (first_deadline, interval, times) = rt.block_on(async {
        let times = Arc::new(Mutex::new(Vec::with_capacity(p.n as usize + 1)));
        let stamp = {
            let times = Arc::clone(&times);
            move || {
                times
                    .lock()
                    .expect("not poisoned")
                    .push(std::time::Instant::now())
            }
        };
        let (first, interval) = match peer {
            FLOOR => {
                let n = p.n;
                let interval = p.interval;
                tokio::spawn(async move {
                    let mut next = Instant::now();
                    for _ in 0..n {
                        stamp();
                        next += interval;
                        tokio::time::sleep_until(next).await;
                    }
                })
                .await
                .expect("the floor loop");
                (None, p.interval)
            }
            TASKS => {
                let ticker = tasks::Loop::builder(move |()| {
                    stamp();
                    async {}
                })
                .seconds(p.interval.as_secs_f64())
                .count(p.n)
                .build()
                .expect("a valid loop");
                let outcome = ticker.start(()).expect("not running").await;
                assert_eq!(outcome, tasks::RunOutcome::Completed);
                (None, p.interval)
            }
            CRON => {
                let interval = CRON_INTERVAL;
                record.note =
                    Some("1 s interval: the shortest tokio-cron-scheduler supports".into());
                let sched = cron_scheduler(1).await;
                let done = Arc::new(tokio::sync::Notify::new());
                let ran = Arc::new(AtomicU64::new(0));
                let (n, signal) = (p.n, Arc::clone(&done));
                let first = cron_first_deadline();
                cron_add(&sched, interval, move || {
                    if ran.fetch_add(1, Ordering::Relaxed) < n {
                        stamp();
                    }
                    if ran.load(Ordering::Relaxed) >= n {
                        signal.notify_one();
                    }
                    Box::pin(async {})
                })
                .await;
                sched.start().await.expect("the scheduler started");
                done.notified().await;
                let mut sched = sched;
                let _ = sched.shutdown().await;
                (Some(first), interval)
            }
            other => panic!("no peer {other} in the drift scenario"),
        };
        let times = std::mem::take(&mut *times.lock().expect("not poisoned"));
        (first, interval, times)
    });
    let Some(&t0) = times.first() else {
        return record;
    };
    // Deadlines `first + k * interval`: the first iteration runs at start
    // (tasks, the tokio loop) or one interval after the job is made (cron).
    let origin = first_deadline.unwrap_or(t0);
    let lateness: Vec<i64> = times
        .iter()
        .enumerate()
        .map(|(k, &t)| signed_ns(t, origin + interval * u32::try_from(k).unwrap_or(u32::MAX)))
        .collect();
    let median = |values: &[i64]| {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted[sorted.len() / 2]
    };
    record.interval_ms = Some(interval.as_secs_f64() * 1e3);
    record.iterations = Some(times.len() as u64);
    record.early_lateness_ns = Some(median(&lateness[..lateness.len().min(10)]));
    record.late_lateness_ns = Some(median(&lateness[lateness.len().saturating_sub(10)..]));
    record.last_lateness_ns = lateness.last().copied();
    record.max_lateness_ns = lateness.iter().copied().max();
    record.series = Some(downsample(&lateness, 400));
    record
}
