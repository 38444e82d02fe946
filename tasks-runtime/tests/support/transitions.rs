//! The zones of the DST suites and every change of their UTC offsets from
//! 1970 to 2037, scanned from chrono-tz (which does not publish its
//! transitions): shared by `schedule_dst_properties.rs` and `schedule_cron_properties.rs`.
#![allow(dead_code)] // each suite uses its own part

use super::common::utc;
use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// Zones with different rules: both hemispheres, 30- and 45-minute zones,
/// a 30-minute shift (Lord Howe), a 2-hour shift (Troll, St John's 1988),
/// transitions at midnight (Santiago, São Paulo, Tehran, Havana) and at 23:00
/// (Nuuk), DST that ended (São Paulo, Tehran, Moscow), base-offset changes
/// (Moscow, Nuuk, Casablanca), Ramadan suspensions (Casablanca), negative
/// DST in the database (Dublin), a skipped date (Apia), irregular rules
/// (Gaza) and no DST at all (Kolkata).
pub const ZONES: &[Tz] = &[
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Europe::Berlin,
    chrono_tz::Europe::Dublin,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::America::Santiago,
    chrono_tz::Pacific::Auckland,
    chrono_tz::Pacific::Chatham,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Europe::Moscow,
    chrono_tz::Asia::Tehran,
    chrono_tz::Africa::Casablanca,
    chrono_tz::Pacific::Apia,
    chrono_tz::America::Nuuk,
    chrono_tz::America::St_Johns,
    chrono_tz::America::Havana,
    chrono_tz::Antarctica::Troll,
    chrono_tz::Asia::Gaza,
    chrono_tz::Asia::Kolkata,
];

/// A change of UTC offset: from `at` on, the zone is `after` seconds ahead
/// of UTC instead of `before`.
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub before: i32,
    pub after: i32,
}

pub fn offset(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// Every offset change from 1970 to 2037: a scan in 6-hour steps, then a
/// bisection to the second.
pub fn scan(tz: Tz) -> Vec<Transition> {
    let step = TimeDelta::hours(6);
    let end = utc("2038-01-01T00:00:00Z");
    let mut found = Vec::new();
    let mut at = utc("1970-01-01T00:00:00Z");
    let mut current = offset(tz, at);
    while at < end {
        let next = at + step;
        let there = offset(tz, next);
        if there != current {
            // The first second at which the offset is no longer `current`.
            let (mut lo, mut hi) = (at.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(tz, DateTime::from_timestamp(mid, 0).unwrap()) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = DateTime::from_timestamp(hi, 0).unwrap();
            let after = offset(tz, hi);
            found.push(Transition {
                at: hi,
                before: current,
                after,
            });
            current = after;
            // Two changes within one step would need another look.
            assert_eq!(after, there, "two offset changes within 6 h in {tz}");
        }
        at = next;
    }
    found
}

pub fn transitions(tz: Tz) -> &'static [Transition] {
    static ALL: OnceLock<HashMap<Tz, Vec<Transition>>> = OnceLock::new();
    ALL.get_or_init(|| ZONES.iter().map(|&tz| (tz, scan(tz))).collect())
        .get(&tz)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
