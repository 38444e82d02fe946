// A signature that does not parse is left as written: the compiler reports
// its syntax error once, and the attribute adds none.

#[tasks::r#loop(seconds = 1)]
async fn announce(channel: ) {}

fn main() {}
