//! [`RedisStore`]: replicas on several machines, coordinated through Redis
//! keys, each claim and lease one Lua script judged by Redis's `TIME`.
//!
//! # An efficiency lock, with the fence as the safety
//!
//! A single Redis instance runs each script alone, so two replicas that
//! claim a slot at once never both win, and its clock (`TIME`, and the
//! expiry of keys) judges every lease. But Redis acknowledges a write
//! before its replicas have it: after a failover, the new primary may not
//! know a claim or a lease that was granted, and hand it out again. So a
//! Redis store is an *efficiency* lock (a slot runs once nearly always),
//! not a *correctness* one; see the notes on replication and fencing on
//! redis.io's [distributed locks page](https://redis.io/docs/latest/develop/use/patterns/distributed-locks/).
//! Where running twice is harmful, have the body's writes check the
//! [`Fence`] it is given (`UPDATE ... WHERE last_fence < $fence`): the
//! token of a slot handed out again is higher.
//!
//! # Keys
//!
//! Under a prefix (`tasks:` unless told otherwise), with the loop's name
//! percent-encoded (letters, digits, `-`, `_` and `.` kept; every other
//! byte `%XX`) inside a hash tag, so that names cannot collide or inject
//! and a loop's keys share a cluster slot:
//!
//! | key | what | kept |
//! | --- | --- | --- |
//! | `tasks:{NAME}:fence` | the loop's token counter (`INCR`), shared by claims and terms | always |
//! | `tasks:{NAME}:claim:SLOT` | a hash: `holder`, `fence`, `tzdb`, `lease_until` (µs on Redis's clock), `outcome` once finished; `SLOT` in nanoseconds since the Unix epoch | until its lease (or takeover window) has run out, plus the retention |
//! | `tasks:{NAME}:last` | a hash: the last finished slot's `slot`, `outcome`, `fence` | always |
//! | `tasks:{NAME}:lease` | a hash: `holder`, `fence` | its lease (`PEXPIRE`, Redis's clock) |
//!
//! A claim's key outlives its lease on purpose: a claimed slot is never
//! claimed again (unless takeover is asked and the lease expired), however
//! late another replica comes, within the retention.
//!
//! # Connections
//!
//! One multiplexed connection, reconnected when lost
//! ([`ConnectionManager`]), made on the first call. Every call has a
//! deadline (5 seconds unless told otherwise); a Redis that is down or does
//! not answer makes the call fail as
//! [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable).
//! `rediss://` URLs connect with TLS when the `redis-tls` feature is on
//! (through the system's TLS library, with its trusted roots). Redis 6.2
//! or later.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Client, ErrorKind, RedisError, Script};
use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    Claimed, Fence, FinishedSlot, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store, StoreError,
};
use tokio::sync::OnceCell;

/// The Redis client this store is built on, for a [`Client`] of your own
/// (other TLS settings, a Unix socket) given to
/// [`RedisStoreBuilder::from_client`].
pub use ::redis;

use crate::secret::{Message, Secrets};
use crate::time::{
    micros, millis, nanos, slot_from_nanos, slot_nanos, time_from_micros, DEFAULT_RETENTION,
};

/// The prefix of the keys unless told otherwise.
const DEFAULT_KEY_PREFIX: &str = "tasks:";

/// How long a call may take, unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Claims a slot. KEYS: the loop's token counter, the slot's claim. ARGV:
/// holder, tzdb, the earliest time the claim is accepted (µs), lease (µs),
/// `1` if takeover is allowed, the end of the takeover window (µs), the
/// time the claim is held until at least (the window's end, or the slot;
/// µs), retention (ms).
const CLAIM: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
if now < tonumber(ARGV[3]) then
  return {'early', string.format('%d', now)}
end
local held = redis.call('HMGET', KEYS[2], 'holder', 'tzdb', 'lease_until', 'outcome')
if held[1] then
  local may_take_over = ARGV[5] == '1' and not held[4]
    and tonumber(held[3]) <= now and now <= tonumber(ARGV[6])
  if not may_take_over then
    return {'taken', held[1], held[2]}
  end
end
local fence = redis.call('INCR', KEYS[1])
local lease_until = now + tonumber(ARGV[4])
local keep_ms = math.ceil((math.max(lease_until, tonumber(ARGV[7])) - now) / 1000)
  + tonumber(ARGV[8])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'fence', string.format('%d', fence),
  'tzdb', ARGV[2], 'lease_until', string.format('%d', lease_until))
