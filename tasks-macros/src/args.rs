//! Parsing the attribute's arguments: `seconds = 5, count = 2, ...`.
//!
//! Each argument is parsed on its own. A bad one is recorded and skipped up
//! to the next comma, so that one compile reports every problem; what the
//! values mean (a negative interval, a time that is not a time of day) is
//! checked afterwards, in `validate.rs`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{bracketed, Ident, LitBool, LitFloat, LitInt, LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(seconds);
    syn::custom_keyword!(minutes);
    syn::custom_keyword!(hours);
    syn::custom_keyword!(time);
    syn::custom_keyword!(tz);
    syn::custom_keyword!(count);
    syn::custom_keyword!(reconnect);
    syn::custom_keyword!(name);
}

/// The arguments the attribute knows, for the message about an unknown one.
pub(crate) const KNOWN: &str =
    "`seconds`, `minutes`, `hours`, `time`, `tz`, `count`, `reconnect`, `name`, `crate`";

/// An argument as given: where its key is, and its value.
pub(crate) struct Given<T> {
    pub(crate) key: Span,
    pub(crate) value: T,
}

/// A number as written: an optional minus sign, then an integer or a float
/// literal.
pub(crate) struct Number {
    pub(crate) minus: Option<Token![-]>,
    pub(crate) lit: NumberLit,
}

/// The literal of a [`Number`].
pub(crate) enum NumberLit {
    Int(LitInt),
    Float(LitFloat),
}

impl ToTokens for Number {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.minus.to_tokens(tokens);
        match &self.lit {
            NumberLit::Int(lit) => lit.to_tokens(tokens),
            NumberLit::Float(lit) => lit.to_tokens(tokens),
        }
    }
}

/// `time = "08:00"` or `time = ["08:00", "20:00"]`.
pub(crate) struct Times {
    /// The span of the brackets, for a list.
    pub(crate) list: Option<Span>,
    pub(crate) times: Vec<LitStr>,
}

/// Every argument given, and the errors met while reading them.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) seconds: Option<Given<Number>>,
    pub(crate) minutes: Option<Given<Number>>,
    pub(crate) hours: Option<Given<Number>>,
    pub(crate) time: Option<Given<Times>>,
    pub(crate) tz: Option<Given<LitStr>>,
    pub(crate) count: Option<Given<Number>>,
    pub(crate) reconnect: Option<Given<LitBool>>,
    pub(crate) name: Option<Given<LitStr>>,
    pub(crate) krate: Option<Given<Path>>,
    pub(crate) errors: Vec<syn::Error>,
}

impl Parse for Args {
    /// Never fails: problems are collected in `errors`.
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            if let Err(error) = args.parse_one(input) {
                args.errors.push(error);
                skip_to_comma(input);
            }
            if input.is_empty() {
                break;
            }
            if let Err(error) = input.parse::<Token![,]>() {
                args.errors.push(error);
                skip_to_comma(input);
                // The comma itself, if there is one.
                let _ = input.parse::<Option<Token![,]>>();
            }
        }
        Ok(args)
    }
}

/// Reads `key = value` into `slot`, or records that `key` came twice.
macro_rules! read {
    ($args:ident, $input:ident, $kw:ty, $slot:ident, $parse:expr) => {{
        let key = $input.parse::<$kw>()?.span;
        let value = value_of($input, stringify!($slot), key, $parse)?;
        $args.set(|args| &mut args.$slot, stringify!($slot), key, value);
        Ok(())
    }};
}

