//! RedisStore against a real server (`TASKS_TEST_REDIS_URL`): the contract,
//! racing stores, the keys and how long they live (renewed or not), the
//! server going away and coming back, a connection killed between a claim
//! and its finish, awkward names, key prefixes, hidden passwords.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::burst::check_leases_beside_a_burst_of_claims;
use common::proxy::{address_of, through_port, Proxy};
use common::{
    assert_hidden, check_awkward_names, check_finish_after_a_dropped_connection, check_no_answer,
    check_outage, check_stranded_connections, claim, claim_late_for, due_slot, server_url, unique,
    won,
};
use tasks_runtime::cluster::{ClaimRenewal, Claimed, Renewal, ReplicaId, Store, StoreErrorKind};
use tasks_runtime::testing::check_store;
use tasks_stores::redis::redis::{self, AsyncCommands};
use tasks_stores::RedisStore;

const VARIABLE: &str = "TASKS_TEST_REDIS_URL";

/// A plain connection, for what the tests look at or do behind the store.
async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_contract() {
    let Some(url) = server_url(VARIABLE, "keeps_the_contract") else {
        return;
    };
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .connect(&url)
        .unwrap();
    let started = std::time::Instant::now();
    check_store(&store, &unique("redis"), &Utc::now)
        .await
        .unwrap();
    eprintln!("the contract took {:?}", started.elapsed());
    // Through `connect`, under the default prefix.
    let store = tasks_stores::connect(&url).unwrap();
    check_store(&*store, &unique("redis"), &Utc::now)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_stores_claiming_at_once_exactly_one_wins() {
    let Some(url) = server_url(VARIABLE, "of_stores_claiming_at_once_exactly_one_wins") else {
        return;
    };
    let prefix = unique("tasks-test:") + ":";
    let stores: Vec<Arc<RedisStore>> = (0..6)
        .map(|_| {
            Arc::new(
                RedisStore::builder()
                    .key_prefix(&prefix)
                    .connect(&url)
                    .unwrap(),
            )
        })
        .collect();
    let first = due_slot();
    for round in 0..10 {
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
        let won = futures_util::future::join_all(claims)
            .await
            .into_iter()
            .filter(|answer| matches!(answer.as_ref().unwrap(), Claimed::Won { .. }))
            .count();
        assert_eq!(won, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_outlives_its_lease_by_the_retention() {
    let Some(url) = server_url(VARIABLE, "a_claim_outlives_its_lease_by_the_retention") else {
        return;
    };
    let prefix = unique("tasks-test:") + ":";
    let store = RedisStore::builder()
        .key_prefix(&prefix)
        .retention(Duration::from_secs(3600))
        .connect(&url)
        .unwrap();
    let replica = ReplicaId::new("keeper");
    let slot = due_slot();
    let lease = Duration::from_millis(100);
    let first = won(
        &store,
        claim_late_for("kept", slot, &replica, lease, lease / 2),
    )
    .await;
    let mut admin = admin(&url).await;
    let slot_ns = slot.timestamp_nanos_opt().unwrap();
    let claim_key = format!("{prefix}{{kept}}:claim:{slot_ns}");
    let ttl: i64 = admin.pttl(&claim_key).await.unwrap();
    assert!(
        (3_590_000..=3_600_200).contains(&ttl),
        "the claim lives its lease plus the retention: {ttl} ms"
    );
    let fence: String = admin.get(format!("{prefix}{{kept}}:fence")).await.unwrap();
    assert_eq!(fence, first.get().to_string(), "the loop's last token");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = ReplicaId::new("latecomer");
    match store
        .claim(claim("kept", slot, &other, Duration::from_secs(1)))
        .await
        .unwrap()
    {
        Claimed::Taken { holder, .. } => assert_eq!(holder, "keeper"),
        other => panic!("a claim whose lease ran out is still held: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_claim_lives_its_new_lease_plus_the_retention() {
    let test = "a_renewed_claim_lives_its_new_lease_plus_the_retention";
    let Some(url) = server_url(VARIABLE, test) else {
        return;
    };
    let prefix = unique("tasks-test:") + ":";
    let store = RedisStore::builder()
        .key_prefix(&prefix)
        .retention(Duration::from_secs(3600))
        .connect(&url)
        .unwrap();
    let replica = ReplicaId::new("keeper");
    let slot = due_slot();
    let fence = won(
        &store,
        claim("kept", slot, &replica, Duration::from_millis(100)),
    )
    .await;
    let renewal = |lease| ClaimRenewal {
        loop_name: "kept",
        slot,
        replica: &replica,
        fence,
        lease,
    };
    let mut admin = admin(&url).await;
    let slot_ns = slot.timestamp_nanos_opt().unwrap();
    let claim_key = format!("{prefix}{{kept}}:claim:{slot_ns}");
    // A renewal of two hours keeps it two hours plus the retention.
    let renewed = store
        .renew_claim(renewal(Duration::from_secs(7200)))
        .await
        .unwrap();
    assert_eq!(renewed, Renewal::Extended);
    let ttl: i64 = admin.pttl(&claim_key).await.unwrap();
    assert!(
        (10_790_000..=10_800_000).contains(&ttl),
        "the claim lives its new lease plus the retention: {ttl} ms"
    );
    // A shorter one does not shorten its life.
    let renewed = store
        .renew_claim(renewal(Duration::from_millis(100)))
        .await
        .unwrap();
    assert_eq!(renewed, Renewal::Extended);
    let ttl: i64 = admin.pttl(&claim_key).await.unwrap();
    assert!(ttl > 10_700_000, "{ttl} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_going_away_and_coming_back() {
    let Some(url) = server_url(VARIABLE, "the_store_going_away_and_coming_back") else {
        return;
    };
    let proxy = Proxy::start(address_of(&url, 6379)).await;
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .timeout(Duration::from_secs(1))
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    check_outage(
        &store,
        &unique("redis"),
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
    let proxy = Proxy::start(address_of(&url, 6379)).await;
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .timeout(Duration::from_millis(500))
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    check_no_answer(
        &store,
        &unique("redis"),
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
    // The store connects through a proxy, which tells the address of its
    // connection as Redis sees it.
    let proxy = Proxy::start(address_of(&url, 6379)).await;
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    let mut admin = admin(&url).await;
    check_finish_after_a_dropped_connection(&store, &unique("redis"), || async {
        let ends = proxy.upstream_ends();
        assert_eq!(ends.len(), 1, "the store's one connection");
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ADDR")
            .arg(ends[0].to_string())
            .query_async(&mut admin)
            .await
            .unwrap();
        assert_eq!(killed, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_loop_names_are_loops_of_their_own() {
    let Some(url) = server_url(VARIABLE, "awkward_loop_names_are_loops_of_their_own") else {
        return;
    };
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .connect(&url)
        .unwrap();
    check_awkward_names(&store, &unique("redis")).await;
}

#[test]
fn a_key_prefix_must_not_break_the_hash_tags() {
    for prefix in ["{tasks}:", "tasks}", "{"] {
        let error = RedisStore::builder()
            .key_prefix(prefix)
            .connect("redis://127.0.0.1:6379")
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Invalid, "{prefix:?}");
    }
    for prefix in ["", "tasks:", "my app/tasks:", "ta%sks"] {
        RedisStore::builder()
            .key_prefix(prefix)
            .connect("redis://127.0.0.1:6379")
            .unwrap();
    }
}

#[cfg(not(feature = "redis-tls"))]
#[test]
fn tls_without_its_feature_names_the_feature() {
    let error = RedisStore::connect("rediss://:hunter2@cache:6380").unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Invalid);
    assert!(error.to_string().contains("`redis-tls`"), "{error}");
    assert_hidden("hunter2", &error.to_string(), &format!("{error:?}"));
    let error = tasks_stores::connect("rediss://:hunter2@cache:6380")
        .err()
        .unwrap();
    assert!(error.to_string().contains("`redis-tls`"), "{error}");
}

#[tokio::test]
async fn the_password_never_shows() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let password = "redis-s3cr3t-pw";
    let url = format!("redis://user:{password}@127.0.0.1:{port}/0");
    let store = RedisStore::builder()
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

    let unreadable = format!("redis://user:{password}@127.0.0.1:notaport/0");
    let error = RedisStore::connect(&unreadable).unwrap_err();
    eprintln!("{error}");
    assert_eq!(error.kind(), StoreErrorKind::Invalid, "{error}");
    assert_hidden(password, &error.to_string(), &format!("{error:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_unavailable_and_hidden() {
    let Some(url) = server_url(VARIABLE, "a_wrong_password_is_unavailable_and_hidden") else {
        return;
    };
    let password = "wr0ng-pa55word";
    let (scheme, rest) = url.split_once("://").unwrap();
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let store = RedisStore::connect(&format!("{scheme}://nobody:{password}@{rest}")).unwrap();
    let error = store.last_finished("anything").await.unwrap_err();
    eprintln!("{error}");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert_hidden(password, &error.to_string(), &format!("{error:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_claims_does_not_starve_the_lease() {
    let Some(url) = server_url(VARIABLE, "a_burst_of_claims_does_not_starve_the_lease") else {
        return;
    };
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .connect(&url)
        .unwrap();
    check_leases_beside_a_burst_of_claims(Arc::new(store), &unique("redis"), 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_that_strands_the_connection_a_new_one_is_made() {
    let Some(url) = server_url(
        VARIABLE,
        "after_a_failover_that_strands_the_connection_a_new_one_is_made",
    ) else {
        return;
    };
    let proxy = Proxy::start(address_of(&url, 6379)).await;
    let timeout = Duration::from_millis(500);
    let store = RedisStore::builder()
        .key_prefix(unique("tasks-test:") + ":")
        .timeout(timeout)
        .connect(&through_port(&url, proxy.port()))
        .unwrap();
    check_stranded_connections(
        &store,
        &unique("redis"),
        timeout,
        || proxy.freeze(),
        || proxy.strand(),
    )
    .await;
}

/// A Redis server of the test's own, on a free local port, stopped when
/// dropped: for what the shared server must not go through (a failover).
struct OwnServer {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnServer {
    /// `None` (after saying the test is skipped) without `redis-server`,
    /// except under CI.
    async fn start(test: &str) -> Option<OwnServer> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        if !installed {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is missing, and CI is set: install it (`.ci/stores start` does)"
            );
            eprintln!("skipped {test}: redis-server is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(unique("tasks-stores-redis-"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = OwnServer { child, port, dir };
        common::eventually(Duration::from_secs(10), || async {
            let mut connection = server.admin().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await;
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn address(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    async fn admin(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url())?
            .get_multiplexed_async_connection()
            .await
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_a_read_only_answer_makes_the_store_reconnect() {
    let test = "after_a_failover_a_read_only_answer_makes_the_store_reconnect";
    let Some(old) = OwnServer::start(test).await else {
        return;
    };
    let Some(new) = OwnServer::start(test).await else {
        return;
    };
    // The store reaches the primary through an address that a failover
    // moves (a proxy here, a DNS name or a virtual IP in production).
    let proxy = Proxy::start(old.address()).await;
    let timeout = Duration::from_secs(1);
    let store = RedisStore::builder()
        .timeout(timeout)
        .connect(&format!("redis://127.0.0.1:{}", proxy.port()))
        .unwrap();
    let replica = ReplicaId::new("failover");
    let first = due_slot();
    won(
        &store,
        claim("failover", first, &replica, Duration::from_secs(60)),
    )
    .await;

    // The failover: the old primary becomes a replica of the new one, and
    // the address leads to the new one. The store's connection still
    // reaches the old one, which answers READONLY.
    let mut old_admin = old.admin().await.unwrap();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(new.port)
        .query_async(&mut old_admin)
        .await
        .unwrap();
    proxy.redirect(new.address());

    let failed_over = std::time::Instant::now();
    let next = first + TimeDelta::milliseconds(1);
    let mut failures = Vec::new();
    loop {
        match store
            .claim(claim("failover", next, &replica, Duration::from_secs(60)))
            .await
        {
            Ok(Claimed::Won { .. }) => break,
            Ok(other) => panic!("the claim after the failover wins: {other:?}"),
            Err(error) => failures.push(error.to_string()),
        }
        assert!(
            failed_over.elapsed() < timeout * 2,
            "still failing {:?} after the failover, {} times: {:?}",
            failed_over.elapsed(),
            failures.len(),
            failures.last()
        );
    }
    eprintln!(
        "answered again {:?} after the failover: {failures:?}",
        failed_over.elapsed()
    );
    assert!(
        failures
            .iter()
            .any(|failure| failure.contains("read only replica")),
        "the old primary answered READONLY: {failures:?}"
    );
    // The claim is on the new primary.
    let mut new_admin = new.admin().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("tasks:{failover}:claim:*")
        .query_async(&mut new_admin)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
}
