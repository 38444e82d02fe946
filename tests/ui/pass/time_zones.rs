//! Zones whose chrono-tz constants are spelled unlike their names, and UTC
//! offsets in every accepted form: each becomes a value at compile time.

#[tasks::r#loop(time = "08:00", tz = "Etc/GMT+9")]
async fn etc_gmt_plus_nine() {}

#[tasks::r#loop(time = "08:00", tz = "Etc/GMT-14")]
async fn etc_gmt_minus_fourteen() {}

#[tasks::r#loop(time = "08:00", tz = "America/Argentina/Buenos_Aires")]
async fn buenos_aires() {}

#[tasks::r#loop(time = "08:00", tz = "America/Port-au-Prince")]
async fn port_au_prince() {}

#[tasks::r#loop(time = "08:00", tz = "UTC")]
async fn utc() {}

#[tasks::r#loop(time = "08:00", tz = "GB-Eire")]
async fn gb_eire() {}

#[tasks::r#loop(time = ["08:00", "20:30:15"], tz = "+09:00")]
async fn colon() {}

#[tasks::r#loop(time = "08:00", tz = "-0530")]
async fn no_colon() {}

#[tasks::r#loop(time = "08:00", tz = "+01")]
async fn hours_only() {}

#[tasks::r#loop(time = "08:00", tz = "Z")]
async fn zulu() {}

#[tasks::r#loop(time = "08:00")]
async fn no_zone() {}

fn zone_of(times: Option<Vec<tasks::TimeOfDay>>) -> String {
    let times = times.expect("times of day");
    times.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn main() {
    assert_eq!(zone_of(etc_gmt_plus_nine.time()), "08:00:00 Etc/GMT+9");
    assert_eq!(zone_of(etc_gmt_minus_fourteen.time()), "08:00:00 Etc/GMT-14");
    assert_eq!(zone_of(buenos_aires.time()), "08:00:00 America/Argentina/Buenos_Aires");
    assert_eq!(zone_of(port_au_prince.time()), "08:00:00 America/Port-au-Prince");
    assert_eq!(zone_of(utc.time()), "08:00:00 UTC");
    assert_eq!(zone_of(gb_eire.time()), "08:00:00 GB-Eire");
    assert_eq!(zone_of(colon.time()), "08:00:00 +09:00, 20:30:15 +09:00");
    assert_eq!(zone_of(no_colon.time()), "08:00:00 -05:30");
    assert_eq!(zone_of(hours_only.time()), "08:00:00 +01:00");
    assert_eq!(zone_of(zulu.time()), "08:00:00 +00:00");
    assert_eq!(zone_of(no_zone.time()), "08:00:00 UTC");
}
