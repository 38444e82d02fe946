//! The `#[loop]` attribute of the `tasks` crate (docs to come).

mod args;
mod expand;
mod item;
mod validate;

/// stub
#[proc_macro_attribute]
pub fn r#loop(args: proc_macro::TokenStream, item: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::r#loop(args.into(), item.into()).into()
}
