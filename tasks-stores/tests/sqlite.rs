//! SqliteStore: the contract, several connections and processes on one
//! file, history across a reopening, a locked file, awkward names, how
//! long a renewed claim is kept.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::burst::check_leases_beside_a_burst_of_claims;
use common::{check_awkward_names, claim, claim_late_for, due_slot, unique, won};
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Lease, LeaseRequest, Renewal, ReplicaId, SlotFinish, SlotOutcome, Store,
    StoreErrorKind,
};
use tasks_runtime::testing::check_store;
use tasks_stores::SqliteStore;

/// A directory of its own for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(&format!("tasks-stores-{test}-")));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_contract() {
    let dir = TempDir::new("contract");
    let store = SqliteStore::open(dir.file("tasks.db")).unwrap();
    check_store(&store, "sqlite", &Utc::now).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_contract_through_connect_with_another_prefix() {
    let dir = TempDir::new("connect");
    let url = format!("sqlite:{}", dir.file("tasks.db").display());
    let store = tasks_stores::connect(&url).unwrap();
    check_store(&*store, "connect", &Utc::now).await.unwrap();
    let other = SqliteStore::builder()
        .table_prefix("other_")
        .open(dir.file("tasks.db"))
        .unwrap();
    check_store(&other, "connect", &Utc::now).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_connections_claiming_at_once_exactly_one_wins() {
    let dir = TempDir::new("race");
    let path = dir.file("tasks.db");
    let stores: Vec<Arc<SqliteStore>> = (0..6)
        .map(|_| Arc::new(SqliteStore::open(&path).unwrap()))
        .collect();
    let first = due_slot();
    for round in 0..20 {
        let slot = first + TimeDelta::milliseconds(round);
        let claims = stores.iter().enumerate().map(|(i, store)| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let replica = ReplicaId::new(format!("racer{i}"));
                store
                    .claim(claim("race", slot, &replica, Duration::from_secs(60)))
                    .await
                    .unwrap()
            })
        });
        let answers = futures_util::future::join_all(claims).await;
        let won = answers
            .into_iter()
            .filter(|answer| matches!(answer.as_ref().unwrap(), Claimed::Won { .. }))
            .count();
        assert_eq!(won, 1, "round {round}");
    }
    let leases = stores.iter().enumerate().map(|(i, store)| {
        let store = Arc::clone(store);
        tokio::spawn(async move {
            let replica = ReplicaId::new(format!("racer{i}"));
            let request = LeaseRequest {
                loop_name: "race",
                replica: &replica,
                lease: Duration::from_secs(60),
                renew: None,
            };
            store.lease(request).await.unwrap()
        })
    });
    let answers = futures_util::future::join_all(leases).await;
    let held = answers
        .into_iter()
        .filter(|answer| matches!(answer.as_ref().unwrap(), Lease::Held { .. }))
        .count();
    assert_eq!(held, 1);
}

/// The environment variable that makes `child_claimer` claim slots in the
/// file it names, as one of several processes.
const CHILD_DATABASE: &str = "TASKS_STORES_TEST_CHILD_DATABASE";

/// As a child process of `of_processes_claiming_at_once_each_slot_goes_to_one`,
/// claims 40 slots and prints those it won; otherwise does nothing.
#[tokio::test]
async fn child_claimer() {
    let Some(path) = std::env::var_os(CHILD_DATABASE) else {
        return;
    };
    let first: i64 = std::env::var("TASKS_STORES_TEST_FIRST_SLOT")
        .unwrap()
        .parse()
        .unwrap();
    let store = SqliteStore::open(Path::new(&path)).unwrap();
    let replica = ReplicaId::new(format!("process{}", std::process::id()));
    for i in 0..40 {
        let slot = chrono::DateTime::from_timestamp_millis(first + i).unwrap();
        let answer = store
            .claim(claim("processes", slot, &replica, Duration::from_secs(60)))
            .await
            .unwrap();
        if let Claimed::Won { fence } = answer {
            println!("won {i} {fence}");
        }
    }
}