impl Args {
    fn parse_one(&mut self, input: ParseStream) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::seconds) {
            read!(self, input, kw::seconds, seconds, interval)
        } else if lookahead.peek(kw::minutes) {
            read!(self, input, kw::minutes, minutes, interval)
        } else if lookahead.peek(kw::hours) {
            read!(self, input, kw::hours, hours, interval)
        } else if lookahead.peek(kw::time) {
            read!(self, input, kw::time, time, times)
        } else if lookahead.peek(kw::tz) {
            read!(self, input, kw::tz, tz, zone)
        } else if lookahead.peek(kw::count) {
            read!(self, input, kw::count, count, count)
        } else if lookahead.peek(kw::reconnect) {
            read!(self, input, kw::reconnect, reconnect, boolean)
        } else if lookahead.peek(kw::name) {
            read!(self, input, kw::name, name, name)
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse::<Token![crate]>()?.span;
            let value = value_of(input, "crate", key, crate_path)?;
            self.set(|args| &mut args.krate, "crate", key, value);
            Ok(())
        } else if input.peek(Ident::peek_any) {
            let unknown = input.call(Ident::parse_any)?;
            Err(syn::Error::new(
                unknown.span(),
                format!("unknown argument `{unknown}`: expected one of {KNOWN}"),
            ))
        } else {
            Err(lookahead.error())
        }
    }

    /// Stores a value, unless the argument was already given.
    fn set<T>(
        &mut self,
        slot: impl FnOnce(&mut Self) -> &mut Option<Given<T>>,
        key_name: &str,
        key: Span,
        value: T,
    ) {
        let slot = slot(self);
        if slot.is_some() {
            self.errors.push(syn::Error::new(
                key,
                format!("`{key_name}` is given twice: remove one of them"),
            ));
        } else {
            *slot = Some(Given { key, value });
        }
    }
}

/// Reads `= value` after `key` (at `key_span`).
fn value_of<T>(
    input: ParseStream,
    key: &str,
    key_span: Span,
    parse: fn(ParseStream, &str) -> syn::Result<T>,
) -> syn::Result<T> {
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key_span,
            format!(
                "expected `=` after `{key}`: write `{key} = {}`",
                example(key)
            ),
        ));
    }
    input.parse::<Token![=]>()?;
    parse(input, key)
}

/// A value of the right type for `key`, for the messages.
fn example(key: &str) -> &'static str {
    match key {
        "seconds" | "minutes" | "hours" => "5",
        "time" => "\"08:00\"",
        "tz" => "\"Asia/Seoul\"",
        "count" => "2",
        "reconnect" => "false",
        "name" => "\"announcer\"",
        _ => "\"my_tasks\"",
    }
}

/// An error on the token where a value of `key` should be.
fn wrong_type(input: ParseStream, message: String) -> syn::Error {
    match input.cursor().token_tree() {
        Some((token, _)) => syn::Error::new_spanned(token, message),
        None => input.error(message),
    }
}

fn interval(input: ParseStream, key: &str) -> syn::Result<Number> {
    number(input).ok_or_else(|| {
        wrong_type(
            input,
            format!("`{key}` takes a number, such as `{key} = 5` or `{key} = 0.5`"),
        )
    })
}

fn count(input: ParseStream, key: &str) -> syn::Result<Number> {
    match number(input) {
        Some(
            count @ Number {
                lit: NumberLit::Int(_),
                ..
            },
        ) => Ok(count),
        Some(float) => Err(syn::Error::new_spanned(
            float,
            format!("`{key}` takes a whole number, such as `{key} = 2`"),
        )),
        None => Err(wrong_type(
            input,
            format!("`{key}` takes a whole number, such as `{key} = 2`"),
        )),
    }
}

/// A number, or `None` (nothing consumed) when the tokens are not one.
fn number(input: ParseStream) -> Option<Number> {
    let fork = input.fork();
    let minus = fork.parse::<Option<Token![-]>>().ok()?;
    let lit = if fork.peek(LitInt) {
        NumberLit::Int(fork.parse().ok()?)
    } else if fork.peek(LitFloat) {
        NumberLit::Float(fork.parse().ok()?)
    } else {
        return None;
    };
    use syn::parse::discouraged::Speculative;
    input.advance_to(&fork);
    Some(Number { minus, lit })
}

