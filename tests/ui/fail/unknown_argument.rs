#[tasks::r#loop(secs = 5)]
async fn tick() {}

fn main() {}
