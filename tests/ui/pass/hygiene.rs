//! The body sees its own names, not the generated code's: arguments named
//! like generated bindings, a module named `__private`, and the loop's own
//! name inside its body all mean what the user wrote.

#[allow(dead_code)]
mod __private {
    pub struct NotTheFacade;
}

#[tasks::r#loop(seconds = 1, count = 1)]
async fn tick(__args: u32, __builder: u32) {
    assert_eq!((__args, __builder), (1, 2));
    // The loop itself, not the body function.
    assert!(tick.is_running() || tick.current_loop() == 0);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        tick.call((1, 2)).await;
        tick.start((1, 2)).expect("idle").await;
    });
}
