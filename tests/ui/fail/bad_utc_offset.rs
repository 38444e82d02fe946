// An offset is `±HH:MM`, `±HHMM` or `±HH`, and nothing else.

#[tasks::r#loop(time = "08:00", tz = "+0:900")]
async fn tick() {}

#[tasks::r#loop(time = "08:00", tz = "+9")]
async fn tock() {}

#[tasks::r#loop(time = "08:00", tz = "-09:00:00")]
async fn tack() {}

fn main() {}
