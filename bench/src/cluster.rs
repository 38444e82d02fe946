//! `tasks-bench cluster`: what running once across replicas costs.
//!
//! 1. A claim against the store's floor: the store's `claim`, as the
//!    runtime calls it for every slot, against the same statement
//!    (PostgreSQL) or script (Redis) sent by hand, on the same connection
//!    for PostgreSQL (a pool of one, shared) and on a connection of the
//!    same kind for Redis. Batches alternate so that both see the same
//!    server; every claim is of a new slot, so every one is won.
//! 2. Many loops at 1 s over several replicas (`tasks-bench replica`
//!    processes) in claim mode on one PostgreSQL: whether every slot ran
//!    exactly once, and the lateness of each iteration against its slot,
//!    against the same loops in a single process with no store.
//!
//! It needs the servers: `bench/run --cluster` starts throwaway ones with
//! `.ci/stores` and passes their URLs.

use std::future::Future;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tasks::cluster::{Claimed, ReplicaId, SlotClaim, Store};
use tasks::stores::postgres::deadpool_postgres::{Manager, Pool};
use tasks::stores::postgres::tokio_postgres::{Config, NoTls};
use tasks::stores::redis::redis::aio::ConnectionManager;
use tasks::stores::redis::redis::{Client, Script};
use tasks::stores::{PostgresStore, RedisStore};

use crate::machine::{load_average, Machine};
use crate::options::parse_options;
use crate::records::{ClaimCost, ClusterResults, Lateness, ReplicaRecord, ReplicaRunSummary};
use crate::units::{group, ns};

/// A claim may cost this much more than the floor.
const CLAIM_TARGET: f64 = 1.2;

/// The sizes of a run: full, or `--quick`.
struct Plan {
    /// Claims per store and side, after a warm-up batch.
    claims: u32,
    batch: u32,
    loops: u32,
    replicas: u32,
    run_for: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        Self {
            claims: if quick { 1_000 } else { 5_000 },
            batch: 100,
            loops: 1_000,
            replicas: 3,
            run_for: Duration::from_secs(if quick { 8 } else { 30 }),
        }
    }
}

/// Runs both parts, prints the tables and writes them to `--out`.
pub fn run(args: &[String]) -> ExitCode {
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let (Some(postgres), Some(redis)) = (options.get("postgres"), options.get("redis")) else {
        eprintln!(
            "tasks-bench cluster needs --postgres URL and --redis URL \
             (bench/run --cluster starts throwaway servers)"
        );
        return ExitCode::from(2);
    };
    let quick = options.contains_key("quick");
    let plan = Plan::new(quick);
    let out = options.get("out").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
        PathBuf::from,
    );
    let began = Instant::now();
    let load_before = load_average();
    let mut failures = Vec::new();

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("no runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut claims = Vec::new();
    eprintln!("== a claim on PostgreSQL, against the statement sent by hand");
    match runtime.block_on(postgres_claims(postgres, &plan)) {
        Ok(cost) => claims.push(cost),
        Err(error) => failures.push(format!("PostgreSQL claims: {error}")),
    }
    eprintln!("== a claim on Redis, against the script sent by hand");
    match runtime.block_on(redis_claims(redis, &plan)) {
        Ok(cost) => claims.push(cost),
        Err(error) => failures.push(format!("Redis claims: {error}")),
    }
    drop(runtime);

    let mut replicas = Vec::new();
    let run_id = format!("{}-{}", std::process::id(), Utc::now().timestamp());
    eprintln!(
        "== {} loops at 1 s in a single process, no store, {} s",
        plan.loops,
        plan.run_for.as_secs()
    );
    match run_replicas(&plan, 1, None, &format!("single-{run_id}")) {
        Ok(summary) => replicas.push(summary),
        Err(error) => failures.push(format!("single process: {error}")),
    }
    eprintln!(
        "== {} loops at 1 s over {} replicas on one PostgreSQL, {} s",
        plan.loops,
        plan.replicas,
        plan.run_for.as_secs()
    );
    match run_replicas(
        &plan,
        plan.replicas,
        Some(postgres),
        &format!("cluster-{run_id}"),
    ) {
        Ok(summary) => replicas.push(summary),
        Err(error) => failures.push(format!("replicas: {error}")),
    }

    failures.extend(missed_targets(&claims, &replicas));
    let machine = Machine::detect(&[], quick, began.elapsed(), load_before)
        .lines
        .into_iter()
        .filter(|(key, _)| key != "Python")
        .collect();
    let results = ClusterResults {
        machine,
        claims,
        replicas,
        failures,
    };
    let report = render(&results, &plan);
    println!("{report}");
    let stem = if quick { "cluster-quick" } else { "cluster" };
    let written = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(out.join(format!("{stem}.md")), &report))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&results).map_err(std::io::Error::other)?;
            std::fs::write(out.join(format!("{stem}.json")), json)
        });
    match written {
        Ok(()) => eprintln!(
            "written: {}",
            out.join(format!("{stem}.{{md,json}}")).display()
        ),
        Err(error) => eprintln!("results not written to {}: {error}", out.display()),
    }
    if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// How late the benchmark's claims are accepted: past the hour its slots