redis.call('PEXPIRE', KEYS[2], string.format('%d', math.max(keep_ms, 1)))
return {'won', string.format('%d', fence)}
";

/// Records how a slot ended, if the token is the claim's. KEYS: the slot's
/// claim, the loop's last finished slot. ARGV: token, outcome, slot (ns).
const FINISH: &str = r"
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'outcome', ARGV[2])
local last = redis.call('HGET', KEYS[2], 'slot')
local slot = ARGV[3]
if not last or #slot > #last or (#slot == #last and slot >= last) then
  redis.call('HSET', KEYS[2], 'slot', slot, 'outcome', ARGV[2], 'fence', ARGV[1])
end
return 1
";

/// Takes a free lease for a new term. KEYS: the loop's token counter, the
/// lease. ARGV: holder, lease (ms).
const ACQUIRE: &str = r"
local holder = redis.call('HGET', KEYS[2], 'holder')
if holder then
  return {'held_by', holder}
end
local fence = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'fence', string.format('%d', fence))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {'won', string.format('%d', fence)}
";

/// Renews a term, if it is the holder's and has not expired. KEYS: the
/// lease. ARGV: holder, token, lease (ms).
const RENEW: &str = r"
local lease = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if lease[1] == ARGV[1] and lease[2] == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'held'}
end
return {'held_by', lease[1]}
";

/// Ends a term, if it is the holder's: compare and delete. KEYS: the
/// lease. ARGV: holder, token.
const RELEASE: &str = r"
local lease = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if lease[1] == ARGV[1] and lease[2] == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A store in Redis: for replicas on several machines, as an efficiency
/// lock whose safety is the fencing token (see the [module](self)).
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
    client: Client,
    connection: OnceCell<ConnectionManager>,
    key_prefix: String,
    timeout: Duration,
    retention: Duration,
    secrets: Secrets,
    scripts: Scripts,
}

struct Scripts {
    claim: Script,
    finish: Script,
    acquire: Script,
    renew: Script,
    release: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.key_prefix)
            .field("timeout", &self.inner.timeout)
            .field("retention", &self.inner.retention)
            .finish_non_exhaustive()
    }
}

/// The settings of a [`RedisStore`], then
/// [`connect`](RedisStoreBuilder::connect) or
/// [`from_client`](RedisStoreBuilder::from_client).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_stores::RedisStore;
///
/// // Nothing connects until the first call.
/// let store = RedisStore::builder()
///     .key_prefix("billing:tasks:")
///     .timeout(Duration::from_secs(2))
///     .connect("redis://cache.internal:6379/2")?;
/// assert!(format!("{store:?}").contains("billing:tasks:"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RedisStoreBuilder {
    key_prefix: String,
    timeout: Duration,
    retention: Duration,
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        Self {
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            retention: DEFAULT_RETENTION,
        }
    }
}

impl RedisStoreBuilder {
    /// The prefix of the keys (`tasks:` unless told otherwise): any text
    /// without `{` or `}`, which would break the keys' hash tags.
    ///
    /// ```
    /// use tasks_runtime::cluster::StoreErrorKind;
    /// use tasks_stores::RedisStore;
    ///
    /// let refused = RedisStore::builder()
    ///     .key_prefix("{tasks}:")
    ///     .connect("redis://cache.internal")
    ///     .unwrap_err();
    /// assert_eq!(refused.kind(), StoreErrorKind::Invalid);
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long a call may take, connecting included, before it fails as
    /// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable):
    /// 5 seconds unless told otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = tasks_stores::RedisStore::builder().timeout(Duration::from_secs(1));
    /// # drop(builder);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a claim's key is kept after its lease (or its takeover
    /// window) has run out: a day unless told otherwise. A slot whose claim
    /// is gone could be claimed again, so keep it longer than any replica
    /// could be late for a slot. The last finished slot of each loop is
    /// kept anyway.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = tasks_stores::RedisStore::builder().retention(Duration::from_secs(3600));
    /// # drop(builder);
    /// ```
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// A store connecting to `url`: `redis://[USER][:PASSWORD@]HOST[:PORT][/DB]`,
    /// or `rediss://...` for TLS (with the `redis-tls` feature). Nothing
    /// connects until the first call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::RedisStore::builder().connect("redis://:hunter2@cache/1")?;
    /// assert!(!format!("{store:?}").contains("hunter2"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
    /// key prefix with `{` or `}`, a URL that does not read, or a
    /// `rediss://` URL without the `redis-tls` feature; the message shows
    /// neither the URL nor its password.
    pub fn connect(self, url: &str) -> Result<RedisStore, StoreError> {
        let secrets = Secrets::of_url(url);
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if matches!(scheme.as_deref(), Some("rediss" | "valkeys")) && !cfg!(feature = "redis-tls") {
            return Err(StoreError::invalid(Message(
                "the URL asks for Redis over TLS, and tasks-stores was built without its \
                 `redis-tls` feature: enable the feature `redis-tls` of `tasks` (or of \
                 `tasks-stores`)"
                    .to_owned(),
            )));
        }
        let client =
            Client::open(url).map_err(|error| secrets.invalid("Redis, reading the URL", &error))?;
        self.build(client, secrets)
    }

