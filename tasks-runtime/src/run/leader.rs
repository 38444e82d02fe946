//! Leader mode: a replica takes part in a loop by trying to hold its lease;
//! while it holds it, it runs the loop (one run per term of leadership,
//! `before_loop` to `after_loop`) and renews the lease; when it cannot
//! renew in time, it cancels the run and tries again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::store_call::store_call;
use super::task::{start_run, Runner};
use crate::cluster::{Cluster, Fence, Lease, LeaseRequest, StoreError};
use crate::error::{LoopError, Shown, StartError};
use crate::handle::{OutcomeCell, RunHandle, RunOutcome};
use crate::state::{Core, Participation};

/// A replica that does not lead asks for the lease this many times per
/// lease: a lease left to run out is taken over within a quarter of it.
const POLLS_PER_LEASE: u32 = 4;

/// The shortest wait between two asks for the lease: a very short lease
/// does not turn the asking into a busy loop against the store.
const MIN_POLL: Duration = Duration::from_millis(20);

/// The leader renews its lease this many times per lease: two renewals in
/// a row may fail (a slow store, a lost reply) before the lease runs out.
const RENEWALS_PER_LEASE: u32 = 3;

/// A renewal the store did not answer is tried again after the lease
/// divided by this (a tenth): several tries fit before the leader must
/// give up.
const RENEWAL_RETRY_DIVISOR: u32 = 10;

/// The shortest wait before a renewal is tried again: a store that is down
/// is not hammered.
const MIN_RENEWAL_RETRY: Duration = Duration::from_millis(10);

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
    let entered = core.lock().enter_leader_mode()?;
    Ok(entered.map(|(config, participation)| Entry {
        config,
        participation,
    }))
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
    let outcome = Arc::clone(participation.outcome());
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
        self.runner.core().lock().end_participation();
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

/// What wakes a leader during its term.
enum Event {
    /// The run ended, with this outcome.
    Ended(RunOutcome),
    /// The replica is leaving.
    Leaving,
    /// A renewal is due, or the term may act no longer.
    Due,
}

/// How a term of leadership ended.
enum TermEnd {
    /// The replica left, or the run ended by itself: so does the
    /// participation, with this outcome.
    Over(RunOutcome),
    /// The lease was lost: try to get it again.
    Lost,
    /// The lease was granted too late to act on: ask again after a poll.
    TooLate,
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
    let poll = (config.lease / POLLS_PER_LEASE).max(MIN_POLL);
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
        let asked = store_call(&config, "taking the lease", config.store.lease(request));
        let answer = tokio::select! {
            answer = asked => answer,
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
                    TermEnd::TooLate => {}
                }
            }
            Ok(Lease::NotHeld { .. }) => outage.over(),
            Err(error) => outage.report(&runner, &name, error, config.lease),
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
    /// third of it. The term starts only if the lease it was granted still
    /// has time left to act ([`Cluster::may_act_for`] after the request was
    /// sent). The term is lost when a renewal is refused, or when none
    /// succeeded for the lease minus the margin by this replica's monotonic
    /// clock (judged from when the last good renewal was sent, which is no
    /// later than when the store started counting); the run reads the same
    /// instant before each call and ends itself, cancelled, if it is past.
    /// When the replica leaves meanwhile, the run ends gracefully (no new
    /// iteration) and the lease is given back after it.
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
        if participation.is_leaving() {
            release(config, name, fence).await;
            return TermEnd::Over(RunOutcome::Stopped);
        }
        let mut deadlines = Deadlines::renewed_at(acquired_at, config);
        if Instant::now() >= deadlines.may_act_until {
            tracing::warn!(loop_name = %name, %fence, "the lease was granted too late to act on: no term");
            release(config, name, fence).await;
            return TermEnd::TooLate;
        }
        runner
            .core()
            .lock()
            .begin_term(fence, deadlines.may_act_until);
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
            let event = tokio::select! {
                outcome = ended.as_mut() => Event::Ended(outcome),
                () = participation.left(), if !asked_to_end => Event::Leaving,
                () = tokio::time::sleep_until(deadlines.wake_at()) => Event::Due,
            };
            let outcome = match event {
                Event::Ended(outcome) => outcome,
                Event::Leaving => {
                    // Leaving (a shutdown, say, that found no run before
                    // this one began): no new iteration.
                    asked_to_end = true;
                    drop(runner.core().request_shutdown());
                    continue;
                }
                Event::Due if Instant::now() >= deadlines.may_act_until => {
                    tracing::warn!(loop_name = %name, %fence, "the lease could not be renewed in time: no longer the leader");
                    return lose(runner, ended.as_mut()).await;
                }
                Event::Due => {
                    // A run that ends meanwhile needs no renewal: its end
                    // (and the release) does not wait for the store.
                    let renewed = tokio::select! {
                        renewed = self.renew(fence, &mut deadlines, outage) => Ok(renewed),
                        outcome = ended.as_mut() => Err(outcome),
                    };
                    match renewed {
                        Ok(true) => continue,
                        Ok(false) => return lose(runner, ended.as_mut()).await,
                        Err(outcome) => outcome,
                    }
                }
            };
            match self.after_run(outcome, fence, &deadlines).await {
                Ok(over) => return over,
                // A `restart` ends the run and starts the next one: the
                // term goes on with it.
                Err(next) => ended = Box::pin(next.wait()),
            }
        }
    }

    /// The term's run ended with `outcome`: the term goes on with the next
    /// run a `restart` started (`Err` with its handle), is lost if the run
    /// saw its lease lapse, or is over (the lease given back).
    async fn after_run(
        &self,
        outcome: RunOutcome,
        fence: Fence,
        deadlines: &Deadlines,
    ) -> Result<TermEnd, RunHandle> {
        let Term {
            runner,
            config,
            name,
            participation,
        } = *self;
        let restarted = runner.core().lock().running_outcome();
        if let Some(next) = restarted {
            return Err(RunHandle::new(next));
        }
        let lapsed = outcome == RunOutcome::Cancelled
            && !participation.is_leaving()
            && Instant::now() >= deadlines.may_act_until;
        if lapsed {
            // The run saw its lease lapse before a call and ended itself,
            // before the supervisor's timer fired.
            tracing::warn!(loop_name = %name, %fence, "the lease could not be renewed in time: no longer the leader");
            runner.core().lock().end_term();
            return Ok(TermEnd::Lost);
        }
        release(config, name, fence).await;
        Ok(TermEnd::Over(outcome))
    }

    /// Renews the lease held with `fence`, waiting for the store's answer
    /// no longer than the term may act. Returns whether the term goes on:
    /// not when the store gives the lease to another replica.
    async fn renew(&self, fence: Fence, deadlines: &mut Deadlines, outage: &mut Outage) -> bool {
        let Term {
            runner,
            config,
            name,
            ..
        } = *self;
        let sent = Instant::now();
        let renewal = LeaseRequest {
            loop_name: name,
            replica: &config.replica,
            lease: config.lease,
            renew: Some(fence),
        };
        let renewing = store_call(config, "renewing the lease", config.store.lease(renewal));
        let answer = tokio::time::timeout_at(deadlines.may_act_until, renewing).await;
        match answer {
            Ok(Ok(Lease::Held { .. })) => {
                outage.over();
                *deadlines = Deadlines::renewed_at(sent, config);
                runner.core().lock().extend_term(deadlines.may_act_until);
            }
            Ok(Ok(Lease::NotHeld { holder })) => {
                tracing::warn!(loop_name = %name, %fence, holder = ?holder, "the lease was lost: no longer the leader");
                return false;
            }
            // The store's error, or no answer within the store deadline.
            Ok(Err(error)) => {
                outage.report(runner, name, error, config.lease);
                deadlines.retry_after(sent, config.lease);
            }
            // The term may act no longer: the caller ends it.
            Err(_) => {}
        }
        true
    }
}

