//! PostgresStore against a real server (`TASKS_TEST_POSTGRES_URL`): the
//! contract, racing stores, tables created by replicas starting at once,
//! how long a renewed claim is kept, the server going away and coming
//! back, a connection killed between a claim and its finish, awkward
//! names, table prefixes, hidden passwords.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::burst::check_leases_beside_a_burst_of_claims;
use common::proxy::{address_of, through_port, Proxy};
use common::{
    assert_hidden, check_awkward_names, check_finish_after_a_dropped_connection, check_no_answer,
    check_outage, check_stranded_connections, claim, claim_late_for, due_slot, server_url, unique,
    won,
};
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Renewal, ReplicaId, SlotFinish, SlotOutcome, Store, StoreErrorKind,
};
use tasks_runtime::testing::check_store;
use tasks_stores::postgres::tokio_postgres::{self, NoTls};
use tasks_stores::PostgresStore;

const VARIABLE: &str = "TASKS_TEST_POSTGRES_URL";

/// A plain client, for what the tests look at or do behind the store.
async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Tables of their own for one test, dropped at the end.
struct Tables {
    url: String,
    prefix: String,
}

impl Tables {
    fn new(url: &str) -> Self {
        Tables {
            url: url.to_owned(),
            prefix: unique("t_").to_lowercase() + "_",
        }
    }

