pub use tasks_runtime::*;
