//! Leader mode: a replica takes part in a loop by trying to hold its lease;
//! while it holds it, it runs the loop (one run per term of leadership,
//! `before_loop` to `after_loop`) and renews the lease; when it cannot
//! renew in time, it cancels the run and tries again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::task::{start_run, Runner};
use crate::cluster::{Cluster, Fence, Lease, LeaseRequest, Mode, StoreError};
use crate::error::{LoopError, Shown, StartError};
use crate::handle::{OutcomeCell, RunHandle, RunOutcome};
use crate::state::{Core, Participation};

/// A replica's entry into a leader-mode loop: the cluster's configuration,
/// and its participation, already marked in the state.
pub(super) struct Entry {
    config: Cluster,
    participation: Arc<Participation>,
}

/// Enters the loop's leader-mode cluster, if it is in one (`None` for any
/// other loop), under one lock: the mode read is the mode entered.
///
/// # Errors
///
/// [`StartError::AlreadyRunning`] while the loop runs or the replica takes
/// part already.
pub(super) fn enter<A>(core: &Core<A>) -> Result<Option<Entry>, StartError> {
    let mut state = core.lock();
    let running = state.running || state.participation().is_some();
    match state.cluster_mut() {
        Some(cluster) if cluster.config.mode == Mode::Leader => {
            if running {
                return Err(StartError::AlreadyRunning);
            }
            let participation = Arc::new(Participation::default());
            cluster.participation = Some(Arc::clone(&participation));
            Ok(Some(Entry {
                config: cluster.config.clone(),
                participation,
            }))
        }
        _ => Ok(None),
    }
}

/// Takes part in a leader-mode loop the replica has entered: the returned
/// handle ends when the replica leaves (a stop or a cancel, or the run it
/// leads ending by itself).
pub(super) fn participate<A>(
    runner: Arc<dyn Runner<A>>,
    args: A,
    runtime: &tokio::runtime::Handle,
    entry: Entry,
) -> RunHandle
where
    A: Clone + Send + 'static,
{
    let Entry {
        config,
        participation,
    } = entry;
    let outcome = Arc::clone(&participation.outcome);
    let guard = Leaving {
        runner,
        outcome: Some(Arc::clone(&outcome)),
    };
    runtime.spawn(supervise(guard, args, config, participation));
    RunHandle::new(outcome)
}

/// Ends the participation when the supervisor ends, or when its task is
/// dropped first (its runtime shut down): the replica no longer takes part.
struct Leaving<A> {
    runner: Arc<dyn Runner<A>>,
    outcome: Option<Arc<OutcomeCell>>,
}

impl<A> Leaving<A> {
    fn finish(mut self, outcome: RunOutcome) {
        self.end();
        if let Some(cell) = self.outcome.take() {
            cell.finish(outcome);
        }
    }

    fn end(&self) {
        if let Some(cluster) = self.runner.core().lock().cluster_mut() {
            cluster.participation = None;
            cluster.fence = None;
        }
    }
}

impl<A> Drop for Leaving<A> {
    fn drop(&mut self) {
        if let Some(cell) = self.outcome.take() {
            self.end();
            cell.finish(RunOutcome::Cancelled);
        }
    }
}

/// How a term of leadership ended.
enum TermEnd {
    /// The replica left, or the run ended by itself: so does the
    /// participation, with this outcome.
    Over(RunOutcome),
    /// The lease was lost: try to get it again.
    Lost,
}

async fn supervise<A>(
    guard: Leaving<A>,
    args: A,
    config: Cluster,
    participation: Arc<Participation>,
) where
    A: Clone + Send + 'static,
{
    let runner = Arc::clone(&guard.runner);
    let name = runner.name().to_owned();
    let poll = (config.lease / 4).max(Duration::from_millis(20));
    let mut outage = Outage::default();
    let outcome = loop {
        if participation.is_leaving() {
            break RunOutcome::Stopped;
        }
        let sent = Instant::now();
        let request = LeaseRequest {
            loop_name: &name,
            replica: &config.replica,
            lease: config.lease,
            renew: None,
        };
        let answer = tokio::select! {
            answer = config.store.lease(request) => answer,
            () = participation.left() => break RunOutcome::Stopped,
        };
        match answer {
            Ok(Lease::Held { fence }) => {
                outage.over();
                let term = Term {
                    runner: &runner,
                    config: &config,
                    name: &name,
                    participation: &participation,
                };
                match term.lead(args.clone(), fence, sent, &mut outage).await {
                    TermEnd::Over(outcome) => break outcome,
                    TermEnd::Lost => continue,
                }
            }
            Ok(Lease::NotHeld { .. }) => outage.over(),
            Err(error) => outage.report(&*runner, &name, error).await,
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = participation.left() => break RunOutcome::Stopped,
        }
    };
    guard.finish(outcome);
}

/// What a term of leadership works with.
struct Term<'a, A> {
    runner: &'a Arc<dyn Runner<A>>,
    config: &'a Cluster,
    name: &'a str,
    participation: &'a Participation,
}

