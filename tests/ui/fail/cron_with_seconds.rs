#[tasks::r#loop(cron = "0 9 * * *", seconds = 30)]
async fn tick() {}

#[tasks::r#loop(minutes = 5, hours = 1, cron = "*/15 * * * *")]
async fn tock() {}

fn main() {}
