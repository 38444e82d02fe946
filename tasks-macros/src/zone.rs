//! Time zones: an IANA name or a UTC offset, as the runtime reads them,
//! and the path of an IANA zone's constant in chrono-tz, which the
//! generated code names instead of parsing the name again at run time.

use syn::Ident;

/// The time zone of the times of day.
#[derive(Debug, PartialEq)]
pub(crate) enum Zone {
    /// An IANA zone: the path of its constant in chrono-tz, below the
    /// crate (`Asia::Seoul`).
    Iana(Vec<Ident>),
    /// A fixed offset, in seconds east of UTC.
    Fixed(i32),
}

/// An IANA name or a UTC offset, as the runtime's `Zone::from_str` reads
/// it; the error is the message for the user.
pub(crate) fn parse(text: &str) -> Result<Zone, String> {
    if let Some(seconds) = tasks_syntax::utc_offset(text) {
        return Ok(Zone::Fixed(seconds));
    }
    if text.starts_with(['+', '-']) {
        return Err(format!(
            "`{text}` is not a UTC offset: write `±HH:MM`, `±HHMM` or `±HH`, \
             such as \"+09:00\", \"-0530\" or \"+01\""
        ));
    }
    if let Ok(tz) = text.parse::<chrono_tz::Tz>() {
        return constant_path(tz.name()).map(Zone::Iana).ok_or_else(|| {
            format!(
                "the time zone `{text}` has no constant in chrono-tz that `tasks` can name: \
                 this is a bug in `tasks`, please report it"
            )
        });
    }
    let spelled = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(text));
    Err(match spelled {
        Some(tz) => format!("unknown time zone `{text}`: write \"{}\"", tz.name()),
        None => format!(
            "unknown time zone `{text}`: give an IANA name such as \"Asia/Seoul\" \
             or a UTC offset such as \"+09:00\""
        ),
    })
}

/// The path, below the crate, of chrono-tz's constant for the zone
/// `name`, or `None` if a segment is not an identifier.
///
/// chrono-tz's build names them from the zone's name: a module per `/`,
/// `+` spelled `Plus`, `-` spelled `Minus` before a digit and dropped
/// elsewhere (`Etc/GMT+9` is `Etc::GMTPlus9`, `America/Port-au-Prince` is
/// `America::PortauPrince`).
fn constant_path(name: &str) -> Option<Vec<Ident>> {
    name.split('/')
        .map(|segment| {
            let mut ident = String::with_capacity(segment.len());
            let mut chars = segment.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '+' => ident.push_str("Plus"),
                    '-' if chars.peek().is_some_and(char::is_ascii_digit) => {
                        ident.push_str("Minus");
                    }
                    '-' => {}
                    c => ident.push(c),
                }
            }
            syn::parse_str::<Ident>(&ident).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasks::Zone as RuntimeZone;

    #[test]
    fn zones_follow_the_runtime() {
        let samples = [
            "Asia/Seoul",
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+9",
            "asia/seoul",
            "Mars/Olympus",
            "",
            "Z",
            "z",
            "+09:00",
            "-05:30",
            "+0900",
            "+09",
            "+9",
            "+24:00",
            "+09:60",
            "+09:00:00",
            "+0:900",
            "+",
            "-",
            "+ab:cd",
            "GMT",
        ];
        for text in samples {
            let runtime = text.parse::<RuntimeZone>().ok();
            let made = parse(text).ok().map(|zone| match zone {
                Zone::Fixed(seconds) => RuntimeZone::fixed(seconds).ok(),
                Zone::Iana(_) => text.parse::<chrono_tz::Tz>().ok().map(RuntimeZone::from),
            });
            assert_eq!(made, runtime.map(Some), "{text:?}");
        }
    }

    #[test]
    fn a_miscased_zone_gets_its_spelling() {
        assert_eq!(
            parse("asia/seoul").unwrap_err(),
            "unknown time zone `asia/seoul`: write \"Asia/Seoul\""
        );
    }

    #[test]
    fn a_bad_offset_lists_the_forms() {
        let message = parse("+0:900").unwrap_err();
        assert!(message.contains("`±HH:MM`, `±HHMM` or `±HH`"), "{message}");
    }

    fn path(name: &str) -> String {
        let segments: Vec<String> = constant_path(name)
            .expect("a path")
            .iter()
            .map(ToString::to_string)
            .collect();
        segments.join("::")
    }

    #[test]
    fn zone_names_become_chrono_tz_paths() {
        for (name, expected) in [
            ("Asia/Seoul", "Asia::Seoul"),
            ("UTC", "UTC"),
            (
                "America/Argentina/Buenos_Aires",
                "America::Argentina::Buenos_Aires",
            ),
            ("America/Port-au-Prince", "America::PortauPrince"),
            ("Etc/GMT+9", "Etc::GMTPlus9"),
            ("Etc/GMT-14", "Etc::GMTMinus14"),
            ("GMT-0", "GMTMinus0"),
            ("GB-Eire", "GBEire"),
            ("NZ-CHAT", "NZCHAT"),
            ("US/East-Indiana", "US::EastIndiana"),
        ] {
            assert_eq!(path(name), expected);
        }
    }

    #[test]
    fn every_zone_has_a_distinct_path() {
        let mut paths: Vec<String> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| path(tz.name()))
            .collect();
        let count = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), count);
    }

    /// `tests/zone_paths.rs` as it should be: every zone the attribute
    /// accepts, with the path it emits.
    fn zone_paths_file() -> String {
        let mut file = String::from(
            "//! Every IANA zone, with the chrono-tz constant that `#[tasks::r#loop]` emits\n\
             //! for it (`tz = \"Etc/GMT+9\"` becomes `tz::Etc::GMTPlus9`): this file\n\
             //! compiles only if every path exists, and its test checks that each names\n\
             //! its zone. Written by the unit test `the_list_of_zone_paths_is_current`\n\
             //! in `src/zone.rs`: `TASKS_BLESS=1 cargo test -p tasks-macros --lib`.\n\
             \n\
             use tasks::tz::{self, Tz};\n\
             \n\
             #[rustfmt::skip]\n\
             const ZONES: &[(&str, Tz)] = &[\n",
        );
        for tz in chrono_tz::TZ_VARIANTS {
            file.push_str(&format!(
                "    ({:?}, tz::{}),\n",
                tz.name(),
                path(tz.name())
            ));
        }
        file.push_str(
            "];\n\
             \n\
             #[test]\n\
             fn every_path_names_its_zone() {\n\
             \x20   for (name, zone) in ZONES {\n\
             \x20       assert_eq!(zone.name(), *name);\n\
             \x20   }\n\
             \x20   assert_eq!(ZONES.len(), tz::TZ_VARIANTS.len());\n\
             }\n",
        );
        file
    }

    #[test]
    fn the_list_of_zone_paths_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/zone_paths.rs");
        let expected = zone_paths_file();
        if std::fs::read_to_string(path).ok().as_deref() == Some(expected.as_str()) {
            return;
        }
        if std::env::var_os("TASKS_BLESS").is_some() {
            std::fs::write(path, expected).expect("tests/zone_paths.rs written");
        } else {
            panic!(
                "tests/zone_paths.rs is out of date (chrono-tz changed?): rewrite it with \
                 `TASKS_BLESS=1 cargo test -p tasks-macros --lib`, then run its test"
            );
        }
    }
}
