use std::sync::Arc;

struct Cog;

impl Cog {
    #[tasks::r#loop(seconds = 1)]
    async fn tick(self: Arc<Self>) {}
}

fn main() {}
