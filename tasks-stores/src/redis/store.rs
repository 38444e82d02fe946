//! [`RedisStore`] and how it keeps the contract of
//! [`Store`](tasks_runtime::cluster::Store): each claim,
//! renewal and lease one script of [`Scripts`], each read one command, sent on its
//! [`Connection`].

use std::sync::Arc;
use std::time::Duration;

use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Fence, FinishedSlot, Lease, LeaseRequest, Renewal, SlotClaim,
    SlotFinish, StoreError,
};

use super::connection::Connection;
use super::keys::Keys;
use super::scripts::{Scripts, CLAIM};
use crate::shared::boxed::{impl_store, Release};
use crate::shared::call::Retry;
use crate::shared::secret::Message;
use crate::shared::time::{micros, millis, nanos, slot_nanos, time_from_micros};
use crate::shared::values::{fence_from, finished_slot};

/// A store in Redis: for replicas on several machines, as an efficiency
/// lock whose safety is the fencing token (see the [module](super)).
///
/// Nothing is connected when it is made: the first call connects, so a
/// replica starts while Redis is down. Cloning it shares its connection.
///
/// ```no_run
/// // Needs a Redis server.
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Claimed, ReplicaId, SlotClaim, Store};
/// use tasks_stores::RedisStore;
///
/// let store = RedisStore::connect("redis://cache.internal:6379")?;
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
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    keys: Keys,
    retention: Duration,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.keys.prefix())
            .field("timeout", &self.inner.connection.timeout())
            .field("retention", &self.inner.retention)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store of `connection`, with the keys of `keys`.
    pub(super) fn new(connection: Connection, keys: Keys, retention: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                connection,
                keys,
                retention,
                scripts: Scripts::new(),
            }),
        }
    }

    /// The claim's Lua script (its keys and arguments as
    /// [`Store::claim`] passes them): the cluster benchmark sends it by hand
    /// as the floor a claim is held against.
    #[doc(hidden)]
    pub fn claim_script() -> &'static str {
        CLAIM
    }

    /// Connects and loads the scripts now rather than on the first call,
    /// to learn at start-up that Redis is there.
    ///
    /// ```no_run
    /// // Needs a Redis server.
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::RedisStore::connect("redis://cache.internal:6379")?;
    /// store.prepare().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As any call: [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// if Redis cannot be reached in time.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        let scripts = &self.inner.scripts;
        self.inner
            .connection
            .call(
                "preparing",
                Retry::OnConnectionLoss,
                |mut connection| async move {
                    for script in scripts.all() {
                        script.load_async(&mut connection).await?;
                    }
                    Ok(())
                },
            )
            .await
    }
}

/// The parts of a script's answer.
type Answer = Vec<Option<String>>;

fn unexpected(what: &str, answer: &Answer) -> StoreError {
    StoreError::invalid(Message(format!(
        "Redis, {what}: the script answered {answer:?}"
    )))
}

/// The token at `at` in `answer`.
fn fence_at(what: &str, answer: &Answer, at: usize) -> Result<Fence, StoreError> {
    let value = answer
        .get(at)
        .and_then(Option::as_deref)
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| unexpected(what, answer))?;
    fence_from(&format!("Redis, {what}"), value)
}

impl_store!(RedisStore);

impl RedisStore {
    async fn claim_slot(&self, claim: SlotClaim<'_>) -> Result<Claimed, StoreError> {
        let inner = &self.inner;
        let what = "claiming a slot";
        let slot_ns = slot_nanos(claim.slot)?;
        let slot_us = slot_ns / 1_000;
        let not_before = slot_ns.saturating_sub(nanos(claim.early_tolerance)) / 1_000;
        let not_after = slot_us.saturating_add(micros(claim.late_tolerance));
        let takeover_until = claim
            .takeover
            .map(|window| slot_us.saturating_add(micros(window)));
        let mut script = inner.scripts.claim.prepare_invoke();
        script
            .key(inner.keys.of(claim.loop_name, "fence"))
            .key(inner.keys.of(claim.loop_name, &format!("claim:{slot_ns}")))
            .arg(claim.replica.as_str())
            .arg(claim.tzdb)
            .arg(not_before)
            .arg(micros(claim.lease))
            .arg(if takeover_until.is_some() { "1" } else { "0" })
            .arg(takeover_until.unwrap_or(0))
            .arg(takeover_until.unwrap_or(slot_us).max(not_after))
            .arg(millis(inner.retention))
            .arg(not_after);
        let answer: Answer = inner
            .connection
            .invoke(what, Retry::BeforeSending, &script)
            .await?;
        match answer.first().and_then(Option::as_deref) {
            Some("won") => Ok(Claimed::Won {
                fence: fence_at(what, &answer, 1)?,
            }),
            Some("taken") => Ok(Claimed::Taken {
                holder: answer.get(1).cloned().flatten().unwrap_or_default(),
                tzdb: answer.get(2).cloned().flatten(),
            }),
            Some(refused @ ("early" | "late")) => {
                let store_now = answer
                    .get(1)
                    .and_then(Option::as_deref)
                    .and_then(|now| now.parse().ok())
                    .and_then(time_from_micros)
                    .ok_or_else(|| unexpected(what, &answer))?;
                Ok(if refused == "early" {
                    Claimed::TooEarly { store_now }
                } else {
                    Claimed::TooLate { store_now }
                })
            }
            _ => Err(unexpected(what, &answer)),
        }
    }

