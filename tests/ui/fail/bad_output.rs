#[tasks::r#loop(seconds = 1)]
async fn tick() -> u32 {
    5
}

fn main() {}
