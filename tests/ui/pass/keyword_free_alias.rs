//! `loop` is a keyword: the attribute is `tasks::r#loop`, or the alias
//! `task_loop`, both usable through `use`.

use tasks::r#loop;
use tasks::task_loop;

#[r#loop(seconds = 1)]
async fn with_raw_identifier() {}

#[task_loop(seconds = 1)]
async fn with_alias() {}

#[tasks::task_loop(seconds = 1)]
async fn with_alias_path() {}

fn main() {
    assert_eq!(with_raw_identifier.seconds(), with_alias.seconds());
    assert_eq!(with_alias.seconds(), with_alias_path.seconds());
}
