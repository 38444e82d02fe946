use tasks::Iteration;

#[tasks::r#loop(seconds = 1)]
async fn tick(#[iteration(fence)] _iteration: Iteration) {}

#[tasks::r#loop(seconds = 1)]
async fn tock(#[iteration = "now"] _iteration: Iteration) {}

fn main() {
    let _ = (tick.is_running(), tock.is_running());
}
