//! [`PostgresStore`] and how it keeps the contract of
//! [`Store`](tasks_runtime::cluster::Store): each call
//! one statement of [`Statements`], sent through its [`Connections`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tasks_runtime::cluster::rules::PruningCounter;
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, FinishedSlot, Lease, LeaseRequest, Renewal, SlotClaim, SlotFinish,
    StoreError,
};
use tokio_postgres::Row;

use super::pool::{AnswerError, Connections};
use super::sql::{loop_key, Statements};
use crate::shared::boxed::{impl_store, Release};
use crate::shared::call::Retry;
use crate::shared::time::{micros, slot_nanos};
use crate::shared::values::{fence_from, fence_value, finished_slot};

/// A store in PostgreSQL tables: for replicas on several machines.
///
/// Nothing is connected when it is made: the first call connects (and
/// creates the tables), so a replica starts while the database is down.
/// Cloning it shares its pool.
///
/// ```no_run
/// // Needs a PostgreSQL server.
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Claimed, ReplicaId, SlotClaim, Store};
/// use tasks_stores::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://app@db.internal:5432/app")?;
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
/// if let Claimed::Won { fence } = store.claim(claim).await? {
///     println!("this replica runs the slot, with token {fence}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    connections: Connections,
    sql: Statements,
    table_prefix: String,
    retention: Duration,
    claims_won: PruningCounter,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table_prefix", &self.inner.table_prefix)
            .field("timeout", &self.inner.connections.timeout())
            .field("retention", &self.inner.retention)
            .field("pool_size", &self.inner.connections.pool_size())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A store of `connections`, with the tables of `table_prefix`.
    pub(super) fn new(connections: Connections, table_prefix: String, retention: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                connections,
                sql: Statements::new(&table_prefix),
                table_prefix,
                retention,
                claims_won: PruningCounter::new(),
            }),
        }
    }

    /// The claim's statement as this store sends it (its parameters are
    /// described where it is written): the cluster benchmark sends it by
    /// hand, on the same connection, as the floor a claim is held against.
    #[doc(hidden)]
    pub fn claim_statement(&self) -> &str {
        &self.inner.sql.claim
    }

    /// Connects and creates the tables now rather than on the first call,
    /// to learn at start-up that the database is there and the tables
    /// usable.
    ///
    /// ```no_run
    /// // Needs a PostgreSQL server.
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::PostgresStore::connect("postgres://app@db/app")?;
    /// store.prepare().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As any call: [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// if the database cannot be reached in time,
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) if its
    /// tables have another shape.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let no_loop: &[u8] = &[];
        inner
            .connections
            .execute("preparing", &inner.sql.last_finished, &[&no_loop])
            .await
    }
}

impl Inner {
    /// Prunes the claims past their retention, in the background.
    fn prune_later(self: &Arc<Self>) {
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let pruned = inner
                .connections
                .execute("pruning", &inner.sql.prune, &[])
                .await;
            if let Err(error) = pruned {
                tracing::warn!("PostgreSQL store: pruning old claims failed: {error}");
            }
        });
    }
}

/// The one row a statement answers.
fn one(row: Option<Row>) -> Result<Row, AnswerError> {
    row.ok_or_else(|| "the statement answered no row".into())
}

/// `slot` moved by `by`, which [`micros`] keeps within a hundred years of
/// a slot the stores keep.
fn shifted(slot: DateTime<Utc>, by: Duration, later: bool) -> DateTime<Utc> {
    let by = TimeDelta::microseconds(micros(by));
    if later {
        slot + by
    } else {
        slot - by
    }
}

impl_store!(PostgresStore);

impl PostgresStore {
    async fn claim_slot(&self, claim: SlotClaim<'_>) -> Result<Claimed, StoreError> {
        let inner = &self.inner;
        let slot_ns = slot_nanos(claim.slot)?;
        let key = loop_key(claim.loop_name);
        let not_before = shifted(claim.slot, claim.early_tolerance, false);
        let not_after = shifted(claim.slot, claim.late_tolerance, true);
        let takeover_until = claim
            .takeover
            .map(|window| shifted(claim.slot, window, true));
        // Kept at least until the last claim it accepts.
        let held_until = takeover_until.unwrap_or(claim.slot).max(not_after);
        let lease = micros(claim.lease);
        let retention = micros(inner.retention);
        let replica = claim.replica.as_str();
        let (store_now, too_early, won, too_late): (DateTime<Utc>, bool, Option<i64>, bool) = inner
            .connections
            .query(
                "claiming a slot",
                Retry::BeforeSending,
                &inner.sql.claim,
                &[
                    &key,
                    &slot_ns,
                    &not_before,
                    &replica,
                    &claim.tzdb,
                    &lease,
                    &held_until,
                    &retention,
                    &takeover_until,
                    &claim.loop_name,
                    &not_after,
                ],
                |row| {
                    let row = one(row)?;
                    Ok((
                        row.try_get(0)?,
                        row.try_get(1)?,
                        row.try_get(2)?,
                        row.try_get(3)?,
                    ))
                },
            )
            .await?;
        if too_early {
            return Ok(Claimed::TooEarly { store_now });
        }
        if let Some(fence) = won {
            if inner.claims_won.won() {
                inner.prune_later();
            }
            return Ok(Claimed::Won {
                fence: fence_from("PostgreSQL", fence)?,
            });
        }
        let holder: Option<(String, String)> = inner
            .connections
            .query(
                "reading a slot's holder",
                Retry::OnConnectionLoss,
                &inner.sql.claim_holder,
                &[&key, &slot_ns],
                |row| {
                    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                        .transpose()
                },
            )
            .await?;
        match holder {
            Some((holder, tzdb)) => Ok(Claimed::Taken {
                holder,
                tzdb: Some(tzdb),
            }),
            None if too_late => Ok(Claimed::TooLate { store_now }),
            // The row is gone only if it was pruned meanwhile: then the
            // slot was claimed long ago, by a holder no one remembers.
            None => Ok(Claimed::Taken {
                holder: String::new(),
                tzdb: None,
            }),
        }
    }

