//! Keeping a store's address and credentials out of every message: the
//! texts to hide, and the errors built with them hidden.

use std::error::Error as StdError;
use std::fmt;

use tasks_runtime::cluster::{StoreError, StoreErrorKind};

/// Texts that never appear in an error message or a `Debug` output: a
/// store's URL, its password (as written and percent-decoded) and its host.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    /// Replaced wherever they occur.
    anywhere: Vec<String>,
    /// Replaced where they stand as a whole name (a host "db" is hidden in
    /// "db:5432", not in "feedback").
    names: Vec<String>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// The secrets of `url`: the whole URL, the user information before its
    /// `@`, the password and the host.
    pub(crate) fn of_url(url: &str) -> Self {
        let mut secrets = Secrets::default();
        secrets.hide(url);
        let Some((_, rest)) = url.split_once("://") else {
            return secrets;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = match authority.rsplit_once('@') {
            Some((user_info, host_port)) => {
                secrets.hide(user_info);
                if let Some((_, password)) = user_info.split_once(':') {
                    secrets.hide(password);
                    secrets.hide(&percent_decode(password));
                }
                host_port
            }
            None => authority,
        };
        secrets.hide_name(host_port);
        let host = match host_port.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => host_port,
        };
        secrets.hide_name(host.trim_start_matches('[').trim_end_matches(']'));
        secrets
    }

    /// Hides `text` wherever it occurs.
    pub(crate) fn hide(&mut self, text: &str) {
        if !text.is_empty() && !self.anywhere.iter().any(|known| known == text) {
            self.anywhere.push(text.to_owned());
            // Longer texts first, so that a URL is hidden whole rather than
            // around its password.
            self.anywhere
                .sort_by_key(|known| std::cmp::Reverse(known.len()));
        }
    }

    /// Hides `name` where it stands as a whole name.
    pub(crate) fn hide_name(&mut self, name: &str) {
        if !name.is_empty() && !self.names.iter().any(|known| known == name) {
            self.names.push(name.to_owned());
            self.names
                .sort_by_key(|known| std::cmp::Reverse(known.len()));
        }
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.anywhere {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        for name in &self.names {
            text = replace_name(&text, name);
        }
        text
    }

    /// An [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// error: `context`, then `error` and its sources, scrubbed.
    pub(crate) fn unavailable(&self, context: &str, error: &dyn StdError) -> StoreError {
        StoreError::unavailable(Message(self.describe(context, error)))
    }

    /// An [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid)
    /// error: `context`, then `error` and its sources, scrubbed.
    pub(crate) fn invalid(&self, context: &str, error: &dyn StdError) -> StoreError {
        StoreError::invalid(Message(self.describe(context, error)))
    }

    /// An error of `kind`: `context`, then `error` and its sources,
    /// scrubbed.
    pub(crate) fn error(
        &self,
        kind: StoreErrorKind,
        context: &str,
        error: &dyn StdError,
    ) -> StoreError {
        match kind {
            StoreErrorKind::Unavailable => self.unavailable(context, error),
            _ => self.invalid(context, error),
        }
    }

    /// `context: error: source: ...`, each source once, scrubbed.
    fn describe(&self, context: &str, error: &dyn StdError) -> String {
        let mut text = format!("{context}: {error}");
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        self.scrub(&text)
    }
}

/// `text` with each occurrence of `name` that is not part of a longer
/// name (letters, digits, `.`, `-`, `_` on either side) replaced by `***`.
fn replace_name(text: &str, name: &str) -> String {
    let is_name_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].chars().next();
        let whole = !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char);
        out.push_str(&rest[..at]);
        out.push_str(if whole { "***" } else { name });
        rest = &rest[at + name.len()..];
    }
    out.push_str(rest);
    out
}

/// `%XX` sequences decoded; anything else kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message already scrubbed of secrets, as the source of a
/// [`StoreError`].
pub(crate) struct Message(pub(crate) String);

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_the_url_its_password_and_its_host() {
        let secrets = Secrets::of_url("postgres://app:s3cr%40t@db:5432/tasks");
        assert_eq!(
            secrets.scrub("postgres://app:s3cr%40t@db:5432/tasks refused"),
            "*** refused"
        );
        assert_eq!(
            secrets.scrub("password s3cr@t, s3cr%40t"),
            "password ***, ***"
        );
        assert_eq!(secrets.scrub("db:5432 refused"), "*** refused");
        assert_eq!(secrets.scrub("host db is down"), "host *** is down");
        assert_eq!(secrets.scrub("feedback from db-2"), "feedback from db-2");
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%40b%2"), "a@b%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn describes_an_error_with_its_sources_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("cannot connect to 10.0.0.7")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let secrets = Secrets::of_url("redis://10.0.0.7:6379");
        let error = Outer(std::io::Error::other("refused"));
        assert_eq!(
            secrets.describe("Redis", &error),
            "Redis: cannot connect to ***: refused"
        );
    }
}