    /// A store on your client: its address, TLS settings and credentials.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tasks_stores::redis::redis;
    /// use tasks_stores::RedisStore;
    ///
    /// let client = redis::Client::open("redis://cache.internal:6379")?;
    /// let store = RedisStore::builder().from_client(client)?;
    /// # drop(store);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
    /// key prefix with `{` or `}`.
    pub fn from_client(self, client: Client) -> Result<RedisStore, StoreError> {
        self.build(client, Secrets::default())
    }

    fn build(self, client: Client, mut secrets: Secrets) -> Result<RedisStore, StoreError> {
        if self.key_prefix.contains(['{', '}']) {
            return Err(StoreError::invalid(Message(format!(
                "the key prefix {:?} has a `{{` or a `}}`, which would break the keys' hash tags",
                self.key_prefix
            ))));
        }
        let settings = client.get_connection_info().redis_settings();
        if let Some(password) = settings.password() {
            secrets.hide(password);
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                connection: OnceCell::new(),
                key_prefix: self.key_prefix,
                timeout: self.timeout,
                retention: self.retention,
                secrets,
                scripts: Scripts {
                    claim: Script::new(CLAIM),
                    finish: Script::new(FINISH),
                    acquire: Script::new(ACQUIRE),
                    renew: Script::new(RENEW),
                    release: Script::new(RELEASE),
                },
            }),
        })
    }
}

impl RedisStore {
    /// A store connecting to `url`, with the default settings: keys
    /// prefixed `tasks:`, a deadline of 5 seconds per call, claims kept a
    /// day. [`RedisStore::builder`] changes them. Nothing connects until
    /// the first call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::RedisStore::connect("redis://cache.internal:6379")?;
    /// # drop(store);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::connect`].
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url)
    }

    /// The settings, to change before connecting.
    ///
    /// ```
    /// let builder = tasks_stores::RedisStore::builder().key_prefix("jobs:");
    /// # drop(builder);
    /// ```
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
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
            .call(
                "preparing",
                Retry::OnConnectionLoss,
                |mut connection| async move {
                    for script in [
                        &scripts.claim,
                        &scripts.finish,
                        &scripts.acquire,
                        &scripts.renew,
                        &scripts.release,
                    ] {
                        script.load_async(&mut connection).await?;
                    }
                    Ok(())
                },
            )
            .await
    }
}

/// When a call is tried again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Also when the connection was lost during the call: the call changes
    /// nothing the second time that the first did not.
    OnConnectionLoss,
    /// Only when it could not connect, and so sent nothing: a claim or a
    /// new term, which must not be made twice.
    BeforeSending,
}

