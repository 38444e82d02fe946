//! `status_server`: every loop's status as JSON and its metrics in
//! Prometheus' text format, served on a local port with axum.
//!
//! ```text
//! cargo run --example status_server --features serde,metrics
//! curl http://127.0.0.1:3000/status
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! The server stops by itself after 60 seconds (or on Ctrl-C), shutting
//! the loops down. `STATUS_SERVER_SECONDS` changes how long it runs, and
//! `STATUS_SERVER_PORT` the port (0 picks a free one).

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tasks::{registry, LoopStatus};

/// Polls a flaky upstream: every third call fails and is retried.
#[tasks::r#loop(seconds = 2, jitter = 0.5, name = "poll_upstream")]
async fn poll_upstream() -> Result<(), std::io::Error> {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3 == 2 {
        return Err(std::io::Error::other("upstream unavailable"));
    }
    Ok(())
}

/// A nightly report, at 03:00 in Seoul.
#[tasks::r#loop(time = "03:00", tz = "Asia/Seoul", name = "nightly_report")]
async fn nightly_report() {}

/// A slow job with a timeout.
#[tasks::r#loop(seconds = 5, timeout = 1, missed = "skip", name = "slow_job")]
async fn slow_job() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

async fn statuses() -> Json<Vec<LoopStatus>> {
    Json(registry::statuses())
}

fn seconds_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus: PrometheusHandle = PrometheusBuilder::new().install_recorder()?;

    poll_upstream.start(())?;
    nightly_report.start(())?;
    slow_job.start(())?;

    let app = Router::new().route("/status", get(statuses)).route(
        "/metrics",
        get(move || {
            let prometheus = prometheus.clone();
            async move { prometheus.render() }
        }),
    );
    let port = seconds_from_env("STATUS_SERVER_PORT", 3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port as u16)).await?;
    println!(
        "serving http://{}/status and /metrics",
        listener.local_addr()?
    );

    let run_for = Duration::from_secs(seconds_from_env("STATUS_SERVER_SECONDS", 60));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = tokio::time::sleep(run_for) => {}
            }
        })
        .await?;
    let report = registry::shutdown_all(Duration::from_secs(2)).await;
    println!("loops shut down: {report:?}");
    Ok(())
}
