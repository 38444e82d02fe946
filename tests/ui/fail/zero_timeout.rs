#[tasks::r#loop(seconds = 1, timeout = 0)]
async fn tick() {}

#[tasks::r#loop(seconds = 1, timeout = -30)]
async fn tock() {}

#[tasks::r#loop(seconds = 1, timeout = "30s")]
async fn tack() {}

fn main() {}