#[test]
fn of_processes_claiming_at_once_each_slot_goes_to_one() {
    let dir = TempDir::new("processes");
    let path = dir.file("tasks.db");
    // The file exists before the processes race for it.
    drop(SqliteStore::open(&path).unwrap());
    let first = due_slot().timestamp_millis();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "child_claimer",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_DATABASE, &path)
                .env("TASKS_STORES_TEST_FIRST_SLOT", first.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut winners = vec![0; 40];
    let mut fences = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        // The harness prints `test child_claimer ... ` before the first line.
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            let Some(at) = line.find("won ") else {
                continue;
            };
            let mut words = line[at..].split_whitespace().skip(1);
            let slot: usize = words.next().unwrap().parse().unwrap();
            winners[slot] += 1;
            fences.push(words.next().unwrap().parse::<u64>().unwrap());
        }
    }
    assert!(winners.iter().all(|count| *count == 1), "{winners:?}");
    fences.sort_unstable();
    fences.dedup();
    assert_eq!(
        fences.len(),
        40,
        "every winning claim has a token of its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_reopening_the_file() {
    let dir = TempDir::new("reopen");
    let path = dir.file("tasks.db");
    let replica = ReplicaId::new("before");
    let slot = due_slot();
    let fence = {
        let store = SqliteStore::open(&path).unwrap();
        let fence = won(
            &store,
            claim("daily", slot, &replica, Duration::from_secs(60)),
        )
        .await;
        store
            .finish(SlotFinish {
                loop_name: "daily",
                slot,
                fence,
                outcome: SlotOutcome::Failed,
            })
            .await
            .unwrap();
        fence
    };
    let store = SqliteStore::open(&path).unwrap();
    let last = store.last_finished("daily").await.unwrap().unwrap();
    assert_eq!(
        (last.slot, last.outcome, last.fence),
        (slot, SlotOutcome::Failed, fence)
    );
    let after = ReplicaId::new("after");
    match store
        .claim(claim("daily", slot, &after, Duration::from_secs(60)))
        .await
        .unwrap()
    {
        Claimed::Taken { holder, tzdb } => {
            assert_eq!(holder, "before");
            assert_eq!(tzdb.as_deref(), Some("2025b"));
        }
        other => panic!("a slot claimed before the restart is taken: {other:?}"),
    }
    let next = won(
        &store,
        claim(
            "daily",
            slot + TimeDelta::milliseconds(1),
            &after,
            Duration::from_secs(60),
        ),
    )
    .await;
    assert!(next > fence, "tokens go on growing after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_locked_too_long_is_unavailable_then_works_again() {
    let dir = TempDir::new("locked");
    let path = dir.file("tasks.db");
    let store = SqliteStore::builder()
        .busy_timeout(Duration::from_millis(200))
        .open(&path)
        .unwrap();
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let replica = ReplicaId::new("blocked");
    let started = Instant::now();
    let error = store
        .claim(claim(
            "locked",
            due_slot(),
            &replica,
            Duration::from_secs(60),
        ))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        !error.to_string().contains(&*dir.0.to_string_lossy()),
        "{error}"
    );
    locker.execute_batch("COMMIT").unwrap();
    won(
        &store,
        claim("locked", due_slot(), &replica, Duration::from_secs(60)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_waiting_on_a_locked_file_each_fail_within_the_busy_timeout() {
    let dir = TempDir::new("queued");
    let path = dir.file("tasks.db");
    let busy_timeout = Duration::from_millis(500);
    let store = Arc::new(
        SqliteStore::builder()
            .busy_timeout(busy_timeout)
            .open(&path)
            .unwrap(),
    );
    // Another process holds the write lock for longer than any call waits.
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let slot = due_slot();
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let replica = ReplicaId::new(format!("queued{i}"));
                let started = Instant::now();
                let answer = if i % 2 == 0 {
                    store
                        .claim(claim(
                            &format!("queued{i}"),
                            slot,
                            &replica,
                            Duration::from_secs(60),
                        ))
                        .await
                        .map(drop)
                } else {
                    let request = LeaseRequest {
                        loop_name: "queued",
                        replica: &replica,
                        lease: Duration::from_secs(60),
                        renew: None,
                    };
                    store.lease(request).await.map(drop)
                };
                (started.elapsed(), answer)
            })
        })
        .collect();
    for call in calls {
        let (took, answer) = call.await.unwrap();
        let error = answer.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
        // Each call within its own deadline, not queued behind the others'.
        assert!(
            took < busy_timeout + Duration::from_millis(400),
            "a call failed after {took:?}: {error}"
        );
    }
    locker.execute_batch("COMMIT").unwrap();
    let replica = ReplicaId::new("after");
    won(
        &*store,
        claim("queued-after", slot, &replica, Duration::from_secs(60)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opened_at_once_on_a_new_file_all_open() {
    let dir = TempDir::new("opening");
    let path = dir.file("tasks.db");
    let openers: Vec<_> = (0..6)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || SqliteStore::open(path).map(drop))
        })
        .collect();
    for opener in openers {
        opener.join().unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_loop_names_are_loops_of_their_own() {
    let dir = TempDir::new("names");
    let store = SqliteStore::open(dir.file("tasks.db")).unwrap();
    check_awkward_names(&store, "sqlite").await;
}

#[test]
fn a_table_prefix_must_be_an_identifier() {
    let dir = TempDir::new("prefix");
    for prefix in [
        "",
        "Tasks_",
        "9_",
        "tasks-",
        "x\"; DROP TABLE y; --",
        &"a".repeat(47),
    ] {
        let error = SqliteStore::builder()
            .table_prefix(prefix)
            .open(dir.file("tasks.db"))
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Invalid, "{prefix:?}");
    }
    assert!(!dir.file("tasks.db").exists(), "nothing is opened");
}

