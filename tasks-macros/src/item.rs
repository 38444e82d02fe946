//! Parsing the annotated item: an `async fn`, free or a method that takes
//! `self: Arc<Self>`.
//!
//! A problem with the signature is reported on its token and, where the
//! intent is clear (a missing `async`, a stray `unsafe`, a borrowed
//! `self`), fixed in the output so that the loop is still generated and no
//! follow-on error appears. Items that cannot become a loop (not a
//! function, a generic function) are emitted unchanged.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, Block, FnArg, GenericArgument, Item, ItemFn, Lifetime, PathArguments, Receiver,
    ReturnType, Signature, Token, Type, TypeImplTrait, TypeReference, Visibility,
};

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
    pub(crate) outer_attrs: Vec<Attribute>,
    /// Attributes for the body function: everything but docs.
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// The signature, made `async`, without `const`, `unsafe` or an ABI.
    pub(crate) sig: Signature,
    pub(crate) block: Box<Block>,
    /// For a method: whether its receiver is `self: Arc<Self>` as written
    /// (if not, it was reported, and the output uses that form).
    pub(crate) method: Option<ReceiverForm>,
    /// The types of the arguments after `self`, elided lifetimes made
    /// `'static`.
    pub(crate) args: Vec<Type>,
    /// The return type (`()` when none is written), elided lifetimes made
    /// `'static`.
    pub(crate) output: Type,
}

/// The receiver of a loop method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiverForm {
    /// `self: Arc<Self>`.
    ArcSelf,
    /// Something else, reported.
    Replaced,
}

/// Parses the item, pushing each problem onto `errors`.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Vec<syn::Error>) -> Input {
    let item: ItemFn = match syn::parse2(tokens.clone()) {
        Ok(item) => item,
        Err(_) => {
            errors.push(not_a_function(&tokens));
            return Input::Other(tokens);
        }
    };
    if is_generic(&item.sig, errors) {
        return Input::Other(tokens);
    }
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = item;
    fix_qualifiers(&mut sig, errors);
    let method = match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => Some(receiver_form(receiver, errors)),
        _ => None,
    };
    let args = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(static_lifetimes(&typed.ty)),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let output = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => static_lifetimes(ty),
    };
    let (outer_attrs, inner_attrs) = split_attrs(attrs);
    Input::Loop(Box::new(LoopItem {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        block,
        method,
        args,
        output,
    }))
}

/// The error for an item that is not a function, on its keyword.
fn not_a_function(tokens: &TokenStream) -> syn::Error {
    let (what, at) =
        match syn::parse2::<Item>(tokens.clone()) {
            Ok(Item::Struct(item)) => ("a struct", item.struct_token.into_token_stream()),
            Ok(Item::Enum(item)) => ("an enum", item.enum_token.into_token_stream()),
            Ok(Item::Union(item)) => ("a union", item.union_token.into_token_stream()),
            Ok(Item::Const(item)) => ("a const", item.const_token.into_token_stream()),
            Ok(Item::Static(item)) => ("a static", item.static_token.into_token_stream()),
            Ok(Item::Mod(item)) => ("a module", item.mod_token.into_token_stream()),
            Ok(Item::Impl(item)) => ("an impl block", item.impl_token.into_token_stream()),
            Ok(Item::Trait(item)) => ("a trait", item.trait_token.into_token_stream()),
            Ok(Item::Type(item)) => ("a type alias", item.type_token.into_token_stream()),
            Ok(Item::Use(item)) => ("a use declaration", item.use_token.into_token_stream()),
            Ok(Item::Macro(item)) => ("a macro", item.mac.path.into_token_stream()),
            _ => return syn::Error::new_spanned(
                tokens,
                "`#[loop]` goes on an `async fn` with a body: put it on the function the loop runs",
            ),
        };
    syn::Error::new_spanned(
        at,
        format!(
            "`#[loop]` goes on an `async fn`, not on {what}: put it on the function the loop runs"
        ),
    )
}

