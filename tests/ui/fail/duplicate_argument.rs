#[tasks::r#loop(seconds = 5, count = 2, seconds = 10)]
async fn tick() {}

fn main() {}
