//! The SQL of [`PostgresStore`](super::PostgresStore): its tables, named by
//! their prefix, and its statements, each claim, renewal and lease one
//! statement against the database's `now()`.

use sha2::{Digest, Sha256};

use crate::shared::tables::with_table_prefix;

/// The tables, for the default prefix.
const TABLES: &str = include_str!("../../sql/postgres.sql");

/// What creates the tables of `prefix`, if they are missing: under an
/// advisory lock, so that replicas starting together do not race.
pub(super) fn create_tables(prefix: &str) -> String {
    format!(
        "SELECT pg_advisory_xact_lock({});\n{}",
        advisory_lock_key(prefix),
        with_table_prefix(TABLES, prefix)
    )
}

/// The advisory lock under which the tables of `prefix` are created: a
/// 64-bit FNV-1a hash of the prefix, the same in every replica.
fn advisory_lock_key(prefix: &str) -> i64 {
    let hash = format!("tasks-stores tables {prefix}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The statements of the store, for its table prefix.
pub(super) struct Statements {
    pub(super) claim: String,
    pub(super) claim_holder: String,
    pub(super) renew_claim: String,
    pub(super) finish: String,
    pub(super) last_finished: String,
    pub(super) acquire: String,
    pub(super) renew: String,
    pub(super) live_holder: String,
    pub(super) release: String,
    pub(super) prune: String,
}

impl Statements {
    pub(super) fn new(prefix: &str) -> Self {
        let sql = |text: &str| with_table_prefix(text, prefix);
        Self {
            // $1 loop key, $2 slot (ns), $3 the earliest time the claim is
            // accepted, $4 holder, $5 tzdb, $6 lease (µs), $7 the end of
            // the slot's late tolerance or takeover window, whichever is
            // later, $8 retention (µs), $9 the end of the takeover window,
            // NULL without takeover, $10 loop name, $11 the latest time
            // the claim is accepted. The token is the greater of the last
            // plus one and the clock in microseconds.
            claim: sql(r#"
                WITH clock AS (
                    SELECT now() AS now, floor(extract(epoch FROM now()) * 1000000)::bigint AS micros
                ),
                fence AS (
                    INSERT INTO "tasks_fences" AS f (loop_key, loop_name, fence)
                    SELECT $1::bytea, $10::text, greatest(clock.micros, 1) FROM clock
                    WHERE clock.now >= $3::timestamptz AND clock.now <= $11::timestamptz
                    ON CONFLICT (loop_key) DO UPDATE
                        SET fence = greatest(f.fence + 1, excluded.fence)
                    RETURNING f.fence
                ),
                claim AS (
                    INSERT INTO "tasks_claims" AS c
                        (loop_key, slot_ns, loop_name, holder, fence, tzdb, claimed_at,
                         lease_until, keep_until)
                    SELECT $1::bytea, $2::bigint, $10::text, $4::text, fence.fence, $5::text,
                           clock.now, clock.now + $6::bigint * interval '1 microsecond',
                           greatest(clock.now + $6::bigint * interval '1 microsecond',
                                    $7::timestamptz)
                               + $8::bigint * interval '1 microsecond'
                    FROM fence, clock
                    ON CONFLICT (loop_key, slot_ns) DO UPDATE SET
                        holder = excluded.holder, fence = excluded.fence, tzdb = excluded.tzdb,
                        claimed_at = excluded.claimed_at, lease_until = excluded.lease_until,
                        keep_until = excluded.keep_until
                    WHERE c.outcome IS NULL
                      AND c.lease_until <= excluded.claimed_at
                      AND excluded.claimed_at <= $9::timestamptz
                    RETURNING c.fence
                )
                SELECT clock.now, clock.now < $3::timestamptz, (SELECT fence FROM claim),
                       clock.now > $11::timestamptz
                FROM clock"#),
            claim_holder: sql(r#"SELECT holder, tzdb FROM "tasks_claims"
                WHERE loop_key = $1::bytea AND slot_ns = $2::bigint"#),
            // $1 loop key, $2 slot (ns), $3 holder, $4 token, $5 lease (µs),
            // $6 retention (µs).
            renew_claim: sql(r#"UPDATE "tasks_claims"
                SET lease_until = now() + $5::bigint * interval '1 microsecond',
                    keep_until = greatest(keep_until,
                        now() + ($5::bigint + $6::bigint) * interval '1 microsecond')
                WHERE loop_key = $1::bytea AND slot_ns = $2::bigint AND holder = $3::text
                  AND fence = $4::bigint AND outcome IS NULL
                RETURNING fence"#),
            finish: sql(
                r#"UPDATE "tasks_claims" SET outcome = $4::text, finished_at = now()
                WHERE loop_key = $1::bytea AND slot_ns = $2::bigint AND fence = $3::bigint"#,
            ),
            last_finished: sql(r#"SELECT slot_ns, outcome, fence FROM "tasks_claims"
                WHERE loop_key = $1::bytea AND outcome IS NOT NULL
                ORDER BY slot_ns DESC LIMIT 1"#),
            // $1 loop key, $2 replica, $3 lease (µs), $4 loop name. The
            // token as the claim's.
            acquire: sql(r#"
                WITH clock AS (
                    SELECT now() AS now, floor(extract(epoch FROM now()) * 1000000)::bigint AS micros
                ),
                live AS (
                    SELECT holder FROM "tasks_leases", clock
                    WHERE loop_key = $1::bytea AND expires > clock.now
                ),
                fence AS (
                    INSERT INTO "tasks_fences" AS f (loop_key, loop_name, fence)
                    SELECT $1::bytea, $4::text, greatest(clock.micros, 1) FROM clock
                    WHERE NOT EXISTS (SELECT 1 FROM live)
                    ON CONFLICT (loop_key) DO UPDATE
                        SET fence = greatest(f.fence + 1, excluded.fence)
                    RETURNING f.fence
                ),
                lease AS (
                    INSERT INTO "tasks_leases" AS l (loop_key, loop_name, holder, fence, expires)
                    SELECT $1::bytea, $4::text, $2::text, fence.fence,
                           clock.now + $3::bigint * interval '1 microsecond'
                    FROM fence, clock
                    ON CONFLICT (loop_key) DO UPDATE SET
                        holder = excluded.holder, fence = excluded.fence,
                        expires = excluded.expires
                    WHERE l.expires <= (SELECT now FROM clock)
                    RETURNING l.fence
                )
                SELECT (SELECT fence FROM lease), (SELECT holder FROM live)"#),
            // $1 loop key, $2 replica, $3 token, $4 lease (µs).
            renew: sql(r#"UPDATE "tasks_leases"
                SET expires = now() + $4::bigint * interval '1 microsecond'
                WHERE loop_key = $1::bytea AND holder = $2::text AND fence = $3::bigint
                  AND expires > now()
                RETURNING fence"#),
            live_holder: sql(r#"SELECT holder FROM "tasks_leases"
                WHERE loop_key = $1::bytea AND expires > now()"#),
            release: sql(r#"DELETE FROM "tasks_leases"
                WHERE loop_key = $1::bytea AND holder = $2::text AND fence = $3::bigint"#),
            prune: sql(
                r#"DELETE FROM "tasks_claims" AS c WHERE c.keep_until < now()
                AND (c.outcome IS NULL OR c.slot_ns < (
                    SELECT max(finished.slot_ns) FROM "tasks_claims" AS finished
                    WHERE finished.loop_key = c.loop_key AND finished.outcome IS NOT NULL))"#,
            ),
        }
    }
}

/// The key of a loop in the tables: the SHA-256 of its name.
pub(super) fn loop_key(loop_name: &str) -> Vec<u8> {
    Sha256::digest(loop_name.as_bytes()).to_vec()
}
