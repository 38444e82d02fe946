// The names the generated code uses are not visible to the body, nor
// outside the loop.

#[tasks::r#loop(seconds = 1)]
async fn tick(count: u32) {
    let _ = (count, __args, __builder);
}

fn main() {
    let _ = __tasks_body(1);
}