    async fn renew_slot(&self, renewal: ClaimRenewal<'_>) -> Result<Renewal, StoreError> {
        let inner = &self.inner;
        let key = loop_key(renewal.loop_name);
        let slot_ns = slot_nanos(renewal.slot)?;
        let replica = renewal.replica.as_str();
        let fence = fence_value(renewal.fence);
        let lease = micros(renewal.lease);
        let retention = micros(inner.retention);
        // On the connection kept for leases: a renewal keeps a running
        // body's claim, and a burst of claims must not hold it back.
        let renewed: bool = inner
            .connections
            .leases()
            .query(
                "renewing a claim",
                Retry::OnConnectionLoss,
                &inner.sql.renew_claim,
                &[&key, &slot_ns, &replica, &fence, &lease, &retention],
                |row| Ok(row.is_some()),
            )
            .await?;
        Ok(if renewed {
            Renewal::Extended
        } else {
            Renewal::Lost
        })
    }

    async fn finish_slot(&self, finish: SlotFinish<'_>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let key = loop_key(finish.loop_name);
        let slot_ns = slot_nanos(finish.slot)?;
        let fence = fence_value(finish.fence);
        let outcome = finish.outcome.as_str();
        inner
            .connections
            .execute(
                "finishing a slot",
                &inner.sql.finish,
                &[&key, &slot_ns, &fence, &outcome],
            )
            .await
    }

    async fn last_finished_slot(
        &self,
        loop_name: &str,
    ) -> Result<Option<FinishedSlot>, StoreError> {
        let inner = &self.inner;
        let key = loop_key(loop_name);
        let row: Option<(i64, String, i64)> = inner
            .connections
            .query(
                "reading the last finished slot",
                Retry::OnConnectionLoss,
                &inner.sql.last_finished,
                &[&key],
                |row| {
                    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                        .transpose()
                },
            )
            .await?;
        row.map(|(slot_ns, outcome, fence)| finished_slot("PostgreSQL", slot_ns, &outcome, fence))
            .transpose()
    }

    async fn lease_term(&self, request: LeaseRequest<'_>) -> Result<Lease, StoreError> {
        let inner = &self.inner;
        let key = loop_key(request.loop_name);
        let lease = micros(request.lease);
        let replica = request.replica.as_str();
        let (held, holder): (Option<i64>, Option<String>) = match request.renew {
            Some(fence) => {
                let fence = fence_value(fence);
                let renewed: Option<i64> = inner
                    .connections
                    .leases()
                    .query(
                        "renewing the lease",
                        Retry::OnConnectionLoss,
                        &inner.sql.renew,
                        &[&key, &replica, &fence, &lease],
                        |row| Ok(row.map(|row| row.try_get(0)).transpose()?),
                    )
                    .await?;
                (renewed, None)
            }
            None => {
                inner
                    .connections
                    .leases()
                    .query(
                        "taking the lease",
                        Retry::BeforeSending,
                        &inner.sql.acquire,
                        &[&key, &replica, &lease, &request.loop_name],
                        |row| {
                            let row = one(row)?;
                            Ok((row.try_get(0)?, row.try_get(1)?))
                        },
                    )
                    .await?
            }
        };
        if let Some(fence) = held {
            return Ok(Lease::Held {
                fence: fence_from("PostgreSQL", fence)?,
            });
        }
        if holder.is_some() {
            return Ok(Lease::NotHeld { holder });
        }
        let holder: Option<String> = inner
            .connections
            .leases()
            .query(
                "reading the lease's holder",
                Retry::OnConnectionLoss,
                &inner.sql.live_holder,
                &[&key],
                |row| Ok(row.map(|row| row.try_get(0)).transpose()?),
            )
            .await?;
        Ok(Lease::NotHeld { holder })
    }

    async fn release_term(&self, release: Release<'_>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let key = loop_key(release.loop_name);
        let fence = fence_value(release.fence);
        let replica = release.replica.as_str();
        inner
            .connections
            .leases()
            .execute(
                "releasing the lease",
                &inner.sql.release,
                &[&key, &replica, &fence],
            )
            .await
    }
}
