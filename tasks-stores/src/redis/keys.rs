//! The keys of [`RedisStore`](super::RedisStore): under a prefix, with the
//! loop's name percent-encoded inside a hash tag, so that names cannot
//! collide or inject and a loop's keys share a cluster slot.

use tasks_runtime::cluster::StoreError;

use crate::shared::secret::Message;

/// The keys under one prefix.
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys under `prefix`.
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
    /// prefix with `{` or `}`, which would break the keys' hash tags.
    pub(super) fn new(prefix: String) -> Result<Self, StoreError> {
        if prefix.contains(['{', '}']) {
            return Err(StoreError::invalid(Message(format!(
                "the key prefix {prefix:?} has a `{{` or a `}}`, which would break the keys' \
                 hash tags"
            ))));
        }
        Ok(Self { prefix })
    }

    /// The prefix.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of `loop_name`'s `what`: the prefix, the name
    /// percent-encoded in a hash tag, then `:what`.
    pub(super) fn of(&self, loop_name: &str, what: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + loop_name.len() + 16);
        key.push_str(&self.prefix);
        key.push('{');
        encode_name(loop_name, &mut key);
        key.push_str("}:");
        key.push_str(what);
        key
    }
}

/// Appends `name` with every byte but letters, digits, `-`, `_` and `.`
/// written `%XX`: one name, one encoding, and no `{`, `}` or `:`.
fn encode_name(name: &str, out: &mut String) {
    use std::fmt::Write;
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(name: &str) -> String {
        let mut out = String::new();
        encode_name(name, &mut out);
        out
    }

    #[test]
    fn encodes_names_one_way_each() {
        assert_eq!(encoded("nightly-report_2.v1"), "nightly-report_2.v1");
        assert_eq!(encoded("a:b"), "a%3Ab");
        assert_eq!(encoded("a%3Ab"), "a%253Ab");
        assert_eq!(encoded("{x}"), "%7Bx%7D");
        assert_eq!(encoded("é"), "%C3%A9");
        assert_eq!(encoded("a b\n"), "a%20b%0A");
    }

    #[test]
    fn puts_the_name_in_a_hash_tag_under_the_prefix() {
        let keys = Keys::new("tasks:".to_owned()).unwrap();
        assert_eq!(keys.of("a:b", "claim:7"), "tasks:{a%3Ab}:claim:7");
        assert!(Keys::new("{tasks}:".to_owned()).is_err());
    }
}
