#[tasks::r#loop(seconds = 5, tz = "Asia/Seoul")]
async fn tick() {}

fn main() {}
