// Each part is a finite number, but in seconds one is too large to count
// and the other too large the other way: their sum is not a number. The
// error is on the first of them.

#[tasks::r#loop(minutes = 1.7976931348623157e308, hours = -1.7976931348623157e308)]
async fn tick() {}

fn main() {
    // The loop is still generated: no follow-on error here.
    let _ = tick.seconds();
}
