#[tasks::r#loop(seconds = 1, count = 0)]
async fn tick() {}

fn main() {}
