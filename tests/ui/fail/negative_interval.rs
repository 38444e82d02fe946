#[tasks::r#loop(seconds = -5)]
async fn tick() {}

// A negative part is blamed when the total is below zero.
#[tasks::r#loop(seconds = 30, minutes = -1)]
async fn tock() {}

fn main() {}
