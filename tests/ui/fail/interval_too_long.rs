#[tasks::r#loop(hours = 1e300)]
async fn tick() {}

fn main() {}
