//! Cron expressions: their fields, and what to tell the user about one that
//! does not parse.
//!
//! The parsing itself is croner's (both crates depend on it, with the same
//! settings); this module only words its complaints, so that the attribute's
//! compile error and the runtime's `ConfigError` say the same thing.

/// One field of a cron expression, for the messages.
struct Field {
    /// Its name in a sentence: "the hour field".
    name: &'static str,
    /// What it takes: "hours go from 0 to 23".
    takes: &'static str,
}

const SECOND: Field = Field {
    name: "second",
    takes: "seconds go from 0 to 59",
};
const MINUTE: Field = Field {
    name: "minute",
    takes: "minutes go from 0 to 59",
};
const HOUR: Field = Field {
    name: "hour",
    takes: "hours go from 0 to 23",
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    takes: "days of the month go from 1 to 31, with `L` for the last day and `W` for the \
            nearest weekday (`15W`, `LW`)",
};
const MONTH: Field = Field {
    name: "month",
    takes: "months go from 1 to 12, or JAN to DEC",
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    takes: "days of the week go from 0 to 7 (0 and 7 are Sunday), or SUN to SAT, with \
            `5L` for the last Friday of the month and `1#2` for its second Monday",
};

/// The fields of a five-field expression; a six-field one has seconds first.
const FIVE: [Field; 5] = [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK];

/// What to write instead of an expression with the wrong number of fields.
const HOW_TO_WRITE: &str = "write 5 fields (minute, hour, day of month, month, day of \
                            week), or 6 with seconds first, such as \"0 30 9 * * MON-FRI\"";

/// Why `expression` is not a cron expression, in words for the user, or
/// `None` when it is one.
///
/// `parse` is croner's parser as the caller configures it (5 fields, or 6
/// with seconds first), returning croner's message on an error. The answer
/// keeps croner's message, with a lowercase first letter, and says which
/// field is wrong and what it takes, or how many fields to write; the
/// caller puts it after "`<expression>` is not a valid cron expression: ".
///
/// ```
/// // A stand-in for croner: every field must be `*` or a number below 24.
/// let parse = |text: &str| -> Result<(), String> {
///     let fields: Vec<&str> = text.split_whitespace().collect();
///     if fields.len() != 5 && fields.len() != 6 {
///         return Err("Invalid pattern: Pattern must have 5 or 6 fields.".into());
///     }
///     match fields.iter().all(|f| *f == "*" || f.parse::<u8>().is_ok_and(|n| n < 24)) {
///         true => Ok(()),
///         false => Err("Component error: Number out of bounds.".into()),
///     }
/// };
/// assert_eq!(tasks_syntax::cron_error("0 9 * * *", parse), None);
/// assert_eq!(
///     tasks_syntax::cron_error("0 24 * * *", parse).unwrap(),
///     "number out of bounds in the hour field `24`: hours go from 0 to 23"
/// );
/// assert!(tasks_syntax::cron_error("0 9 * *", parse).unwrap().starts_with("it has 4 fields"));
/// ```
pub fn cron_error(expression: &str, parse: impl Fn(&str) -> Result<(), String>) -> Option<String> {
    let whole = parse(expression).err()?;
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.is_empty() {
        return Some(format!("it is empty: {HOW_TO_WRITE}"));
    }
    if let [nickname] = fields.as_slice() {
        if nickname.starts_with('@') {
            return Some(format!(
                "`{nickname}` is not a nickname: use @yearly, @annually, @monthly, @weekly, \
                 @daily or @hourly"
            ));
        }
    }
    let names: &[Field] = match fields.len() {
        5 => &FIVE,
        6 => &[SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK],
        n => return Some(format!("it has {n} field{}: {HOW_TO_WRITE}", plural(n))),
    };
    // The first field that fails on its own, every other field a wildcard.
    for (i, field) in names.iter().enumerate() {
        let alone: Vec<&str> = (0..fields.len())
            .map(|j| if j == i { fields[i] } else { "*" })
            .collect();
        if let Err(message) = parse(&alone.join(" ")) {
            return Some(format!(
                "{} in the {} field `{}`: {}",
                reason(&message),
                field.name,
                fields[i],
                field.takes
            ));
        }
    }
    // Only the fields together fail.
    Some(reason(&whole))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// croner's message without its category, its final period or its capital:
/// "Component error: Number out of bounds." is "number out of bounds".
fn reason(message: &str) -> String {
    let mut text = message.trim();
    for category in [
        "Component error: ",
        "Invalid pattern: ",
        "Pattern contains illegal characters: ",
    ] {
        text = text.strip_prefix(category).unwrap_or(text);
    }
    let text = text.strip_suffix('.').unwrap_or(text);
    // "CronPattern contains illegal character 'M' in part 'MOX'": the part
    // is named by the caller.
    let text = match text.strip_prefix("CronPattern contains ") {
        Some(rest) => rest.split(" in part '").next().unwrap_or(rest),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "croner cannot read it".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails on any field with an `x`, and on the fields `1 2` together.
    fn parse(text: &str) -> Result<(), String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if !(5..=6).contains(&fields.len()) {
            return Err("Invalid pattern: Pattern must have 5 or 6 fields.".into());
        }
        if let Some(bad) = fields.iter().find(|f| f.contains('x')) {
            return Err(format!(
                "Pattern contains illegal characters: CronPattern contains illegal character 'x' in part '{bad}'"
            ));
        }
        if text.starts_with("1 2") {
            return Err("Component error: Fields 1 and 2 together.".into());
        }
        Ok(())
    }

    #[test]
    fn names_the_field_in_either_form() {
        assert_eq!(
            cron_error("x * * * *", parse).unwrap(),
            "illegal character 'x' in the minute field `x`: minutes go from 0 to 59"
        );
        assert!(cron_error("0 0 0 * * x", parse)
            .unwrap()
            .contains("in the day-of-week field `x`: days of the week"));
        assert!(cron_error("x 0 0 * * *", parse)
            .unwrap()
            .contains("in the second field `x`"));
    }

    #[test]
    fn counts_fields_and_reads_nicknames() {
        assert!(cron_error("", parse)
            .unwrap()
            .starts_with("it is empty: write 5 fields"));
        assert!(cron_error("  ", parse).unwrap().starts_with("it is empty"));
        assert!(cron_error("* * * * * * *", parse)
            .unwrap()
            .starts_with("it has 7 fields: write 5 fields"));
        assert!(cron_error("daily", parse)
            .unwrap()
            .starts_with("it has 1 field: "));
        assert!(cron_error("@dayly", parse)
            .unwrap()
            .starts_with("`@dayly` is not a nickname"));
    }

    #[test]
    fn falls_back_to_croner_s_own_words() {
        assert_eq!(
            cron_error("1 2 * * *", parse).unwrap(),
            "fields 1 and 2 together"
        );
        assert_eq!(cron_error("1 3 * * *", parse), None);
    }
}
