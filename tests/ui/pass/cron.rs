//! Cron expressions in both forms, with and without a zone, on free
//! functions and methods: each read by croner at compile time and again at
//! run time, where it cannot fail.

use std::sync::Arc;

use tasks::LoopSlot;

#[tasks::r#loop(cron = "0 30 9 * * MON-FRI", tz = "Asia/Seoul")]
async fn standup() {}

#[tasks::r#loop(cron = "*/15 9-17 * * mon-fri", tz = "-05:00", count = 3)]
async fn office_hours() -> Result<(), std::io::Error> {
    Ok(())
}

#[tasks::r#loop(cron = "0 18 L * *")]
async fn month_end() {}

#[tasks::r#loop(cron = "@daily", tz = "America/Port-au-Prince")]
async fn nightly() {}

#[derive(Default)]
struct Reports {
    weekly: LoopSlot,
}

impl Reports {
    #[tasks::r#loop(cron = "0 9 * * 1#1", tz = "Europe/Paris", name = "first Monday")]
    async fn weekly(self: Arc<Self>) {}
}

fn main() {
    let shown = |cron: Option<tasks::Cron>| cron.expect("a cron schedule").to_string();
    assert_eq!(shown(standup.cron()), "0 30 9 * * MON-FRI (Asia/Seoul)");
    assert_eq!(shown(office_hours.cron()), "*/15 9-17 * * mon-fri (-05:00)");
    assert_eq!(office_hours.count(), Some(3));
    assert_eq!(shown(month_end.cron()), "0 18 L * * (UTC)");
    assert_eq!(shown(nightly.cron()), "@daily (America/Port-au-Prince)");
    assert_eq!(standup.time(), None);
    assert_eq!(standup.seconds(), None);
    let reports = Arc::new(Reports::default());
    assert_eq!(shown(reports.weekly().cron()), "0 9 * * 1#1 (Europe/Paris)");
}
