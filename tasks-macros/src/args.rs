//! The attribute's arguments as written: `seconds = 5, count = 2, ...`.
//!
//! Each argument is read on its own: a bad one is recorded and skipped up
//! to the next comma, so that one compile reports every problem. What the
//! values mean (a negative interval, a time that is not a time of day) is
//! checked afterwards, in `validate.rs`.
//!
//! An argument is declared once, as a row of [`ARGUMENTS`] and a field of
//! [`Args`]; `validate.rs` then gives it a meaning and `expand.rs` its
//! builder call.

use std::fmt;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};
use syn::{bracketed, Ident, LitBool, LitFloat, LitInt, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// One argument the attribute takes.
struct Argument {
    name: &'static str,
    /// A value of the right type, for the message about a missing `=`.
    example: &'static str,
    /// Reads the value after `=` into the argument's field of [`Args`].
    read: fn(ParseStream, Key, &mut Args) -> syn::Result<()>,
}

/// Every argument, in the order the messages list them.
const ARGUMENTS: &[Argument] = &[
    Argument {
        name: "seconds",
        example: "5",
        read: |input, key, args| store(&mut args.seconds, key, number(input, key)),
    },
    Argument {
        name: "minutes",
        example: "5",
        read: |input, key, args| store(&mut args.minutes, key, number(input, key)),
    },
    Argument {
        name: "hours",
        example: "5",
        read: |input, key, args| store(&mut args.hours, key, number(input, key)),
    },
    Argument {
        name: "time",
        example: "\"08:00\"",
        read: |input, key, args| store(&mut args.time, key, times(input, key)),
    },
    Argument {
        name: "cron",
        example: "\"0 30 9 * * MON-FRI\"",
        read: |input, key, args| store(&mut args.cron, key, cron(input, key)),
    },
    Argument {
        name: "tz",
        example: "\"Asia/Seoul\"",
        read: |input, key, args| store(&mut args.tz, key, zone(input, key)),
    },
    Argument {
        name: "count",
        example: "2",
        read: |input, key, args| store(&mut args.count, key, whole_number(input, key)),
    },
    Argument {
        name: "reconnect",
        example: "false",
        read: |input, key, args| store(&mut args.reconnect, key, boolean(input, key)),
    },
    Argument {
        name: "missed",
        example: "\"skip\"",
        read: |input, key, args| store(&mut args.missed, key, missed(input, key)),
    },
    Argument {
        name: "timeout",
        example: "30",
        read: |input, key, args| store(&mut args.timeout, key, number(input, key)),
    },
    Argument {
        name: "jitter",
        example: "5",
        read: |input, key, args| store(&mut args.jitter, key, number(input, key)),
    },
    Argument {
        name: "grace_period",
        example: "60",
        read: |input, key, args| store(&mut args.grace_period, key, number(input, key)),
    },
    Argument {
        name: "name",
        example: "\"announcer\"",
        read: |input, key, args| store(&mut args.name, key, string(input, key)),
    },
    Argument {
        name: "crate",
        example: "\"my_tasks\"",
        read: |input, key, args| store(&mut args.krate, key, crate_path(input, key)),
    },
];

/// Every argument given (each at most once), as written.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) seconds: Option<Given<Number>>,
    pub(crate) minutes: Option<Given<Number>>,
    pub(crate) hours: Option<Given<Number>>,
    pub(crate) time: Option<Given<Times>>,
    pub(crate) cron: Option<Given<LitStr>>,
    pub(crate) tz: Option<Given<LitStr>>,
    pub(crate) count: Option<Given<Number>>,
    pub(crate) reconnect: Option<Given<LitBool>>,
    pub(crate) missed: Option<Given<LitStr>>,
    pub(crate) timeout: Option<Given<Number>>,
    pub(crate) jitter: Option<Given<Number>>,
    pub(crate) grace_period: Option<Given<Number>>,
    pub(crate) name: Option<Given<LitStr>>,
    pub(crate) krate: Option<Given<Path>>,
}

