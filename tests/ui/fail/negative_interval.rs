#[tasks::r#loop(seconds = -5)]
async fn tick() {}

fn main() {}
