//! [`SqliteStore`] and how it keeps the contract of
//! [`Store`](tasks_runtime::cluster::Store): each claim, renewal
//! and lease one `BEGIN IMMEDIATE` transaction that reads the row, asks
//! `tasks_runtime::cluster::rules` what to do at SQLite's time, and writes
//! what they say, on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tasks_runtime::cluster::rules::{
    self, ClaimDecision, HeldClaim, HeldLease, LeaseDecision, PruningCounter, RenewalDecision,
    RenewedClaim,
};
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, FinishedSlot, Lease, LeaseRequest, Renewal, SlotClaim, SlotFinish,
    StoreError,
};

use super::connection::{Lane, StoreConnection};
use super::errors::{sqlite_error, Failed};
use super::sql::{Statements, NOW_MS};
use crate::shared::boxed::{impl_store, Release};
use crate::shared::secret::Message;
use crate::shared::time::{millis_of, slot_nanos, time_from_millis};
use crate::shared::values::{fence_from, fence_value, finished_slot};

/// A store in an SQLite file: for the replicas of one machine (several
/// processes, or several loops of one process), with claims and leases that
/// survive a restart. Not for replicas on several machines: SQLite over a
/// network file system does not lock reliably.
///
/// Cloning it shares its connection; [`SqliteStore::open`] on the same file
/// makes another one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Claimed, ReplicaId, SlotClaim, Store};
/// use tasks_stores::SqliteStore;
///
/// # let dir = std::env::temp_dir().join(format!("tasks-doc-sqlite-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("tasks.db");
/// let store = SqliteStore::open(&path)?;
/// let replica = ReplicaId::generate();
/// let claim = SlotClaim {
///     loop_name: "nightly-report",
///     slot: chrono::Utc::now(),
///     replica: &replica,
///     lease: Duration::from_secs(60),
///     early_tolerance: Duration::from_millis(50),
///     late_tolerance: Duration::from_secs(60),
///     takeover: None,
///     tzdb: "2025b",
/// };
/// assert!(matches!(store.claim(claim).await?, Claimed::Won { .. }));
///
/// // The claim is in the file: a store opened on it later sees it.
/// let reopened = SqliteStore::open(&path)?;
/// assert!(matches!(reopened.claim(claim).await?, Claimed::Taken { .. }));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    table_prefix: String,
    connection: StoreConnection,
    sql: Statements,
    retention: Duration,
    claims_won: PruningCounter,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("table_prefix", &self.inner.table_prefix)
            .field("retention", &self.inner.retention)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// A store on `connection`, to the file at `path`, each call within
    /// `busy_timeout`.
    pub(super) fn new(
        path: PathBuf,
        table_prefix: String,
        connection: Connection,
        busy_timeout: Duration,
        retention: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                sql: Statements::new(&table_prefix),
                path,
                table_prefix,
                connection: StoreConnection::new(connection, busy_timeout),
                retention,
                claims_won: PruningCounter::new(),
            }),
        }
    }

    /// The file.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("tasks-doc-path-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let store = tasks_stores::SqliteStore::open(dir.join("tasks.db"))?;
    /// assert_eq!(store.path(), dir.join("tasks.db"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` on the connection, on a blocking thread, in the claims'
    /// lane (see [`StoreConnection::call`]).
    async fn call<T, F>(&self, what: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Inner) -> Result<T, Failed> + Send + 'static,
    {
        self.call_in(Lane::Claims, what, work).await
    }

    /// [`call`](Self::call), in the leases' lane.
    async fn lease_call<T, F>(&self, what: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Inner) -> Result<T, Failed> + Send + 'static,
    {
        self.call_in(Lane::Leases, what, work).await
    }

    async fn call_in<T, F>(&self, lane: Lane, what: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Inner) -> Result<T, Failed> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        self.inner
            .connection
            .call(lane, what, move |connection| work(connection, &inner))
            .await
    }
}

/// The store's time: the machine's clock, as SQLite reads it.
fn now(connection: &Connection) -> Result<DateTime<Utc>, Failed> {
    let now_ms: i64 = connection.query_row(NOW_MS, [], |row| row.get(0))?;
    Ok(time_at(now_ms)?)
}

