use std::sync::Arc;

use tasks::LoopSlot;

#[derive(Default)]
struct Cog {
    tick: LoopSlot,
}

impl Cog {
    #[tasks::r#loop(seconds = 1)]
    async fn tick(#[iteration] self: Arc<Self>) {}
}

fn main() {
    let cog = Arc::new(Cog::default());
    let _ = cog.tick().is_running();
}
