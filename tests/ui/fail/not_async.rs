#[tasks::r#loop(seconds = 1)]
fn tick() {}

fn main() {
    // The loop is still generated: no follow-on error here.
    let _ = tick.is_running();
}
