//! How a wall-clock schedule watches the wall clock: a loop's options.

use std::time::Duration;

use super::zone::AmbiguousTime;

/// The default longest sleep before a times-of-day loop reads the wall
/// clock again.
///
/// ```
/// assert_eq!(tasks_runtime::DEFAULT_WALL_CHECK.as_secs(), 60);
/// ```
pub const DEFAULT_WALL_CHECK: Duration = Duration::from_secs(60);

/// How a wall-clock schedule watches the wall clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct WallOptions {
    /// The longest single sleep before the wall clock is read again.
    pub(crate) check_every: Duration,
    /// How late an instant that a clock jump or a suspend passed over may
    /// still run; `None` skips it.
    pub(crate) grace: Option<Duration>,
    pub(crate) ambiguous: AmbiguousTime,
}

impl WallOptions {
    /// The options of a loop built without any.
    pub(crate) const DEFAULT: WallOptions = WallOptions {
        check_every: DEFAULT_WALL_CHECK,
        grace: None,
        ambiguous: AmbiguousTime::Later,
    };
}

impl Default for WallOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}
