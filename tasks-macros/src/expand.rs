//! Code generation: a free `async fn` becomes a lazily built `static`, a
//! method becomes a per-instance accessor and a hidden body.
//!
//! The generated code names only `::core` and `<crate>::__private` (the
//! facade's, or the one `crate = "..."` points at). Its own bindings
//! (`__args`, `__builder`, ...) are `Span::mixed_site()`, so the body can
//! neither see nor shadow them. The arguments arrive as typed values
//! (`TimeOfDay::new(8, 0, 0)`, `tz::Asia::Seoul`): nothing is parsed again
//! at run time.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Index, Signature};

use crate::args;
use crate::ctxt::Ctxt;
use crate::input::{self, Input, IterationArgument, LoopItem, ReceiverForm};
use crate::validate::{self, Config, Time};
use crate::zone::Zone;

/// The attribute: reads the arguments and the function, checks them,
/// generates the loop; every error is reported, next to the generated
/// item.
pub(crate) fn r#loop(args: TokenStream, item: TokenStream) -> TokenStream {
    let ctxt = Ctxt::new();
    let args = args::parse(args, &ctxt);
    let config = validate::config(args, &ctxt);
    let mut output = match input::parse(item, &ctxt) {
        Input::Loop(item) if item.receiver.is_some() => method_loop(&item, &config),
        Input::Loop(item) => static_loop(&item, &config),
        Input::Other(tokens) => tokens,
    };
    output.extend(ctxt.into_compile_errors());
    output
}

/// What both forms of loop are made from: the body function, renamed, and
/// the names and types around it.
struct Prologue {
    /// The span of the generated code: the function's name, with
    /// `mixed_site` hygiene.
    span: Span,
    /// `<crate>::__private`.
    private: TokenStream,
    /// The signature of the body function, which each form renames.
    body_sig: Signature,
    /// The loop's argument type: `()`, the one type, or a tuple.
    args_type: TokenStream,
    /// The body's arguments taken out of `__args`, and its iteration
    /// (`__iteration`) where it takes one.
    call_args: Vec<TokenStream>,
    /// The parameters of the closure the loop calls: `__args: A`, and
    /// `__iteration` for a body that takes its iteration.
    closure_params: TokenStream,
    /// `LoopFn::new`, or `LoopFn::with_iteration` for a body that takes its
    /// iteration.
    constructor: Ident,
    /// The function's name, unraw.
    fn_name: String,
}

