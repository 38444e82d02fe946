use std::time::Duration;

use tasks::MissedTickBehavior;

#[tasks::r#loop(seconds = 10, missed = "skip", timeout = 2.5, jitter = 1)]
async fn poll() {}

fn main() {
    assert_eq!(poll.missed(), MissedTickBehavior::Skip);
    assert_eq!(poll.timeout(), Some(Duration::from_millis(2500)));
    assert_eq!(poll.jitter(), Some(Duration::from_secs(1)));
}
