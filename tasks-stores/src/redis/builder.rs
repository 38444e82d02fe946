//! [`RedisStoreBuilder`]: the settings of a [`RedisStore`], and the client
//! it connects with (or is given).

use std::time::Duration;

use redis::Client;
use tasks_runtime::cluster::rules::DEFAULT_RETENTION;
use tasks_runtime::cluster::StoreError;

use super::connection::Connection;
use super::keys::Keys;
use super::store::RedisStore;
use crate::shared::secret::{Message, Secrets};
use crate::shared::settings::setter;

/// The prefix of the keys unless told otherwise.
const DEFAULT_KEY_PREFIX: &str = "tasks:";

/// How long a call may take, unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
    setter! {
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
        key_prefix: impl Into<String>
    }

    setter! {
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
        timeout: Duration
    }

    setter! {
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
        retention: Duration
    }

    /// A store connecting to `url`: `redis://[USER][:PASSWORD@]HOST[:PORT][/DB]`
    /// (or `valkey://...`), `rediss://...` (or `valkeys://...`) for TLS
    /// with the `redis-tls` feature. Nothing connects until the first call.
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
    /// `rediss://` (or `valkeys://`) URL without the `redis-tls` feature;
    /// the message shows
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
        let keys = Keys::new(self.key_prefix)?;
        let settings = client.get_connection_info().redis_settings();
        if let Some(password) = settings.password() {
            secrets.hide(password);
        }
        let connection = Connection::new(client, self.timeout, secrets);
        Ok(RedisStore::new(connection, keys, self.retention))
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
}
