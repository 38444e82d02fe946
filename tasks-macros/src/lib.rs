//! The `#[loop]` attribute of the [`tasks`](https://docs.rs/tasks) crate;
//! use it through `tasks::r#loop` (or its keyword-free alias
//! `tasks::task_loop`), not from here.
#![forbid(unsafe_code)]

mod args;
mod ctxt;
mod expand;
mod input;
mod validate;
mod zone;

/// Turns an `async fn` into a background task loop: the port of
/// discord.py's `@tasks.loop` decorator.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// #[derive(Clone)]
/// struct Channel(&'static str);
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("the channel is gone")]
/// struct SendError;
///
/// #[tasks::r#loop(seconds = 5, count = 2)]
/// async fn announce(channel: Channel) -> Result<(), SendError> {
///     println!("#{}: the event starts soon", channel.0);
///     Ok(())
/// }
///
/// announce
///     .before_loop(|| async { println!("waiting until the bot is ready") })
///     .after_loop(|| async { println!("announcements done") })
///     .error(|err| async move { eprintln!("announce failed: {err}") });
/// let run = announce.start(Channel("general"))?;
/// assert_eq!(run.await, tasks::RunOutcome::Completed);
/// # Ok(())
/// # }
/// ```
///
/// `loop` is a keyword, hence the raw identifier `r#loop`. The same
/// attribute is exported as `task_loop`, which reads better after a `use`:
///
/// | path | after `use` |
/// | --- | --- |
/// | `#[tasks::r#loop(seconds = 5)]` | `use tasks::r#loop;` then `#[r#loop(seconds = 5)]` |
/// | `#[tasks::task_loop(seconds = 5)]` | `use tasks::task_loop;` then `#[task_loop(seconds = 5)]` |
///
/// # Arguments
///
/// All optional, each given at most once, as literals (so that the
/// compiler can check them):
///
/// | argument | type | default | meaning |
/// | --- | --- | --- | --- |
/// | `seconds` | integer or float | `0` | seconds between iterations |
/// | `minutes` | integer or float | `0` | minutes, added to `seconds` |
/// | `hours` | integer or float | `0` | hours, added to `seconds` and `minutes` |
/// | `time` | `"HH:MM"` or `"HH:MM:SS"`, or a non-empty list `["08:00", "20:00"]` | none: run every interval | run at these times of day instead (not with `seconds`/`minutes`/`hours`) |
/// | `cron` | a cron expression: 5 fields (`"30 9 * * MON-FRI"`), or 6 with seconds first (`"0 30 9 * * MON-FRI"`) | none: run every interval | run at each instant it matches instead (not with `seconds`/`minutes`/`hours` or `time`); see `tasks::Cron` for the syntax and the daylight-saving rules |
/// | `tz` | an IANA name (`"Asia/Seoul"`) or a UTC offset written `±HH:MM`, `±HHMM` or `±HH` (`"+09:00"`, `"-0530"`, `"+01"`) | `"UTC"` | the time zone of `time` or `cron` (only with one of them) |
/// | `count` | integer ≥ 1 | endless | stop after this many successful iterations |
/// | `reconnect` | `true` or `false` | `true` | retry the errors of the held types (`std::io::Error`, tokio timeouts, and those added with `add_exception_type`) with a backoff |
/// | `missed` | `"burst"`, `"delay"` or `"skip"` | `"burst"` | what a relative interval does about iterations a long body made it miss: run them back to back, run one late and go on an interval after it, or run one late and keep the original schedule (tokio's `MissedTickBehavior`; times of day always run one late) |
/// | `timeout` | integer or float > 0, in seconds | none | a call of the body still running after this long is dropped and fails with `IterationTimeout`, retried as a timeout |
/// | `jitter` | integer or float ≥ 0, in seconds | none | a random extra delay up to this long on each wait, without moving the schedule |
/// | `grace_period` | integer or float ≥ 0, in seconds | none: skip | how late a time of day or cron instant that a clock jump passed over may still run, once; in a cluster's claim mode, how late a slot may be taken over or caught up on |
/// | `name` | string | the function's path (`my_crate::announce`, `my_crate::Cog::counter_loop`) | the loop's name in logs |
/// | `crate` | a path as a string | `"::tasks"` | where `tasks` is, when the dependency is renamed (`crate = "my_tasks"`) |
///
/// The interval, `seconds + 60 × minutes + 3600 × hours`, is from zero to
/// 100 years; a part may be negative or fractional as long as the total is
/// in range (`minutes = 1, seconds = -15`), as in discord.py. Without
/// `seconds`, `minutes`, `hours`, `time` or `cron`, the loop runs again as
/// soon as an iteration ends.
///
/// ```
/// // Weekdays at 09:30 in Seoul: read by croner at compile time.
/// #[tasks::r#loop(cron = "0 30 9 * * MON-FRI", tz = "Asia/Seoul")]
/// async fn standup() {}
///
/// assert_eq!(standup.cron().unwrap().to_string(), "0 30 9 * * MON-FRI (Asia/Seoul)");
/// ```
///
/// # What it generates, and why
///
/// A free function becomes a `static` of the same name, a
/// [`LazyLock`](std::sync::LazyLock) around a
/// [`tasks::LoopFn<A, R>`](https://docs.rs/tasks/latest/tasks/struct.LoopFn.html):
/// the loop ([`Deref`](std::ops::Deref) to `tasks::Loop<A>`) together with
/// its typed body. `A` is the function's argument (`()` for none, a tuple
/// for several: `start((a, b))`), `R` its return type.
///
/// A static is the Rust counterpart of the decorated module-level function:
/// one loop, nameable from anywhere (`announce.start(..)`, `announce.stop()`,
/// including inside its own body), built on first use (so the `static`
/// needs no runtime and no allocation at compile time) and never
/// duplicated. A function returning the loop would have to cache it in a
/// static anyway, and would read `announce().start(..)`. What stays of the
/// function is [`LoopFn::call`](https://docs.rs/tasks/latest/tasks/struct.LoopFn.html#method.call):
/// `announce.call(channel).await` runs the body once, outside the
/// schedule, and returns exactly what the function returns (discord.py's
/// `Loop.__call__`).
///
/// The example above is, written by hand with the runtime's API:
///
/// ```
/// # #[derive(Clone)] struct Channel(&'static str);
/// # #[derive(Debug, thiserror::Error)] #[error("gone")] struct SendError;
/// use std::sync::LazyLock;
/// use tasks::LoopFn;
///
/// async fn announce_body(channel: Channel) -> Result<(), SendError> {
///     println!("#{}: the event starts soon", channel.0);
///     Ok(())
/// }
///
/// #[allow(non_upper_case_globals)]
/// static announce: LazyLock<LoopFn<Channel, Result<(), SendError>>> = LazyLock::new(|| {
///     LoopFn::new(announce_body, |builder| {
///         builder
///             .seconds(5.0)
///             .count(2)
///             .name(concat!(module_path!(), "::announce"))
///             .build()
///     })
///     .expect("checked at compile time by the attribute")
/// });
/// # assert_eq!(announce.count(), Some(2));
/// ```
///
/// and with the runtime alone, without the typed `call`:
///
/// ```
/// # #[derive(Clone)] struct Channel(&'static str);
/// # #[derive(Debug, thiserror::Error)] #[error("gone")] struct SendError;
/// # async fn announce_body(channel: Channel) -> Result<(), SendError> { Ok(()) }
/// let announce = tasks::Loop::builder(announce_body).seconds(5.0).count(2).build()?;
/// # Ok::<(), tasks::ConfigError>(())
/// ```
///
/// Times of day become values, read at compile time:
/// `.times([TimeOfDay::new(8, 0, 0)?.in_zone(tz::Asia::Seoul), ..])`, and
/// `Zone::fixed(32400)?` for `tz = "+09:00"`; a cron expression, checked
/// with croner at compile time, is read again at run time
/// (`.interval(Interval::Cron(Cron::parse("0 30 9 * * MON-FRI")?.in_zone(..)))`);
/// `reconnect`, `missed`, `timeout`, `jitter`, `grace_period` and `name`
/// become their setters (`.timeout(Duration::from_nanos(30_000_000_000))`).
/// The builder's checks cannot fail, since the attribute made them at
/// compile time.
///
/// # Methods: a loop per instance
///
/// discord.py's `Loop.__get__` gives each instance of a cog its own copy of
/// a loop declared in the class. Here, a method whose receiver is
/// `self: Arc<Self>` becomes an accessor `fn name(self: &Arc<Self>) ->
/// &LoopFn<A, R>` (`A` being the arguments after `self`), and the struct
/// keeps the loop in a field of the same name, of type
/// [`tasks::LoopSlot<A, R>`](https://docs.rs/tasks/latest/tasks/struct.LoopSlot.html):
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tasks::LoopSlot;
/// use tokio::sync::Mutex;
///
/// #[derive(Default)]
/// struct CounterCog {
///     count: Mutex<u32>,
///     counter_loop: LoopSlot,
/// }
///
/// impl CounterCog {
///     #[tasks::r#loop(seconds = 1)]
///     async fn counter_loop(self: Arc<Self>) {
///         *self.count.lock().await += 1;
///     }
///
///     /// A command, sharing the counter with the loop.
///     async fn reset(&self) -> u32 {
///         std::mem::take(&mut *self.count.lock().await)
///     }
/// }
///
/// let cog = Arc::new(CounterCog::default());
/// cog.counter_loop().start(()).unwrap();
/// tokio::time::sleep(Duration::from_millis(2500)).await;
/// assert_eq!(cog.reset().await, 3);
/// cog.counter_loop().cancel();
/// # }
/// ```
///
/// Why this shape: the loop runs in the background for longer than any
/// borrow of `self`, so each iteration needs an owned handle on the
/// instance, and `Arc<Self>` is the one `tokio` users already share state
/// with. The loop is made on the first call of the accessor and kept in
/// the instance, as discord.py keeps its copy in the instance's `__dict__`;
/// it holds only a weak reference to the instance (no cycle, no leak), and
/// dropping the instance cancels a run in progress. The body itself stays
/// a method, under a hidden name.
///
/// The attribute works on methods of inherent `impl` blocks; an associated
/// function without `self` cannot be a loop (declare it as a free
/// function).
///
/// # The iteration
///
/// One argument may be marked `#[iteration]`, of type `tasks::Iteration`:
/// the loop fills it in with the iteration the body runs in (its number,
/// its scheduled instant, and in a cluster the fencing token of its claim
/// or term), as values that do not change under the body. It is not one
/// of the loop's arguments: `start` takes the others.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use tasks::Iteration;
///
/// #[tasks::r#loop(seconds = 10, count = 1)]
/// async fn report(table: &str, #[iteration] iteration: Iteration) {
///     // A cluster loop passes the token to every write: a task spawned
///     // here keeps it, where `report.fence()` would read a newer one.
///     println!("write {table} with fence {:?}", iteration.fence());
/// }
///
/// report.start("reports").unwrap().await;
/// # }
/// ```
///
/// A body without it pays nothing for it. The generated closure takes
/// `(args, iteration)` and is given to `tasks::LoopFn::with_iteration`.
///
/// # Compile-time checks
///
/// Each of these is an error on the token to fix, all reported in one
/// compile, with the loop still generated so that its uses do not add
/// errors: a non-numeric interval, one that adds up to less than zero or
/// more than 100 years, `count = 0`, `time` or `cron` with `seconds`/
/// `minutes`/`hours`, `cron` with `time`, an empty `time` list, a time that
/// is not a time of day (`"25:00"`, `"8am"`), a cron expression croner
/// cannot read or with a field out of range (`"0 24 * * *"`, with croner's
/// message and the field at fault), an unknown time zone or an offset in
/// another form (`"+9"`, `"+0:900"`), `tz` without `time` or `cron`, an
/// unknown or repeated
/// argument, a literal of the wrong type, a function that is not `async`,
/// is generic, or takes `&self`, the attribute on something that is not a
/// function, and an `#[iteration]` mark with arguments, on `self`, on a
/// second argument or on an argument of another type than
/// `tasks::Iteration` (and an argument of a type named `Iteration` left
/// unmarked). A body whose future is not `Send` is reported as such,
/// with the value held across an `.await`. A body that does not parse yet
/// still makes the loop: its syntax error is the only error.
///
/// ```compile_fail
/// #[tasks::r#loop(seconds = 5, time = "08:00")] // `seconds` cannot be combined with `time`
/// async fn announce() {}
/// ```
///
/// ```compile_fail
/// #[tasks::r#loop(cron = "0 9 * * FRY")] // illegal character 'F' in the day-of-week field
/// async fn weekly() {}
/// ```
///
/// The arguments' types must be `'static` (references written `&str` are
/// read as `&'static str`), `Clone` (they are cloned for every iteration)
/// and `Send`.
#[proc_macro_attribute]
pub fn r#loop(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::r#loop(args.into(), item.into()).into()
}
