//! What a store does for a cluster of replicas: claims of scheduled slots,
//! leases of leadership, and the fencing tokens that come with both.
//!
//! The contract is written on [`Store`]; [`MemoryStore`](super::MemoryStore)
//! is its reference implementation, and the backends of the `tasks-stores`
//! crate (SQLite, PostgreSQL, Redis) keep it with the store's own clock.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::error::BoxError;

/// A fencing token: a number that grows with every claim of a slot (claim
/// mode) and with every new term of leadership (leader mode), per loop.
///
/// A body that writes to a database passes it along and has the database
/// refuse a write whose token is lower than one it has already seen, so
/// that a replica that lost its slot or its lease (paused, partitioned)
/// cannot overwrite the work of the one that took over:
///
/// ```sql
/// UPDATE reports SET body = $1, fence = $2 WHERE id = $3 AND fence < $2
/// ```
///
/// # Its values
///
/// A store hands out the greater of the loop's last token plus one and its
/// own time in microseconds since the Unix epoch
/// (`1_796_202_000_000_000` at 2026-12-02 09:00 UTC). So the tokens are
/// large, and keep growing even when the store forgets them: emptied
/// (Redis `FLUSHALL`, a restart without persistence, eviction), restored
/// from a backup, failed over to a copy that had not seen the latest
/// writes, or an SQLite file recreated. A store that forgets starts again
/// from its clock, above every token it handed out before, as long as its
/// clock then reads later than when it handed out the last of them (the
/// clocks of the store's machines are kept by NTP, say). Two claims in
/// the same microsecond get one more than the last, so tokens stay
/// strictly increasing per loop.
///
/// Keep them in a 64-bit column (`bigint` in PostgreSQL and MySQL,
/// `INTEGER` in SQLite): a 32-bit `integer` overflows. They fit a `u64` and
/// an `i64` for 290 000 years, and a JavaScript number (or any `f64`)
/// exactly until the year 2255.
///
/// ```
/// use tasks_runtime::cluster::Fence;
///
/// assert!(Fence::new(18) > Fence::new(17));
/// assert_eq!(Fence::new(17).get(), 17);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence(u64);

impl Fence {
    /// The token `value`.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Who a replica is: a random id per process, after the host name for
/// people to read (`"web-3/5f0c9e21"`). Two processes on one host are two
/// replicas.
///
/// ```
/// use tasks_runtime::cluster::ReplicaId;
///
/// let a = ReplicaId::generate();
/// let b = ReplicaId::generate();
/// assert_ne!(a, b);
/// assert_eq!(ReplicaId::new("tick/0").as_str(), "tick/0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaId(Box<str>);

impl ReplicaId {
    /// An id chosen by the caller (a name given on the command line, say).
    /// It must differ from every other replica's.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().into_boxed_str())
    }

