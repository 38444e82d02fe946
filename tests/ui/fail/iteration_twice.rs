use tasks::Iteration;

#[tasks::r#loop(seconds = 1)]
async fn tick(#[iteration] _first: Iteration, #[iteration] _second: Iteration) {}

fn main() {
    let _ = tick.is_running();
}