/// are in the past.
const LATE_TOLERANCE: Duration = Duration::from_secs(2 * 3600);

/// A slot an hour ago plus `index` milliseconds: long past, so never too
/// early, within the late tolerance, and new for every claim.
fn slot(base: DateTime<Utc>, index: u32) -> DateTime<Utc> {
    base + TimeDelta::milliseconds(i64::from(index))
}

/// Times `count` calls of `call`, in nanoseconds each.
async fn timed<F, Fut>(count: u32, mut call: F) -> Result<Vec<i64>, String>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut took = Vec::with_capacity(count as usize);
    for index in 0..count {
        let start = Instant::now();
        call(index).await?;
        took.push(start.elapsed().as_nanos() as i64);
    }
    Ok(took)
}

/// The claims' figures, from the two sides' timings.
fn cost(store: &str, floor: &str, floor_ns: Vec<i64>, tasks_ns: Vec<i64>) -> ClaimCost {
    let floor_ns = Lateness::from_samples(floor_ns, 0);
    let tasks_ns = Lateness::from_samples(tasks_ns, 0);
    ClaimCost {
        store: store.to_owned(),
        floor: floor.to_owned(),
        claims: tasks_ns.count,
        floor_p50_ns: floor_ns.p50_ns,
        floor_mean_ns: floor_ns.mean_ns,
        tasks_p50_ns: tasks_ns.p50_ns,
        tasks_mean_ns: tasks_ns.mean_ns,
    }
}

/// The store's claim as the runtime makes it, of a new slot of `loop_name`.
async fn claim_with(
    store: &dyn Store,
    loop_name: &str,
    replica: &ReplicaId,
    at: DateTime<Utc>,
) -> Result<(), String> {
    let claim = SlotClaim {
        loop_name,
        slot: at,
        replica,
        lease: Duration::from_secs(30),
        early_tolerance: Duration::from_millis(100),
        late_tolerance: LATE_TOLERANCE,
        takeover: None,
        tzdb: "bench",
    };
    match store.claim(claim).await {
        Ok(Claimed::Won { .. }) => Ok(()),
        Ok(other) => Err(format!("a new slot not won: {other:?}")),
        Err(error) => Err(error.to_string()),
    }
}

/// Claims in batches that alternate between the floor (`floor_batch`,
/// given the index of its first claim) and the store's claim, of new slots
/// of `loop_name`; the first batch of each side warms up and is left out.
async fn alternate(
    plan: &Plan,
    store: &dyn Store,
    loop_name: &str,
    replica: &ReplicaId,
    base: DateTime<Utc>,
    mut floor_batch: impl AsyncFnMut(u32) -> Result<Vec<i64>, String>,
) -> Result<(Vec<i64>, Vec<i64>), String> {
    let (mut floor_ns, mut tasks_ns) = (Vec::new(), Vec::new());
    for batch in 0..=plan.claims / plan.batch {
        let first = batch * plan.batch;
        let floor_took = floor_batch(first).await?;
        let tasks_took = timed(plan.batch, |index| {
            claim_with(store, loop_name, replica, slot(base, first + index))
        })
        .await?;
        if batch > 0 {
            floor_ns.extend(floor_took);
            tasks_ns.extend(tasks_took);
        }
    }
    Ok((floor_ns, tasks_ns))
}

