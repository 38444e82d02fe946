//! The tables: one per scenario, with the ratios to the floor, then the
//! targets of `tasks`, met or missed.

use std::fmt::Write as _;

use crate::records::{Record, CRON, DPY, FLOOR, FLOOR_YIELD, TASKS};
use crate::units::{bytes, group, ns};

fn find<'a>(records: &'a [Record], scenario: &str, peer: &str) -> Option<&'a Record> {
    records
        .iter()
        .find(|r| r.scenario == scenario && r.peer == peer)
}

fn scenario<'a>(records: &'a [Record], name: &str) -> Vec<&'a Record> {
    let order = [FLOOR, FLOOR_YIELD, TASKS, CRON, DPY];
    let mut rows: Vec<&Record> = records.iter().filter(|r| r.scenario == name).collect();
    rows.sort_by_key(|r| {
        order
            .iter()
            .position(|p| *p == r.peer)
            .unwrap_or(order.len())
    });
    rows
}

/// One record per scenario, peer and loop count: where a precision run was
/// repeated, the run with the median p99, noted with the p99 of every run.
pub fn median_runs(records: &[Record]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut seen: Vec<(String, String, Option<u64>)> = Vec::new();
    for r in records {
        let key = (r.scenario.clone(), r.peer.clone(), r.loops);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        let mut runs: Vec<&Record> = records
            .iter()
            .filter(|o| (o.scenario.clone(), o.peer.clone(), o.loops) == key)
            .collect();
        if runs.len() < 2 || r.lateness.is_none() {
            out.push(r.clone());
            continue;
        }
        let p99 = |r: &Record| r.lateness.as_ref().map_or(0, |l| l.p99_ns);
        let all: Vec<String> = runs.iter().map(|r| ns(p99(r) as f64)).collect();
        runs.sort_by_key(|r| p99(r));
        let mut chosen = runs[runs.len() / 2].clone();
        let note = format!(
            "{} runs, alternating with the other peers; the table shows the median by p99 (p99 of each run: {})",
            runs.len(),
            all.join(", ")
        );
        chosen.note = Some(match chosen.note {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
        out.push(chosen);
    }
    out
}

fn opt<T>(value: Option<T>, f: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "—".into(), f)
}

fn ratio(value: Option<f64>, floor: Option<f64>) -> Option<f64> {
    match (value, floor) {
        (Some(v), Some(f)) if f > 0.0 => Some(v / f),
        _ => None,
    }
}

fn times(r: f64) -> String {
    format!("{r:.2}×")
}

fn peer_label(r: &Record) -> String {
    match r.peer.as_str() {
        FLOOR => "tokio loop (floor)".into(),
        FLOOR_YIELD => "tokio loop + yield when due".into(),
        TASKS => "**tasks**".into(),
        other => other.into(),
    }
}

/// The report, in Markdown.
pub fn markdown(records: &[Record], machine: &[(String, String)], failures: &[String]) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "| machine | |\n| --- | --- |");
    for (k, v) in machine {
        let _ = writeln!(w, "| {k} | {v} |");
    }

    // 1. Overhead.
    let rows = scenario(records, "overhead");
    if let Some(first) = rows.iter().find(|r| r.peer == TASKS).or(rows.first()) {
        let _ = writeln!(
            w,
            "\n### 1. Overhead: {} iterations of an empty body at interval 0\n",
            opt(first.iterations, group)
        );
    }
    let floor = find(records, "overhead", FLOOR).and_then(|r| r.ns_per_iter);
    let floor_yield = find(records, "overhead", FLOOR_YIELD).and_then(|r| r.ns_per_iter);
    let _ = writeln!(
        w,
        "| peer | runtime | interval | time / iteration (median) | CPU / iteration | allocations / iteration | vs floor | vs tokio + yield |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &rows {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            peer_label(r),
            r.runtime,
            opt(r.interval_ms, interval),
            opt(r.ns_per_iter, ns),
            opt(r.cpu_ns_per_iter, ns),
            opt(r.allocs_per_iter, allocs),
            opt(ratio(r.ns_per_iter, floor), times),
            opt(ratio(r.ns_per_iter, floor_yield), times),
        );
    }
    notes(w, &rows);

    // 2. Scale.
    let rows = scenario(records, "scale");
    if let Some(first) = rows.first() {
        let _ = writeln!(
            w,
            "\n### 2. Scale: {} idle loops at a {} interval on one runtime\n",
            opt(first.loops, group),
            opt(first.interval_ms, interval)
        );
    }
    let floor = find(records, "scale", FLOOR);
    let _ = writeln!(
        w,
        "| peer | loops | start all | RSS before | RSS / loop | vs floor | heap / loop | CPU while idle (one core) | CPU / iteration | iterations / s (of) | allocations / iteration |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &rows {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} |",
            peer_label(r),
            opt(r.loops, group),
            opt(r.setup_ms, |v| ns(v * 1e6)),
            opt(r.rss_base_bytes, |v| bytes(v as f64)),
            opt(r.rss_per_loop_bytes, bytes),
            opt(
                ratio(
                    r.rss_per_loop_bytes,
                    floor.and_then(|f| f.rss_per_loop_bytes)
                ),
                times
            ),
            opt(r.heap_per_loop_bytes, bytes),
            opt(r.cpu_percent, |v| format!("{v:.1} %")),
            opt(r.cpu_us_per_iter, |v| ns(v * 1e3)),
            opt(r.iters_per_s, |v| group(v.round() as u64)),
            opt(r.expected_iters_per_s, |v| group(v.round() as u64)),
            opt(r.allocs_per_iter, allocs),
        );
    }
    notes(w, &rows);

    // 3. Precision.
    let rows = scenario(records, "precision");
    if let Some(first) = rows.iter().find(|r| r.peer == TASKS).or(rows.first()) {
        let _ = writeln!(
            w,
            "\n### 3. Precision: {} loops at a {} interval, lateness of each iteration against its deadline\n",
            opt(first.loops, group),
            opt(first.interval_ms, interval)
        );
    }
    let floor = find(records, "precision", FLOOR).and_then(|r| r.lateness.clone());
    let _ = writeln!(
        w,
        "| peer | loops | interval | iterations measured (of) | p50 | p99 | max | p50 vs floor | p99 vs floor |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &rows {
        let l = r.lateness.clone().unwrap_or_default();
        let f = floor.clone().unwrap_or_default();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
            peer_label(r),
            opt(r.loops, group),
            opt(r.interval_ms, interval),
            group(l.count),
            group(l.expected),
            ns(l.p50_ns as f64),
            ns(l.p99_ns as f64),
            ns(l.max_ns as f64),
            opt(ratio(Some(l.p50_ns as f64), Some(f.p50_ns as f64)), times),
            opt(ratio(Some(l.p99_ns as f64), Some(f.p99_ns as f64)), times),
        );
    }
    notes(w, &rows);

    // 4. Drift.
    let rows = scenario(records, "drift");
    if let Some(first) = rows.iter().find(|r| r.peer == TASKS).or(rows.first()) {
        let _ = writeln!(
            w,
            "\n### 4. Drift: one loop at {} for {} iterations, lateness against first + k × interval\n",
            opt(first.interval_ms, interval),
            opt(first.iterations, group)
        );
    }
    let _ = writeln!(
        w,
        "| peer | interval | iterations | lateness, first 10 (median) | lateness, last 10 (median) | lateness of the last | max | drift (last 10 − first 10) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &rows {
        let drift = match (r.late_lateness_ns, r.early_lateness_ns) {
            (Some(l), Some(e)) => Some((l - e) as f64),
            _ => None,
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            peer_label(r),
            opt(r.interval_ms, interval),
            opt(r.iterations, group),
            opt(r.early_lateness_ns, |v| ns(v as f64)),
            opt(r.late_lateness_ns, |v| ns(v as f64)),
            opt(r.last_lateness_ns, |v| ns(v as f64)),
            opt(r.max_lateness_ns, |v| ns(v as f64)),
            opt(drift, ns),
        );
    }
    notes(w, &rows);

    targets(w, records);
    if !failures.is_empty() {
        let _ = writeln!(w, "\n**Runs that failed:**\n");
        for f in failures {
            let _ = writeln!(w, "- {f}");
        }
    }
    md
}

