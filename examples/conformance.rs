//! The conformance driver: runs one scenario (the format is in
//! `checks/conformance/FORMAT.md`) through `tasks::Loop` and prints the event
//! trace, one JSON object per line, for comparison with discord.py's
//! (`checks/conformance/run` does both and compares).
//!
//! ```text
//! cargo run --release --example conformance -- path/to/scenario.json
//! ```
//!
//! It uses only the public API of the `tasks` facade.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};
use tasks::testing::VirtualClock;
use tasks::{
    Clock, Cron, FixedBackoff, Interval, IterationTimeout, Loop, LoopError, MissedTickBehavior,
    SystemClock, TimeOfDay, Zone,
};
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
#[error("a custom error")]
struct CustomError;

#[derive(Debug, thiserror::Error)]
#[error("a fatal error")]
struct FatalError;

/// The trace, with times relative to the scenario's start.
struct Trace {
    start: Instant,
    events: Mutex<Vec<Value>>,
}

impl Trace {
    fn emit(&self, event: &str, fields: Value) {
        let mut record = Map::new();
        record.insert(
            "t".into(),
            json!(round3(self.start.elapsed().as_secs_f64())),
        );
        record.insert("ev".into(), json!(event));
        if let Value::Object(fields) = fields {
            record.extend(fields);
        }
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Value::Object(record));
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Everything the body and the script need.
struct Scenario {
    spec: Value,
    zone: Zone,
    start_utc: DateTime<Utc>,
    clock: Arc<dyn Clock>,
    trace: Trace,
    calls: HashMap<u64, Value>,
    counter: Mutex<u64>,
    the_loop: OnceLock<Loop<()>>,
}

impl Scenario {
    fn the_loop(&self) -> &Loop<()> {
        self.the_loop
            .get()
            .expect("the loop is built before it runs")
    }

    fn time_of(&self, spec: &Value) -> Result<TimeOfDay, String> {
        if let Some(text) = spec.as_str() {
            return TimeOfDay::parse(text)
                .map(|t| t.in_zone(self.zone))
                .map_err(|e| e.to_string());
        }
        let offset = spec.as_f64().ok_or("a time is a number or a string")?;
        let micros = (offset * 1e6).round() as i64;
        let at = self.start_utc + TimeDelta::microseconds(micros);
        let local = self.zone.local(at).time();
        Ok(TimeOfDay::utc(local).in_zone(self.zone))
    }

    /// The schedule of `loop` or of a `change_interval`: `cron` (in `tz`),
    /// `times`, or the relative parts.
    fn interval_of(&self, op: &Value) -> Result<Interval, String> {
        if let Some(expression) = op.get("cron").and_then(Value::as_str) {
            let cron = Cron::parse(expression).map_err(|e| e.to_string())?;
            return Ok(Interval::Cron(cron.in_zone(self.zone)));
        }
        if let Some(times) = op.get("times").and_then(Value::as_array) {
            return Ok(Interval::Times(
                times
                    .iter()
                    .map(|t| self.time_of(t))
                    .collect::<Result<_, _>>()?,
            ));
        }
        let part = |k: &str| op.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Interval::relative(
            part("seconds"),
            part("minutes"),
            part("hours"),
        ))
    }

    fn change_interval(&self, op: &Value) {
        let result = self.interval_of(op).and_then(|i| {
            self.the_loop()
                .change_interval(i)
                .map_err(|e| e.to_string())
        });
        if let Err(error) = result {
            eprintln!("change_interval refused: {error}");
        }
    }

    fn probe(&self) {
        let lp = self.the_loop();
        let next_in = lp
            .next_iteration()
            .map(|next| round3((next - self.clock.now()).as_seconds_f64()));
        self.trace.emit(
            "probe",
            json!({
                "running": lp.is_running(),
                "current_loop": lp.current_loop(),
                "failed": lp.failed(),
                "next_in": next_in,
            }),
        );
    }
}

async fn body(sc: Arc<Scenario>) -> Result<(), tasks::BoxError> {
    let k = {
        let mut counter = sc
            .counter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let k = *counter;
        *counter += 1;
        k
    };
    let lp = sc.the_loop();
    sc.trace.emit(
        "body",
        json!({"call": k, "current_loop": lp.current_loop()}),
    );
    let Some(act) = sc.calls.get(&k) else {
        return Ok(());
    };
    if let Some(secs) = act.get("sleep").and_then(Value::as_f64) {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }
    if let Some(op) = act.get("change_interval") {
        sc.change_interval(op);
    }
    if act.get("stop").and_then(Value::as_bool) == Some(true) {
        lp.stop();
    }
    if act.get("cancel").and_then(Value::as_bool) == Some(true) {
        lp.cancel();
    }
    match act.get("raise").and_then(Value::as_str) {
        None => Ok(()),
        Some("Transient") => Err(std::io::Error::other("Transient").into()),
        Some("Timeout") => Err(elapsed().await.into()),
        Some("Custom") => Err(CustomError.into()),
        Some("Fatal") => Err(FatalError.into()),
        Some(other) => Err(format!("unknown error kind {other}").into()),
    }
}

