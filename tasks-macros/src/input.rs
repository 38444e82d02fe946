//! The annotated item: an `async fn`, free or a method that takes
//! `self: Arc<Self>`.
//!
//! The function is read as a signature and a body of raw tokens: a body
//! that does not parse (the user is mid-edit) is emitted as written, so the
//! compiler reports its real syntax error while the loop still exists for
//! the code that uses it.
//!
//! One argument may be marked `#[iteration]`: the loop fills it in with
//! the iteration the body runs in, and it is not one of the loop's
//! arguments. The mark is taken off the signature.
//!
//! A problem with the signature is reported on its token and, where the
//! intent is clear (a missing `async`, a stray `unsafe`, a borrowed
//! `self`), fixed in the output so that the loop is still generated and no
//! follow-on error appears. Items that cannot become a loop (not a
//! function, a generic function) are emitted unchanged.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    braced, token, Attribute, FnArg, GenericArgument, Item, Lifetime, Meta, PathArguments,
    Receiver, ReturnType, Signature, Token, Type, TypeImplTrait, TypeReference, Visibility,
};

use crate::ctxt::Ctxt;

/// What the attribute was put on.
pub(crate) enum Input {
    /// A function that becomes a loop (possibly after fixes, with errors).
    Loop(Box<LoopItem>),
    /// Anything else, emitted unchanged next to the errors.
    Other(TokenStream),
}

/// The function that becomes a loop.
pub(crate) struct LoopItem {
    /// Attributes for the loop itself: docs, `cfg`, `deprecated`, lints.
    pub(crate) loop_attrs: Vec<Attribute>,
    /// Attributes for the body function: everything but docs and
    /// `deprecated`.
    pub(crate) body_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// The signature, made `async`, without `const`, `unsafe` or an ABI.
    pub(crate) sig: Signature,
    pub(crate) body: Body,
    /// For a method: whether its receiver is `self: Arc<Self>` as written
    /// (if not, it was reported, and the output uses that form).
    pub(crate) receiver: Option<ReceiverForm>,
    /// The types of the arguments after `self` but the `#[iteration]` one,
    /// elided lifetimes made `'static`.
    pub(crate) args: Vec<Type>,
    /// The argument marked `#[iteration]`, if any.
    pub(crate) iteration: Option<IterationArgument>,
    /// The return type (`()` when none is written), elided lifetimes made
    /// `'static`.
    pub(crate) output: Type,
}

/// The argument marked `#[iteration]`.
pub(crate) struct IterationArgument {
    /// Where it is among the arguments after `self`.
    pub(crate) position: usize,
    /// Its type as written, elided lifetimes made `'static`; whether it is
    /// `tasks::Iteration` is for the compiler to check.
    pub(crate) ty: Type,
}

/// A function's body as written, braces included, not parsed.
pub(crate) struct Body {
    brace: token::Brace,
    tokens: TokenStream,
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.brace
            .surround(tokens, |inside| self.tokens.to_tokens(inside));
    }
}

/// The receiver of a loop method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReceiverForm {
    /// `self: Arc<Self>`.
    ArcSelf,
    /// Something else, reported.
    Replaced,
}

/// A function, read up to its body.
struct MaybeFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: Body,
}

impl Parse for MaybeFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let tokens = content.parse()?;
        Ok(MaybeFn {
            attrs,
            vis,
            sig,
            body: Body { brace, tokens },
        })
    }
}

