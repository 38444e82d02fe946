//! Code generation: a free `async fn` becomes a lazily built `static`, a
//! method becomes a per-instance accessor and a hidden body.
//!
//! The generated code names only `::core` and `<crate>::__private` (the
//! facade's, or the one `crate = "..."` points at). Its own bindings
//! (`__args`, `__builder`, ...) are `Span::mixed_site()`, so the body can
//! neither see nor shadow them.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::{FnArg, Ident, Index, Type};

use crate::args::Args;
use crate::item::{self, Input, LoopItem, ReceiverForm};
use crate::validate::{self, Config};

/// The attribute: parses, checks, generates; every error is reported, next
/// to the generated item.
pub(crate) fn r#loop(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args = match syn::parse2::<Args>(args) {
        Ok(mut args) => {
            errors.append(&mut args.errors);
            args
        }
        Err(error) => {
            errors.push(error);
            Args::default()
        }
    };
    let config = validate::config(args, &mut errors);
    let mut output = match item::parse(item, &mut errors) {
        Input::Loop(item) if item.method.is_some() => method_loop(&item, &config),
        Input::Loop(item) => static_loop(&item, &config),
        Input::Other(tokens) => tokens,
    };
    if let Some(error) = errors.into_iter().reduce(|mut all, next| {
        all.combine(next);
        all
    }) {
        output.extend(error.to_compile_error());
    }
    output
}

/// `async fn announce(channel: Channel) -> R { ... }` becomes
/// `static announce: LazyLock<LoopFn<Channel, R>>`, the body a function
/// inside its initializer.
fn static_loop(item: &LoopItem, config: &Config) -> TokenStream {
    let LoopItem {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        block,
        args,
        output,
        ..
    } = item;
    let ident = &sig.ident;
    let span = Span::mixed_site().located_at(ident.span());
    let private = private_path(config, span);
    let body = Ident::new("__tasks_body", span);
    let mut body_sig = sig.clone();
    body_sig.ident = body.clone();
    let args_type = args_type(args);
    let call = call_args(args.len(), span);
    let fn_name = ident.unraw().to_string();
    let default_name = quote_spanned!(span=>
        ::core::concat!(::core::module_path!(), "::", #fn_name)
    );
    let setters = setters(config, &private, default_name, span);
    quote_spanned! {span=>
        #(#outer_attrs)*
        #[allow(non_upper_case_globals)]
        #vis static #ident: #private::LazyLock<#private::LoopFn<#args_type, #output>> =
            #private::LazyLock::new(|| {
                // The attribute requires `async`, awaited or not.
                #[allow(clippy::unused_async)]
                #(#inner_attrs)*
                #body_sig #block

                #private::build_validated(
                    #private::LoopFn::new(
                        |__args: #args_type| #body(#(#call),*),
                        |__builder| __builder #setters .build(),
                    ),
                    #fn_name,
                )
            });
    }
}

/// `async fn counter_loop(self: Arc<Self>, ...) -> R { ... }` becomes the
/// accessor `fn counter_loop(self: &Arc<Self>) -> &LoopFn<A, R>`, which
/// makes the loop once per instance and keeps it in the instance's
/// `counter_loop: LoopSlot<A, R>` field, and the body, renamed and hidden.
fn method_loop(item: &LoopItem, config: &Config) -> TokenStream {
    let LoopItem {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        block,
        method,
        args,
        output,
    } = item;
    let ident = &sig.ident;
    let span = Span::mixed_site().located_at(ident.span());
    let private = private_path(config, span);
    let hidden = format_ident!("__tasks_loop_{}", ident.unraw(), span = ident.span());
    let mut body_sig = sig.clone();
    body_sig.ident = hidden.clone();
    if *method == Some(ReceiverForm::Replaced) {
        if let Some(first) = body_sig.inputs.first_mut() {
            if let FnArg::Receiver(receiver) = &*first {
                // The body's `self` keeps the user's span, so that its uses
                // of `self` still refer to it.
                let (mutability, self_token) = (receiver.mutability, receiver.self_token);
                *first = syn::parse_quote!(#mutability #self_token: #private::Arc<Self>);
            }
        }
    }
    let args_type = args_type(args);
    let call = call_args(args.len(), span);
    let fn_name = ident.unraw().to_string();
    let default_name = quote_spanned!(span=> #private::method_name::<Self>(#fn_name));
    let setters = setters(config, &private, default_name, span);
    // The slot is taken with a struct pattern, on the method's name: a
    // missing field reads "struct `X` does not have a field named `y`".
    let field = Ident::new(&fn_name, span);
    let accessor = quote_spanned! {span=>
        #(#outer_attrs)*
        #vis fn #ident(self: &#private::Arc<Self>) -> &#private::LoopFn<#args_type, #output> {
            let Self { #field: __slot, .. } = &**self;
            let __weak = #private::Arc::downgrade(self);
            #private::LoopSlot::get_or_init(__slot, move || {
                #private::build_validated(
                    #private::LoopFn::new(
                        move |__args: #args_type| {
                            let __this = #private::Weak::upgrade(&__weak);
                            async move {
                                match __this {
                                    ::core::option::Option::Some(__this) => {
                                        Self::#hidden(__this #(, #call)*).await
                                    }
                                    ::core::option::Option::None => {
                                        <#output as #private::Skipped>::skipped()
                                    }
                                }
                            }
                        },
                        |__builder| __builder #setters .build(),
                    ),
                    #fn_name,
                )
            })
        }
    };
    quote! {
        #accessor

        #[doc(hidden)]
        #[allow(clippy::unused_async)]
        #(#inner_attrs)*
        #body_sig #block
    }
}

