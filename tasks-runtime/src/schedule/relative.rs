//! Relative intervals: every `seconds + 60·minutes + 3600·hours`.

use std::time::Duration;

/// A validated relative interval, kept as given (so that `seconds()`,
/// `minutes()` and `hours()` read back what was set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Every {
    pub(crate) seconds: f64,
    pub(crate) minutes: f64,
    pub(crate) hours: f64,
}

impl Every {
    /// The period. Computed, not stored: it keeps every loop's state a
    /// little smaller, for a few floating-point operations per iteration.
    /// Validated intervals always convert.
    pub(crate) fn period(&self) -> Duration {
        Duration::try_from_secs_f64(self.seconds + self.minutes * 60.0 + self.hours * 3600.0)
            .unwrap_or(Duration::MAX)
    }
}