#[test]
fn a_file_that_is_not_a_database_is_invalid() {
    let dir = TempDir::new("garbage");
    let path = dir.file("tasks.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Invalid, "{error}");
}

#[test]
fn debug_shows_the_path() {
    let dir = TempDir::new("debug");
    let store = SqliteStore::open(dir.file("tasks.db")).unwrap();
    let debug = format!("{store:?}");
    assert!(
        debug.contains("tasks.db") && debug.contains("tasks_"),
        "{debug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_claims_are_pruned_but_the_last_finished_slot_is_kept() {
    let dir = TempDir::new("prune");
    let path = dir.file("tasks.db");
    let store = SqliteStore::builder()
        .retention(Duration::ZERO)
        .open(&path)
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
    // have run out; its own row stays.
    tokio::time::sleep(Duration::from_millis(100)).await;
    won(
        &store,
        claim_late_for(
            "pruned",
            first - TimeDelta::milliseconds(255),
            &replica,
            lease,
            brief,
        ),
    )
    .await;
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(r#"SELECT count(*) FROM "tasks_claims""#, [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(rows, 2, "the last finished slot and the newest claim");
    let last = store.last_finished("pruned").await.unwrap().unwrap();
    assert_eq!((last.slot, last.fence), (first, finished));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_claim_is_kept_its_new_lease_plus_the_retention() {
    let dir = TempDir::new("renew");
    let path = dir.file("tasks.db");
    let store = SqliteStore::builder()
        .retention(Duration::from_secs(3600))
        .open(&path)
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
    let times = || -> (i64, i64) {
        let now = Utc::now().timestamp_millis();
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row(
                r#"SELECT lease_until_ms, keep_until_ms FROM "tasks_claims""#,
                [],
                |row| Ok((row.get::<_, i64>(0)? - now, row.get::<_, i64>(1)? - now)),
            )
            .unwrap()
    };
    // Two hours, kept two hours plus the retention.
    let renewed = store
        .renew_claim(renewal(Duration::from_secs(7200)))
        .await
        .unwrap();
    assert_eq!(renewed, Renewal::Extended);
    let (lease_left, kept_for) = times();
    assert!(
        (7_190_000..=7_200_100).contains(&lease_left),
        "{lease_left}"
    );
    assert!((10_790_000..=10_800_100).contains(&kept_for), "{kept_for}");
    // A shorter renewal moves the lease, not how long the claim is kept.
    let renewed = store.renew_claim(renewal(lease)).await.unwrap();
    assert_eq!(renewed, Renewal::Extended);
    let (lease_left, kept_for) = times();
    assert!(lease_left <= 100, "{lease_left}");
    assert!(kept_for > 10_700_000, "{kept_for}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_claims_does_not_starve_the_lease() {
    let dir = TempDir::new("burst");
    let store = SqliteStore::open(dir.file("tasks.db")).unwrap();
    check_leases_beside_a_burst_of_claims(Arc::new(store), "sqlite", 6).await;
}
