//! One process of the cluster scenario (`tasks-bench replica`): many loops
//! at one interval, in claim mode on one PostgreSQL or, without a store,
//! as the single process the replicas are held against. Each iteration
//! notes its slot and how late it started; the process prints what it ran
//! as one JSON line ([`ReplicaRecord`]) and leaves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::Utc;
use tasks::cluster::{Cluster, ReplicaId, Store};
use tasks::stores::PostgresStore;
use tasks::{Loop, LoopError};

use crate::records::{ReplicaRecord, ReplicaRun};

/// What one replica runs.
pub struct ReplicaParams {
    /// The loops' names begin with it; the same on every replica of a run.
    pub prefix: String,
    pub loops: u32,
    pub interval: Duration,
    /// How long the loops run once all have started.
    pub run_for: Duration,
    /// The store's URL; `None` runs the loops without a cluster.
    pub postgres: Option<String>,
    /// Connections in the store's pool.
    pub pool: usize,
}

/// Runs the loops for their time and returns what they ran.
pub fn run(params: &ReplicaParams) -> Result<ReplicaRecord, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("no runtime: {error}"))?;
    runtime.block_on(run_loops(params))
}

async fn run_loops(params: &ReplicaParams) -> Result<ReplicaRecord, String> {
    let store: Option<Arc<dyn Store>> = match &params.postgres {
        Some(url) => {
            let store = PostgresStore::builder()
                .table_prefix("bench_")
                .pool_size(params.pool)
                .connect(url)
                .map_err(|error| error.to_string())?;
            store.prepare().await.map_err(|error| error.to_string())?;
            Some(Arc::new(store))
        }
        None => None,
    };
    let replica = ReplicaId::generate();
    let runs: Arc<Mutex<Vec<ReplicaRun>>> = Arc::default();
    let store_errors = Arc::new(AtomicU64::new(0));

    let mut loops = Vec::with_capacity(params.loops as usize);
    for index in 0..params.loops {
        let this: Arc<OnceLock<Loop>> = Arc::default();
        let (inside, runs) = (Arc::clone(&this), Arc::clone(&runs));
        let mut builder = Loop::builder(move |()| {
            let now = Utc::now();
            if let Some(slot) = inside.get().and_then(Loop::current_slot) {
                let late_us = (now - slot).num_microseconds().unwrap_or(i64::MAX);
                if let Ok(mut runs) = runs.lock() {
                    runs.push((index, slot.timestamp_millis(), late_us));
                }
            }
            async {}
        })
        .name(format!("{}-{index}", params.prefix))
        .seconds(params.interval.as_secs_f64());
        if let Some(store) = &store {
            builder = builder.cluster(Cluster::claim(Arc::clone(store)).replica(replica.clone()));
        }
        let ticker = builder.build().map_err(|error| error.to_string())?;
        let _ = this.set(ticker.clone());
        let errors = Arc::clone(&store_errors);
        ticker.error(move |_: LoopError| {
            errors.fetch_add(1, Ordering::Relaxed);
            async {}
        });
        loops.push(ticker);
    }
    for ticker in &loops {
        ticker.start(()).map_err(|error| error.to_string())?;
    }
    let ready_ms = Utc::now().timestamp_millis();
    tokio::time::sleep(params.run_for).await;
    let stopped_ms = Utc::now().timestamp_millis();
    tasks::registry::shutdown_all(Duration::from_secs(2)).await;

    let runs = runs.lock().map(|runs| runs.clone()).unwrap_or_default();
    Ok(ReplicaRecord {
        ready_ms,
        stopped_ms,
        runs,
        store_errors: store_errors.load(Ordering::Relaxed),
    })
}