/// `<crate>::__private`.
fn private_path(config: &Config, span: Span) -> TokenStream {
    match &config.krate {
        Some(path) => quote_spanned!(span=> #path::__private),
        None => quote_spanned!(span=> ::tasks::__private),
    }
}

/// The loop's argument type: `()`, the one type, or a tuple.
fn args_type(args: &[Type]) -> TokenStream {
    match args {
        [] => quote!(()),
        [one] => one.to_token_stream(),
        many => quote!((#(#many),*)),
    }
}

/// The body's arguments taken out of `__args`.
fn call_args(count: usize, span: Span) -> Vec<TokenStream> {
    let args = Ident::new("__args", span);
    match count {
        0 => Vec::new(),
        1 => vec![args.to_token_stream()],
        _ => (0..count)
            .map(|i| {
                let index = Index {
                    index: i as u32,
                    span,
                };
                quote_spanned!(span=> #args.#index)
            })
            .collect(),
    }
}

/// The builder calls for the checked arguments.
fn setters(
    config: &Config,
    private: &TokenStream,
    default_name: TokenStream,
    span: Span,
) -> TokenStream {
    let mut setters = TokenStream::new();
    for (setter, value) in [
        ("seconds", config.seconds),
        ("minutes", config.minutes),
        ("hours", config.hours),
    ] {
        if let Some(value) = value {
            let setter = Ident::new(setter, span);
            let value = Literal::f64_suffixed(value);
            setters.extend(quote_spanned!(span=> .#setter(#value)));
        }
    }
    if let Some(times) = config.times.as_ref().filter(|times| !times.is_empty()) {
        let times = times.iter().map(|time| match &config.tz {
            Some(tz) => quote_spanned!(span=> #private::TimeOfDay::parse_in(#time, #tz)?),
            None => quote_spanned!(span=> #private::TimeOfDay::parse(#time)?),
        });
        setters.extend(quote_spanned!(span=> .times([#(#times),*])));
    }
    if let Some(count) = config.count {
        let count = Literal::u64_suffixed(count);
        setters.extend(quote_spanned!(span=> .count(#count)));
    }
    if let Some(reconnect) = &config.reconnect {
        setters.extend(quote_spanned!(span=> .reconnect(#reconnect)));
    }
    let name = match &config.name {
        Some(name) => name.to_token_stream(),
        None => default_name,
    };
    setters.extend(quote_spanned!(span=> .name(#name)));
    setters
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first segment of every absolute path (`::x::...`) in `tokens`.
    fn roots(tokens: &TokenStream) -> Vec<String> {
        let text = tokens
            .to_string()
            .replace(['(', ')', '[', ']', '{', '}'], " ");
        let words: Vec<&str> = text.split_whitespace().collect();
        let is_path_end = |w: &str| w == ">" || w.chars().all(|c| c.is_alphanumeric() || c == '_');
        (0..words.len().saturating_sub(1))
            .filter(|&i| words[i] == "::" && (i == 0 || !is_path_end(words[i - 1])))
            .map(|i| words[i + 1].to_owned())
            .collect()
    }

    #[test]
    fn generated_code_names_only_core_and_the_private_module() {
        let free = r#loop(
            quote!(seconds = 1, count = 2),
            quote!(
                async fn tick(a: u8, b: u8) -> Result<(), E> {}
            ),
        );
        let method = r#loop(
            quote!(time = ["08:00"], tz = "UTC"),
            quote!(
                async fn tick(self: Arc<Self>) {}
            ),
        );
        for output in [free, method] {
            let roots = roots(&output);
            assert!(
                roots.iter().all(|r| r == "core" || r == "tasks"),
                "{roots:?}"
            );
            let text = output.to_string();
            for (at, _) in text.match_indices(":: tasks ::") {
                assert!(text[at..].starts_with(":: tasks :: __private ::"), "{text}");
            }
        }
    }

    #[test]
    fn a_renamed_crate_replaces_every_path_to_tasks() {
        for item in [
            quote!(
                async fn tick(n: u32) {}
            ),
            quote!(
                async fn tick(self: Arc<Self>) {}
            ),
        ] {
            let output = r#loop(quote!(crate = "my_tasks", time = "08:00", tz = "UTC"), item);
            assert!(roots(&output).iter().all(|r| r == "core"), "{output}");
            assert!(output
                .to_string()
                .contains("my_tasks :: __private :: LoopFn"));
        }
    }

    #[test]
    fn several_arguments_become_a_tuple() {
        let output = r#loop(
            quote!(),
            quote!(
                async fn tick(a: u8, b: &str) {}
            ),
        )
        .to_string();
        assert!(
            output.contains("LoopFn < (u8 , & 'static str) , () >"),
            "{output}"
        );
        assert!(
            output.contains("__tasks_body (__args . 0 , __args . 1)"),
            "{output}"
        );
    }

    #[test]
    fn bad_arguments_still_emit_the_loop() {
        let output = r#loop(
            quote!(count = 0, secs = 1),
            quote!(
                async fn tick() {}
            ),
        )
        .to_string();
        assert!(output.contains("static tick"), "{output}");
        assert_eq!(output.matches("compile_error").count(), 2, "{output}");
    }
}