fn times(input: ParseStream, key: &str) -> syn::Result<Times> {
    let message = || {
        format!(
            "`{key}` takes a time of day as a string, such as `{key} = \"08:00\"`, \
             or a list of them, such as `{key} = [\"08:00\", \"20:00\"]`"
        )
    };
    if input.peek(LitStr) {
        return Ok(Times {
            list: None,
            times: vec![input.parse()?],
        });
    }
    if !input.peek(syn::token::Bracket) {
        return Err(wrong_type(input, message()));
    }
    let content;
    let brackets = bracketed!(content in input);
    let mut times = Vec::new();
    let listed = (|| {
        while !content.is_empty() {
            if !content.peek(LitStr) {
                return Err(wrong_type(&content, message()));
            }
            times.push(content.parse()?);
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
            }
        }
        Ok(())
    })();
    if listed.is_err() {
        // The rest of the list belongs to the same error.
        skip_all(&content);
    }
    listed.map(|()| Times {
        list: Some(brackets.span.join()),
        times,
    })
}

fn zone(input: ParseStream, key: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(wrong_type(
        input,
        format!(
            "`{key}` takes a time zone as a string: an IANA name such as \
             `{key} = \"Asia/Seoul\"` or a fixed offset such as `{key} = \"+09:00\"`"
        ),
    ))
}

fn boolean(input: ParseStream, key: &str) -> syn::Result<LitBool> {
    if input.peek(LitBool) {
        return input.parse();
    }
    Err(wrong_type(
        input,
        format!("`{key}` takes `true` or `false`, without quotes"),
    ))
}

fn name(input: ParseStream, key: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(wrong_type(
        input,
        format!("`{key}` takes a string, such as `{key} = \"announcer\"`"),
    ))
}

fn crate_path(input: ParseStream, key: &str) -> syn::Result<Path> {
    if !input.peek(LitStr) {
        return Err(wrong_type(
            input,
            format!(
                "`{key}` takes the path of the `tasks` crate as a string, \
                 such as `{key} = \"my_tasks\"`"
            ),
        ));
    }
    let lit: LitStr = input.parse()?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`{}` is not a path: give the name of the `tasks` crate in your \
                 Cargo.toml, such as `{key} = \"my_tasks\"`",
                lit.value()
            ),
        )
    })
}

/// Skips the rest of a bad argument, up to (not including) the next comma.
fn skip_to_comma(input: ParseStream) {
    skip_while(
        input,
        |token| !matches!(token, proc_macro2::TokenTree::Punct(p) if p.as_char() == ','),
    );
}

/// Skips everything left in `input`.
fn skip_all(input: ParseStream) {
    skip_while(input, |_| true);
}

fn skip_while(input: ParseStream, skip: impl Fn(&proc_macro2::TokenTree) -> bool) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            if !skip(&token) {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> Args {
        syn::parse2(tokens).expect("never fails")
    }

    #[test]
    fn reads_every_argument() {
        let args = parse(quote! {
            seconds = 5, minutes = 1.5, hours = 2, time = ["08:00", "20:00"],
            tz = "Asia/Seoul", count = 3, reconnect = false, name = "n", crate = "my_tasks",
        });
        assert!(args.errors.is_empty());
        assert!(args.seconds.is_some() && args.minutes.is_some() && args.hours.is_some());
        assert_eq!(args.time.map(|t| t.value.times.len()), Some(2));
        assert_eq!(
            args.tz.map(|t| t.value.value()),
            Some("Asia/Seoul".to_owned())
        );
        assert_eq!(args.reconnect.map(|r| r.value.value), Some(false));
        let krate = args.krate.map(|k| k.value.to_token_stream().to_string());
        assert_eq!(krate.as_deref(), Some("my_tasks"));
    }

    #[test]
    fn collects_every_error_and_keeps_the_good_arguments() {
        let args = parse(quote! {
            secs = 5, count = "two", seconds = 1, seconds = 2, reconnect, name = "n"
        });
        let messages: Vec<String> = args.errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].starts_with("unknown argument `secs`"));
        assert!(messages[1].contains("whole number"));
        assert!(messages[2].contains("given twice"));
        assert!(messages[3].contains("expected `=` after `reconnect`"));
        assert!(args.seconds.is_some() && args.name.is_some());
    }

    #[test]
    fn a_float_count_and_a_non_string_time_are_wrong_types() {
        let args = parse(quote!(count = 2.5, time = 800, time = [8]));
        assert_eq!(args.errors.len(), 3);
    }
}
