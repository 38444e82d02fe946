#[tasks::r#loop(seconds = 1, count = -2)]
async fn tick() {}

fn main() {}