impl<A> Term<'_, A>
where
    A: Clone + Send + 'static,
{
    /// Runs the loop with the term's token and renews the lease every
    /// third of it. The term is lost when a renewal is refused, or when
    /// none succeeded for the lease minus a margin by this replica's
    /// monotonic clock (judged from when the last good renewal was sent,
    /// which is no later than when the store started counting). When the
    /// replica leaves meanwhile, the run ends gracefully (no new iteration)
    /// and the lease is given back after it.
    async fn lead(
        &self,
        args: A,
        fence: Fence,
        acquired_at: Instant,
        outage: &mut Outage,
    ) -> TermEnd {
        let Term {
            runner,
            config,
            name,
            participation,
        } = *self;
        let margin = (config.lease / 10).min(Duration::from_millis(200));
        let mut may_act_until = acquired_at + config.lease.saturating_sub(margin);
        let mut next_renewal = acquired_at + config.lease / 3;
        if participation.is_leaving() {
            release(config, name, fence).await;
            return TermEnd::Over(RunOutcome::Stopped);
        }
        if let Some(cluster) = runner.core().lock().cluster_mut() {
            cluster.fence = Some(fence);
        }
        let run = match start_run(Arc::clone(runner), args) {
            Ok(run) => run,
            Err(error) => {
                tracing::error!(loop_name = %name, %error, "the loop could not start its term");
                release(config, name, fence).await;
                return TermEnd::Over(RunOutcome::Cancelled);
            }
        };
        let mut ended = Box::pin(run.wait());
        let mut asked_to_end = false;
        loop {
            tokio::select! {
                outcome = ended.as_mut() => {
                    // A `restart` ends the run and starts the next one: the
                    // term goes on with it.
                    let restarted = {
                        let state = runner.core().lock();
                        state.latest.clone().filter(|_| state.running)
                    };
                    if let Some(next) = restarted {
                        ended = Box::pin(RunHandle::new(next).wait());
                        continue;
                    }
                    release(config, name, fence).await;
                    return TermEnd::Over(outcome);
                }
                () = participation.left(), if !asked_to_end => {
                    // Leaving (a shutdown, say, that found no run before
                    // this one began): no new iteration.
                    asked_to_end = true;
                    drop(runner.core().request_shutdown());
                    continue;
                }
                () = tokio::time::sleep_until(next_renewal.min(may_act_until)) => {}
            }
            if Instant::now() >= may_act_until {
                tracing::warn!(loop_name = %name, %fence, "the lease could not be renewed in time: no longer the leader");
                return lose(runner, ended.as_mut()).await;
            }
            let sent = Instant::now();
            let renewal = LeaseRequest {
                loop_name: name,
                replica: &config.replica,
                lease: config.lease,
                renew: Some(fence),
            };
            let answer = tokio::time::timeout_at(may_act_until, config.store.lease(renewal)).await;
            match answer {
                Ok(Ok(Lease::Held { .. })) => {
                    outage.over();
                    may_act_until = sent + config.lease.saturating_sub(margin);
                    next_renewal = sent + config.lease / 3;
                }
                Ok(Ok(Lease::NotHeld { holder })) => {
                    tracing::warn!(loop_name = %name, %fence, holder = ?holder, "the lease was lost: no longer the leader");
                    return lose(runner, ended.as_mut()).await;
                }
                Ok(Err(error)) => {
                    outage.report(&**runner, name, error).await;
                    next_renewal =
                        Instant::now() + (config.lease / 10).max(Duration::from_millis(10));
                }
                Err(_) => {}
            }
        }
    }
}

/// The term is lost: the run is cancelled (its `after_loop` runs with
/// `is_being_cancelled()` true) and awaited.
async fn lose<A, F>(runner: &Arc<dyn Runner<A>>, ended: Pin<&mut F>) -> TermEnd
where
    F: Future<Output = RunOutcome>,
{
    runner.core().cancel_run();
    ended.await;
    if let Some(cluster) = runner.core().lock().cluster_mut() {
        cluster.fence = None;
    }
    TermEnd::Lost
}

/// Gives the lease back, so that another replica need not wait for it to
/// run out.
async fn release(config: &Cluster, name: &str, fence: Fence) {
    if let Err(error) = config.store.release(name, &config.replica, fence).await {
        tracing::warn!(loop_name = %name, error = %Shown(&error), "the lease could not be given back; it runs out by itself");
    }
}

/// Reports a store outage once, to the log and the `error` hook, until the
/// store answers again.
#[derive(Default)]
struct Outage {
    reported: bool,
}

impl Outage {
    fn over(&mut self) {
        self.reported = false;
    }

    async fn report<A>(&mut self, runner: &dyn Runner<A>, name: &str, error: StoreError) {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        tracing::warn!(loop_name = %name, error = %Shown(&error), "the store could not be reached for the loop's lease");
        runner
            .core()
            .report(name, LoopError::from_error(error))
            .await;
    }
}
