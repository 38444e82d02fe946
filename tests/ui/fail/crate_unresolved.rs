// `crate = "..."` is where the generated code looks for `tasks`: a path
// that does not lead there is reported on the string.

#[tasks::r#loop(seconds = 1, crate = "not_a_crate")]
async fn tick() {}

fn main() {}
