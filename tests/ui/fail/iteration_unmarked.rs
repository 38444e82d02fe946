use tasks::Iteration;

#[tasks::r#loop(seconds = 1)]
async fn tick(_iteration: Iteration) {}

fn main() {
    let _ = tick.is_running();
}
