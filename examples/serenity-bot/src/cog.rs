//! The cog: a counter shared by a loop and a command, and a daily report,
//! both waiting until the gateway is ready.

use std::sync::Arc;

use serenity::all::{ChannelId, Http};
use tasks::{BoxError, Interval, Loop, LoopError, LoopSlot, StartError, TimeOfDay};
use tokio::sync::{watch, Mutex};
use tracing::{error, info};

use crate::transient::{classify, Transient};

/// What the cog's loops take at `start`: the client's HTTP handle.
pub type Args = Arc<Http>;
/// The loops' bodies return this: a serenity error, or a [`Transient`] one.
type Body = Result<(), BoxError>;

/// The counter cog: the loops and the command share `count`.
pub struct CounterCog {
    channel: ChannelId,
    count: Mutex<u64>,
    /// `true` once the gateway is ready: the loops' `before_loop` waits for
    /// it, as discord.py's `await bot.wait_until_ready()`.
    ready: watch::Sender<bool>,
    /// Where this instance keeps its `counter_loop`.
    counter_loop: LoopSlot<Args, Body>,
    /// Where this instance keeps its `daily_report`.
    daily_report: LoopSlot<Args, Body>,
}

impl CounterCog {
    /// A cog posting to `channel`, with its daily report at `daily_at` (a
    /// time of day in the guild's zone). Its loops wait until
    /// [`set_ready`](Self::set_ready) before their first iteration, retry
    /// [`Transient`] errors and log the others.
    pub fn new(channel: ChannelId, daily_at: TimeOfDay) -> Result<Arc<Self>, tasks::ConfigError> {
        let cog = Arc::new(Self {
            channel,
            count: Mutex::new(0),
            ready: watch::Sender::new(false),
            counter_loop: LoopSlot::new(),
            daily_report: LoopSlot::new(),
        });
        // The attribute fixes a time at compile time; the guild's zone and
        // time come from the configuration, so they are set before start.
        cog.daily_report()
            .change_interval(Interval::times([daily_at]))?;
        for each in cog.loops() {
            let name = each.name().to_owned();
            // A watch keeps its value: a run that starts after `ready` (a
            // restart) goes through at once. The hook holds a receiver, not
            // the cog, which owns the loop: no cycle.
            let ready = cog.ready.subscribe();
            each.before_loop(move || {
                let mut ready = ready.clone();
                async move { ready.wait_for(|ready| *ready).await.map(|_| ()) }
            })
            .add_exception_type::<Transient>()
                .error(move |error: LoopError| {
                    let name = name.clone();
                    async move {
                        error!(loop_name = %name, %error, "the loop stops: this error is not worth a retry");
                    }
                });
        }
        Ok(cog)
    }

