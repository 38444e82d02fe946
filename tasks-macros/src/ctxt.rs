//! The one place errors go: every stage (the arguments, the function, their
//! checks) records its problems here and carries on, so that one compile
//! reports all of them, each on its own token.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// The errors of one use of the attribute.
///
/// Shared by reference, so that the stages need no `&mut` threaded
/// through; it must end with [`Ctxt::into_compile_errors`], so that no
/// error is lost (dropping it otherwise is a bug in this crate, and
/// panics).
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
    reported: bool,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Vec::new()),
            reported: false,
        }
    }

    /// An error spanning `tokens`, from their first token to their last.
    pub(crate) fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// An error at `span`.
    pub(crate) fn error_at(&self, span: Span, message: impl Display) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// An error as `syn` made it.
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// The errors, as `compile_error!` invocations in the order they were
    /// recorded; empty when there are none.
    pub(crate) fn into_compile_errors(mut self) -> TokenStream {
        self.reported = true;
        let errors = self.errors.take();
        errors.iter().map(syn::Error::to_compile_error).collect()
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !self.reported && !std::thread::panicking() {
            panic!("the attribute's errors were dropped without being reported");
        }
    }
}

#[cfg(test)]
impl Ctxt {
    /// Takes the errors' messages, for the tests.
    pub(crate) fn finish(self) -> Vec<String> {
        let messages = self
            .errors
            .borrow()
            .iter()
            .map(ToString::to_string)
            .collect();
        drop(self.into_compile_errors());
        messages
    }
}
