#[tasks::r#loop(minutes = "5")]
async fn tick() {}

#[tasks::r#loop(hours = one)]
async fn tock() {}

fn main() {}
