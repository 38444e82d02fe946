#[tasks::r#loop(time = "03:00", grace_period = -60)]
async fn nightly() {}

// More than 100 years.
#[tasks::r#loop(time = "03:00", grace_period = 4e9)]
async fn yearly() {}

fn main() {}
