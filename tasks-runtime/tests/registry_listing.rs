//! Listing the registry: a dropped loop leaves it, loops are listed by
//! name, and loops built and dropped on several threads at once all leave.
//! A test binary of its own, its tests one at a time: a listing holds every
//! loop for a moment, which would keep another test's dropped loop alive.

use std::sync::{Mutex, PoisonError};

use tasks_runtime::{registry, Loop};

static ALONE: Mutex<()> = Mutex::new(());

fn registered(name: &str) -> bool {
    registry::loops().iter().any(|l| l.name() == name)
}

#[test]
fn a_dropped_loop_leaves_the_registry() {
    let _alone = ALONE.lock().unwrap_or_else(PoisonError::into_inner);
    let kept = Loop::builder(|()| async {}).name("kept").build().unwrap();
    let clone = kept.clone();
    let dropped: Vec<Loop<u32>> = (0..100)
        .map(|k| {
            Loop::builder(|_: u32| async {})
                .name(format!("dropped-{k}"))
                .build()
                .unwrap()
        })
        .collect();
    assert!(registered("kept") && registered("dropped-42"));
    drop(dropped);
    assert!(!registered("dropped-42"));
    drop(kept);
    assert!(registered("kept"), "a clone keeps the loop alive");
    drop(clone);
    assert!(!registered("kept"));
    assert!(registry::statuses()
        .iter()
        .all(|s| !s.name.starts_with("dropped-")));
}

#[test]
fn loops_are_listed_by_name() {
    let _alone = ALONE.lock().unwrap_or_else(PoisonError::into_inner);
    let named = |name: &str| Loop::builder(|()| async {}).name(name).build().unwrap();
    let built = ["listed-c", "listed-a", "listed-d", "listed-b"].map(named);
    let listed: Vec<String> = registry::loops()
        .iter()
        .map(|l| l.name().to_owned())
        .filter(|name| name.starts_with("listed-"))
        .collect();
    assert_eq!(listed, ["listed-a", "listed-b", "listed-c", "listed-d"]);
    let statuses: Vec<String> = registry::statuses()
        .into_iter()
        .map(|s| s.name)
        .filter(|name| name.starts_with("listed-"))
        .collect();
    assert_eq!(statuses, listed);
    drop(built);
}

#[test]
fn loops_built_and_dropped_on_many_threads_leave_the_registry() {
    let _alone = ALONE.lock().unwrap_or_else(PoisonError::into_inner);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for k in 0..500 {
                    let lp = Loop::builder(|()| async {})
                        .name(format!("threaded-{t}-{k}"))
                        .build()
                        .unwrap();
                    if k % 50 == 0 {
                        assert!(registered(&format!("threaded-{t}-{k}")));
                    }
                    drop(lp);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(!registry::loops()
        .iter()
        .any(|l| l.name().starts_with("threaded-")));
}
