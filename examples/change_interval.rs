//! `change_interval`: a monitor that checks more often under load, and
//! less often when things are calm, by changing its own interval.
//!
//! ```text
//! cargo run --example change_interval
//! ```

use tasks::{BoxError, Interval};

/// The load the monitor reads at each check (a stand-in for a real gauge).
const LOADS: [f64; 6] = [0.20, 0.85, 0.95, 0.90, 0.40, 0.10];

/// The interval for a load: 100 ms when busy, 400 ms when calm.
fn interval_for(load: f64) -> f64 {
    if load >= 0.8 {
        0.1
    } else {
        0.4
    }
}

#[tasks::r#loop(seconds = 0.4, count = 6)]
async fn monitor() {
    let check = monitor.current_loop() as usize;
    let load = LOADS[check % LOADS.len()];
    let wanted = interval_for(load);
    let current = monitor.seconds().unwrap_or_default();
    if wanted == current {
        println!("  load {:>3.0}%: checking every {current} s", load * 100.0);
        return;
    }
    println!(
        "  load {:>3.0}%: checking every {wanted} s instead of {current} s",
        load * 100.0
    );
    if let Err(error) = monitor.change_interval(Interval::seconds(wanted)) {
        eprintln!("  cannot change the interval: {error}");
    }
}

/// Runs the monitor through a busy spell.
pub async fn run() -> Result<(), BoxError> {
    let started = tokio::time::Instant::now();
    let outcome = monitor.start(())?.await;
    println!(
        "  the run ended: {outcome:?}, after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run().await
}
