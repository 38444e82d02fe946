#[tasks::r#loop(seconds = 1, jitter = -5)]
async fn tick() {}

// More than 100 years.
#[tasks::r#loop(seconds = 1, jitter = 4e9)]
async fn tock() {}

fn main() {}