/// tokio's timeout error has no public constructor: make one.
async fn elapsed() -> tokio::time::error::Elapsed {
    match tokio::time::timeout(Duration::ZERO, std::future::pending::<()>()).await {
        Err(elapsed) => elapsed,
        Ok(()) => unreachable!("a pending future never completes"),
    }
}

fn kind_of(error: &LoopError) -> &'static str {
    if error.is::<tokio::time::error::Elapsed>() || error.is::<IterationTimeout>() {
        "Timeout"
    } else if error.is::<CustomError>() {
        "Custom"
    } else if error.is::<FatalError>() {
        "Fatal"
    } else if error.is::<std::io::Error>() {
        "Transient"
    } else {
        "Other"
    }
}

fn set_exception_type(lp: &Loop<()>, name: &str, add: bool) {
    match (name, add) {
        ("Transient", true) => drop(lp.add_exception_type::<std::io::Error>()),
        ("Transient", false) => drop(lp.remove_exception_type::<std::io::Error>()),
        ("Timeout", true) => drop(lp.add_exception_type::<tokio::time::error::Elapsed>()),
        ("Timeout", false) => drop(lp.remove_exception_type::<tokio::time::error::Elapsed>()),
        ("Custom", true) => drop(lp.add_exception_type::<CustomError>()),
        ("Custom", false) => drop(lp.remove_exception_type::<CustomError>()),
        ("Fatal", true) => drop(lp.add_exception_type::<FatalError>()),
        ("Fatal", false) => drop(lp.remove_exception_type::<FatalError>()),
        _ => eprintln!("unknown error kind {name}"),
    }
}

