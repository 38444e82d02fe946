#[tasks::r#loop(time = [])]
async fn tick() {}

fn main() {}