impl Prologue {
    fn new(item: &LoopItem, config: &Config) -> Prologue {
        let ident = &item.sig.ident;
        let span = Span::mixed_site().located_at(ident.span());
        let private = match &config.krate {
            Some(path) => quote_spanned!(span=> #path::__private),
            None => quote_spanned!(span=> ::tasks::__private),
        };
        let args_type = match item.args.as_slice() {
            [] => quote!(()),
            [one] => one.to_token_stream(),
            many => quote!((#(#many),*)),
        };
        let mut call_args = call_args(item.args.len(), span);
        let iteration = Ident::new("__iteration", span);
        let (closure_params, constructor) = match &item.iteration {
            None => (quote_spanned!(span=> __args: #args_type), "new"),
            Some(IterationArgument { position, ty }) => {
                // Spanned at the type as written: the compiler reports a type
                // other than `Iteration` there.
                let taken = quote_spanned!(ty.span()=>
                    <#ty as #private::IterationArgument>::from_iteration(#iteration)
                );
                call_args.insert((*position).min(call_args.len()), taken);
                (
                    quote_spanned!(span=> __args: #args_type, #iteration: #private::Iteration),
                    "with_iteration",
                )
            }
        };
        Prologue {
            span,
            private,
            body_sig: item.sig.clone(),
            args_type,
            call_args,
            closure_params,
            constructor: Ident::new(constructor, span),
            fn_name: ident.unraw().to_string(),
        }
    }

    /// `LoopFn::new(body, builder)`, built; `default_name` names the loop
    /// unless `name = "..."` does.
    fn build(&self, config: &Config, body: TokenStream, default_name: TokenStream) -> TokenStream {
        let Prologue {
            span,
            private,
            fn_name,
            constructor,
            ..
        } = self;
        let setters = setters(config, private, default_name, *span);
        quote_spanned! {*span=>
            #private::build_validated(
                #private::LoopFn::#constructor(#body, |__builder| __builder #setters .build()),
                #fn_name,
            )
        }
    }
}

/// `async fn announce(channel: Channel) -> R { ... }` becomes
/// `static announce: LazyLock<LoopFn<Channel, R>>`, the body a function
/// inside its initializer.
fn static_loop(item: &LoopItem, config: &Config) -> TokenStream {
    let LoopItem {
        loop_attrs,
        body_attrs,
        vis,
        sig,
        body,
        output,
        ..
    } = item;
    let ident = &sig.ident;
    let mut prologue = Prologue::new(item, config);
    let body_name = Ident::new("__tasks_body", prologue.span);
    prologue.body_sig.ident = body_name.clone();
    let Prologue {
        span,
        private,
        body_sig,
        args_type,
        call_args,
        closure_params,
        fn_name,
        ..
    } = &prologue;
    let default_name = quote_spanned!(*span=>
        ::core::concat!(::core::module_path!(), "::", #fn_name)
    );
    let built = prologue.build(
        config,
        quote_spanned!(*span=> |#closure_params| #body_name(#(#call_args),*)),
        default_name,
    );
    quote_spanned! {*span=>
        #(#loop_attrs)*
        #[allow(non_upper_case_globals)]
        #vis static #ident: #private::LazyLock<#private::LoopFn<#args_type, #output>> =
            #private::LazyLock::new(|| {
                // The attribute requires `async`, awaited or not.
                #[allow(clippy::unused_async)]
                #(#body_attrs)*
                #body_sig #body

                #built
            });
    }
}

/// `async fn counter_loop(self: Arc<Self>, ...) -> R { ... }` becomes
/// the accessor `fn counter_loop(self: &Arc<Self>) -> &LoopFn<A, R>`, which
/// makes the loop once per instance and keeps it in the instance's
/// `counter_loop: LoopSlot<A, R>` field, and the body, renamed and hidden.
fn method_loop(item: &LoopItem, config: &Config) -> TokenStream {
    let LoopItem {
        loop_attrs,
        body_attrs,
        vis,
        sig,
        body,
        receiver,
        output,
        ..
    } = item;
    let ident = &sig.ident;
    let hidden = format_ident!("__tasks_loop_{}", ident.unraw(), span = ident.span());
    let mut prologue = Prologue::new(item, config);
    prologue.body_sig.ident = hidden.clone();
    if *receiver == Some(ReceiverForm::Replaced) {
        replace_receiver(&mut prologue.body_sig, &prologue.private);
    }
    let Prologue {
        span,
        private,
        body_sig,
        args_type,
        call_args,
        closure_params,
        fn_name,
        ..
    } = &prologue;
    let default_name = quote_spanned!(*span=> #private::method_name::<Self>(#fn_name));
    let built = prologue.build(
        config,
        quote_spanned! {*span=>
            move |#closure_params| {
                let __this = #private::Weak::upgrade(&__weak);
                async move {
                    match __this {
                        ::core::option::Option::Some(__this) => {
                            Self::#hidden(__this #(, #call_args)*).await
                        }
                        ::core::option::Option::None => {
                            <#output as #private::Skipped>::skipped()
                        }
                    }
                }
            }
        },
        default_name,
    );
    // The slot is taken with a struct pattern, on the method's name: a
    // missing field reads "struct `X` does not have a field named `y`".
    let mut field = ident.clone();
    field.set_span(*span);
    let accessor = quote_spanned! {*span=>
        #(#loop_attrs)*
        #vis fn #ident(self: &#private::Arc<Self>) -> &#private::LoopFn<#args_type, #output> {
            let Self { #field: __slot, .. } = &**self;
            let __weak = #private::Arc::downgrade(self);
            #private::LoopSlot::get_or_init(__slot, move || #built)
        }
    };
    quote! {
        #accessor

        #[doc(hidden)]
        #[allow(clippy::unused_async)]
        #(#body_attrs)*
        #body_sig #body
    }
}

/// Gives the body the receiver `self: Arc<Self>` in place of the one
/// reported.
fn replace_receiver(body_sig: &mut Signature, private: &TokenStream) {
    if let Some(first) = body_sig.inputs.first_mut() {
        if let FnArg::Receiver(receiver) = &*first {
            // The body's `self` keeps the user's span, so that its uses of
            // `self` still refer to it.
            let (mutability, self_token) = (receiver.mutability, receiver.self_token);
            *first = syn::parse_quote!(#mutability #self_token: #private::Arc<Self>);
        }
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
    let interval = &config.interval;
    for (setter, value) in [
        ("seconds", interval.seconds),
        ("minutes", interval.minutes),
        ("hours", interval.hours),
    ] {
        if let Some(value) = value {
            let setter = Ident::new(setter, span);
            let value = float(value);
            setters.extend(quote_spanned!(span=> .#setter(#value)));
        }
    }
    let in_zone = config.zone.as_ref().map(|zone| {
        let zone = match zone {
            Zone::Iana(path) => quote_spanned!(span=> #private::tz #(::#path)*),
            Zone::Fixed(seconds) => {
                let magnitude = Literal::u32_unsuffixed(seconds.unsigned_abs());
                let minus = (*seconds < 0).then(|| quote_spanned!(span=> -));
                quote_spanned!(span=> #private::Zone::fixed(#minus #magnitude)?)
            }
        };
        quote_spanned!(span=> .in_zone(#zone))
    });
    if !config.times.is_empty() {
        let times = config.times.iter().map(
            |Time {
                 hour,
                 minute,
                 second,
             }| {
                let [hour, minute, second] =
                    [hour, minute, second].map(|n| Literal::u32_unsuffixed(*n));
                quote_spanned!(span=> #private::TimeOfDay::new(#hour, #minute, #second)? #in_zone)
            },
        );
        setters.extend(quote_spanned!(span=> .times([#(#times),*])));
    }
    if let Some(cron) = &config.cron {
        let expression = Literal::string(&cron.value());
        setters.extend(quote_spanned!(span=>
            .interval(#private::Interval::Cron(#private::Cron::parse(#expression)? #in_zone))
        ));
    }
    if let Some(count) = config.count {
        let count = Literal::u64_suffixed(count);
        setters.extend(quote_spanned!(span=> .count(#count)));
    }
    if let Some(reconnect) = config.reconnect {
        setters.extend(quote_spanned!(span=> .reconnect(#reconnect)));
    }
    if let Some(missed) = config.missed {
        let variant = Ident::new(missed.variant(), span);
        setters.extend(quote_spanned!(span=> .missed(#private::MissedTickBehavior::#variant)));
    }
    for (setter, nanos) in [
        ("timeout", config.timeout),
        ("jitter", config.jitter),
        ("grace_period", config.grace_period),
    ] {
        if let Some(nanos) = nanos {
            let setter = Ident::new(setter, span);
            let nanos = Literal::u64_suffixed(nanos);
            setters.extend(quote_spanned!(span=> .#setter(#private::Duration::from_nanos(#nanos))));
        }
    }
    let name = match &config.name {
        Some(name) => name.to_token_stream(),
        None => default_name,
    };
    setters.extend(quote_spanned!(span=> .name(#name)));
    setters
}

/// A finite `f64` (as validation leaves them) as a literal, its sign a
/// separate token.
fn float(value: f64) -> TokenStream {
    let literal = Literal::f64_suffixed(value.abs());
    if value.is_sign_negative() {
        quote!(-#literal)
    } else {
        literal.into_token_stream()
    }
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
        let cron = r#loop(
            quote!(cron = "0 9 * * *", tz = "+09:00"),
            quote!(
                async fn tick(self: Arc<Self>) {}
            ),
        );
        for output in [free, method, cron] {
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
    fn the_iteration_argument_is_filled_in_through_the_private_module() {
        let free = r#loop(
            quote!(seconds = 1),
            quote!(
                async fn tick(a: u8, #[iteration] it: Iteration, b: u8) {}
            ),
        );
        let method = r#loop(
            quote!(seconds = 1),
            quote!(
                async fn tick(self: Arc<Self>, #[iteration] it: Iteration) {}
            ),
        );
        for output in [&free, &method] {
            let roots = roots(output);
            assert!(
                roots.iter().all(|r| r == "core" || r == "tasks"),
                "{roots:?}"
            );
            let text = output.to_string();
            assert!(text.contains("LoopFn :: with_iteration"), "{text}");
            assert!(
                text.contains("__iteration : :: tasks :: __private :: Iteration"),
                "{text}"
            );
            assert!(!text.contains("# [iteration]"), "{text}");
        }
        let free = free.to_string();
        assert!(free.contains("LoopFn < (u8 , u8) , () >"), "{free}");
        assert!(
            free.contains(
                "__tasks_body (__args . 0 , < Iteration as :: tasks :: __private :: \
                 IterationArgument > :: from_iteration (__iteration) , __args . 1)"
            ),
            "{free}"
        );
        let method = method.to_string();
        assert!(method.contains("LoopFn < () , () >"), "{method}");
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
    fn times_and_zones_are_emitted_as_values() {
        for (tz, zone) in [
            ("Asia/Seoul", ":: tasks :: __private :: tz :: Asia :: Seoul"),
            (
                "Etc/GMT+9",
                ":: tasks :: __private :: tz :: Etc :: GMTPlus9",
            ),
            (
                "-05:30",
                ":: tasks :: __private :: Zone :: fixed (- 19800) ?",
            ),
            ("+0100", ":: tasks :: __private :: Zone :: fixed (3600) ?"),
        ] {
            let output = r#loop(
                quote!(time = ["08:00", "20:30:15"], tz = #tz),
                quote!(
                    async fn tick() {}
                ),
            )
            .to_string();
            let times = format!(
                ". times ([:: tasks :: __private :: TimeOfDay :: new (8 , 0 , 0) ? . in_zone ({zone}) , \
                 :: tasks :: __private :: TimeOfDay :: new (20 , 30 , 15) ? . in_zone ({zone})])"
            );
            assert!(output.contains(&times), "{output}");
            assert!(!output.contains("\"08:00\""), "{output}");
        }
    }

    #[test]
    fn cron_is_emitted_as_a_parsed_schedule_in_its_zone() {
        let output = r#loop(
            quote!(cron = "0 30 9 * * MON-FRI", tz = "Asia/Seoul"),
            quote!(
                async fn standup() {}
            ),
        )
        .to_string();
        assert!(
            output.contains(
                ". interval (:: tasks :: __private :: Interval :: Cron (:: tasks :: __private :: \
                 Cron :: parse (\"0 30 9 * * MON-FRI\") ? . in_zone (:: tasks :: __private :: tz \
                 :: Asia :: Seoul)))"
            ),
            "{output}"
        );
        let utc = r#loop(
            quote!(cron = "@daily"),
            quote!(
                async fn nightly() {}
            ),
        )
        .to_string();
        assert!(utc.contains("Cron :: parse (\"@daily\") ?)"), "{utc}");
    }

    #[test]
    fn times_without_a_zone_are_in_utc() {
        let output = r#loop(
            quote!(time = "08:00"),
            quote!(
                async fn tick() {}
            ),
        )
        .to_string();
        assert!(
            output.contains(". times ([:: tasks :: __private :: TimeOfDay :: new (8 , 0 , 0) ?])"),
            "{output}"
        );
    }

    #[test]
    fn interval_parts_keep_their_sign() {
        let output = r#loop(
            quote!(minutes = 1, seconds = -15),
            quote!(
                async fn tick() {}
            ),
        )
        .to_string();
        assert!(
            output.contains(". seconds (- 15f64) . minutes (1f64)"),
            "{output}"
        );
    }

    #[test]
    fn a_body_that_does_not_parse_still_emits_the_loop() {
        let output = r#loop(
            quote!(seconds = 1),
            quote!(
                async fn tick() { let x = ; }
            ),
        )
        .to_string();
        assert!(output.contains("static tick"), "{output}");
        assert!(output.contains("{ let x = ; }"), "{output}");
        assert!(!output.contains("compile_error"), "{output}");
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