/// Reads the item, recording each problem in `ctxt`.
pub(crate) fn parse(tokens: TokenStream, ctxt: &Ctxt) -> Input {
    let function: MaybeFn = match syn::parse2(tokens.clone()) {
        Ok(function) => function,
        Err(_) => {
            not_a_function(&tokens, ctxt);
            return Input::Other(tokens);
        }
    };
    if is_generic(&function.sig, ctxt) {
        return Input::Other(tokens);
    }
    let MaybeFn {
        attrs,
        vis,
        mut sig,
        body,
    } = function;
    fix_qualifiers(&mut sig, ctxt);
    let receiver = match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => Some(receiver_form(receiver, ctxt)),
        _ => None,
    };
    let iteration = take_iteration_mark(&mut sig, ctxt);
    let args = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(static_lifetimes(&typed.ty)),
            FnArg::Receiver(_) => None,
        })
        .enumerate()
        .filter(|(position, _)| iteration.as_ref().is_none_or(|it| it.position != *position))
        .map(|(_, ty)| ty)
        .collect();
    let output = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => static_lifetimes(ty),
    };
    let (loop_attrs, body_attrs) = split_attrs(attrs);
    Input::Loop(Box::new(LoopItem {
        loop_attrs,
        body_attrs,
        vis,
        sig,
        body,
        receiver,
        args,
        iteration,
        output,
    }))
}

/// Finds the argument marked `#[iteration]` and takes the mark off the
/// signature; reports a mark with arguments, on `self` or on a second
/// argument, and an argument of a type named `Iteration` left unmarked.
fn take_iteration_mark(sig: &mut Signature, ctxt: &Ctxt) -> Option<IterationArgument> {
    let mut found: Option<IterationArgument> = None;
    let mut position = 0;
    for input in &mut sig.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                for mark in take_marks(&mut receiver.attrs) {
                    ctxt.error_spanned_by(
                        mark,
                        "`#[iteration]` goes on the argument of type `tasks::Iteration`, not on \
                         `self`: move it to that argument",
                    );
                }
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let marks = take_marks(&mut typed.attrs);
        for (nth, mark) in marks.iter().enumerate() {
            check_mark_alone(mark, ctxt);
            if nth > 0 {
                ctxt.error_spanned_by(mark, "`#[iteration]` is written twice: remove this one");
            } else if found.is_some() {
                ctxt.error_spanned_by(
                    mark,
                    "only one argument takes the iteration: remove this `#[iteration]`",
                );
            }
        }
        if !marks.is_empty() && found.is_none() {
            found = Some(IterationArgument {
                position,
                ty: static_lifetimes(&typed.ty),
            });
        } else if marks.is_empty() && names_iteration(&typed.ty) {
            ctxt.error_spanned_by(
                &typed.ty,
                "the loop gives a body its iteration only through an argument marked \
                 `#[iteration]`: write `#[iteration]` before this argument",
            );
        }
        position += 1;
    }
    found
}

/// Takes the `#[iteration]` marks out of `attrs`.
fn take_marks(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (marks, others) = std::mem::take(attrs)
        .into_iter()
        .partition(|attr| attr.path().is_ident("iteration"));
    *attrs = others;
    marks
}

