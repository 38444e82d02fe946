//! What a loop tells tracing: a span per iteration that the body's own
//! spans nest under, and events for errors and for start, stop, cancel and
//! shutdown, at the levels the crate documents.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::sleep_ms;
use tasks_runtime::{FixedBackoff, Loop};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[derive(Clone, Debug)]
struct SpanSeen {
    name: String,
    fields: HashMap<String, String>,
    parent: Option<u64>,
}

#[derive(Clone, Debug)]
struct EventSeen {
    level: Level,
    fields: HashMap<String, String>,
    span: Option<u64>,
}

/// Keeps every span and event, with the span each event happened in.
#[derive(Clone, Default)]
struct Recording {
    spans: Arc<Mutex<HashMap<u64, SpanSeen>>>,
    events: Arc<Mutex<Vec<EventSeen>>>,
    stack: Arc<Mutex<Vec<u64>>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Recording {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = HashMap::new();
        span.record(&mut Fields(&mut fields));
        let parent = match span.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if span.is_contextual() => self.stack.lock().unwrap().last().copied(),
            None => None,
        };
        let seen = SpanSeen {
            name: span.metadata().name().to_owned(),
            fields,
            parent,
        };
        self.spans.lock().unwrap().insert(id, seen);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(EventSeen {
            level: *event.metadata().level(),
            fields,
            span: self.stack.lock().unwrap().last().copied(),
        });
    }
    fn enter(&self, span: &Id) {
        self.stack.lock().unwrap().push(span.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.stack.lock().unwrap().pop();
    }
}

impl Recording {
    fn span(&self, id: u64) -> SpanSeen {
        self.spans.lock().unwrap()[&id].clone()
    }

    fn events_with(&self, level: Level, message_part: &str) -> Vec<EventSeen> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.level == level)
            .filter(|e| {
                e.fields
                    .get("message")
                    .is_some_and(|m| m.contains(message_part))
            })
            .cloned()
            .collect()
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_body_runs_in_an_iteration_span_that_its_own_spans_nest_under() {
    let recording = Recording::default();
    let _guard = tracing::subscriber::set_default(recording.clone());
    let lp = Loop::builder(|()| async {
        let fetch = tracing::info_span!("fetch", url = "https://example.invalid");
        let _entered = fetch.enter();
        tracing::info!("fetched");
    })
    .name("feed")
    .seconds(1.0)
    .count(2)
    .build()
    .unwrap();
    lp.start(()).unwrap().await;

    let fetched = recording.events_with(Level::INFO, "fetched");
    assert_eq!(fetched.len(), 2);
    for (k, event) in fetched.iter().enumerate() {
        let fetch = recording.span(event.span.unwrap());
        assert_eq!(fetch.name, "fetch");
        let iteration = recording.span(fetch.parent.expect("nested"));
        assert_eq!(iteration.name, "iteration");
        assert_eq!(iteration.fields["loop"], "feed");
        assert_eq!(iteration.fields["iteration"], k.to_string());
        assert!(iteration.fields.contains_key("slot"), "{iteration:?}");
    }
    assert_eq!(
        recording.events_with(Level::INFO, "the loop started").len(),
        1
    );
    assert_eq!(
        recording.events_with(Level::INFO, "the loop ended").len(),
        1
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn errors_are_a_warning_when_retried_and_an_error_when_not() {
    let recording = Recording::default();
    let _guard = tracing::subscriber::set_default(recording.clone());
    let calls = Arc::new(AtomicU64::new(0));
    let lp = Loop::builder(move |()| {
        let k = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            match k {
                0 => Err(std::io::Error::other("flaky").into()),
                _ => Err::<(), tasks_runtime::BoxError>("broken".into()),
            }
        }
    })
    .name("errors")
    .backoff(|| FixedBackoff::new(Duration::from_millis(250)))
    .build()
    .unwrap();
    lp.start(()).unwrap().await;

    let retried = recording.events_with(Level::WARN, "retrying");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].fields["backoff_seconds"], "0.25");
    assert_eq!(retried[0].fields["error"], "flaky");
    let unhandled = recording.events_with(Level::ERROR, "unhandled error");
    assert_eq!(unhandled.len(), 1);
    assert_eq!(unhandled[0].fields["error"], "broken");
    assert_eq!(unhandled[0].fields["loop_name"], "errors");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stop_cancel_and_shutdown_are_logged() {
    let recording = Recording::default();
    let _guard = tracing::subscriber::set_default(recording.clone());
    let lp = Loop::builder(|()| async {})
        .name("controlled")
        .seconds(1.0)
        .build()
        .unwrap();
    lp.start(()).unwrap();
    lp.stop();
    sleep_ms(1500).await;
    lp.start(()).unwrap();
    lp.cancel();
    sleep_ms(10).await;
    lp.start(()).unwrap();
    assert!(lp.shutdown(Duration::from_secs(1)).await);
    for message in [
        "stop requested",
        "cancel requested",
        "shutting the loop down",
    ] {
        assert_eq!(
            recording.events_with(Level::INFO, message).len(),
            1,
            "{message}"
        );
    }
    assert_eq!(
        recording.events_with(Level::INFO, "the loop started").len(),
        3
    );
}
