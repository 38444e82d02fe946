//! Stores that forget everything: Redis emptied (`FLUSHALL`, as after a
//! restart without persistence or a failover to a replica that had not
//! seen the latest writes), PostgreSQL's tables truncated (a restore, a
//! failover to an asynchronous standby), the SQLite file recreated. The
//! tokens handed out afterwards are higher than every one before.
//!
//! A test binary of its own: `FLUSHALL` empties the whole Redis server the
//! tests share, and cargo runs test binaries one after the other.

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{check_tokens_after_forgetting, server_url, tokens_before_forgetting, unique};
use tasks_runtime::cluster::{Cluster, Fence, ReplicaId, Store};
use tasks_runtime::Loop;
use tasks_stores::postgres::tokio_postgres::{self, NoTls};
use tasks_stores::redis::redis;
use tasks_stores::{PostgresStore, RedisStore, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_recreated_file_hands_out_higher_tokens() {
    let dir = std::env::temp_dir().join(unique("tasks-stores-forgetful-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tasks.db");
    let store = SqliteStore::open(&path).unwrap();
    let highest = tokens_before_forgetting(&store, "sqlite").await;
    drop(store);
    for file in ["tasks.db", "tasks.db-wal", "tasks.db-shm"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let store = SqliteStore::open(&path).unwrap();
    check_tokens_after_forgetting(&store, "sqlite", highest).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_truncated_tables_hand_out_higher_tokens() {
    let Some(url) = server_url(
        "TASKS_TEST_POSTGRES_URL",
        "postgres_truncated_tables_hand_out_higher_tokens",
    ) else {
        return;
    };
    let prefix = unique("t_").to_lowercase() + "_";
    let store = PostgresStore::builder()
        .table_prefix(&prefix)
        .connect(&url)
        .unwrap();
    let run = unique("pg");
    let highest = tokens_before_forgetting(&store, &run).await;
    let (admin, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let tables = format!(r#""{prefix}claims", "{prefix}leases", "{prefix}fences""#);
    admin
        .batch_execute(&format!("TRUNCATE {tables}"))
        .await
        .unwrap();
    check_tokens_after_forgetting(&store, &run, highest).await;
    admin
        .batch_execute(&format!("DROP TABLE {tables}"))
        .await
        .unwrap();
}

/// Empties the whole Redis server.
async fn flush_all(url: &str) {
    let mut admin = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut admin)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_emptied_hands_out_higher_tokens() {
    let Some(url) = server_url(
        "TASKS_TEST_REDIS_URL",
        "redis_emptied_hands_out_higher_tokens",
    ) else {
        return;
    };
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .connect(&url)
        .unwrap();
    let run = unique("redis");
    let highest = tokens_before_forgetting(&store, &run).await;
    flush_all(&url).await;
    check_tokens_after_forgetting(&store, &run, highest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_emptied_mid_run_the_replicas_tokens_keep_growing() {
    let Some(url) = server_url(
        "TASKS_TEST_REDIS_URL",
        "redis_emptied_mid_run_the_replicas_tokens_keep_growing",
    ) else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::builder()
            .key_prefix(unique("tasks-test:") + ":")
            .connect(&url)
            .unwrap(),
    );
    let name = unique("beat");
    let ran: Arc<Mutex<Vec<Fence>>> = Arc::default();
    let replicas: Vec<Loop> = ["a", "b"]
        .into_iter()
        .map(|replica| {
            let cell: Arc<OnceLock<Loop>> = Arc::default();
            let (inside, ran) = (cell.clone(), ran.clone());
            let lp = Loop::builder(move |()| {
                let fence = inside.get().and_then(Loop::fence).expect("a token");
                ran.lock().unwrap().push(fence);
                async {}
            })
            .seconds(0.2)
            .name(name.clone())
            .cluster(Cluster::claim(store.clone()).replica(ReplicaId::new(replica)))
            .build()
            .unwrap();
            let _ = cell.set(lp.clone());
            lp
        })
        .collect();
    for lp in &replicas {
        lp.start(()).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = ran.lock().unwrap().len();
    flush_all(&url).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for lp in &replicas {
        lp.cancel();
    }
    let ran = ran.lock().unwrap().clone();
    assert!(before >= 3 && ran.len() >= before + 3, "{before}: {ran:?}");
    assert!(
        ran.windows(2).all(|pair| pair[0] < pair[1]),
        "the tokens grow across the flush: {ran:?}"
    );
}
