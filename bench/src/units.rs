//! How the figures are written: counts with thousands separators,
//! durations and sizes with a unit that fits.

/// 1234567 as "1,234,567".
pub fn group(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in ns, with a unit that fits.
pub fn ns(value: f64) -> String {
    let a = value.abs();
    if a < 1e3 {
        format!("{value:.0} ns")
    } else if a < 1e6 {
        format!("{:.1} µs", value / 1e3)
    } else if a < 1e9 {
        format!("{:.2} ms", value / 1e6)
    } else {
        format!("{:.2} s", value / 1e9)
    }
}

/// A size in bytes, with a unit that fits.
pub fn bytes(value: f64) -> String {
    if value.abs() < 10_000.0 {
        format!("{value:.0} B")
    } else if value.abs() < 1e7 {
        format!("{:.1} KiB", value / 1024.0)
    } else {
        format!("{:.1} MiB", value / 1048576.0)
    }
}
