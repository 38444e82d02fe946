// A body that does not parse yet (mid-edit) still makes the loop: the
// syntax error is the only error, with none about the loop's uses.

#[tasks::r#loop(seconds = 1)]
async fn announce() {
    let greeting = ;
    println!("{greeting}");
}

fn main() {
    let _ = announce.start(());
}
