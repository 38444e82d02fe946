//! The generated code adds no warning under strict lints, in a library
//! style crate with public loops, and inside a function body.
#![deny(warnings, missing_docs, unused_qualifications, unreachable_pub, unused_results)]
#![deny(rust_2018_idioms, unused_lifetimes, single_use_lifetimes, trivial_casts)]

use std::sync::Arc;

/// A public loop, documented.
#[tasks::r#loop]
pub async fn every_moment() {}

/// A public cog.
#[derive(Default)]
pub struct Cog {
    tick: tasks::LoopSlot<u8>,
}

impl Cog {
    /// A public loop method, documented.
    #[tasks::r#loop(hours = 1)]
    pub async fn tick(self: Arc<Self>, step: u8) {
        let _ = step;
    }
}

fn main() {
    #[tasks::r#loop(seconds = 1, count = 1)]
    async fn local(greeting: &str) {
        println!("{greeting}");
    }

    let cog = Arc::new(Cog::default());
    assert!(!cog.tick().is_running());
    assert!(!local.is_running());
    assert!(!every_moment.is_running());
}
