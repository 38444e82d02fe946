use std::sync::Arc;

#[tasks::r#loop(seconds = 1)]
async fn tick() -> u32 {
    5
}

#[derive(Default)]
struct Cog {
    tock: tasks::LoopSlot<(), u32>,
}

impl Cog {
    #[tasks::r#loop(seconds = 1)]
    async fn tock(self: Arc<Self>) -> u32 {
        5
    }
}

fn main() {}