impl Inner {
    /// The connection, made on first use.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        self.connection
            .get_or_try_init(|| async {
                let config = ::redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(0);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(|error| self.error("connecting", &error))
    }

    /// Runs `call` on the connection within the store's deadline, and once
    /// more if `retry` allows.
    async fn call<T, F, Fut>(&self, what: &str, retry: Retry, call: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        let attempts = async {
            let mut tries = 0;
            loop {
                tries += 1;
                let connection = self.connection().await?;
                match call(connection).await {
                    Ok(value) => return Ok(value),
                    Err(error) => {
                        let again = match retry {
                            Retry::OnConnectionLoss => is_connection_loss(&error),
                            Retry::BeforeSending => error.is_connection_refusal(),
                        };
                        if !(again && tries < 2) {
                            return Err(self.error(what, &error));
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(self.timeout, attempts).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(Message(format!(
                "Redis, {what}: no answer within {:?}",
                self.timeout
            )))),
        }
    }

    /// A store error for a Redis error: Redis unreachable, loading, out of
    /// memory, busy, read-only or refusing the password is unavailable;
    /// anything else (keys of another type) invalid.
    fn error(&self, what: &str, error: &RedisError) -> StoreError {
        let context = format!("Redis, {what}");
        let unavailable = is_connection_loss(error)
            || error.is_timeout()
            || error.kind() == ErrorKind::AuthenticationFailed
            || matches!(
                error.code(),
                Some(
                    "LOADING"
                        | "TRYAGAIN"
                        | "CLUSTERDOWN"
                        | "MASTERDOWN"
                        | "READONLY"
                        | "OOM"
                        | "BUSY"
                        | "NOREPLICAS"
                        | "NOAUTH"
                        | "WRONGPASS"
                )
            );
        if unavailable {
            self.secrets.unavailable(&context, error)
        } else {
            self.secrets.invalid(&context, error)
        }
    }

    /// The key of `loop_name`'s `what`: the prefix, the name
    /// percent-encoded in a hash tag, then `:what`.
    fn key(&self, loop_name: &str, what: &str) -> String {
        let mut key = String::with_capacity(self.key_prefix.len() + loop_name.len() + 16);
        key.push_str(&self.key_prefix);
        key.push('{');
        encode_name(loop_name, &mut key);
        key.push_str("}:");
        key.push_str(what);
        key
    }
}

/// Appends `name` with every byte but letters, digits, `-`, `_` and `.`
/// written `%XX`: one name, one encoding, and no `{`, `}` or `:`.
fn encode_name(name: &str, out: &mut String) {
    use std::fmt::Write;
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

fn is_connection_loss(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}

/// The parts of a script's answer.
type Answer = Vec<Option<String>>;

fn unexpected(what: &str, answer: &Answer) -> StoreError {
    StoreError::invalid(Message(format!(
        "Redis, {what}: the script answered {answer:?}"
    )))
}

fn fence_from(what: &str, text: Option<&str>) -> Result<Fence, StoreError> {
    text.and_then(|text| text.parse().ok())
        .map(Fence::new)
        .ok_or_else(|| {
            StoreError::invalid(Message(format!(
                "Redis, {what}: a fencing token of {text:?}"
            )))
        })
}

impl Store for RedisStore {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let what = "claiming a slot";
            let slot_ns = slot_nanos(claim.slot)?;
            let slot_us = slot_ns / 1_000;
            let not_before = slot_ns.saturating_sub(nanos(claim.early_tolerance)) / 1_000;
            let takeover_until = claim
                .takeover
                .map(|window| slot_us.saturating_add(micros(window)));
            let keys = [
                inner.key(claim.loop_name, "fence"),
                inner.key(claim.loop_name, &format!("claim:{slot_ns}")),
            ];
            let answer: Answer = inner
                .call(what, Retry::BeforeSending, |mut connection| {
                    let keys = &keys;
                    async move {
                        inner
                            .scripts
                            .claim
                            .key(&keys[0])
                            .key(&keys[1])
                            .arg(claim.replica.as_str())
                            .arg(claim.tzdb)
                            .arg(not_before)
                            .arg(micros(claim.lease))
                            .arg(if takeover_until.is_some() { "1" } else { "0" })
                            .arg(takeover_until.unwrap_or(0))
                            .arg(takeover_until.unwrap_or(slot_us))
                            .arg(millis(inner.retention))
                            .invoke_async(&mut connection)
                            .await
                    }
                })
                .await?;
            match answer.first().and_then(Option::as_deref) {
                Some("won") => Ok(Claimed::Won {
                    fence: fence_from(what, answer.get(1).and_then(Option::as_deref))?,
                }),
                Some("taken") => Ok(Claimed::Taken {
                    holder: answer.get(1).cloned().flatten().unwrap_or_default(),
                    tzdb: answer.get(2).cloned().flatten(),
                }),
                Some("early") => {
                    let store_now = answer
                        .get(1)
                        .and_then(Option::as_deref)
                        .and_then(|now| now.parse().ok())
                        .and_then(time_from_micros)
                        .ok_or_else(|| unexpected(what, &answer))?;
                    Ok(Claimed::TooEarly { store_now })
                }
                _ => Err(unexpected(what, &answer)),
            }
        })
    }

    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let slot_ns = slot_nanos(finish.slot)?;
            let keys = [
                inner.key(finish.loop_name, &format!("claim:{slot_ns}")),
                inner.key(finish.loop_name, "last"),
            ];
            let _: i64 = inner
                .call(
                    "finishing a slot",
                    Retry::OnConnectionLoss,
                    |mut connection| {
                        let keys = &keys;
                        async move {
                            inner
                                .scripts
                                .finish
                                .key(&keys[0])
                                .key(&keys[1])
                                .arg(finish.fence.get())
                                .arg(finish.outcome.as_str())
                                .arg(slot_ns)
                                .invoke_async(&mut connection)
                                .await
                        }
                    },
                )
                .await?;
            Ok(())
        })
    }

    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let what = "reading the last finished slot";
            let key = inner.key(loop_name, "last");
            let answer: Answer = inner
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
            let slot = slot.parse().map_err(|_| unexpected(what, &answer))?;
            let outcome = SlotOutcome::parse(outcome).ok_or_else(|| unexpected(what, &answer))?;
            Ok(Some(FinishedSlot {
                slot: slot_from_nanos(slot),
                outcome,
                fence: fence_from(what, fence.as_deref())?,
            }))
        })
    }

    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let lease_ms = millis(request.lease).max(1);
            let lease_key = inner.key(request.loop_name, "lease");
            let replica = request.replica.as_str();
            match request.renew {
                Some(fence) => {
                    let what = "renewing the lease";
                    let answer: Answer = inner
                        .call(what, Retry::OnConnectionLoss, |mut connection| {
                            let lease_key = &lease_key;
                            async move {
                                inner
                                    .scripts
                                    .renew
                                    .key(lease_key)
                                    .arg(replica)
                                    .arg(fence.get())
                                    .arg(lease_ms)
                                    .invoke_async(&mut connection)
                                    .await
                            }
                        })
                        .await?;
                    match answer.first().and_then(Option::as_deref) {
                        Some("held") => Ok(Lease::Held { fence }),
                        Some("held_by") => Ok(Lease::NotHeld {
                            holder: answer.get(1).cloned().flatten(),
                        }),
                        _ => Err(unexpected(what, &answer)),
                    }
                }
                None => {
                    let what = "taking the lease";
                    let fence_key = inner.key(request.loop_name, "fence");
                    let answer: Answer = inner
                        .call(what, Retry::BeforeSending, |mut connection| {
                            let (fence_key, lease_key) = (&fence_key, &lease_key);
                            async move {
                                inner
                                    .scripts
                                    .acquire
                                    .key(fence_key)
                                    .key(lease_key)
                                    .arg(replica)
                                    .arg(lease_ms)
                                    .invoke_async(&mut connection)
                                    .await
                            }
                        })
                        .await?;
                    match answer.first().and_then(Option::as_deref) {
                        Some("won") => Ok(Lease::Held {
                            fence: fence_from(what, answer.get(1).and_then(Option::as_deref))?,
                        }),
                        Some("held_by") => Ok(Lease::NotHeld {
                            holder: answer.get(1).cloned().flatten(),
                        }),
                        _ => Err(unexpected(what, &answer)),
                    }
                }
            }
        })
    }

    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let key = inner.key(loop_name, "lease");
            let _: i64 = inner
                .call(
                    "releasing the lease",
                    Retry::OnConnectionLoss,
                    |mut connection| {
                        let key = &key;
                        async move {
                            inner
                                .scripts
                                .release
                                .key(key)
                                .arg(replica.as_str())
                                .arg(fence.get())
                                .invoke_async(&mut connection)
                                .await
                        }
                    },
                )
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(name: &str) -> String {
        let mut out = String::new();
        encode_name(name, &mut out);
        out
    }

    #[test]
    fn encodes_names_one_way_each() {
        assert_eq!(encoded("nightly-report_2.v1"), "nightly-report_2.v1");
        assert_eq!(encoded("a:b"), "a%3Ab");
        assert_eq!(encoded("a%3Ab"), "a%253Ab");
        assert_eq!(encoded("{x}"), "%7Bx%7D");
        assert_eq!(encoded("é"), "%C3%A9");
        assert_eq!(encoded("a b\n"), "a%20b%0A");
    }
}