/// The loop's next token at the store's time `now`, as
/// `tasks_runtime::cluster::rules::next_fence` makes it: from the clock if
/// the file lost the loop's counter (recreated, restored from a backup).
fn next_fence(
    connection: &Connection,
    inner: &Inner,
    loop_name: &str,
    now: DateTime<Utc>,
) -> Result<i64, Failed> {
    let floor = i64::try_from(rules::fence_floor(now)).unwrap_or(i64::MAX);
    let fence = connection
        .prepare_cached(&inner.sql.next_fence)?
        .query_row(params![loop_name, floor], |row| row.get(0))?;
    Ok(fence)
}

/// The time `millis` after the Unix epoch, as the tables keep times.
fn time_at(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    time_from_millis(millis)
        .ok_or_else(|| StoreError::invalid(Message(format!("SQLite: a time of {millis} ms"))))
}

impl_store!(SqliteStore);

impl SqliteStore {
    async fn claim_slot(&self, claim: SlotClaim<'_>) -> Result<Claimed, StoreError> {
        let what = "claiming a slot";
        let slot_ns = slot_nanos(claim.slot)?;
        let loop_name = claim.loop_name.to_owned();
        let replica = claim.replica.clone();
        let tzdb = claim.tzdb.to_owned();
        let SlotClaim {
            slot,
            lease,
            early_tolerance,
            late_tolerance,
            takeover,
            ..
        } = claim;
        self.call(what, move |connection, inner| {
            let claim = SlotClaim {
                loop_name: &loop_name,
                slot,
                replica: &replica,
                lease,
                early_tolerance,
                late_tolerance,
                takeover,
                tzdb: &tzdb,
            };
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now(&transaction)?;
            let row: Option<(String, String, i64, Option<String>)> = transaction
                .prepare_cached(&inner.sql.claim_row)?
                .query_row(params![loop_name, slot_ns], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()?;
            let held = match &row {
                Some((holder, tzdb, lease_until_ms, outcome)) => Some(HeldClaim {
                    holder,
                    tzdb,
                    lease_until: time_at(*lease_until_ms)?,
                    finished: outcome.is_some(),
                }),
                None => None,
            };
            let won = match rules::decide_claim(held, &claim, now, inner.retention) {
                ClaimDecision::Lose(answer) => return Ok(answer),
                ClaimDecision::Win(won) => won,
            };
            let fence = next_fence(&transaction, inner, &loop_name, now)?;
            transaction
                .prepare_cached(&inner.sql.record_claim)?
                .execute(params![
                    loop_name,
                    slot_ns,
                    replica.as_str(),
                    fence,
                    tzdb,
                    millis_of(now),
                    millis_of(won.lease_until),
                    millis_of(won.keep_until)
                ])?;
            transaction.commit()?;
            if inner.claims_won.won() {
                // Pruning is housekeeping: the claim stands whatever it
                // answers.
                if let Err(error) = connection
                    .prepare_cached(&inner.sql.prune)
                    .and_then(|mut prune| prune.execute(params![millis_of(now)]))
                {
                    tracing::warn!(
                        "SQLite store: pruning old claims failed: {}",
                        sqlite_error("pruning", &error)
                    );
                }
            }
            Ok(Claimed::Won {
                fence: fence_from(&format!("SQLite, {what}"), fence)?,
            })
        })
        .await
    }

    async fn renew_slot(&self, renewal: ClaimRenewal<'_>) -> Result<Renewal, StoreError> {
        let what = "renewing a claim";
        let slot_ns = slot_nanos(renewal.slot)?;
        let loop_name = renewal.loop_name.to_owned();
        let replica = renewal.replica.clone();
        let ClaimRenewal {
            slot, fence, lease, ..
        } = renewal;
        // In the leases' lane: a renewal keeps a running body's claim, and
        // a burst of claims must not hold it past the claim's lease.
        self.lease_call(what, move |connection, inner| {
            let renewal = ClaimRenewal {
                loop_name: &loop_name,
                slot,
                replica: &replica,
                fence,
                lease,
            };
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now(&transaction)?;
            let row: Option<(String, i64, Option<String>, i64)> = transaction
                .prepare_cached(&inner.sql.renewal_row)?
                .query_row(params![loop_name, slot_ns], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()?;
            let context = format!("SQLite, {what}");
            let held = match &row {
                Some((holder, fence, outcome, keep_until_ms)) => Some(RenewedClaim {
                    holder,
                    fence: fence_from(&context, *fence)?,
                    finished: outcome.is_some(),
                    keep_until: time_at(*keep_until_ms)?,
                }),
                None => None,
            };
            let decision = rules::decide_renewal(held, &renewal, now, inner.retention);
            if let RenewalDecision::Extend(times) = &decision {
                transaction
                    .prepare_cached(&inner.sql.renew_claim)?
                    .execute(params![
                        loop_name,
                        slot_ns,
                        millis_of(times.lease_until),
                        millis_of(times.keep_until)
                    ])?;
            }
            transaction.commit()?;
            Ok(decision.answer())
        })
        .await
    }

    async fn finish_slot(&self, finish: SlotFinish<'_>) -> Result<(), StoreError> {
        let slot_ns = slot_nanos(finish.slot)?;
        let loop_name = finish.loop_name.to_owned();
        let fence = fence_value(finish.fence);
        let outcome = finish.outcome.as_str();
        self.call("finishing a slot", move |connection, inner| {
            connection
                .prepare_cached(&inner.sql.finish)?
                .execute(params![loop_name, slot_ns, fence, outcome])?;
            Ok(())
        })
        .await
    }

    async fn last_finished_slot(
        &self,
        loop_name: &str,
    ) -> Result<Option<FinishedSlot>, StoreError> {
        let what = "reading the last finished slot";
        let loop_name = loop_name.to_owned();
        let row: Option<(i64, String, i64)> = self
            .call(what, move |connection, inner| {
                let row = connection
                    .prepare_cached(&inner.sql.last_finished)?
                    .query_row(params![loop_name], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()?;
                Ok(row)
            })
            .await?;
        let context = format!("SQLite, {what}");
        row.map(|(slot_ns, outcome, fence)| finished_slot(&context, slot_ns, &outcome, fence))
            .transpose()
    }

    async fn lease_term(&self, request: LeaseRequest<'_>) -> Result<Lease, StoreError> {
        let what = "taking the lease";
        let loop_name = request.loop_name.to_owned();
        let replica = request.replica.clone();
        let LeaseRequest { lease, renew, .. } = request;
        self.lease_call(what, move |connection, inner| {
            let request = LeaseRequest {
                loop_name: &loop_name,
                replica: &replica,
                lease,
                renew,
            };
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now(&transaction)?;
            let row: Option<(String, i64, i64)> = transaction
                .prepare_cached(&inner.sql.lease_row)?
                .query_row(params![loop_name], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let context = format!("SQLite, {what}");
            let held = match &row {
                Some((holder, fence, expires_ms)) => Some(HeldLease {
                    holder,
                    fence: fence_from(&context, *fence)?,
                    expires: time_at(*expires_ms)?,
                }),
                None => None,
            };
            let answer = match rules::decide_lease(held, &request, now) {
                LeaseDecision::Renew { fence, expires } => {
                    transaction
                        .prepare_cached(&inner.sql.renew)?
                        .execute(params![
                            loop_name,
                            replica.as_str(),
                            fence_value(fence),
                            millis_of(expires)
                        ])?;
                    Lease::Held { fence }
                }
                LeaseDecision::NewTerm { expires } => {
                    let fence = next_fence(&transaction, inner, &loop_name, now)?;
                    transaction
                        .prepare_cached(&inner.sql.record_lease)?
                        .execute(params![
                            loop_name,
                            replica.as_str(),
                            fence,
                            millis_of(expires)
                        ])?;
                    Lease::Held {
                        fence: fence_from(&context, fence)?,
                    }
                }
                LeaseDecision::Refuse(answer) => answer,
            };
            transaction.commit()?;
            Ok(answer)
        })
        .await
    }

    async fn release_term(&self, release: Release<'_>) -> Result<(), StoreError> {
        let loop_name = release.loop_name.to_owned();
        let replica = release.replica.as_str().to_owned();
        let fence = fence_value(release.fence);
        self.lease_call("releasing the lease", move |connection, inner| {
            connection
                .prepare_cached(&inner.sql.release)?
                .execute(params![loop_name, replica, fence])?;
            Ok(())
        })
        .await
    }
}
