// The interval is at most 100 years: the error is on the part that takes
// it beyond.

#[tasks::r#loop(hours = 1e300)]
async fn tick() {}

#[tasks::r#loop(seconds = 10000000000000000000)]
async fn tock() {}

#[tasks::r#loop(seconds = 5, hours = 1e9)]
async fn tack() {}

#[tasks::r#loop(minutes = 30, hours = 876600)]
async fn tuck() {}

fn main() {
    // The loops are still generated: no follow-on error here.
    let _ = (tick.seconds(), tock.seconds(), tack.seconds(), tuck.seconds());
}
