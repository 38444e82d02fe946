//! Attribute loops whose body takes its iteration (`#[iteration]`): a task
//! the body spawns keeps the iteration's fencing token after the loop has
//! claimed newer slots; a method gets its own after its arguments, and a
//! direct call gets no slot and no token. On tokio's paused clock with the in-memory store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tasks::cluster::{Cluster, Fence, MemoryStore};
use tasks::testing::VirtualClock;
use tasks::{Iteration, LoopSlot, RunOutcome};

/// What the task spawned by the first iteration read, 2.5 s later: the
/// iteration's token, and the loop's token then.
static READ_LATER: Mutex<Option<(Option<Fence>, Option<Fence>)>> = Mutex::new(None);
/// The token each iteration began with, as the loop had it.
static AT_START: Mutex<Vec<Option<Fence>>> = Mutex::new(Vec::new());

#[tasks::r#loop(seconds = 1)]
async fn report(#[iteration] iteration: Iteration) {
    AT_START.lock().unwrap().push(report.fence());
    if iteration.number() == 0 {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            *READ_LATER.lock().unwrap() = Some((iteration.fence(), report.fence()));
        });
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_spawned_by_the_body_keeps_the_iteration_s_token() {
    let clock = VirtualClock::starting_at("2026-12-02T09:00:00.500Z".parse().unwrap());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    report.set_clock(clock).unwrap();
    report.join_cluster(Cluster::claim(store)).unwrap();
    report.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    report.cancel();
    let first = AT_START.lock().unwrap()[0].expect("the first slot was claimed");
    let (iteration, loop_later) = READ_LATER.lock().unwrap().expect("the task read");
    assert_eq!(iteration, Some(first));
    assert!(
        loop_later.is_some_and(|later| later > first),
        "{loop_later:?}"
    );
}

#[derive(Default)]
struct Cog {
    seen: Mutex<Vec<(u32, Iteration)>>,
    tick: LoopSlot<u32>,
}

impl Cog {
    #[tasks::r#loop(time = ["08:00", "20:00"], tz = "Asia/Seoul", count = 2)]
    async fn tick(self: Arc<Self>, step: u32, #[iteration] iteration: Iteration) {
        self.seen.lock().unwrap().push((step, iteration));
    }
}

#[tokio::test(start_paused = true)]
async fn a_method_gets_its_iteration_after_its_arguments() {
    let cog = Arc::new(Cog::default());
    let clock = VirtualClock::starting_at("2026-12-01T22:00:00Z".parse().unwrap());
    cog.tick().set_clock(clock).unwrap();
    assert_eq!(cog.tick().start(7).unwrap().await, RunOutcome::Completed);
    let seen = cog.seen.lock().unwrap().clone();
    let expected = [
        (7, 0, "2026-12-01T23:00:00Z"),
        (7, 1, "2026-12-02T11:00:00Z"),
    ];
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((step, iteration), (want_step, number, at)) in seen.iter().zip(expected) {
        assert_eq!(*step, want_step);
        assert_eq!(iteration.number(), number);
        assert_eq!(iteration.scheduled(), Some(at.parse().unwrap()));
        assert_eq!(iteration.fence(), None);
    }
    cog.tick().call(1).await;
    let direct = cog.seen.lock().unwrap()[2].1;
    let current = cog.tick().current_loop();
    assert_eq!(
        (direct.number(), direct.scheduled(), direct.fence()),
        (current, None, None)
    );
}
