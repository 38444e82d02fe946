// A body that does not parse yet (mid-edit) still makes the loop: the
// syntax error is the only error, with none about the loop's uses.

use std::sync::Arc;

#[tasks::r#loop(seconds = 1)]
async fn announce() {
    let greeting = ;
    println!("{greeting}");
}

#[derive(Default)]
struct Cog {
    tick: tasks::LoopSlot,
}

impl Cog {
    #[tasks::r#loop(seconds = 1)]
    async fn tick(self: Arc<Self>) {
        if { }
    }
}

fn main() {
    let _ = announce.start(());
    let _ = Arc::new(Cog::default()).tick().start(());
}
