// Hours go from 0 to 23.
#[tasks::r#loop(cron = "0 30 24 * * *", tz = "Asia/Seoul")]
async fn midnight() {}

// Days of the month go from 1 to 31.
#[tasks::r#loop(cron = "0 0 32 * *")]
async fn monthly() {}

// A month has at most five of a weekday.
#[tasks::r#loop(cron = "0 9 * * MON#6")]
async fn sixth_monday() {}

fn main() {}