    /// The host name, a slash, and 32 random bits in hex.
    pub fn generate() -> Self {
        let host = host_name().unwrap_or_else(|| "replica".to_owned());
        Self::new(format!("{host}/{:08x}", fastrand::u32(..)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The machine's host name, where the platform says it without a system
/// call binding.
fn host_name() -> Option<String> {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok());
    let name = from_env.or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A replica's claim of one scheduled slot of a loop.
#[derive(Clone, Copy, Debug)]
pub struct SlotClaim<'a> {
    /// The loop's name: the same on every replica.
    pub loop_name: &'a str,
    /// The slot's scheduled instant; with the name, the slot's key.
    pub slot: DateTime<Utc>,
    /// The replica claiming it.
    pub replica: &'a ReplicaId,
    /// How long the claim holds the slot before a replica allowed to take
    /// over may claim it again, on the store's clock.
    pub lease: Duration,
    /// How early, on the store's clock, a claim is still accepted: a
    /// replica whose clock runs ahead cannot run a slot before its time.
    pub early_tolerance: Duration,
    /// How late, on the store's clock, a claim is still accepted: a claim
    /// made after `slot + late_tolerance` is [`Taken`](Claimed::Taken) if
    /// the slot was claimed, [`TooLate`](Claimed::TooLate) if not, so that a replica whose clock runs behind (hours, days) does not run
    /// old slots. The runtime passes the loop's grace period, or twice the
    /// lease without one: the window it also gives `takeover` and
    /// catch-up.
    pub late_tolerance: Duration,
    /// `Some(window)`: the slot may be claimed again if its holder's lease
    /// expired before it finished, up to `window` after the slot (at least
    /// once); `None`: a claimed slot is never claimed again (at most once).
    pub takeover: Option<Duration>,
    /// The time-zone database version the replica computed the slot with
    /// (`chrono_tz::IANA_TZDB_VERSION`), recorded with the claim.
    pub tzdb: &'a str,
}

/// What a store answered to a [`SlotClaim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// The slot is this replica's to run, with this token.
    Won {
        /// The token, higher than every earlier one of the loop.
        fence: Fence,
    },
    /// Another replica holds (or held) the slot.
    Taken {
        /// The replica that claimed it.
        holder: String,
        /// The time-zone database version it recorded, if any.
        tzdb: Option<String>,
    },
    /// The store's clock says the slot is not due yet.
    TooEarly {
        /// The store's time when it refused.
        store_now: DateTime<Utc>,
    },
    /// The slot was not claimed, and the store's clock says it is past its
    /// late tolerance: it is not run.
    TooLate {
        /// The store's time when it refused.
        store_now: DateTime<Utc>,
    },
}

/// A slot the store refused as [too late](Claimed::TooLate): its clock was
/// past the slot plus the claim's late tolerance. The loop reports it to
/// its `error` hook, without failing, and skips the slot; the replica's
/// clock is most likely behind the store's (compare `replica_now` and
/// `store_now`), or the loop reached the slot that late.
///
/// ```
/// use std::time::Duration;
/// use tasks_runtime::cluster::SlotTooLate;
///
/// let late = SlotTooLate {
///     loop_name: "report".to_owned(),
///     slot: "2026-11-30T09:00:00Z".parse().unwrap(),
///     store_now: "2026-12-02T09:00:00Z".parse().unwrap(),
///     replica_now: "2026-11-30T09:00:00Z".parse().unwrap(),
///     late_tolerance: Duration::from_secs(60),
/// };
/// assert!(late.to_string().starts_with("loop `report`: the store refused the slot"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "loop `{loop_name}`: the store refused the slot {slot} as too late: its clock read \
     {store_now}, past the slot plus its late tolerance of {} s (this replica's clock read \
     {replica_now})",
    late_tolerance.as_secs_f64()
)]
pub struct SlotTooLate {
    /// The loop's name.
    pub loop_name: String,
    /// The slot refused.
    pub slot: DateTime<Utc>,
    /// The store's time when it refused.
    pub store_now: DateTime<Utc>,
    /// This replica's wall clock when the answer came.
    pub replica_now: DateTime<Utc>,
    /// The late tolerance of the claim.
    pub late_tolerance: Duration,
}

/// How a claimed slot ended on the replica that ran it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotOutcome {
    /// The body succeeded.
    Completed,
    /// The body failed (or its run was cancelled).
    Failed,
}

impl SlotOutcome {
    /// `"completed"` or `"failed"`, as stores keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotOutcome::Completed => "completed",
            SlotOutcome::Failed => "failed",
        }
    }

    /// The outcome a store kept as text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "completed" => Some(SlotOutcome::Completed),
            "failed" => Some(SlotOutcome::Failed),
            _ => None,
        }
    }
}

/// The end of a claimed slot, reported by the replica that won it.
#[derive(Clone, Copy, Debug)]
pub struct SlotFinish<'a> {
    /// The loop's name.
    pub loop_name: &'a str,
    /// The slot.
    pub slot: DateTime<Utc>,
    /// The token the claim was won with: a finish with a lower token than
    /// the slot's current one (the slot was taken over) changes nothing.
    pub fence: Fence,
    /// How it ended.
    pub outcome: SlotOutcome,
}

/// The last slot of a loop that finished, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedSlot {
    /// The slot's scheduled instant.
    pub slot: DateTime<Utc>,
    /// How it ended.
    pub outcome: SlotOutcome,
    /// The token it ran with.
    pub fence: Fence,
}

/// The holder's renewal of a claim whose body is running: its heartbeat.
/// See [`Store::renew_claim`].
#[derive(Clone, Copy, Debug)]
pub struct ClaimRenewal<'a> {
    /// The loop's name.
    pub loop_name: &'a str,
    /// The slot.
    pub slot: DateTime<Utc>,
    /// The replica that holds the claim.
    pub replica: &'a ReplicaId,
    /// The token the claim was won with: a slot taken over since has
    /// another.
    pub fence: Fence,
    /// How long the claim holds the slot from now, on the store's clock.
    pub lease: Duration,
}

/// What a store answered to a [`ClaimRenewal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// The claim is still the replica's: its lease runs on from now.
    Extended,
    /// The claim is no longer the replica's to run (another replica took
    /// the slot over, it finished, or the store forgot it): nothing was
    /// written.
    Lost,
}

