#[tasks::r#loop(seconds = 1, reconnect)]
async fn tick() {}

fn main() {}
