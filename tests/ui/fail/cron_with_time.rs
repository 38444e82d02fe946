#[tasks::r#loop(time = "08:00", cron = "0 20 * * *", tz = "Asia/Seoul")]
async fn twice_a_day() {}

fn main() {}
