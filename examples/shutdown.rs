//! `shutdown`: several loops stopped together on Ctrl-C, each given the
//! same grace period to finish what it is doing.
//!
//! ```text
//! cargo run --example shutdown          # Ctrl-C to stop, or wait 5 s
//! ```
//!
//! Three loops run: a heartbeat that is sleeping when the shutdown comes
//! (it ends at once), a sync whose iteration finishes within the grace
//! period, and an export stuck in a call far longer than the grace period
//! (it is cancelled, and its `after_loop` still runs). So that it also
//! ends without a terminal (CI, a pipe), the demo shuts down by itself
//! after 5 seconds if Ctrl-C has not come first.

use std::time::Duration;

use tasks::registry;

#[tasks::r#loop(seconds = 1)]
async fn heartbeat() {
    println!("heartbeat");
}

#[tasks::r#loop(seconds = 2)]
async fn sync() {
    println!("sync: started (takes 1.5 s)");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!("sync: done");
}

#[tasks::r#loop(seconds = 3, timeout = 60)]
async fn export() {
    println!("export: started (takes a minute)");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::main]
async fn main() {
    export.after_loop(|| async {
        println!(
            "export: after_loop (cancelled: {})",
            export.is_being_cancelled()
        );
    });
    heartbeat.start(()).expect("not running yet");
    sync.start(()).expect("not running yet");
    export.start(()).expect("not running yet");

    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nCtrl-C: shutting down"),
        () = tokio::time::sleep(Duration::from_secs(5)) => println!("5 s passed: shutting down"),
    }
    let report = registry::shutdown_all(Duration::from_secs(2)).await;
    println!("ended gracefully: {:?}", report.graceful);
    println!("cancelled after the grace period: {:?}", report.cancelled);
}
