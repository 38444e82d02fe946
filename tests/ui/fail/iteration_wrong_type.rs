#[tasks::r#loop(seconds = 1)]
async fn tick(#[iteration] _number: u64) {}

#[tasks::r#loop(seconds = 1)]
async fn tock(#[iteration] _iteration: &tasks::Iteration) {}

fn main() {
    let _ = (tick.is_running(), tock.is_running());
}