async fn postgres_claims(url: &str, plan: &Plan) -> Result<ClaimCost, String> {
    let config: Config = url.parse().map_err(|error| format!("{error}"))?;
    let pool = Pool::builder(Manager::new(config, NoTls))
        .max_size(1)
        .build()
        .map_err(|error| error.to_string())?;
    let store = PostgresStore::builder()
        .table_prefix("bench_")
        .from_pool(pool.clone())
        .map_err(|error| error.to_string())?;
    store.prepare().await.map_err(|error| error.to_string())?;
    let statement_text = store.claim_statement().to_owned();
    let replica = ReplicaId::generate();
    let unique = format!("{}-{}", std::process::id(), Utc::now().timestamp_micros());
    let (tasks_name, floor_name) = (format!("claim-{unique}"), format!("floor-{unique}"));
    let floor_key = floor_name.as_bytes().to_vec();
    let base = Utc::now() - TimeDelta::hours(1);

    let (floor_ns, tasks_ns) =
        alternate(plan, &store, &tasks_name, &replica, base, async |first| {
            // The floor: the statement on the pool's one connection, by hand;
            // the connection goes back to the pool for the store's batch.
            let client = pool.get().await.map_err(|error| error.to_string())?;
            let statement = client
                .prepare_cached(&statement_text)
                .await
                .map_err(|error| error.to_string())?;
            timed(plan.batch, |index| {
                let (client, statement, key) = (&client, &statement, &floor_key);
                let (replica, name) = (replica.as_str(), floor_name.as_str());
                async move {
                    let at = slot(base, first + index);
                    let slot_ns = at.timestamp_nanos_opt().unwrap_or_default();
                    let not_before = at - TimeDelta::milliseconds(100);
                    let late_tolerance = TimeDelta::from_std(LATE_TOLERANCE).unwrap_or_default();
                    let row = client
                        .query_one(
                            statement,
                            &[
                                key,
                                &slot_ns,
                                &not_before,
                                &replica,
                                &"bench",
                                &30_000_000_i64,
                                &(at + late_tolerance),
                                &86_400_000_000_i64,
                                &None::<DateTime<Utc>>,
                                &name,
                                &(at + late_tolerance),
                            ],
                        )
                        .await
                        .map_err(|error| error.to_string())?;
                    let won: Option<i64> = row.try_get(2).map_err(|error| error.to_string())?;
                    won.map(drop).ok_or_else(|| "a new slot not won".to_owned())
                }
            })
            .await
        })
        .await?;
    Ok(cost(
        "PostgreSQL",
        "the claim statement, prepared, on the pool's one connection",
        floor_ns,
        tasks_ns,
    ))
}

