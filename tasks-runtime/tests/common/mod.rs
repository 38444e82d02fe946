//! A recorder of what a loop did and when, on tokio's paused clock.
#![allow(dead_code)] // each test binary uses its own part

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Events with their time in milliseconds since the recorder was made.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    events: Arc<Mutex<Vec<(u64, String)>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            events: Arc::default(),
        }
    }

    pub fn log(&self, what: impl Into<String>) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.events.lock().unwrap().push((ms, what.into()));
    }

    /// Events as `"<ms> <what>"`.
    pub fn events(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(ms, what)| format!("{ms} {what}"))
            .collect()
    }
}

pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tasks_runtime::{BodyOutput, Loop, LoopBuilder};

/// Builds a loop whose body is handed the loop itself (as discord.py's
/// bodies reach their loop through the decorated name).
pub fn self_aware<F, Fut>(
    configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>,
    body: F,
) -> Loop<()>
where
    F: Fn(Loop<()>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    let cell: Arc<OnceLock<Loop<()>>> = Arc::default();
    let inside = Arc::clone(&cell);
    let lp = configure(Loop::builder(move |()| {
        body(inside.get().expect("set right after build").clone())
    }))
    .build()
    .expect("a valid test loop");
    let _ = cell.set(lp.clone());
    lp
}

/// A loop whose body logs `body <current_loop>`, then sleeps `work[k]` ms
/// on its k-th call.
pub fn logging_loop(
    rec: &Recorder,
    work: &'static [u64],
    configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>,
) -> Loop<()> {
    let rec = rec.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    self_aware(configure, move |me| {
        let rec = rec.clone();
        let k = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            rec.log(format!("body {}", me.current_loop()));
            if let Some(work) = work.get(k) {
                sleep_ms(*work).await;
            }
        }
    })
}

/// Logs `after current_loop=… cancelled=… failed=…` from `after_loop`.
pub fn log_after_loop<A: Send + Sync + 'static>(lp: &Loop<A>, rec: &Recorder) {
    let (rec, me) = (rec.clone(), lp.clone());
    lp.after_loop(move || {
        let (rec, me) = (rec.clone(), me.clone());
        async move {
            rec.log(format!(
                "after current_loop={} cancelled={} failed={}",
                me.current_loop(),
                me.is_being_cancelled(),
                me.failed()
            ))
        }
    });
}

/// The start times (ms) of the logged events.
pub fn times(rec: &Recorder) -> Vec<u64> {
    rec.events()
        .iter()
        .map(|e| {
            e.split(' ')
                .next()
                .unwrap_or("")
                .parse()
                .unwrap_or(u64::MAX)
        })
        .collect()
}

/// A tracing subscriber that formats every field of every event, as a
/// real one does, and prints nothing.
pub struct FormattingSubscriber;

struct FormatAll;

impl tracing::field::Visit for FormatAll {
    fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = format!("{value:?}");
    }
}

impl tracing::Subscriber for FormattingSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut FormatAll);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut FormatAll);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut FormatAll);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// An RFC 3339 instant written in a test.
pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
