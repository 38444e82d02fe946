//! A loop whose body takes its iteration: an argument marked
//! `#[iteration]`, anywhere among the arguments, in a free function and in
//! a method; the loop's arguments are the others.

use std::sync::Arc;

use tasks::{Iteration, LoopFn, LoopSlot, RunOutcome};

#[tasks::r#loop(seconds = 1, count = 2)]
async fn report(#[iteration] iteration: Iteration) {
    println!("report {}", iteration.number());
}

#[tasks::r#loop(seconds = 1, count = 1)]
async fn add(a: u32, #[iteration] _iteration: tasks::Iteration, b: u32) -> Result<(), std::io::Error> {
    println!("{}", a + b);
    Ok(())
}

#[derive(Default)]
struct Cog {
    tick: LoopSlot<u32>,
}

impl Cog {
    #[tasks::r#loop(seconds = 1, count = 1)]
    async fn tick(self: Arc<Self>, step: u32, #[iteration] iteration: Iteration) {
        println!("{}", iteration.number() + u64::from(step));
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let _: &LoopFn<(), ()> = &report;
        assert_eq!(report.start(()).unwrap().await, RunOutcome::Completed);
        let _: &LoopFn<(u32, u32), Result<(), std::io::Error>> = &add;
        assert!(add.call((1, 2)).await.is_ok());
        let cog = Arc::new(Cog::default());
        assert_eq!(cog.tick().start(1).unwrap().await, RunOutcome::Completed);
    });
}
