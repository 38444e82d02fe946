//! One loop, run once across several replicas.
//!
//! Without arguments, a demo: it starts three replicas of itself on one
//! SQLite file, each running the same loop every half second in claim
//! mode, and shows that each slot ran on exactly one of them.
//!
//! ```text
//! cargo run --example cluster --features sqlite
//! ```
//!
//! With arguments, one replica (the contract of `checks/cluster/README.md`,
//! which `checks/cluster/check` holds it to):
//!
//! ```text
//! cluster --replica NAME --store URL --mode claim|leader --seconds S --for D --name LOOP --lease L
//! ```
//!
//! It runs the loop `LOOP` every `S` seconds for `D` seconds, printing one
//! line of JSON per iteration it runs (`replica`, `loop`, `slot`, `fence`,
//! `at`), then shuts down and exits 0. The store is `sqlite:PATH`,
//! `postgres://...` or `redis://...` (each behind the feature of its name).

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use tasks::cluster::{Cluster, ReplicaId};
use tasks::{Iteration, Loop, LoopError};

/// One replica's command line.
struct Replica {
    name: String,
    store: String,
    leader: bool,
    seconds: f64,
    run_for: f64,
    loop_name: String,
    lease: f64,
}

fn parse(args: &[String]) -> Result<Replica, String> {
    let value = |key: &str| -> Result<&str, String> {
        let at = args
            .iter()
            .position(|a| a == key)
            .ok_or(format!("missing {key}"))?;
        args.get(at + 1)
            .map(String::as_str)
            .ok_or(format!("{key} needs a value"))
    };
    let number = |key: &str| -> Result<f64, String> {
        value(key)?
            .parse::<f64>()
            .map_err(|e| format!("{key}: {e}"))
    };
    let leader = match value("--mode")? {
        "claim" => false,
        "leader" => true,
        other => return Err(format!("--mode is claim or leader, not {other}")),
    };
    Ok(Replica {
        name: value("--replica")?.to_owned(),
        store: value("--store")?.to_owned(),
        leader,
        seconds: number("--seconds")?,
        run_for: number("--for")?,
        loop_name: value("--name")?.to_owned(),
        lease: number("--lease").unwrap_or(1.0),
    })
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Runs one replica until its time is up.
async fn replica(args: Replica) -> Result<(), Box<dyn Error>> {
    let store = tasks::stores::connect(&args.store)?;
    let lease = Duration::try_from_secs_f64(args.lease)?;
    let cluster = if args.leader {
        Cluster::leader(store)
    } else {
        Cluster::claim(store)
    }
    .replica(ReplicaId::new(args.name.clone()))
    .lease(lease);

    let (name, loop_name) = (args.name.clone(), args.loop_name.clone());
    // The iteration's slot and token are values: what the body writes
    // carries this iteration's token, even if it finishes after the next
    // claim or term has begun (`Loop::fence` would read the newer one).
    let ticker = Loop::builder_with_iteration(move |(), iteration: Iteration| {
        let at = Utc::now();
        let line = json!({
            "replica": name,
            "loop": loop_name,
            "slot": iteration.scheduled().map(rfc3339),
            "fence": iteration.fence().map(|fence| fence.get()),
            "at": rfc3339(at),
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        async {}
    })
    .seconds(args.seconds)
    .name(args.loop_name.clone())
    .cluster(cluster)
    .build()?;
    // A store that cannot be reached is reported here, and the loop goes on.
    ticker.error(|error: LoopError| async move { eprintln!("{error}") });

    let run = ticker.start(())?;
    tokio::time::sleep(Duration::try_from_secs_f64(args.run_for)?).await;
    // No new iteration; a leader gives its lease back.
    ticker.shutdown(Duration::from_secs(2)).await;
    run.await;
    Ok(())
}

/// Starts three replicas of this program on one SQLite file and checks
/// their output.
fn demo() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("tasks-cluster-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = format!("sqlite:{}", dir.join("cluster.db").display());
    let me = std::env::current_exe()?;
    println!("three replicas of one loop, every 0.5 s for 4 s, claim mode, on {store}\n");
    let children: Vec<_> = (0..3)
        .map(|i| {
            Command::new(&me)
                .args(["--replica", &format!("replica-{i}"), "--store", &store])
                .args(["--mode", "claim", "--seconds", "0.5", "--for", "4"])
                .args(["--name", "demo", "--lease", "1"])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut by_slot: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for child in children {
        let output = child.wait_with_output()?;
        for line in BufReader::new(&output.stdout[..]).lines() {
            let row: serde_json::Value = serde_json::from_str(&line?)?;
            let slot = row["slot"].as_str().unwrap_or("?").to_owned();
            let replica = row["replica"].as_str().unwrap_or("?").to_owned();
            let fence = row["fence"].as_u64().unwrap_or(0);
            by_slot.entry(slot).or_default().push((replica, fence));
        }
    }
    for (slot, runs) in &by_slot {
        let ran: Vec<String> = runs
            .iter()
            .map(|(r, f)| format!("{r} (fence {f})"))
            .collect();
        println!("{slot}  {}", ran.join(", "));
    }
    let twice = by_slot.values().filter(|runs| runs.len() > 1).count();
    println!("\n{} slots, {} ran more than once", by_slot.len(), twice);
    std::fs::remove_dir_all(&dir)?;
    if twice > 0 {
        return Err("a slot ran twice".into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return demo();
    }
    let replica_args = parse(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(replica(replica_args))
}
