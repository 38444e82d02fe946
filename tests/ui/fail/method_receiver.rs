use tasks::LoopSlot;

#[derive(Default)]
struct Cog {
    tick: LoopSlot,
}

impl Cog {
    #[tasks::r#loop(seconds = 1)]
    async fn tick(&self) {}
}

fn main() {
    // The per-instance loop is still generated: no follow-on error here.
    let cog = std::sync::Arc::new(Cog::default());
    let _ = cog.tick().is_running();
}
