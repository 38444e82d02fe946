#[tasks::r#loop(seconds = 1)]
async fn tick<T: Send>(value: T) {
    let _ = value;
}

#[tasks::r#loop(seconds = 1)]
async fn tock(value: impl Send) {
    let _ = value;
}

fn main() {}
