#[tasks::r#loop(time = "08:00", seconds = 30)]
async fn tick() {}

fn main() {}