/// Reports generic parameters, a `where` clause and `impl Trait`
/// arguments; whether there were any.
fn is_generic(sig: &Signature, errors: &mut Vec<syn::Error>) -> bool {
    let before = errors.len();
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a loop cannot be generic: it is a single value, so give its arguments concrete types",
        ));
    }
    if let Some(clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            clause,
            "a loop cannot have a `where` clause: it is a single value, so give its arguments \
             concrete types",
        ));
    }
    struct ImplTrait<'a>(&'a mut Vec<syn::Error>);
    impl Visit<'_> for ImplTrait<'_> {
        fn visit_type_impl_trait(&mut self, ty: &TypeImplTrait) {
            self.0.push(syn::Error::new_spanned(
                ty,
                "a loop argument cannot be `impl Trait`: the loop is a single value, so give \
                 a concrete type",
            ));
        }
    }
    for arg in &sig.inputs {
        if let FnArg::Typed(typed) = arg {
            ImplTrait(errors).visit_type(&typed.ty);
        }
    }
    errors.len() != before
}

/// Reports and removes `const`, `unsafe` and an ABI; reports and adds a
/// missing `async`.
fn fix_qualifiers(sig: &mut Signature, errors: &mut Vec<syn::Error>) {
    if let Some(constness) = sig.constness.take() {
        errors.push(syn::Error::new_spanned(
            constness,
            "a loop cannot run a `const fn`: remove `const`",
        ));
    }
    if let Some(unsafety) = sig.unsafety.take() {
        errors.push(syn::Error::new_spanned(
            unsafety,
            "a loop cannot run an `unsafe fn`: remove `unsafe`, and use an `unsafe` block inside",
        ));
    }
    if let Some(abi) = sig.abi.take() {
        errors.push(syn::Error::new_spanned(
            abi,
            "a loop cannot run an `extern` fn: remove the ABI",
        ));
    }
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "a loop runs an `async fn`: add `async` before `fn`",
        ));
        sig.asyncness = Some(Token![async](sig.fn_token.span));
    }
}

/// Whether a method's receiver is `self: Arc<Self>`; reported if not.
fn receiver_form(receiver: &Receiver, errors: &mut Vec<syn::Error>) -> ReceiverForm {
    if receiver.reference.is_none() && receiver.colon_token.is_some() && is_arc_self(&receiver.ty) {
        return ReceiverForm::ArcSelf;
    }
    errors.push(syn::Error::new_spanned(
        receiver,
        "a loop method must take `self: Arc<Self>`: its loop runs in the background, beyond \
         any borrow of `self`, and gets the instance's `Arc` for every iteration",
    ));
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
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("doc") || path.is_ident("deprecated") {
            outer.push(attr);
        } else if ["cfg", "allow", "warn", "deny", "forbid"]
            .iter()
            .any(|name| path.is_ident(name))
        {
            outer.push(attr.clone());
            inner.push(attr);
        } else {
            inner.push(attr);
        }
    }
    (outer, inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_ok(tokens: TokenStream) -> LoopItem {
        let mut errors = Vec::new();
        let Input::Loop(item) = parse(tokens, &mut errors) else {
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
    fn a_method_needs_arc_self() {
        let item = parse_ok(quote!(
            async fn f(self: std::sync::Arc<Self>, n: u32) {}
        ));
        assert!(item.method == Some(ReceiverForm::ArcSelf));
        assert_eq!(item.args.len(), 1);
        let mut errors = Vec::new();
        for receiver in [
            quote!(&self),
            quote!(self),
            quote!(self: Box<Self>),
            quote!(self: Arc<u8>),
        ] {
            parse(quote!(async fn f(#receiver) {}), &mut errors);
        }
        assert_eq!(errors.len(), 4);
    }

    #[test]
    fn qualifiers_are_reported_and_fixed() {
        let mut errors = Vec::new();
        let Input::Loop(item) = parse(
            quote!(
                unsafe fn f() {}
            ),
            &mut errors,
        ) else {
            panic!("not a loop")
        };
        assert_eq!(errors.len(), 2);
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
        ] {
            let mut errors = Vec::new();
            assert!(matches!(parse(tokens, &mut errors), Input::Other(_)));
            assert_eq!(errors.len(), 1);
        }
    }
}
