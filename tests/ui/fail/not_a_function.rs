#[tasks::r#loop(seconds = 1)]
struct Announcer;

#[tasks::r#loop(seconds = 1)]
const INTERVAL: u32 = 5;

fn main() {
    // The items stay what they were: no follow-on error here.
    let _ = (Announcer, INTERVAL);
}
