-- The tables of tasks-stores' PostgresStore, with the default prefix
-- `tasks_`. The store creates them on first use (after taking an advisory
-- lock, so that replicas starting together do not race); run this file
-- yourself instead (a migration) when the store's role may not create
-- tables, and tell the store with `PostgresStoreBuilder::create_tables(false)`.
-- For another prefix, replace `tasks_` in the quoted names.
--
-- Every time in these tables is the database's: `now()` when a statement
-- ran. A slot is kept exactly, in nanoseconds since the Unix epoch
-- (`timestamptz` keeps microseconds); `to_timestamp(slot_ns / 1e9)` shows it.
-- A loop is found by `loop_key`, the SHA-256 of its name in UTF-8, so that
-- a name of any length fits an index; `loop_name` is there for people.

-- The last fencing token of each loop, shared by its claims and its terms
-- of leadership: the next is the greater of it plus one and the store's
-- time in microseconds since the Unix epoch, so that tokens keep growing
-- if these rows are lost. Rows are never deleted.
CREATE TABLE IF NOT EXISTS "tasks_fences" (
    loop_key bytea PRIMARY KEY,
    loop_name text NOT NULL,
    fence bigint NOT NULL
);

-- One row per claimed slot of a loop: who holds it, with which token, until
-- when its lease runs, and how it ended. A row is deleted after
-- `keep_until`, unless it is the last finished slot of its loop.
CREATE TABLE IF NOT EXISTS "tasks_claims" (
    loop_key bytea NOT NULL,
    slot_ns bigint NOT NULL,
    loop_name text NOT NULL,
    holder text NOT NULL,
    fence bigint NOT NULL,
    tzdb text NOT NULL,
    claimed_at timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    keep_until timestamptz NOT NULL,
    outcome text CHECK (outcome IN ('completed', 'failed')),
    finished_at timestamptz,
    PRIMARY KEY (loop_key, slot_ns)
);

-- The last finished slot of a loop, found without a scan.
CREATE INDEX IF NOT EXISTS "tasks_claims_finished"
    ON "tasks_claims" (loop_key, slot_ns)
    WHERE outcome IS NOT NULL;

-- The claims past their retention, for pruning.
CREATE INDEX IF NOT EXISTS "tasks_claims_keep_until"
    ON "tasks_claims" (keep_until);

-- One row per loop in leader mode: the holder of its lease, the token of
-- its term, and when the lease expires.
CREATE TABLE IF NOT EXISTS "tasks_leases" (
    loop_key bytea PRIMARY KEY,
    loop_name text NOT NULL,
    holder text NOT NULL,
    fence bigint NOT NULL,
    expires timestamptz NOT NULL
);