/// Reports what follows `#[iteration` in a mark that has more.
fn check_mark_alone(mark: &Attribute, ctxt: &Ctxt) {
    let message = "`#[iteration]` takes no arguments: write `#[iteration]` alone";
    match &mark.meta {
        Meta::Path(_) => {}
        Meta::List(list) => ctxt.error_at(list.delimiter.span().join(), message),
        Meta::NameValue(pair) => {
            let (eq, value) = (pair.eq_token, &pair.value);
            ctxt.error_spanned_by(quote::quote!(#eq #value), message);
        }
    }
}

/// Whether `ty` is written as a type named `Iteration` (`Iteration`,
/// `tasks::Iteration`), which a forgotten `#[iteration]` leaves among the
/// loop's arguments.
fn names_iteration(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Iteration" && last.arguments.is_none())
}

/// Reports an item that is not a function with a body, on its keyword.
fn not_a_function(tokens: &TokenStream, ctxt: &Ctxt) {
    let Ok(item) = syn::parse2::<Item>(tokens.clone()) else {
        // Not an item at all: a syntax error, which the compiler reports on
        // its exact token when it reads the tokens back unchanged; a report
        // here would only repeat it.
        return;
    };
    let (what, keyword) = match item {
        Item::Struct(item) => ("a struct", item.struct_token.into_token_stream()),
        Item::Enum(item) => ("an enum", item.enum_token.into_token_stream()),
        Item::Union(item) => ("a union", item.union_token.into_token_stream()),
        Item::Const(item) => ("a const", item.const_token.into_token_stream()),
        Item::Static(item) => ("a static", item.static_token.into_token_stream()),
        Item::Mod(item) => ("a module", item.mod_token.into_token_stream()),
        Item::Impl(item) => ("an impl block", item.impl_token.into_token_stream()),
        Item::Trait(item) => ("a trait", item.trait_token.into_token_stream()),
        Item::Type(item) => ("a type alias", item.type_token.into_token_stream()),
        Item::Use(item) => ("a use declaration", item.use_token.into_token_stream()),
        Item::Macro(item) => ("a macro", item.mac.path.into_token_stream()),
        _ => {
            ctxt.error_spanned_by(
                tokens,
                "`#[loop]` goes on an `async fn` with a body: put it on the function the loop runs",
            );
            return;
        }
    };
    ctxt.error_spanned_by(
        keyword,
        format!(
            "`#[loop]` goes on an `async fn`, not on {what}: put it on the function the loop runs"
        ),
    );
}

/// Reports generic parameters, a `where` clause and `impl Trait`
/// arguments; whether there were any.
fn is_generic(sig: &Signature, ctxt: &Ctxt) -> bool {
    let mut generic = false;
    if !sig.generics.params.is_empty() {
        generic = true;
        ctxt.error_spanned_by(
            &sig.generics,
            "a loop cannot be generic: it is a single value, so give its arguments concrete types",
        );
    }
    if let Some(clause) = &sig.generics.where_clause {
        generic = true;
        ctxt.error_spanned_by(
            clause,
            "a loop cannot have a `where` clause: it is a single value, so give its arguments \
             concrete types",
        );
    }
    struct ImplTrait<'a> {
        ctxt: &'a Ctxt,
        found: bool,
    }
    impl Visit<'_> for ImplTrait<'_> {
        fn visit_type_impl_trait(&mut self, ty: &TypeImplTrait) {
            self.found = true;
            self.ctxt.error_spanned_by(
                ty,
                "a loop argument cannot be `impl Trait`: the loop is a single value, so give \
                 a concrete type",
            );
        }
    }
    let mut impl_trait = ImplTrait { ctxt, found: false };
    for arg in &sig.inputs {
        if let FnArg::Typed(typed) = arg {
            impl_trait.visit_type(&typed.ty);
        }
    }
    generic || impl_trait.found
}

/// Reports and removes `const`, `unsafe` and an ABI; reports and adds a
/// missing `async`.
fn fix_qualifiers(sig: &mut Signature, ctxt: &Ctxt) {
    if let Some(constness) = sig.constness.take() {
        ctxt.error_spanned_by(constness, "a loop cannot run a `const fn`: remove `const`");
    }
    if let Some(unsafety) = sig.unsafety.take() {
        ctxt.error_spanned_by(
            unsafety,
            "a loop cannot run an `unsafe fn`: remove `unsafe`, and use an `unsafe` block inside",
        );
    }
    if let Some(abi) = sig.abi.take() {
        ctxt.error_spanned_by(abi, "a loop cannot run an `extern` fn: remove the ABI");
    }
    if sig.asyncness.is_none() {
        ctxt.error_spanned_by(
            sig.fn_token,
            "a loop runs an `async fn`: add `async` before `fn`",
        );
        sig.asyncness = Some(Token![async](sig.fn_token.span));
    }
}

/// Whether a method's receiver is `self: Arc<Self>`; reported if not.
fn receiver_form(receiver: &Receiver, ctxt: &Ctxt) -> ReceiverForm {
    if receiver.reference.is_none() && receiver.colon_token.is_some() && is_arc_self(&receiver.ty) {
        return ReceiverForm::ArcSelf;
    }
    ctxt.error_spanned_by(
        receiver,
        "a loop method must take `self: Arc<Self>`: its loop runs in the background, beyond \
         any borrow of `self`, and gets the instance's `Arc` for every iteration",
    );
    ReceiverForm::Replaced
}

/// `Arc<Self>`, under any path that ends in `Arc`.
fn is_arc_self(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    path.qself.is_none()
        && last.ident == "Arc"
        && args.args.len() == 1
        && matches!(args.args.first(), Some(GenericArgument::Type(Type::Path(inner)))
            if inner.qself.is_none() && inner.path.is_ident("Self"))
}

/// The type with `&T` and `'_` made `'static`: the arguments and the
/// return value of a loop live as long as the loop, which a `static`
/// (or the instance) holds.
fn static_lifetimes(ty: &Type) -> Type {
    struct MakeStatic;
    impl VisitMut for MakeStatic {
        fn visit_type_reference_mut(&mut self, reference: &mut TypeReference) {
            if reference.lifetime.is_none() {
                reference.lifetime = Some(Lifetime::new("'static", reference.and_token.span));
            }
            syn::visit_mut::visit_type_reference_mut(self, reference);
        }
        fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
            if lifetime.ident == "_" {
                *lifetime = Lifetime::new("'static", lifetime.apostrophe);
            }
        }
        // Elision inside `fn(&T)` and `Fn(&T)` means something else: leave
        // it alone.
        fn visit_type_bare_fn_mut(&mut self, _: &mut syn::TypeBareFn) {}
        fn visit_parenthesized_generic_arguments_mut(
            &mut self,
            _: &mut syn::ParenthesizedGenericArguments,
        ) {
        }
    }
    let mut ty = ty.clone();
    MakeStatic.visit_type_mut(&mut ty);
    ty
}