    /// Counts, and posts the count, every ten minutes.
    #[tasks::r#loop(minutes = 10)]
    async fn counter_loop(self: Arc<Self>, http: Args) -> Body {
        let count = {
            let mut count = self.count.lock().await;
            *count += 1;
            *count
        };
        // The guard is gone: `/count` is never kept waiting by a slow post.
        self.channel
            .say(&http, format!("Counter: {count}"))
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Posts the count once a day; the time and zone are set in `new`.
    #[tasks::r#loop(time = "09:00")]
    async fn daily_report(self: Arc<Self>, http: Args) -> Body {
        let count = *self.count.lock().await;
        self.channel
            .say(&http, format!("Good morning! The counter is at {count}."))
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The `/count` command: the count, set back to zero.
    pub async fn take_count(&self) -> u64 {
        std::mem::take(&mut *self.count.lock().await)
    }

    /// The gateway is ready: the loops waiting in `before_loop` go on to
    /// their first iteration. Called by the `ready` event, again after each
    /// reconnection, which changes nothing.
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// The channel the loops post to.
    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// The cog's loops.
    pub fn loops(self: &Arc<Self>) -> [&Loop<Args>; 2] {
        [self.counter_loop().as_loop(), self.daily_report().as_loop()]
    }

    /// Starts every loop that is not running yet; how many it started. A
    /// loop that already runs refuses a second start, and stays as it is.
    /// `main` calls this before the client connects: the loops wait in
    /// `before_loop` until [`set_ready`](Self::set_ready).
    pub fn start_loops(self: &Arc<Self>, http: &Arc<Http>) -> usize {
        let mut started = 0;
        for each in self.loops() {
            match each.start(Arc::clone(http)) {
                Ok(_run) => {
                    started += 1;
                    info!(loop_name = each.name(), "started");
                }
                Err(StartError::AlreadyRunning) => {
                    info!(loop_name = each.name(), "already running: nothing to start")
                }
                Err(error) => error!(loop_name = each.name(), %error, "cannot start"),
            }
        }
        started
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_daily_report_runs_at_the_configured_time_and_zone() {
        let at = TimeOfDay::parse_in("08:30", "Asia/Seoul").unwrap();
        let cog = CounterCog::new(ChannelId::new(1), at).unwrap();
        assert_eq!(cog.daily_report().time(), Some(vec![at]));
        assert_eq!(cog.counter_loop().minutes(), Some(10.0));
        for each in cog.loops() {
            assert!(each
                .exception_types()
                .iter()
                .any(|name| name.ends_with("Transient")));
        }
    }

    #[tokio::test]
    async fn a_second_start_starts_nothing() {
        let _turn = crate::shutdown::LOOPS_IN_TESTS.lock().await;
        let http = crate::fake_discord::http_answering(&[]).await;
        let cog = CounterCog::new(ChannelId::new(1), TimeOfDay::parse("09:00").unwrap()).unwrap();
        cog.set_ready();
        assert_eq!(cog.start_loops(&http), 2);
        assert_eq!(cog.start_loops(&http), 0, "the loops were running already");
        assert!(cog.loops().iter().all(|each| each.is_running()));

        let report = crate::shutdown::shutdown_loops(std::time::Duration::from_secs(5)).await;
        assert_eq!(report.graceful.len(), 2, "{report:?}");
        assert!(cog.loops().iter().all(|each| !each.is_running()));
        assert_eq!(cog.start_loops(&http), 2, "loops shut down start again");
        crate::shutdown::shutdown_loops(std::time::Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn the_loops_wait_until_the_gateway_is_ready() {
        let _turn = crate::shutdown::LOOPS_IN_TESTS.lock().await;
        let http = crate::fake_discord::http_answering(&[]).await;
        let cog = CounterCog::new(ChannelId::new(1), TimeOfDay::parse("09:00").unwrap()).unwrap();
        assert_eq!(cog.start_loops(&http), 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(*cog.count.lock().await, 0, "no iteration before ready");

        cog.set_ready();
        // The counter loop's first iteration counts, then posts (and the
        // stand-in answers 503: the post is retried, the count stays).
        let counted = tokio::time::timeout(Duration::from_secs(5), async {
            while *cog.count.lock().await == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(counted.is_ok(), "the counter loop ran once ready");
        crate::shutdown::shutdown_loops(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn loops_still_waiting_for_ready_are_cancelled_at_shutdown() {
        let _turn = crate::shutdown::LOOPS_IN_TESTS.lock().await;
        let http = crate::fake_discord::http_answering(&[]).await;
        let cog = CounterCog::new(ChannelId::new(1), TimeOfDay::parse("09:00").unwrap()).unwrap();
        assert_eq!(cog.start_loops(&http), 2);

        let report = crate::shutdown::shutdown_loops(Duration::from_millis(50)).await;
        assert_eq!(report.cancelled.len(), 2, "{report:?}");
        assert!(cog.loops().iter().all(|each| !each.is_running()));
        assert_eq!(*cog.count.lock().await, 0);
    }

    #[tokio::test]
    async fn the_command_takes_the_count() {
        let cog = CounterCog::new(ChannelId::new(1), TimeOfDay::parse("09:00").unwrap()).unwrap();
        *cog.count.lock().await = 7;
        assert_eq!(cog.take_count().await, 7);
        assert_eq!(cog.take_count().await, 0);
    }
}