async fn redis_claims(url: &str, plan: &Plan) -> Result<ClaimCost, String> {
    let store = RedisStore::builder()
        .key_prefix("bench:")
        .connect(url)
        .map_err(|error| error.to_string())?;
    store.prepare().await.map_err(|error| error.to_string())?;
    let client = Client::open(url).map_err(|error| error.to_string())?;
    let connection = ConnectionManager::new(client)
        .await
        .map_err(|error| error.to_string())?;
    let script = Script::new(RedisStore::claim_script());
    let replica = ReplicaId::generate();
    let unique = format!("{}-{}", std::process::id(), Utc::now().timestamp_micros());
    let tasks_name = format!("claim-{unique}");
    let floor_tag = format!("bench:{{floor-{unique}}}");
    let fence_key = format!("{floor_tag}:fence");
    let base = Utc::now() - TimeDelta::hours(1);

    let (floor_ns, tasks_ns) =
        alternate(plan, &store, &tasks_name, &replica, base, async |first| {
            timed(plan.batch, |index| {
                let (script, fence_key, replica) = (&script, &fence_key, replica.as_str());
                let floor_tag = &floor_tag;
                let mut connection = connection.clone();
                async move {
                    let at = slot(base, first + index);
                    let slot_us = at.timestamp_micros();
                    let claim_key = format!("{floor_tag}:claim:{}", slot_us * 1_000);
                    let late_us = i64::try_from(LATE_TOLERANCE.as_micros()).unwrap_or_default();
                    let answer: Vec<Option<String>> = script
                        .key(fence_key)
                        .key(claim_key)
                        .arg(replica)
                        .arg("bench")
                        .arg(slot_us - 100_000)
                        .arg(30_000_000_i64)
                        .arg("0")
                        .arg(0)
                        .arg(slot_us + late_us)
                        .arg(86_400_000_i64)
                        .arg(slot_us + late_us)
                        .invoke_async(&mut connection)
                        .await
                        .map_err(|error| error.to_string())?;
                    match answer.first().and_then(Option::as_deref) {
                        Some("won") => Ok(()),
                        _ => Err(format!("a new slot not won: {answer:?}")),
                    }
                }
            })
            .await
        })
        .await?;
    Ok(cost(
        "Redis",
        "the claim script (EVALSHA), on a connection manager of its own",
        floor_ns,
        tasks_ns,
    ))
}

