//! The chart, as SVG text: the lateness distribution of each peer in the
//! precision scenario (a CDF on a log axis), and the lateness of each
//! iteration over the drift run.

use std::fmt::Write as _;

use crate::records::{Record, CRON, DPY, FLOOR, TASKS};
use crate::units::group;

const WIDTH: f64 = 1130.0;
const HEIGHT: f64 = 530.0;
const PANEL: f64 = 470.0;
const TOP: f64 = 50.0;
const PLOT_H: f64 = 320.0;

fn color(peer: &str) -> &'static str {
    match peer {
        TASKS => "#d62728",
        FLOOR => "#1f77b4",
        CRON => "#2ca02c",
        DPY => "#9467bd",
        _ => "#7f7f7f",
    }
}

fn label(r: &Record) -> String {
    let loops = match (r.scenario.as_str(), r.loops) {
        ("precision", Some(n)) => format!(", {} loops", group(n)),
        _ => String::new(),
    };
    let interval = r.interval_ms.map_or(String::new(), |ms| {
        if ms >= 1000.0 {
            format!(" ({} s{loops})", ms / 1000.0)
        } else {
            format!(" ({ms} ms{loops})")
        }
    });
    match r.peer.as_str() {
        FLOOR => format!("tokio loop{interval}"),
        other => format!("{other}{interval}"),
    }
}

fn ms_label(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms} ms")
    } else {
        format!("{} µs", ms * 1000.0)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn svg(records: &[Record]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    cdf_panel(&mut s, records, 70.0);
    drift_panel(&mut s, records, 70.0 + PANEL + 90.0);
    s.push_str("</svg>\n");
    s
}

/// Where a percentile sits on the tail axis: 0 at p0, 1 at p90, 2 at p99,
/// 3 at p99.9, 4 at p99.99, and the maximum at 4.5.
fn tail(pct: f64) -> f64 {
    if pct >= 100.0 {
        4.5
    } else {
        (-(1.0 - pct / 100.0).log10()).min(4.0)
    }
}

/// Left: the lateness (y, log) at each percentile (x, tail scale) of the
/// precision scenario.
fn cdf_panel(s: &mut String, records: &[Record], x0: f64) {
    let rows: Vec<&Record> = records
        .iter()
        .filter(|r| r.scenario == "precision" && r.lateness.is_some())
        .collect();
    let _ = writeln!(
        s,
        r#"<text x="{}" y="25" font-size="15" text-anchor="middle">Precision: lateness of the iterations, by percentile</text>"#,
        x0 + PANEL / 2.0
    );
    let max_ms = rows
        .iter()
        .filter_map(|r| r.lateness.as_ref().map(|l| l.max_ns as f64 / 1e6))
        .fold(1.0_f64, f64::max);
    // Decades from 10 µs to the largest lateness seen.
    let (lo, hi) = (-2.0_f64, max_ms.log10().ceil().max(0.0));
    let x = |pct: f64| x0 + tail(pct) / 4.5 * PANEL;
    let y = |ms: f64| TOP + PLOT_H - (ms.max(10f64.powf(lo)).log10() - lo) / (hi - lo) * PLOT_H;
    axes(
        s,
        x0,
        "percentile of the iterations",
        "lateness (log scale)",
    );
    for (pct, text) in [
        (0.0, "0"),
        (50.0, "50"),
        (90.0, "90"),
        (99.0, "99"),
        (99.9, "99.9"),
        (99.99, "99.99"),
        (100.0, "max"),
    ] {
        let xx = x(pct);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{}" stroke="#ddd"/><text x="{xx:.1}" y="{}" text-anchor="middle">{text}</text>"##,
            TOP + PLOT_H,
            TOP + PLOT_H + 16.0
        );
    }
    let mut decade = lo;
    while decade <= hi {
        let ms = 10f64.powf(decade);
        let yy = y(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + PANEL,
            x0 - 6.0,
            yy + 4.0,
            ms_label(ms)
        );
        decade += 1.0;
    }
    let most = rows.iter().filter_map(|r| r.loops).max();
    for (i, r) in rows.iter().enumerate() {
        let Some(l) = &r.lateness else { continue };
        // Dashed: a run with fewer loops than the others.
        let dash = if r.loops == most {
            ""
        } else {
            r#" stroke-dasharray="6 4""#
        };
        let points: Vec<String> = l
            .cdf
            .iter()
            .map(|&(pct, v)| format!("{:.1},{:.1}", x(pct), y(v as f64 / 1e6)))
            .collect();
        let c = color(&r.peer);
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{}"/>"#,
            points.join(" ")
        );
        legend(s, x0, i, c, dash, &label(r));
    }
}

