#[tasks::r#loop(time = "08:00", tz = "Mars/Olympus")]
async fn tick() {}

#[tasks::r#loop(time = "08:00", tz = "asia/seoul")]
async fn tock() {}

#[tasks::r#loop(time = "08:00", tz = "+25:00")]
async fn tack() {}

fn main() {}
