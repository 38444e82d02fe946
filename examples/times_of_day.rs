//! `times_of_day`: greetings at listed times of day, in a time zone.
//!
//! ```text
//! cargo run --example times_of_day
//! ```
//!
//! The attribute takes fixed times (`time = ["08:00", "20:00"]`, checked at
//! compile time); to greet within seconds, the demo computes times from the
//! clock and builds the same kind of loop with the runtime API.

use chrono::{TimeDelta, Timelike, Utc};
use tasks::tz::Asia::Seoul;
use tasks::{AmbiguousTime, BoxError, Loop, TimeOfDay};

/// The attribute form: good morning and good evening, Seoul time.
#[tasks::r#loop(time = ["08:00", "20:00"], tz = "Asia/Seoul")]
async fn greet_seoul() {
    println!("  안녕하세요, Seoul!");
}

fn seoul_now() -> String {
    Utc::now()
        .with_timezone(&Seoul)
        .format("%H:%M:%S%.3f")
        .to_string()
}

/// Shows the attribute form's schedule, then runs a loop at the next two
/// whole seconds, Seoul time.
pub async fn run() -> Result<(), BoxError> {
    let fixed = greet_seoul.time().unwrap_or_default();
    let listed: Vec<String> = fixed.iter().map(ToString::to_string).collect();
    if let Some(next) = TimeOfDay::next_run(&fixed, Utc::now(), None, AmbiguousTime::Later) {
        println!(
            "  the attribute form greets at {}; next: {} (Seoul)",
            listed.join(" and "),
            next.with_timezone(&Seoul).format("%Y-%m-%d %H:%M")
        );
    }

    let now = Utc::now().with_timezone(&Seoul);
    let mut times = Vec::new();
    for ahead in [1, 2] {
        let at = (now + TimeDelta::seconds(ahead)).time();
        times.push(TimeOfDay::new(at.hour(), at.minute(), at.second())?.in_zone(Seoul));
    }
    let listed: Vec<String> = times.iter().map(ToString::to_string).collect();
    println!(
        "  it is {} in Seoul; greeting at {}",
        seoul_now(),
        listed.join(" and ")
    );
    let greet = Loop::builder(|()| async { println!("  {}  hello from the loop", seoul_now()) })
        .times(times)
        .count(2)
        .name("greet_soon")
        .build()?;
    let outcome = greet.start(())?.await;
    println!("  the run ended: {outcome:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run().await
}
