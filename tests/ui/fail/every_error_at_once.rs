#[tasks::r#loop(seconds = -1, count = 0, time = "25:00", tz = "Nowhere", colour = "red")]
fn tick(channel: String) {
    let _ = channel;
}

fn main() {
    // The loop is still generated, with its argument type: no follow-on
    // error here.
    let _ = tick.start(String::from("general"));
}
