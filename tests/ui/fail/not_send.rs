use std::rc::Rc;

#[tasks::r#loop(seconds = 1)]
async fn tick() {
    let shared = Rc::new(5);
    tokio::task::yield_now().await;
    println!("{shared}");
}

fn main() {}
