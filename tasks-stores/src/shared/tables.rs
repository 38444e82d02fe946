//! The table names of the SQL stores: a prefix checked as an identifier,
//! put in the quoted names of the SQL files.

use tasks_runtime::cluster::StoreError;

use crate::shared::secret::Message;

/// The prefix of the tables unless told otherwise.
pub(crate) const DEFAULT_TABLE_PREFIX: &str = "tasks_";

/// The longest prefix: PostgreSQL's names are at most 63 bytes, and the
/// longest name after the prefix is `claims_keep_until` (17).
pub(crate) const LONGEST_TABLE_PREFIX: usize = 46;

/// Checks that `prefix` is a lowercase identifier (`[a-z_][a-z0-9_]*`) of
/// at most [`LONGEST_TABLE_PREFIX`] bytes.
///
/// # Errors
///
/// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid), saying why.
pub(crate) fn check_table_prefix(prefix: &str) -> Result<(), StoreError> {
    let mut bytes = prefix.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let goes_on_well = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !starts_well || !goes_on_well {
        return Err(StoreError::invalid(Message(format!(
            "the table prefix {prefix:?} is not an identifier: a lowercase letter or `_`, \
             then lowercase letters, digits and `_`"
        ))));
    }
    if prefix.len() > LONGEST_TABLE_PREFIX {
        return Err(StoreError::invalid(Message(format!(
            "the table prefix {prefix:?} is longer than {LONGEST_TABLE_PREFIX} bytes"
        ))));
    }
    Ok(())
}

/// `sql`, written for the default prefix, with its quoted names
/// (`"tasks_claims"`) renamed to `prefix`, which
/// [`check_table_prefix`] accepted.
pub(crate) fn with_table_prefix(sql: &str, prefix: &str) -> String {
    sql.replace(&format!("\"{DEFAULT_TABLE_PREFIX}"), &format!("\"{prefix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_identifiers() {
        for prefix in ["tasks_", "x", "_", "app2_tasks_", &"a".repeat(46)] {
            assert!(check_table_prefix(prefix).is_ok(), "{prefix}");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for prefix in [
            "",
            "Tasks_",
            "1tasks",
            "tasks-",
            "tasks\"; DROP TABLE x; --",
            "tâches_",
            "a b",
            &"a".repeat(47),
        ] {
            assert!(check_table_prefix(prefix).is_err(), "{prefix}");
        }
    }

    #[test]
    fn renames_the_quoted_names_only() {
        let sql = "CREATE TABLE \"tasks_claims\" (loop_name text); -- tasks_claims";
        assert_eq!(
            with_table_prefix(sql, "app_"),
            "CREATE TABLE \"app_claims\" (loop_name text); -- tasks_claims"
        );
    }
}