/// An argument's name, where it is written.
#[derive(Clone, Copy)]
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) span: Span,
}

/// An argument as given: its key and its value.
pub(crate) struct Given<T> {
    pub(crate) key: Key,
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

/// As written, for the messages: `-5`, `1e9`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minus.is_some() {
            f.write_str("-")?;
        }
        match &self.lit {
            NumberLit::Int(lit) => fmt::Display::fmt(lit, f),
            NumberLit::Float(lit) => fmt::Display::fmt(lit, f),
        }
    }
}

/// `time = "08:00"` or `time = ["08:00", "20:00"]`.
pub(crate) struct Times {
    /// The span of the brackets, for a list.
    pub(crate) brackets: Option<Span>,
    pub(crate) times: Vec<LitStr>,
}

/// Reads the arguments; never fails, every problem goes to `ctxt`.
pub(crate) fn parse(tokens: TokenStream, ctxt: &Ctxt) -> Args {
    let parser = |input: ParseStream| Ok(read_all(input, ctxt));
    parser.parse2(tokens).unwrap_or_else(|error| {
        ctxt.syn_error(error);
        Args::default()
    })
}

fn read_all(input: ParseStream, ctxt: &Ctxt) -> Args {
    let mut args = Args::default();
    let mut given = Vec::new();
    while !input.is_empty() {
        if let Err(error) = read_one(input, &mut args, &mut given, ctxt) {
            ctxt.syn_error(error);
            skip_to_comma(input);
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            ctxt.syn_error(error);
            skip_to_comma(input);
            // The comma itself, if there is one.
            let _ = input.parse::<Option<Token![,]>>();
        }
    }
    args
}

/// Reads `key = value` into `args`, or, for a key already in `given`,
/// reports the repetition and reads the value only for its own errors.
fn read_one(
    input: ParseStream,
    args: &mut Args,
    given: &mut Vec<&'static str>,
    ctxt: &Ctxt,
) -> syn::Result<()> {
    if !input.peek(Ident::peek_any) {
        return Err(error_on_next_token(
            input,
            format!(
                "expected an argument, such as `seconds = 5`: one of {}",
                known()
            ),
        ));
    }
    let ident = input.call(Ident::parse_any)?;
    let Some(argument) = ARGUMENTS.iter().find(|argument| ident == argument.name) else {
        return Err(syn::Error::new(
            ident.span(),
            format!("unknown argument `{ident}`: expected one of {}", known()),
        ));
    };
    let key = Key {
        name: argument.name,
        span: ident.span(),
    };
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key.span,
            format!(
                "expected `=` after `{name}`: write `{name} = {example}`",
                name = argument.name,
                example = argument.example
            ),
        ));
    }
    input.parse::<Token![=]>()?;
    if given.contains(&argument.name) {
        ctxt.error_at(
            key.span,
            format!("`{}` is given twice: remove one of them", argument.name),
        );
        return (argument.read)(input, key, &mut Args::default());
    }
    given.push(argument.name);
    (argument.read)(input, key, args)
}

/// The names of the arguments, for the messages.
fn known() -> String {
    let names: Vec<String> = ARGUMENTS
        .iter()
        .map(|argument| format!("`{}`", argument.name))
        .collect();
    names.join(", ")
}

/// Puts a value read for `key` in its field.
fn store<T>(field: &mut Option<Given<T>>, key: Key, value: syn::Result<T>) -> syn::Result<()> {
    *field = Some(Given { key, value: value? });
    Ok(())
}

/// An error on the token where a value should be.
fn error_on_next_token(input: ParseStream, message: String) -> syn::Error {
    match input.cursor().token_tree() {
        Some((token, _)) => syn::Error::new_spanned(token, message),
        None => input.error(message),
    }
}