/// When a leader renews its lease next, and until when it may act without
/// a renewal, by its own monotonic clock.
struct Deadlines {
    next_renewal: Instant,
    may_act_until: Instant,
}

impl Deadlines {
    /// After a renewal (or the acquisition) of the cluster's lease sent at
    /// `sent`, which is no later than when the store started counting it.
    fn renewed_at(sent: Instant, config: &Cluster) -> Self {
        Self {
            next_renewal: sent + config.lease / RENEWALS_PER_LEASE,
            may_act_until: sent + config.may_act_for(),
        }
    }

    /// A renewal sent at `sent` failed: try again soon, within the same
    /// deadline to act. Counted from when it was sent, so that a renewal
    /// that waited out the store deadline is followed by the next at once,
    /// and one the store refused quickly is not repeated in a busy loop.
    fn retry_after(&mut self, sent: Instant, lease: Duration) {
        self.next_renewal = sent + (lease / RENEWAL_RETRY_DIVISOR).max(MIN_RENEWAL_RETRY);
    }

    /// When the leader wakes up: to renew, or to stop acting.
    fn wake_at(&self) -> Instant {
        self.next_renewal.min(self.may_act_until)
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
    runner.core().lock().end_term();
    TermEnd::Lost
}

/// Gives the lease back, so that another replica need not wait for it to
/// run out.
async fn release(config: &Cluster, name: &str, fence: Fence) {
    let releasing = config.store.release(name, &config.replica, fence);
    if let Err(error) = store_call(config, "giving the lease back", releasing).await {
        tracing::warn!(loop_name = %name, error = %Shown(&error), "the lease could not be given back; it runs out by itself");
    }
}

/// Reports a store outage once, to the log and the `error` hook, until the
/// store answers again. The hook runs in a task of its own, for a lease at
/// most: the supervisor never waits on user code (a hook that hangs must
/// not keep a cut-off leader acting past its lease).
#[derive(Default)]
struct Outage {
    reported: bool,
}

impl Outage {
    fn over(&mut self) {
        self.reported = false;
    }

    fn report<A>(
        &mut self,
        runner: &Arc<dyn Runner<A>>,
        name: &str,
        error: StoreError,
        bound: Duration,
    ) where
        A: Send + 'static,
    {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        tracing::warn!(loop_name = %name, error = %Shown(&error), "the store could not be reached for the loop's lease");
        let runner = Arc::clone(runner);
        tokio::spawn(async move {
            let name = runner.name();
            let report = runner.core().report(name, LoopError::from_error(error));
            if tokio::time::timeout(bound, report).await.is_err() {
                tracing::warn!(loop_name = %name, "the error hook did not return within the lease: abandoned");
            }
        });
    }
}
