#[tasks::r#loop(seconds = 1, count = "two", reconnect = "yes", name = announcer)]
async fn tick() {}

#[tasks::r#loop(seconds = 1, count = 2.5, time = 800)]
async fn tock() {}

fn main() {}