/// A number of seconds, minutes or hours.
fn number(input: ParseStream, key: Key) -> syn::Result<Number> {
    read_number(input).ok_or_else(|| {
        error_on_next_token(
            input,
            format!(
                "`{name}` takes a number, such as `{name} = 5` or `{name} = 0.5`",
                name = key.name
            ),
        )
    })
}

fn whole_number(input: ParseStream, key: Key) -> syn::Result<Number> {
    let message = format!(
        "`{name}` takes a whole number, such as `{name} = 2`",
        name = key.name
    );
    match read_number(input) {
        Some(
            number @ Number {
                lit: NumberLit::Int(_),
                ..
            },
        ) => Ok(number),
        Some(float) => Err(syn::Error::new_spanned(float, message)),
        None => Err(error_on_next_token(input, message)),
    }
}

/// A number, or `None` (nothing consumed) when the tokens are not one.
fn read_number(input: ParseStream) -> Option<Number> {
    let fork = input.fork();
    let minus = fork.parse::<Option<Token![-]>>().ok()?;
    let lit = if fork.peek(LitInt) {
        NumberLit::Int(fork.parse().ok()?)
    } else if fork.peek(LitFloat) {
        NumberLit::Float(fork.parse().ok()?)
    } else {
        return None;
    };
    input.advance_to(&fork);
    Some(Number { minus, lit })
}

fn times(input: ParseStream, key: Key) -> syn::Result<Times> {
    let message = || {
        format!(
            "`{name}` takes a time of day as a string, such as `{name} = \"08:00\"`, \
             or a list of them, such as `{name} = [\"08:00\", \"20:00\"]`",
            name = key.name
        )
    };
    if input.peek(LitStr) {
        return Ok(Times {
            brackets: None,
            times: vec![input.parse()?],
        });
    }
    if !input.peek(syn::token::Bracket) {
        return Err(error_on_next_token(input, message()));
    }
    let content;
    let brackets = bracketed!(content in input);
    let mut times = Vec::new();
    let listed = (|| {
        while !content.is_empty() {
            if !content.peek(LitStr) {
                return Err(error_on_next_token(&content, message()));
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
        skip_while(&content, |_| true);
    }
    listed.map(|()| Times {
        brackets: Some(brackets.span.join()),
        times,
    })
}

fn cron(input: ParseStream, key: Key) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(error_on_next_token(
        input,
        format!(
            "`{name}` takes a cron expression as a string, such as \
             `{name} = \"0 30 9 * * MON-FRI\"` (5 fields, or 6 with seconds first)",
            name = key.name
        ),
    ))
}

fn zone(input: ParseStream, key: Key) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(error_on_next_token(
        input,
        format!(
            "`{name}` takes a time zone as a string: an IANA name such as \
             `{name} = \"Asia/Seoul\"` or a UTC offset such as `{name} = \"+09:00\"`",
            name = key.name
        ),
    ))
}

fn boolean(input: ParseStream, key: Key) -> syn::Result<LitBool> {
    if input.peek(LitBool) {
        return input.parse();
    }
    Err(error_on_next_token(
        input,
        format!("`{}` takes `true` or `false`, without quotes", key.name),
    ))
}

fn missed(input: ParseStream, key: Key) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(error_on_next_token(
        input,
        format!(
            "`{name}` takes a string: `{name} = \"burst\"`, `{name} = \"delay\"` \
             or `{name} = \"skip\"`",
            name = key.name
        ),
    ))
}

fn string(input: ParseStream, key: Key) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(error_on_next_token(
        input,
        format!(
            "`{name}` takes a string, such as `{name} = \"announcer\"`",
            name = key.name
        ),
    ))
}

fn crate_path(input: ParseStream, key: Key) -> syn::Result<Path> {
    if !input.peek(LitStr) {
        return Err(error_on_next_token(
            input,
            format!(
                "`{name}` takes the path of the `tasks` crate as a string, \
                 such as `{name} = \"my_tasks\"`",
                name = key.name
            ),
        ));
    }
    let lit: LitStr = input.parse()?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`{}` is not a path: give the name of the `tasks` crate in your \
                 Cargo.toml, such as `{} = \"my_tasks\"`",
                lit.value(),
                key.name
            ),
        )
    })
}