/// A replica's request for a loop's leadership lease, or its renewal.
#[derive(Clone, Copy, Debug)]
pub struct LeaseRequest<'a> {
    /// The loop's name.
    pub loop_name: &'a str,
    /// The replica asking.
    pub replica: &'a ReplicaId,
    /// How long the lease lasts from now, on the store's clock.
    pub lease: Duration,
    /// `Some(fence)`: renew the term this replica holds with that token;
    /// `None`: acquire a new term if the lease is free or has expired.
    pub renew: Option<Fence>,
}

/// What a store answered to a [`LeaseRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lease {
    /// The replica holds the lease until `lease` from now: a new term with
    /// a new token, or the renewed term with its token.
    Held {
        /// The term's token.
        fence: Fence,
    },
    /// Another replica holds it (or, for a renewal, the term is over).
    NotHeld {
        /// The replica holding it, if any.
        holder: Option<String>,
    },
}

/// Claim mode with takeover: the claim of a slot was lost while its body
/// ran, so the body was cancelled. The `error` hook receives it (and the
/// log says it); the slot is not recorded as finished, and the loop goes on
/// with its next slot.
///
/// ```
/// use tasks_runtime::cluster::{ClaimLost, Fence, LossCause};
///
/// let lost = ClaimLost {
///     loop_name: "nightly".into(),
///     slot: "2026-12-02T02:00:00Z".parse().unwrap(),
///     fence: Fence::new(41),
///     cause: LossCause::Lapsed,
/// };
/// assert_eq!(
///     lost.to_string(),
///     "loop `nightly` lost its claim of the slot 2026-12-02 02:00:00 UTC (token 41): \
///      no renewal of it succeeded in time"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("loop `{loop_name}` lost its claim of the slot {slot} (token {fence}): {cause}")]
pub struct ClaimLost {
    /// The loop's name.
    pub loop_name: String,
    /// The slot.
    pub slot: DateTime<Utc>,
    /// The token the body ran with.
    pub fence: Fence,
    /// Why.
    pub cause: LossCause,
}

/// Why a [`ClaimLost`] was lost.
///
/// ```
/// use tasks_runtime::cluster::LossCause;
///
/// assert_eq!(LossCause::Taken.to_string(), "the store says it is no longer this replica's");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LossCause {
    /// The store answered a renewal with [`Renewal::Lost`]: the body is
    /// cancelled at once.
    Taken,
    /// No renewal succeeded within the lease minus the
    /// [safety margin](super::Cluster#the-safety-margin) of the last one
    /// that did (or of the claim), by this replica's monotonic clock: the
    /// store could not be reached, or did not answer in time.
    Lapsed,
}

impl fmt::Display for LossCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossCause::Taken => "the store says it is no longer this replica's",
            LossCause::Lapsed => "no renewal of it succeeded in time",
        })
    }
}

/// Why a store could not answer.
///
/// Its message never contains the store's address or credentials.
///
/// ```
/// use tasks_runtime::cluster::{StoreError, StoreErrorKind};
///
/// let error = StoreError::unavailable("connection refused");
/// assert_eq!(error.kind(), StoreErrorKind::Unavailable);
/// assert_eq!(error.to_string(), "the store is unavailable: connection refused");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", kind.describe())]
pub struct StoreError {
    kind: StoreErrorKind,
    #[source]
    source: BoxError,
}

/// The kinds of [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached, or did not answer in time: a later
    /// attempt may succeed.
    Unavailable,
    /// The store answered something this crate does not understand (a
    /// table of another shape, say): a later attempt will not succeed.
    Invalid,
}

impl StoreErrorKind {
    fn describe(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "the store is unavailable",
            StoreErrorKind::Invalid => "the store answered something unexpected",
        }
    }
}

impl StoreError {
    /// The store cannot be reached now.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            source: source.into(),
        }
    }

    /// The store answered something unexpected.
    pub fn invalid(source: impl Into<BoxError>) -> Self {
        Self {
            kind: StoreErrorKind::Invalid,
            source: source.into(),
        }
    }

    /// Which kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

