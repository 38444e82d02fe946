//! `crate = "..."`: the generated code reaches `tasks` only through the
//! given path. Here that path is a shim that re-exports the facade and
//! counts the loops built through it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

mod shim {
    pub mod __private {
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub use tasks::__private::*;

        pub static BUILT: AtomicUsize = AtomicUsize::new(0);

        /// Shadows the facade's, to count the loops built through the shim.
        pub fn build_validated<T>(built: Result<T, ConfigError>, name: &str) -> T {
            BUILT.fetch_add(1, Ordering::SeqCst);
            tasks::__private::build_validated(built, name)
        }
    }
}

#[tasks::r#loop(crate = "crate::shim", seconds = 1, count = 1)]
async fn through_the_shim() {}

#[derive(Default)]
struct Cog {
    tick: tasks::LoopSlot,
}

impl Cog {
    #[tasks::r#loop(crate = "crate::shim", seconds = 1, count = 1)]
    async fn tick(self: Arc<Self>) {}
}

#[tokio::test(start_paused = true)]
async fn the_generated_code_goes_through_the_given_path() {
    let built = || shim::__private::BUILT.load(Ordering::SeqCst);
    let before = built();
    through_the_shim.start(()).unwrap().await;
    assert_eq!(built(), before + 1);
    let cog = Arc::new(Cog::default());
    cog.tick().start(()).unwrap().await;
    assert_eq!(built(), before + 2);
}