/// Skips the rest of a bad argument, up to (not including) the next comma.
fn skip_to_comma(input: ParseStream) {
    skip_while(
        input,
        |token| !matches!(token, TokenTree::Punct(punct) if punct.as_char() == ','),
    );
}

fn skip_while(input: ParseStream, skip: impl Fn(&TokenTree) -> bool) {
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

    fn parse_all(tokens: TokenStream) -> (Args, Vec<String>) {
        let ctxt = Ctxt::new();
        let args = parse(tokens, &ctxt);
        (args, ctxt.finish())
    }

    #[test]
    fn reads_every_argument() {
        let (args, errors) = parse_all(quote! {
            seconds = 5, minutes = 1.5, hours = 2, time = ["08:00", "20:00"], cron = "@daily",
            tz = "Asia/Seoul", count = 3, reconnect = false, missed = "skip", timeout = 30,
            jitter = 0.5, name = "n", crate = "my_tasks",
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert!(args.seconds.is_some() && args.minutes.is_some() && args.hours.is_some());
        assert!(args.missed.is_some() && args.timeout.is_some() && args.jitter.is_some());
        assert_eq!(args.time.map(|t| t.value.times.len()), Some(2));
        assert_eq!(
            args.cron.map(|c| c.value.value()),
            Some("@daily".to_owned())
        );
        assert_eq!(
            args.tz.map(|t| t.value.value()),
            Some("Asia/Seoul".to_owned())
        );
        assert_eq!(args.reconnect.map(|r| r.value.value), Some(false));
        let krate = args.krate.map(|k| k.value.to_token_stream().to_string());
        assert_eq!(krate.as_deref(), Some("my_tasks"));
    }

    #[test]
    fn every_argument_has_a_row() {
        let (_, errors) = parse_all(quote! {
            seconds = 5, minutes = 1, hours = 2, time = "08:00", cron = "* * * * *",
            tz = "UTC", count = 3, reconnect = false, missed = "delay", timeout = 1,
            jitter = 1, grace_period = 60, name = "n", crate = "my_tasks",
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ARGUMENTS.len(), 14);
        assert_eq!(
            known(),
            "`seconds`, `minutes`, `hours`, `time`, `cron`, `tz`, `count`, `reconnect`, `missed`, \
             `timeout`, `jitter`, `grace_period`, `name`, `crate`"
        );
    }

    #[test]
    fn collects_every_error_and_keeps_the_good_arguments() {
        let (args, errors) = parse_all(quote! {
            secs = 5, count = "two", seconds = 1, seconds = 2, reconnect, name = "n"
        });
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("unknown argument `secs`"));
        assert!(errors[1].contains("whole number"));
        assert!(errors[2].contains("given twice"));
        assert!(errors[3].contains("expected `=` after `reconnect`"));
        assert!(args.seconds.is_some() && args.name.is_some());
    }

    #[test]
    fn a_repeated_argument_keeps_its_first_value() {
        let (args, errors) = parse_all(quote!(count = 1, count = 2.5));
        // The repetition, and the second value's own error.
        assert_eq!(errors.len(), 2, "{errors:?}");
        let count = args.count.map(|c| c.value.to_token_stream().to_string());
        assert_eq!(count.as_deref(), Some("1"));
    }

    #[test]
    fn literals_of_the_wrong_type_are_reported() {
        let (_, errors) = parse_all(quote!(
            count = 2.5,
            time = 800,
            tz = [8],
            reconnect = "no",
            cron = 5
        ));
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[4].starts_with("`cron` takes a cron expression as a string"));
    }

    #[test]
    fn stray_tokens_are_reported_and_skipped() {
        let (args, errors) = parse_all(quote!(5, seconds = 1 2, count = 3));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("expected an argument"));
        assert!(args.seconds.is_some() && args.count.is_some());
    }
}
