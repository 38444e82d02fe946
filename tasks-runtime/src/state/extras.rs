//! [`Extras`]: the part of a loop's state that most loops never need, in
//! a box made on first use, one group per concern: the settings, the
//! hooks, what belongs to the current run alone, the record of the
//! iterations, the loop's membership in a cluster.

use super::cluster::Membership;
use super::record::IterationRecord;
use super::settings::Settings;
use crate::backoff::Backoff;
use crate::hooks::{ErrorHook, PlainHook};

/// The state that most loops never need.
#[derive(Default)]
pub(super) struct Extras {
    pub(super) settings: Settings,
    pub(super) hooks: Hooks,
    pub(super) run: CurrentRun,
    /// The outcome, retries, last error and timings, for `status`.
    pub(super) record: IterationRecord,
    /// The loop's part in a cluster, if it joined one.
    pub(super) cluster: Option<Membership>,
}

impl Extras {
    /// The extras of a loop built with `settings` and `hooks`: `None` when
    /// both are at their defaults, which cost a loop nothing.
    pub(super) fn built(settings: Settings, hooks: Hooks) -> Option<Box<Self>> {
        if settings.is_default() && hooks.is_empty() {
            return None;
        }
        Some(Box::new(Self {
            settings,
            hooks,
            ..Self::default()
        }))
    }
}

/// The hooks registered on a loop. Each setter returns the hook it
/// replaces, for the caller to drop outside the lock (it is user code).
#[derive(Default)]
pub(crate) struct Hooks {
    before_loop: Option<PlainHook>,
    after_loop: Option<PlainHook>,
    error: Option<ErrorHook>,
}

impl Hooks {
    pub(crate) fn set_before_loop(&mut self, hook: PlainHook) -> Option<PlainHook> {
        self.before_loop.replace(hook)
    }

    pub(crate) fn set_after_loop(&mut self, hook: PlainHook) -> Option<PlainHook> {
        self.after_loop.replace(hook)
    }

    pub(crate) fn set_error(&mut self, hook: ErrorHook) -> Option<ErrorHook> {
        self.error.replace(hook)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.before_loop.is_none() && self.after_loop.is_none() && self.error.is_none()
    }

    pub(super) fn before_loop(&self) -> Option<&PlainHook> {
        self.before_loop.as_ref()
    }

    pub(super) fn after_loop(&self) -> Option<&PlainHook> {
        self.after_loop.as_ref()
    }

    pub(super) fn error(&self) -> Option<&ErrorHook> {
        self.error.as_ref()
    }
}

/// What belongs to the current run alone, cleared as it ends.
#[derive(Default)]
pub(super) struct CurrentRun {
    /// The run's backoff, made at its first retried error.
    pub(super) backoff: Option<Box<dyn Backoff>>,
    /// `shutdown`: no new iteration starts, the waits between them end.
    pub(super) shutdown_requested: bool,
}