/// Splits the attributes between the loop (docs, `cfg`, `deprecated`,
/// lints) and the body function (everything but docs and `deprecated`).
fn split_attrs(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    let mut loop_attrs = Vec::new();
    let mut body_attrs = Vec::new();
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("doc") || path.is_ident("deprecated") {
            loop_attrs.push(attr);
        } else if ["cfg", "allow", "warn", "deny", "forbid"]
            .iter()
            .any(|name| path.is_ident(name))
        {
            loop_attrs.push(attr.clone());
            body_attrs.push(attr);
        } else {
            body_attrs.push(attr);
        }
    }
    (loop_attrs, body_attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_all(tokens: TokenStream) -> (Input, Vec<String>) {
        let ctxt = Ctxt::new();
        let input = parse(tokens, &ctxt);
        (input, ctxt.finish())
    }

    fn parse_ok(tokens: TokenStream) -> LoopItem {
        let (Input::Loop(item), errors) = parse_all(tokens) else {
            panic!("not a loop")
        };
        assert!(errors.is_empty(), "{errors:?}");
        *item
    }

    #[test]
    fn elided_lifetimes_become_static() {
        let item = parse_ok(quote!(
            async fn f(a: &str, b: Cow<'_, str>, c: fn(&u8)) {}
        ));
        let args: Vec<String> = item
            .args
            .iter()
            .map(|t| t.to_token_stream().to_string())
            .collect();
        assert_eq!(
            args,
            ["& 'static str", "Cow < 'static , str >", "fn (& u8)"]
        );
        assert_eq!(item.output.to_token_stream().to_string(), "()");
    }

    #[test]
    fn a_body_that_does_not_parse_is_kept_as_written() {
        let item = parse_ok(quote!(
            async fn f(n: u32) -> u32 { let x = ; n + }
        ));
        assert_eq!(item.body.to_token_stream().to_string(), "{ let x = ; n + }");
        assert_eq!(item.args.len(), 1);
    }

    #[test]
    fn a_method_needs_arc_self() {
        let item = parse_ok(quote!(
            async fn f(self: std::sync::Arc<Self>, n: u32) {}
        ));
        assert_eq!(item.receiver, Some(ReceiverForm::ArcSelf));
        assert_eq!(item.args.len(), 1);
        for receiver in [
            quote!(&self),
            quote!(self),
            quote!(self: Box<Self>),
            quote!(self: Arc<u8>),
        ] {
            let (input, errors) = parse_all(quote!(async fn f(#receiver) {}));
            assert!(
                matches!(input, Input::Loop(item) if item.receiver == Some(ReceiverForm::Replaced))
            );
            assert_eq!(errors.len(), 1, "{receiver}: {errors:?}");
        }
    }

    #[test]
    fn qualifiers_are_reported_and_fixed() {
        let (Input::Loop(item), errors) = parse_all(quote!(
            unsafe fn f() {}
        )) else {
            panic!("not a loop")
        };
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(item.sig.asyncness.is_some() && item.sig.unsafety.is_none());
    }

    #[test]
    fn generic_functions_and_other_items_are_left_alone() {
        for tokens in [
            quote!(
                async fn f<T>(t: T) {}
            ),
            quote!(
                async fn f(t: impl Send) {}
            ),
            quote!(
                struct S;
            ),
            quote!(
                async fn f();
            ),
        ] {
            let (input, errors) = parse_all(tokens);
            assert!(matches!(input, Input::Other(_)));
            assert_eq!(errors.len(), 1, "{errors:?}");
        }
    }

    #[test]
    fn the_iteration_argument_is_taken_out_of_the_loop_s_arguments() {
        let item = parse_ok(quote!(
            async fn f(a: u8, #[iteration] it: tasks::Iteration, b: &str) {}
        ));
        let args: Vec<String> = item
            .args
            .iter()
            .map(|t| t.to_token_stream().to_string())
            .collect();
        assert_eq!(args, ["u8", "& 'static str"]);
        let iteration = item.iteration.expect("marked");
        assert_eq!(iteration.position, 1);
        assert_eq!(
            iteration.ty.to_token_stream().to_string(),
            "tasks :: Iteration"
        );
        assert!(!item.sig.to_token_stream().to_string().contains("# ["));
    }

    #[test]
    fn misplaced_iteration_marks_are_reported() {
        for (tokens, expected) in [
            (
                quote!(
                    async fn f(#[iteration] a: Iteration, #[iteration] b: Iteration) {}
                ),
                "only one argument",
            ),
            (
                quote!(
                    async fn f(#[iteration(now)] a: Iteration) {}
                ),
                "takes no arguments",
            ),
            (
                quote!(
                    async fn f(#[iteration = 1] a: Iteration) {}
                ),
                "takes no arguments",
            ),
            (
                quote!(
                    async fn f(
                        #[iteration]
                        #[iteration]
                        a: Iteration,
                    ) {
                    }
                ),
                "written twice",
            ),
            (
                quote!(
                    async fn f(#[iteration] self: Arc<Self>) {}
                ),
                "not on `self`",
            ),
            (
                quote!(
                    async fn f(a: tasks::Iteration) {}
                ),
                "marked",
            ),
        ] {
            let (_, errors) = parse_all(tokens.clone());
            assert_eq!(errors.len(), 1, "{tokens}: {errors:?}");
            assert!(errors[0].contains(expected), "{tokens}: {errors:?}");
        }
    }

    #[test]
    fn a_signature_that_does_not_parse_is_left_to_the_compiler() {
        let tokens = quote!(
            async fn f(n: ) {}
        );
        let (input, errors) = parse_all(tokens.clone());
        assert!(matches!(input, Input::Other(other) if other.to_string() == tokens.to_string()));
        assert!(errors.is_empty(), "{errors:?}");
    }
}
