#[tasks::r#loop(seconds = 1, missed = "late")]
async fn tick() {}

// Not a string: the policy's name is written in quotes.
#[tasks::r#loop(seconds = 1, missed = skip)]
async fn tock() {}

fn main() {}