/// Right: the lateness of each iteration against `first + k * interval`,
/// over the run (the largest in each bucket).
fn drift_panel(s: &mut String, records: &[Record], x0: f64) {
    let rows: Vec<&Record> = records
        .iter()
        .filter(|r| r.scenario == "drift" && r.series.is_some())
        .collect();
    let _ = writeln!(
        s,
        r#"<text x="{}" y="25" font-size="15" text-anchor="middle">Drift: lateness over the run (the worst in each bucket)</text>"#,
        x0 + PANEL / 2.0
    );
    let seconds = |r: &Record, k: u64| k as f64 * r.interval_ms.unwrap_or(0.0) / 1e3;
    let t_max = rows
        .iter()
        .filter_map(|r| Some(seconds(r, r.series.as_ref()?.last()?.0)))
        .fold(1.0_f64, f64::max);
    let l_max = rows
        .iter()
        .flat_map(|r| r.series.iter().flatten().map(|&(_, v)| v as f64 / 1e6))
        .fold(1.0_f64, f64::max);
    // Lateness on a log axis too: from 10 µs.
    let (lo, hi) = (-2.0_f64, l_max.log10().ceil().max(0.0));
    let x = |t: f64| x0 + t / t_max * PANEL;
    let y = |ms: f64| TOP + PLOT_H - (ms.max(10f64.powf(lo)).log10() - lo) / (hi - lo) * PLOT_H;
    axes(s, x0, "time into the run (s)", "lateness (log scale)");
    for i in 0..=5 {
        let t = t_max * f64::from(i) / 5.0;
        let xx = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{}" stroke="#eee"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            TOP + PLOT_H,
            TOP + PLOT_H + 16.0,
            if t_max < 10.0 {
                format!("{t:.1}")
            } else {
                format!("{t:.0}")
            }
        );
    }
    let mut decade = lo;
    while decade <= hi {
        let ms = 10f64.powf(decade);
        let yy = y(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + PANEL,
            x0 - 6.0,
            yy + 4.0,
            ms_label(ms)
        );
        decade += 1.0;
    }
    for (i, r) in rows.iter().enumerate() {
        let Some(series) = &r.series else { continue };
        let points: Vec<String> = series
            .iter()
            .map(|&(k, v)| format!("{:.1},{:.1}", x(seconds(r, k)), y(v as f64 / 1e6)))
            .collect();
        let c = color(&r.peer);
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{}"/>"#,
            points.join(" ")
        );
        legend(s, x0, i, c, "", &label(r));
    }
}

fn axes(s: &mut String, x0: f64, x_title: &str, y_title: &str) {
    let _ = writeln!(
        s,
        r#"<rect x="{x0}" y="{TOP}" width="{PANEL}" height="{PLOT_H}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        x0 + PANEL / 2.0,
        TOP + PLOT_H + 34.0,
        escape(x_title)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        x0 - 48.0,
        TOP + PLOT_H / 2.0,
        escape(y_title)
    );
}

fn legend(s: &mut String, x0: f64, i: usize, color: &str, dash: &str, text: &str) {
    let lx = x0;
    let ly = TOP + PLOT_H + 56.0 + i as f64 * 18.0;
    let _ = writeln!(
        s,
        r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"{dash}/><text x="{}" y="{}">{}</text>"#,
        lx + 22.0,
        lx + 28.0,
        ly + 4.0,
        escape(text)
    );
}
