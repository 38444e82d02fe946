//! The SQL of [`SqliteStore`](super::SqliteStore): its tables, named by
//! their prefix, and its statements. The decisions are made in Rust, by
//! `tasks_runtime::cluster::rules`, inside one `BEGIN IMMEDIATE`
//! transaction per claim, renewal or lease.

use crate::shared::tables::with_table_prefix;

/// The tables, for the default prefix.
pub(super) const TABLES: &str = include_str!("../../sql/sqlite.sql");

/// The machine's clock, as SQLite reads it, in milliseconds.
pub(super) const NOW_MS: &str = "SELECT CAST(round(unixepoch('subsec') * 1000) AS INTEGER)";

/// The statements of the store, for its table prefix.
pub(super) struct Statements {
    pub(super) claim_row: String,
    pub(super) next_fence: String,
    pub(super) record_claim: String,
    pub(super) renewal_row: String,
    pub(super) renew_claim: String,
    pub(super) finish: String,
    pub(super) last_finished: String,
    pub(super) lease_row: String,
    pub(super) renew: String,
    pub(super) record_lease: String,
    pub(super) release: String,
    pub(super) prune: String,
}

impl Statements {
    pub(super) fn new(prefix: &str) -> Self {
        let sql = |text: &str| with_table_prefix(text, prefix);
        Self {
            claim_row: sql(
                r#"SELECT holder, tzdb, lease_until_ms, outcome FROM "tasks_claims"
                WHERE loop_name = ?1 AND slot_ns = ?2"#,
            ),
            // ?2 the store's time in microseconds: the next token is the
            // greater of it and the last plus one.
            next_fence: sql(
                r#"INSERT INTO "tasks_fences" (loop_name, fence) VALUES (?1, ?2)
                ON CONFLICT (loop_name) DO UPDATE SET fence = max(fence + 1, excluded.fence)
                RETURNING fence"#,
            ),
            record_claim: sql(r#"INSERT INTO "tasks_claims"
                    (loop_name, slot_ns, holder, fence, tzdb, claimed_at_ms, lease_until_ms,
                     keep_until_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                ON CONFLICT (loop_name, slot_ns) DO UPDATE SET
                    holder = excluded.holder, fence = excluded.fence, tzdb = excluded.tzdb,
                    claimed_at_ms = excluded.claimed_at_ms,
                    lease_until_ms = excluded.lease_until_ms,
                    keep_until_ms = excluded.keep_until_ms,
                    outcome = NULL, finished_at_ms = NULL"#),
            renewal_row: sql(
                r#"SELECT holder, fence, outcome, keep_until_ms FROM "tasks_claims"
                WHERE loop_name = ?1 AND slot_ns = ?2"#,
            ),
            renew_claim: sql(
                r#"UPDATE "tasks_claims" SET lease_until_ms = ?3, keep_until_ms = ?4
                WHERE loop_name = ?1 AND slot_ns = ?2"#,
            ),
            finish: sql(&format!(
                r#"UPDATE "tasks_claims" SET outcome = ?4, finished_at_ms = ({NOW_MS})
                WHERE loop_name = ?1 AND slot_ns = ?2 AND fence = ?3"#
            )),
            last_finished: sql(r#"SELECT slot_ns, outcome, fence FROM "tasks_claims"
                WHERE loop_name = ?1 AND outcome IS NOT NULL
                ORDER BY slot_ns DESC LIMIT 1"#),
            lease_row: sql(r#"SELECT holder, fence, expires_ms FROM "tasks_leases"
                WHERE loop_name = ?1"#),
            renew: sql(r#"UPDATE "tasks_leases" SET expires_ms = ?4
                WHERE loop_name = ?1 AND holder = ?2 AND fence = ?3"#),
            record_lease: sql(
                r#"INSERT INTO "tasks_leases" (loop_name, holder, fence, expires_ms)
                VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (loop_name) DO UPDATE SET
                    holder = excluded.holder, fence = excluded.fence,
                    expires_ms = excluded.expires_ms"#,
            ),
            release: sql(r#"DELETE FROM "tasks_leases"
                WHERE loop_name = ?1 AND holder = ?2 AND fence = ?3"#),
            prune: sql(r#"DELETE FROM "tasks_claims" WHERE keep_until_ms < ?1
                AND (outcome IS NULL OR slot_ns < (
                    SELECT max(finished.slot_ns) FROM "tasks_claims" AS finished
                    WHERE finished.loop_name = "tasks_claims".loop_name
                      AND finished.outcome IS NOT NULL))"#),
        }
    }
}