fn build(sc: &Arc<Scenario>) -> Result<Loop<()>, String> {
    let spec = &sc.spec;
    let loop_spec = spec.get("loop").cloned().unwrap_or(json!({}));
    let for_body = Arc::clone(sc);
    let mut builder = Loop::builder(move |()| body(Arc::clone(&for_body)))
        .name(
            spec.get("name")
                .and_then(Value::as_str)
                .unwrap_or("scenario"),
        )
        .clock(Arc::clone(&sc.clock))
        .interval(sc.interval_of(&loop_spec)?)
        .reconnect(
            loop_spec
                .get("reconnect")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        );
    if let Some(count) = loop_spec.get("count").and_then(Value::as_u64) {
        builder = builder.count(count);
    }
    match loop_spec.get("missed").and_then(Value::as_str) {
        None | Some("burst") => {}
        Some("delay") => builder = builder.missed(MissedTickBehavior::Delay),
        Some("skip") => builder = builder.missed(MissedTickBehavior::Skip),
        Some(other) => return Err(format!("unknown missed policy {other:?}")),
    }
    if let Some(secs) = loop_spec.get("timeout").and_then(Value::as_f64) {
        builder = builder.timeout(Duration::from_secs_f64(secs));
    }
    if let Some(fixed) = spec.pointer("/backoff/fixed").and_then(Value::as_f64) {
        builder = builder.backoff(move || FixedBackoff::new(Duration::from_secs_f64(fixed)));
    }
    let lp = builder.build().map_err(|e| e.to_string())?;

    let hooks: Vec<&str> = spec
        .get("hooks")
        .and_then(Value::as_array)
        .map(|h| h.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if hooks.contains(&"before_loop") {
        let sc = Arc::clone(sc);
        lp.before_loop(move || {
            let sc = Arc::clone(&sc);
            async move {
                sc.trace.emit("before_loop", json!({}));
                let sleep = sc
                    .spec
                    .pointer("/before_loop/sleep")
                    .and_then(Value::as_f64);
                if let Some(secs) = sleep.filter(|s| *s > 0.0) {
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                }
                if sc
                    .spec
                    .pointer("/before_loop/stop")
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    sc.the_loop().stop();
                }
            }
        });
    }
    if hooks.contains(&"after_loop") {
        let sc = Arc::clone(sc);
        lp.after_loop(move || {
            let sc = Arc::clone(&sc);
            async move {
                let lp = sc.the_loop();
                sc.trace.emit(
                    "after_loop",
                    json!({
                        "cancelled": lp.is_being_cancelled(),
                        "failed": lp.failed(),
                        "current_loop": lp.current_loop(),
                    }),
                );
            }
        });
    }
    if hooks.contains(&"error") {
        let sc = Arc::clone(sc);
        lp.error(move |error| {
            let sc = Arc::clone(&sc);
            async move {
                let failed = sc.the_loop().failed();
                sc.trace
                    .emit("error", json!({"kind": kind_of(&error), "failed": failed}));
            }
        });
    }

    let names = |key: &str| -> Vec<String> {
        spec.pointer(&format!("/exception_types/{key}"))
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    if spec
        .pointer("/exception_types/clear")
        .and_then(Value::as_bool)
        == Some(true)
    {
        lp.clear_exception_types();
    }
    for name in names("remove") {
        set_exception_type(&lp, &name, false);
    }
    for name in names("add") {
        set_exception_type(&lp, &name, true);
    }
    Ok(lp)
}

async fn run(spec: Value, virtual_start: Option<DateTime<Utc>>) -> Result<Vec<Value>, String> {
    let start = Instant::now();
    let (clock, start_utc): (Arc<dyn Clock>, _) = match virtual_start {
        Some(at) => (VirtualClock::starting_at(at), at),
        None => (Arc::new(SystemClock), Utc::now()),
    };
    let zone = match spec.pointer("/loop/tz").and_then(Value::as_str) {
        Some(name) => name.parse::<Zone>().map_err(|e| e.to_string())?,
        None => Zone::UTC,
    };
    let calls = spec
        .get("calls")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let sc = Arc::new(Scenario {
        spec,
        zone,
        start_utc,
        clock,
        trace: Trace {
            start,
            events: Mutex::new(Vec::new()),
        },
        calls,
        counter: Mutex::new(0),
        the_loop: OnceLock::new(),
    });
    let lp = build(&sc)?;
    let _ = sc.the_loop.set(lp.clone());

    let mut script: Vec<Value> = sc
        .spec
        .get("script")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    script.sort_by(|a, b| {
        let t = |v: &Value| v.get("t").and_then(Value::as_f64).unwrap_or(0.0);
        t(a).total_cmp(&t(b))
    });
    for op in &script {
        let at = op.get("t").and_then(Value::as_f64).unwrap_or(0.0);
        tokio::time::sleep_until(start + Duration::from_secs_f64(at)).await;
        match op.get("op").and_then(Value::as_str).unwrap_or("") {
            "start" => {
                if lp.start(()).is_err() {
                    sc.trace.emit("start_error", json!({}));
                }
            }
            "stop" => lp.stop(),
            "cancel" => lp.cancel(),
            "restart" => lp.restart(()),
            "probe" => sc.probe(),
            "change_interval" => sc.change_interval(op),
            "shutdown" => {
                let grace = op.get("grace").and_then(Value::as_f64).unwrap_or(0.0);
                let shutdown = lp.shutdown(Duration::from_secs_f64(grace));
                let sc = Arc::clone(&sc);
                tokio::spawn(async move {
                    let graceful = shutdown.await;
                    sc.trace.emit("shutdown", json!({"graceful": graceful}));
                });
            }
            other => return Err(format!("unknown op {other:?}")),
        }
    }
    let until = sc.spec.get("until").and_then(Value::as_f64).unwrap_or(1.0);
    tokio::time::sleep_until(start + Duration::from_secs_f64(until)).await;
    let snapshot = sc
        .trace
        .events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    lp.cancel();
    if let Some(task) = lp.task() {
        task.await;
    }
    Ok(snapshot)
}

fn main() -> Result<(), String> {
    let path = std::env::args()
        .next_back()
        .filter(|a| a.ends_with(".json"))
        .ok_or("usage: conformance SCENARIO.json")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let spec: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let virtual_start = match spec.pointer("/clock/start").and_then(Value::as_str) {
        Some(at) => Some(
            at.parse::<DateTime<Utc>>()
                .map_err(|e| format!("clock.start: {e}"))?,
        ),
        None => None,
    };
    let mut runtime = tokio::runtime::Builder::new_current_thread();
    runtime.enable_time();
    if virtual_start.is_some() {
        runtime.start_paused(true);
    }
    let runtime = runtime.build().map_err(|e| e.to_string())?;
    let events = runtime.block_on(run(spec, virtual_start))?;
    for event in events {
        println!("{event}");
    }
    Ok(())
}
