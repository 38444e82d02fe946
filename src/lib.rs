//! stub
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod loop_fn;
mod slot;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use loop_fn::LoopFn;
pub use slot::LoopSlot;
#[doc(inline)]
pub use tasks_macros::r#loop;
#[doc(inline)]
pub use tasks_macros::r#loop as task_loop;
pub use tasks_runtime::*;