/// Starts `processes` replicas of the loops at once, waits for them, and
/// reads what they ran.
fn run_replicas(
    plan: &Plan,
    processes: u32,
    postgres: Option<&str>,
    prefix: &str,
) -> Result<ReplicaRunSummary, String> {
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut children = Vec::new();
    for _ in 0..processes {
        let mut command = Command::new(&exe);
        command
            .arg("replica")
            .args(["--prefix", prefix])
            .args(["--loops", &plan.loops.to_string()])
            .args(["--seconds", &plan.run_for.as_secs().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = postgres {
            command.args(["--postgres", url]);
        }
        children.push(command.spawn().map_err(|error| error.to_string())?);
    }
    let mut records = Vec::new();
    for mut child in children {
        let mut output = String::new();
        if let Some(stdout) = child.stdout.as_mut() {
            stdout
                .read_to_string(&mut output)
                .map_err(|error| error.to_string())?;
        }
        let status = child.wait().map_err(|error| error.to_string())?;
        if !status.success() {
            return Err(format!("a replica ended with {status}"));
        }
        let line = output.lines().last().unwrap_or_default();
        let record: ReplicaRecord =
            serde_json::from_str(line).map_err(|error| format!("a replica's record: {error}"))?;
        records.push(record);
    }
    let label = match postgres {
        Some(_) => format!("{processes} replicas, claim mode on one PostgreSQL"),
        None => "a single process, no store".to_owned(),
    };
    Ok(summarize(label, plan.loops, postgres.is_some(), &records))
}

/// Every slot of the seconds all processes covered: how many ran once,
/// none or twice, and how late.
fn summarize(
    label: String,
    loops: u32,
    cluster: bool,
    records: &[ReplicaRecord],
) -> ReplicaRunSummary {
    // From the first whole second after every process was ready to two
    // seconds before the first stopped (a slot's last claims may still be
    // on their way then).
    let from_s = records.iter().map(|r| r.ready_ms).max().unwrap_or(0) / 1_000 + 1;
    let until_s = (records.iter().map(|r| r.stopped_ms).min().unwrap_or(0) / 1_000 - 2).max(from_s);
    let in_window = |slot_ms: i64| slot_ms >= from_s * 1_000 && slot_ms < until_s * 1_000;

    let mut counts = std::collections::HashMap::<(u32, i64), u32>::new();
    let mut late_ns = Vec::new();
    for record in records {
        for &(index, slot_ms, late_us) in &record.runs {
            *counts.entry((index, slot_ms)).or_default() += 1;
            if in_window(slot_ms) {
                late_ns.push(late_us.saturating_mul(1_000));
            }
        }
    }
    let window_s = (until_s - from_s) as u64;
    let expected = u64::from(loops) * window_s;
    let (slots_expected, slots_missed, slots_run_twice) = if cluster {
        let ran = counts.keys().filter(|(_, slot)| in_window(*slot)).count() as u64;
        let twice = counts.values().filter(|&&count| count > 1).count() as u64;
        (
            Some(expected),
            Some(expected.saturating_sub(ran)),
            Some(twice),
        )
    } else {
        (None, None, None)
    };
    ReplicaRunSummary {
        label,
        processes: records.len() as u32,
        loops,
        window_s,
        iterations: late_ns.len() as u64,
        slots_expected,
        slots_missed,
        slots_run_twice,
        store_errors: records.iter().map(|r| r.store_errors).sum(),
        lateness: Lateness::from_samples(late_ns, expected),
    }
}

/// The targets a run missed, in words.
fn missed_targets(claims: &[ClaimCost], replicas: &[ReplicaRunSummary]) -> Vec<String> {
    let mut missed = Vec::new();
    for cost in claims {
        let ratio = cost.tasks_p50_ns as f64 / cost.floor_p50_ns.max(1) as f64;
        if ratio > CLAIM_TARGET {
            missed.push(format!(
                "a claim on {} costs {ratio:.2}× its floor (target ≤ {CLAIM_TARGET}×)",
                cost.store
            ));
        }
    }
    for run in replicas {
        if run.slots_missed.unwrap_or(0) > 0 || run.slots_run_twice.unwrap_or(0) > 0 {
            missed.push(format!(
                "{}: {} slots missed and {} run twice (target: every slot once)",
                run.label,
                run.slots_missed.unwrap_or(0),
                run.slots_run_twice.unwrap_or(0)
            ));
        }
    }
    missed
}

/// The tables, in Markdown.
fn render(results: &ClusterResults, plan: &Plan) -> String {
    let mut out = String::from("### The run\n\n| | |\n|---|---|\n");
    for (key, value) in &results.machine {
        out.push_str(&format!("| {key} | {value} |\n"));
    }
    out.push_str(&format!(
        "\n### A claim against the store's floor ({} claims each, after a warm-up batch of {})\n\n\
         | store | floor | floor p50 | claim p50 | floor mean | claim mean | claim / floor (p50) | target ≤ {CLAIM_TARGET}× |\n\
         |---|---|---:|---:|---:|---:|---:|---|\n",
        group(u64::from(plan.claims)),
        plan.batch
    ));
    for cost in &results.claims {
        let ratio = cost.tasks_p50_ns as f64 / cost.floor_p50_ns.max(1) as f64;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {ratio:.2}× | {} |\n",
            cost.store,
            cost.floor,
            ns(cost.floor_p50_ns as f64),
            ns(cost.tasks_p50_ns as f64),
            ns(cost.floor_mean_ns),
            ns(cost.tasks_mean_ns),
            if ratio <= CLAIM_TARGET {
                "met"
            } else {
                "missed"
            },
        ));
    }
    out.push_str(&format!(
        "\n### {} loops at 1 s, {} s, lateness of each iteration against its slot\n\n\
         | run | seconds counted | iterations | slots | missed | run twice | store errors | p50 | p99 | max |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        group(u64::from(plan.loops)),
        plan.run_for.as_secs()
    ));
    let optional = |value: Option<u64>| value.map_or_else(|| "–".to_owned(), group);
    for run in &results.replicas {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            run.label,
            run.window_s,
            group(run.iterations),
            optional(run.slots_expected),
            optional(run.slots_missed),
            optional(run.slots_run_twice),
            run.store_errors,
            ns(run.lateness.p50_ns as f64),
            ns(run.lateness.p99_ns as f64),
            ns(run.lateness.max_ns as f64),
        ));
    }
    if results.failures.is_empty() {
        out.push_str("\nEvery target met.\n");
    } else {
        out.push_str("\nMissed or failed:\n\n");
        for failure in &results.failures {
            out.push_str(&format!("- {failure}\n"));
        }
    }
    out
}