    async fn renew_slot(&self, renewal: ClaimRenewal<'_>) -> Result<Renewal, StoreError> {
        let inner = &self.inner;
        let what = "renewing a claim";
        let slot_ns = slot_nanos(renewal.slot)?;
        let mut script = inner.scripts.renew_claim.prepare_invoke();
        script
            .key(
                inner
                    .keys
                    .of(renewal.loop_name, &format!("claim:{slot_ns}")),
            )
            .arg(renewal.replica.as_str())
            .arg(renewal.fence.get())
            .arg(micros(renewal.lease))
            .arg(millis(inner.retention));
        let answer: Answer = inner
            .connection
            .invoke(what, Retry::OnConnectionLoss, &script)
            .await?;
        match answer.first().and_then(Option::as_deref) {
            Some("extended") => Ok(Renewal::Extended),
            Some("lost") => Ok(Renewal::Lost),
            _ => Err(unexpected(what, &answer)),
        }
    }

    async fn finish_slot(&self, finish: SlotFinish<'_>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let slot_ns = slot_nanos(finish.slot)?;
        let mut script = inner.scripts.finish.prepare_invoke();
        script
            .key(inner.keys.of(finish.loop_name, &format!("claim:{slot_ns}")))
            .key(inner.keys.of(finish.loop_name, "last"))
            .arg(finish.fence.get())
            .arg(finish.outcome.as_str())
            .arg(slot_ns);
        let _: i64 = inner
            .connection
            .invoke("finishing a slot", Retry::OnConnectionLoss, &script)
            .await?;
        Ok(())
    }

    async fn last_finished_slot(
        &self,
        loop_name: &str,
    ) -> Result<Option<FinishedSlot>, StoreError> {
        let inner = &self.inner;
        let what = "reading the last finished slot";
        let key = inner.keys.of(loop_name, "last");
        let answer: Answer = inner
            .connection
            .call(what, Retry::OnConnectionLoss, |mut connection| {
                let key = &key;
                async move {
                    ::redis::cmd("HMGET")
                        .arg(key)
                        .arg("slot")
                        .arg("outcome")
                        .arg("fence")
                        .query_async(&mut connection)
                        .await
                }
            })
            .await?;
        let [slot, outcome, fence] = answer.as_slice() else {
            return Err(unexpected(what, &answer));
        };
        let (Some(slot), Some(outcome)) = (slot, outcome) else {
            return Ok(None);
        };
        let number = |text: Option<&String>| -> Result<i64, StoreError> {
            text.and_then(|text| text.parse().ok())
                .ok_or_else(|| unexpected(what, &answer))
        };
        let (slot_ns, fence) = (number(Some(slot))?, number(fence.as_ref())?);
        finished_slot(&format!("Redis, {what}"), slot_ns, outcome, fence).map(Some)
    }

    async fn lease_term(&self, request: LeaseRequest<'_>) -> Result<Lease, StoreError> {
        let inner = &self.inner;
        let lease_ms = millis(request.lease).max(1);
        let lease_key = inner.keys.of(request.loop_name, "lease");
        let replica = request.replica.as_str();
        let (what, answer): (_, Answer) = match request.renew {
            Some(fence) => {
                let what = "renewing the lease";
                let mut script = inner.scripts.renew.prepare_invoke();
                script
                    .key(lease_key)
                    .arg(replica)
                    .arg(fence.get())
                    .arg(lease_ms);
                let retry = Retry::OnConnectionLoss;
                (what, inner.connection.invoke(what, retry, &script).await?)
            }
            None => {
                let what = "taking the lease";
                let mut script = inner.scripts.acquire.prepare_invoke();
                script
                    .key(inner.keys.of(request.loop_name, "fence"))
                    .key(lease_key)
                    .arg(replica)
                    .arg(lease_ms);
                let retry = Retry::BeforeSending;
                (what, inner.connection.invoke(what, retry, &script).await?)
            }
        };
        match (answer.first().and_then(Option::as_deref), request.renew) {
            (Some("held"), Some(fence)) => Ok(Lease::Held { fence }),
            (Some("won"), None) => Ok(Lease::Held {
                fence: fence_at(what, &answer, 1)?,
            }),
            (Some("held_by"), _) => Ok(Lease::NotHeld {
                holder: answer.get(1).cloned().flatten(),
            }),
            _ => Err(unexpected(what, &answer)),
        }
    }

    async fn release_term(&self, release: Release<'_>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let mut script = inner.scripts.release.prepare_invoke();
        script
            .key(inner.keys.of(release.loop_name, "lease"))
            .arg(release.replica.as_str())
            .arg(release.fence.get());
        let _: i64 = inner
            .connection
            .invoke("releasing the lease", Retry::OnConnectionLoss, &script)
            .await?;
        Ok(())
    }
}
