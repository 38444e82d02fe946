//! The command line's options, shared by every subcommand.

use std::collections::HashMap;

/// `--key value` pairs and bare `--flag`s (value "true").
pub fn parse_options(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut options = HashMap::new();
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        let key = arg
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {arg}"))?;
        let value = match rest.peek() {
            Some(next) if !next.starts_with("--") => rest.next().cloned().unwrap_or_default(),
            _ => "true".to_owned(),
        };
        options.insert(key.to_owned(), value);
    }
    Ok(options)
}
