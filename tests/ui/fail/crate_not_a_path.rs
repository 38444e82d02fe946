#[tasks::r#loop(seconds = 1, crate = "not a path")]
async fn tick() {}

fn main() {}