fn notes(w: &mut String, rows: &[&Record]) {
    let notes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.note.as_ref().map(|n| format!("{}: {n}", r.peer)))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(w);
        for n in notes {
            let _ = writeln!(w, "- {n}");
        }
    }
}

fn interval(ms: f64) -> String {
    if ms == 0.0 {
        "0".into()
    } else if ms >= 1000.0 {
        format!("{} s", ms / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

fn allocs(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v < 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.2}")
    }
}

/// The targets of `tasks` from the issue, met or missed.
fn targets(w: &mut String, records: &[Record]) {
    let _ = writeln!(
        w,
        "\n### Targets for tasks\n\n| target | measured | met |\n| --- | --- | :---: |"
    );
    let mut row = |target: &str, measured: String, met: Option<bool>| {
        let mark = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(w, "| {target} | {measured} | {mark} |");
    };
    let get = |scenario: &str, peer: &str| find(records, scenario, peer);

    // Overhead.
    let o = ratio(
        get("overhead", TASKS).and_then(|r| r.ns_per_iter),
        get("overhead", FLOOR).and_then(|r| r.ns_per_iter),
    );
    let oy = ratio(
        get("overhead", TASKS).and_then(|r| r.ns_per_iter),
        get("overhead", FLOOR_YIELD).and_then(|r| r.ns_per_iter),
    );
    row(
        "overhead within 1.1× of the floor (time per iteration at interval 0)",
        format!(
            "{} of the tokio loop; {} of the tokio loop that yields when due",
            opt(o, times),
            opt(oy, times)
        ),
        o.map(|o| o <= 1.1),
    );

    // Precision.
    let (t, f) = (
        get("precision", TASKS).and_then(|r| r.lateness.clone()),
        get("precision", FLOOR).and_then(|r| r.lateness.clone()),
    );
    let (p50, p99) = match (&t, &f) {
        (Some(t), Some(f)) => (
            ratio(Some(t.p50_ns as f64), Some(f.p50_ns as f64)),
            ratio(Some(t.p99_ns as f64), Some(f.p99_ns as f64)),
        ),
        _ => (None, None),
    };
    row(
        "precision within 1.1× of the floor (lateness p50 and p99)",
        format!("p50 {}, p99 {}", opt(p50, times), opt(p99, times)),
        p50.zip(p99).map(|(a, b)| a <= 1.1 && b <= 1.1),
    );

    // Memory.
    let (t, f) = (
        get("scale", TASKS).and_then(|r| r.rss_per_loop_bytes),
        get("scale", FLOOR).and_then(|r| r.rss_per_loop_bytes),
    );
    let m = ratio(t, f);
    row(
        "memory per idle loop within 1.5× of the floor",
        format!("{} ({} vs {})", opt(m, times), opt(t, bytes), opt(f, bytes)),
        m.map(|m| m <= 1.5),
    );
    let beyond = t.zip(f).map(|(t, f)| t - f);
    row(
        "memory per idle loop under 1 KiB beyond the floor",
        opt(beyond, |b| format!("{} beyond", bytes(b))),
        beyond.map(|b| b < 1024.0),
    );

    // Allocations.
    let a = get("overhead", TASKS).and_then(|r| r.allocs_per_iter);
    let s = get("scale", TASKS).and_then(|r| r.allocs_per_iter);
    row(
        "no allocation per iteration in steady state",
        format!(
            "{} per iteration at interval 0 ({} per run of {}, setup included); {} per iteration with {} loops at 1 s",
            opt(a, allocs),
            opt(get("overhead", TASKS).and_then(|r| r.allocs_in_run), group),
            opt(get("overhead", TASKS).and_then(|r| r.iterations), group),
            opt(s, allocs),
            opt(get("scale", TASKS).and_then(|r| r.loops), group),
        ),
        a.zip(s).map(|(a, s)| a == 0.0 && s < 0.001),
    );

    // Drift.
    let d =
        get("drift", TASKS).and_then(|r| Some((r.late_lateness_ns? - r.early_lateness_ns?) as f64));
    row(
        "zero cumulative drift (the last iterations no later than the first ones, within 1 ms)",
        opt(d, |d| {
            format!(
                "{} between the first 10 iterations and the last 10 (medians), over {} iterations",
                ns(d),
                opt(get("drift", TASKS).and_then(|r| r.iterations), group)
            )
        }),
        d.map(|d| d.abs() < 1e6),
    );
}