/// Where replicas coordinate: claims of slots and leases of leadership,
/// judged by the store's own clock, and the fencing tokens that come with
/// them.
///
/// The contract, which [`MemoryStore`](super::MemoryStore) implements for
/// reference and `tasks_runtime::testing::check_store` checks:
///
/// - [`claim`](Store::claim): the first claim of a `(loop_name, slot)`
///   wins, with a token higher than every earlier token of the loop
///   (claims and terms share one counter per loop). A claim made earlier
///   than `slot − early_tolerance` by the store's clock is
///   [`TooEarly`](Claimed::TooEarly) and records nothing. A claim of a slot
///   already claimed is [`Taken`](Claimed::Taken), unless `takeover` is
///   given, the holder's lease has expired, the slot has not finished and
///   the store's clock is at most `slot + window` and `slot +
///   late_tolerance`: then it wins again with a new token. A claim of a
///   slot not claimed, made later than `slot + late_tolerance` by the
///   store's clock, is [`TooLate`](Claimed::TooLate) and records nothing.
///   The atomicity is the store's: two replicas claiming at once never
///   both win.
/// - Every token, of a claim or a term, is at least the store's time in
///   microseconds since the Unix epoch when it is handed out: the greater
///   of the loop's last token plus one and that time
///   ([`Fence`](Fence#its-values)). A store that forgets its tokens then
///   never hands out a lower one, as long as its clock does not go back.
/// - [`renew_claim`](Store::renew_claim): the holder of a claim that has
///   not finished extends its lease to `lease` from now, if the slot is
///   still its with that token (even if its lease ran out meanwhile, as
///   long as no replica took the slot over); otherwise
///   [`Lost`](Renewal::Lost), and nothing is written.
/// - [`finish`](Store::finish) records how a slot ended, if the token is
///   the slot's current one; [`last_finished`](Store::last_finished) returns
///   the latest slot (by scheduled instant) that finished.
/// - [`lease`](Store::lease): with `renew: None`, a replica gets the
///   lease if nobody holds it or the holder's lease has expired: a new term,
///   with a new token; with `renew: Some(fence)`, the holder of that term
///   extends it, if it has not expired. Otherwise
///   [`NotHeld`](Lease::NotHeld). [`release`](Store::release) ends a term
///   early, if the token is the current one.
/// - A store remembers a claim for a while, not for ever: for its
///   retention (a day, unless the store is told otherwise) after its
///   lease, its late tolerance or its takeover window, whichever ends
///   last. So every claim it accepts (no later than `slot +
///   late_tolerance`) finds the claim before it, and a slot is never
///   claimed twice. [`last_finished`](Store::last_finished) may forget old
///   slots too.
///
/// Loop names and slots reach a store only as bound parameters (or
/// escaped keys); a store's errors never show its address or password.
pub trait Store: Send + Sync + 'static {
    /// Claims a slot for a replica.
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>>;

    /// Renews a claim its replica holds while the slot's body runs (a
    /// heartbeat): its lease runs on from now, on the store's clock, so
    /// that no replica takes the slot over while its holder is alive.
    /// [`Renewal::Lost`] (not an error) when the slot is no longer the
    /// replica's with that token, or has finished.
    ///
    /// With [`takeover`](super::Cluster::takeover), a loop renews the
    /// claim of a running slot every third of its lease, and cancels the
    /// body when the answer is `Lost`, or when no renewal succeeded for the
    /// lease minus the [safety margin](super::Cluster#the-safety-margin).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tasks_runtime::cluster::StoreError> {
    /// use std::time::Duration;
    /// use tasks_runtime::cluster::{
    ///     ClaimRenewal, Claimed, MemoryStore, Renewal, ReplicaId, SlotClaim, Store,
    /// };
    ///
    /// let store = MemoryStore::new();
    /// let (a, b) = (ReplicaId::new("a"), ReplicaId::new("b"));
    /// let slot = chrono::Utc::now();
    /// let claim = SlotClaim {
    ///     loop_name: "nightly",
    ///     slot,
    ///     replica: &a,
    ///     lease: Duration::from_secs(30),
    ///     early_tolerance: Duration::from_millis(50),
    ///     late_tolerance: Duration::from_secs(3600),
    ///     takeover: Some(Duration::from_secs(3600)),
    ///     tzdb: "2025b",
    /// };
    /// let Claimed::Won { fence } = store.claim(claim).await? else { unreachable!() };
    /// let renewal = |replica| ClaimRenewal {
    ///     loop_name: "nightly",
    ///     slot,
    ///     replica,
    ///     fence,
    ///     lease: Duration::from_secs(30),
    /// };
    /// assert_eq!(store.renew_claim(renewal(&a)).await?, Renewal::Extended);
    /// assert_eq!(store.renew_claim(renewal(&b)).await?, Renewal::Lost);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached or answers
    /// something unexpected; the claim's lease then runs out unless a later
    /// renewal succeeds.
    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>>;

    /// Records how a claimed slot ended.
    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The latest slot of a loop that finished.
    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>>;

    /// Acquires or renews a loop's leadership lease.
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>>;

    /// Ends a term of leadership before its lease runs out.
    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
