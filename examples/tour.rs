//! The tour: every technique of the other examples, one after the other,
//! in a few seconds.
//!
//! ```text
//! cargo run --example tour
//! ```
//!
//! Each example is a module here (its own `main` goes unused).

use tasks::BoxError;

#[allow(dead_code)]
#[path = "count.rs"]
mod count;

#[allow(dead_code)]
#[path = "times_of_day.rs"]
mod times_of_day;

#[allow(dead_code)]
#[path = "reconnect.rs"]
mod reconnect;

#[allow(dead_code)]
#[path = "shared_state.rs"]
mod shared_state;

#[allow(dead_code)]
#[path = "change_interval.rs"]
mod change_interval;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let started = std::time::Instant::now();
    println!("1. count: an announcement sent twice, then after_loop");
    count::run().await?;
    println!("\n2. times_of_day: greetings at listed times of day, in Seoul");
    times_of_day::run().await?;
    println!("\n3. reconnect: retried errors, a custom retried type, the error hook");
    reconnect::run().await?;
    println!("\n4. shared_state: a cog's loop and command sharing a counter");
    shared_state::run().await?;
    println!("\n5. change_interval: a monitor that adapts to the load");
    change_interval::run().await?;
    println!("\nthe tour took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
