-- The tables of tasks-stores' SqliteStore, with the default prefix
-- `tasks_`. The store creates them when it opens the file; for another
-- prefix, replace `tasks_` in the quoted names.
--
-- Times are the machine's clock as SQLite reads it (`unixepoch('subsec')`),
-- in milliseconds since the Unix epoch (`*_ms`); a slot is kept exactly, in
-- nanoseconds since the Unix epoch (`slot_ns`).
-- `datetime(slot_ns / 1e9, 'unixepoch', 'subsec')` shows one.

-- The last fencing token of each loop, shared by its claims and its terms
-- of leadership: the next is the greater of it plus one and the store's
-- time in microseconds since the Unix epoch, so that tokens keep growing
-- if these rows are lost. Rows are never deleted.
CREATE TABLE IF NOT EXISTS "tasks_fences" (
    loop_name TEXT PRIMARY KEY,
    fence INTEGER NOT NULL
);

-- One row per claimed slot of a loop: who holds it, with which token, until
-- when its lease runs, and how it ended. A row is deleted after
-- `keep_until_ms`, unless it is the last finished slot of its loop.
CREATE TABLE IF NOT EXISTS "tasks_claims" (
    loop_name TEXT NOT NULL,
    slot_ns INTEGER NOT NULL,
    holder TEXT NOT NULL,
    fence INTEGER NOT NULL,
    tzdb TEXT NOT NULL,
    claimed_at_ms INTEGER NOT NULL,
    lease_until_ms INTEGER NOT NULL,
    keep_until_ms INTEGER NOT NULL,
    outcome TEXT CHECK (outcome IN ('completed', 'failed')),
    finished_at_ms INTEGER,
    PRIMARY KEY (loop_name, slot_ns)
);

-- The last finished slot of a loop, found without a scan.
CREATE INDEX IF NOT EXISTS "tasks_claims_finished"
    ON "tasks_claims" (loop_name, slot_ns)
    WHERE outcome IS NOT NULL;

-- The claims past their retention, for pruning.
CREATE INDEX IF NOT EXISTS "tasks_claims_keep_until"
    ON "tasks_claims" (keep_until_ms);

-- One row per loop in leader mode: the holder of its lease, the token of
-- its term, and when the lease expires.
CREATE TABLE IF NOT EXISTS "tasks_leases" (
    loop_name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    fence INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
