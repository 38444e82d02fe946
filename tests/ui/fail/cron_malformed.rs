// Four fields: a cron expression has 5, or 6 with seconds first.
#[tasks::r#loop(cron = "30 9 * MON-FRI")]
async fn standup() {}

// An illegal character: `FRY` is no day of the week.
#[tasks::r#loop(cron = "0 9 * * FRY")]
async fn weekly() {}

// A nickname croner does not know.
#[tasks::r#loop(cron = "@dayly")]
async fn nightly() {}

fn main() {}
