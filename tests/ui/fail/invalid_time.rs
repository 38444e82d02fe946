#[tasks::r#loop(time = ["08:00", "25:00", "8am"])]
async fn tick() {}

fn main() {}