    async fn drop_them(&self) {
        let client = admin(&self.url).await;
        let p = &self.prefix;
        client
            .batch_execute(&format!(
                r#"DROP TABLE IF EXISTS "{p}claims", "{p}leases", "{p}fences""#
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_contract() {
    let Some(url) = server_url(VARIABLE, "keeps_the_contract") else {
        return;
    };
    let tables = Tables::new(&url);
    let store = PostgresStore::builder()
        .table_prefix(&tables.prefix)
        .connect(&url)
        .unwrap();
    let started = Instant::now();
    check_store(&store, &unique("pg"), &Utc::now).await.unwrap();
    eprintln!("the contract took {:?}", started.elapsed());
    // Through `connect`, on the default tables.
    let store = tasks_stores::connect(&url).unwrap();
    check_store(&*store, &unique("pg"), &Utc::now)
        .await
        .unwrap();
    tables.drop_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_stores_claiming_at_once_exactly_one_wins() {
    let Some(url) = server_url(VARIABLE, "of_stores_claiming_at_once_exactly_one_wins") else {
        return;
    };
    let tables = Tables::new(&url);
    // Stores of their own pools, as replicas are; created at once, they
    // also race to create the tables.
    let stores: Vec<Arc<PostgresStore>> = (0..6)
        .map(|_| {
            Arc::new(
                PostgresStore::builder()
                    .table_prefix(&tables.prefix)
                    .pool_size(1)
                    .connect(&url)
                    .unwrap(),
            )
        })
        .collect();
    let prepared = stores.iter().map(|store| {
        let store = Arc::clone(store);
        tokio::spawn(async move { store.prepare().await })
    });
    for result in futures_util::future::join_all(prepared).await {
        result.unwrap().unwrap();
    }
    let name = unique("race");
    let first = due_slot();
    for round in 0..10 {
        let slot = first + TimeDelta::milliseconds(round);
        let claims = stores.iter().enumerate().map(|(i, store)| {
            let store = Arc::clone(store);
            let name = name.clone();
            tokio::spawn(async move {
                let replica = ReplicaId::new(format!("racer{i}"));
                store
                    .claim(claim(&name, slot, &replica, Duration::from_secs(60)))
                    .await
                    .unwrap()
            })
        });
        let won = futures_util::future::join_all(claims)
            .await
            .into_iter()
            .filter(|answer| matches!(answer.as_ref().unwrap(), Claimed::Won { .. }))
            .count();
        assert_eq!(won, 1, "round {round}");
    }
    tables.drop_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_going_away_and_coming_back() {
    let Some(url) = server_url(VARIABLE, "the_store_going_away_and_coming_back") else {
        return;
    };
    let proxy = Proxy::start(address_of(&url, 5432)).await;
    let store = PostgresStore::builder()
        .timeout(Duration::from_secs(1))
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    check_outage(
        &store,
        &unique("pg"),
        Duration::from_millis(1500),
        || proxy.down(),
        || proxy.up(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_does_not_answer_times_out() {
    let Some(url) = server_url(VARIABLE, "a_store_that_does_not_answer_times_out") else {
        return;
    };
    let proxy = Proxy::start(address_of(&url, 5432)).await;
    let store = PostgresStore::builder()
        .timeout(Duration::from_millis(500))
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    check_no_answer(
        &store,
        &unique("pg"),
        Duration::from_millis(1000),
        || proxy.freeze(),
        || proxy.thaw(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_after_the_connection_was_killed_succeeds() {
    let Some(url) = server_url(
        VARIABLE,
        "a_finish_after_the_connection_was_killed_succeeds",
    ) else {
        return;
    };
    let application = unique("tasks_test_");
    let separator = if url.contains('?') { '&' } else { '?' };
    let store =
        PostgresStore::connect(&format!("{url}{separator}application_name={application}")).unwrap();
    let admin = admin(&url).await;
    check_finish_after_a_dropped_connection(&store, &unique("pg"), || async {
        let killed = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&application],
            )
            .await
            .unwrap();
        assert_eq!(killed.get::<_, i64>(0), 1, "the store's one connection");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_loop_names_are_loops_of_their_own() {
    let Some(url) = server_url(VARIABLE, "awkward_loop_names_are_loops_of_their_own") else {
        return;
    };
    let store = PostgresStore::connect(&url).unwrap();
    check_awkward_names(&store, &unique("pg")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tables_are_named_by_the_prefix() {
    let Some(url) = server_url(VARIABLE, "the_tables_are_named_by_the_prefix") else {
        return;
    };
    let tables = Tables::new(&url);
    let store = PostgresStore::builder()
        .table_prefix(&tables.prefix)
        .connect(&url)
        .unwrap();
    store.prepare().await.unwrap();
    let names: Vec<String> = admin(&url)
        .await
        .query(
            "SELECT tablename::text FROM pg_tables WHERE tablename LIKE $1 || '%' ORDER BY 1",
            &[&tables.prefix],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let p = &tables.prefix;
    assert_eq!(
        names,
        [
            format!("{p}claims"),
            format!("{p}fences"),
            format!("{p}leases")
        ]
    );
    tables.drop_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_of_another_shape_are_invalid() {
    let Some(url) = server_url(VARIABLE, "tables_of_another_shape_are_invalid") else {
        return;
    };
    let tables = Tables::new(&url);
    let p = &tables.prefix;
    admin(&url)
        .await
        .batch_execute(&format!(
            r#"CREATE TABLE "{p}claims" (loop_name text PRIMARY KEY, something int)"#
        ))
        .await
        .unwrap();
    let store = PostgresStore::builder()
        .table_prefix(p)
        .connect(&url)
        .unwrap();
    let replica = ReplicaId::new("shape");
    let error = store
        .claim(claim("shape", due_slot(), &replica, Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Invalid, "{error}");
    tables.drop_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_claims_are_pruned_but_the_last_finished_slot_is_kept() {
    let Some(url) = server_url(
        VARIABLE,
        "old_claims_are_pruned_but_the_last_finished_slot_is_kept",
    ) else {
        return;
    };
    let tables = Tables::new(&url);
    let store = PostgresStore::builder()
        .table_prefix(&tables.prefix)
        .retention(Duration::ZERO)
        .connect(&url)
        .unwrap();
    let replica = ReplicaId::new("pruner");
    let first = due_slot() - TimeDelta::seconds(10);
    let lease = Duration::from_millis(1);
    let brief = Duration::from_millis(40);
    let finished = won(
        &store,
        claim_late_for("pruned", first, &replica, lease, brief),
    )
    .await;
    store
        .finish(SlotFinish {
            loop_name: "pruned",
            slot: first,
            fence: finished,
            outcome: SlotOutcome::Completed,
        })
        .await
        .unwrap();
    for i in 1..255 {
        let slot = first - TimeDelta::milliseconds(i);
        won(
            &store,
            claim_late_for("pruned", slot, &replica, lease, brief),
        )
        .await;
    }
    // The 256th claim prunes, once the others' leases and late tolerances
    // have run out; its own row may stay.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let newest = first - TimeDelta::milliseconds(255);
    won(
        &store,
        claim_late_for("pruned", newest, &replica, lease, brief),
    )
    .await;
    let admin = admin(&url).await;
    let others = format!(
        r#"SELECT count(*) FROM "{}claims" WHERE slot_ns NOT IN ($1, $2)"#,
        tables.prefix
    );
    let kept = [first, newest].map(|slot| slot.timestamp_nanos_opt().unwrap());
    common::eventually(Duration::from_secs(5), || async {
        let rows: i64 = admin
            .query_one(&others, &[&kept[0], &kept[1]])
            .await
            .unwrap()
            .get(0);
        if rows == 0 {
            Ok(())
        } else {
            Err(rows)
        }
    })
    .await;
    let last = store.last_finished("pruned").await.unwrap().unwrap();
    assert_eq!((last.slot, last.fence), (first, finished));
    tables.drop_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_claim_is_kept_its_new_lease_plus_the_retention() {
    let test = "a_renewed_claim_is_kept_its_new_lease_plus_the_retention";
    let Some(url) = server_url(VARIABLE, test) else {
        return;
    };
    let tables = Tables::new(&url);
    let store = PostgresStore::builder()
        .table_prefix(&tables.prefix)
        .retention(Duration::from_secs(3600))
        .connect(&url)
        .unwrap();
    let replica = ReplicaId::new("keeper");
    let slot = due_slot();
    let lease = Duration::from_millis(100);
    let fence = won(&store, claim("kept", slot, &replica, lease)).await;
    let renewal = |lease| ClaimRenewal {
        loop_name: "kept",
        slot,
        replica: &replica,
        fence,
        lease,
    };
    let admin = admin(&url).await;
    let times = format!(
        r#"SELECT extract(epoch FROM lease_until - now())::float8,
                  extract(epoch FROM keep_until - now())::float8
           FROM "{}claims" WHERE holder = 'keeper'"#,
        tables.prefix
    );
    let read = || async {
        let row = admin.query_one(&times, &[]).await.unwrap();
        (row.get::<_, f64>(0), row.get::<_, f64>(1))
    };
    // Two hours, kept two hours plus the retention.
    let renewed = store
        .renew_claim(renewal(Duration::from_secs(7200)))
        .await
        .unwrap();
    assert_eq!(renewed, Renewal::Extended);
    let (lease_left, kept_for) = read().await;
    assert!((7190.0..=7200.0).contains(&lease_left), "{lease_left}");
    assert!((10_790.0..=10_800.0).contains(&kept_for), "{kept_for}");
    // A shorter renewal moves the lease, not how long the claim is kept.
    let renewed = store.renew_claim(renewal(lease)).await.unwrap();
    assert_eq!(renewed, Renewal::Extended);
    let (lease_left, kept_for) = read().await;
    assert!(lease_left < 1.0, "{lease_left}");
    assert!(kept_for > 10_700.0, "{kept_for}");
    tables.drop_them().await;
}

#[test]
fn a_table_prefix_must_be_an_identifier() {
    for prefix in [
        "",
        "Tasks_",
        "9_",
        "tasks-",
        "x\"; DROP TABLE y; --",
        &"a".repeat(47),
    ] {
        let error = PostgresStore::builder()
            .table_prefix(prefix)
            .connect("postgres://app@db/app")
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Invalid, "{prefix:?}");
    }
}

#[tokio::test]
async fn the_password_never_shows() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let password = "pg-s3cr3t-pw";
    let url = format!("postgres://app:{password}@127.0.0.1:{port}/app");
    let store = PostgresStore::builder()
        .timeout(Duration::from_secs(2))
        .connect(&url)
        .unwrap();
    assert_hidden(password, "", &format!("{store:?}"));
    let replica = ReplicaId::new("secret");
    let error = store
        .claim(claim(
            "secret",
            due_slot(),
            &replica,
            Duration::from_secs(1),
        ))
        .await
        .unwrap_err();
    eprintln!("{error}\n{error:?}");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert_hidden(password, &error.to_string(), &format!("{error:?}"));
    assert_hidden(&url, &error.to_string(), &format!("{error:?}"));

    let store = tasks_stores::connect(&url).unwrap();
    let error = store.last_finished("secret").await.unwrap_err();
    assert_hidden(password, &error.to_string(), &format!("{error:?}"));

    let unreadable = format!("postgres://app:{password}@127.0.0.1:notaport/app");
    let error = PostgresStore::connect(&unreadable).unwrap_err();
    eprintln!("{error}");
    assert_eq!(error.kind(), StoreErrorKind::Invalid, "{error}");
    assert_hidden(password, &error.to_string(), &format!("{error:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_claims_does_not_starve_the_lease() {
    let Some(url) = server_url(VARIABLE, "a_burst_of_claims_does_not_starve_the_lease") else {
        return;
    };
    let tables = Tables::new(&url);
    let store = PostgresStore::builder()
        .table_prefix(&tables.prefix)
        .connect(&url)
        .unwrap();
    check_leases_beside_a_burst_of_claims(Arc::new(store), &unique("pg"), 6).await;
    tables.drop_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_that_strands_the_connection_a_new_one_is_made() {
    let Some(url) = server_url(
        VARIABLE,
        "after_a_failover_that_strands_the_connection_a_new_one_is_made",
    ) else {
        return;
    };
    let proxy = Proxy::start(address_of(&url, 5432)).await;
    let timeout = Duration::from_millis(500);
    let tables = Tables::new(&url);
    let store = PostgresStore::builder()
        .table_prefix(&tables.prefix)
        .timeout(timeout)
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    check_stranded_connections(
        &store,
        &unique("postgres"),
        timeout,
        || proxy.freeze(),
        || proxy.strand(),
    )
    .await;
    tables.drop_them().await;
}
