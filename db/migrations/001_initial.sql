-- 001_initial: the inventory model of DESIGN.md.
-- Times are ISO-8601 UTC text ("2026-11-24T07:00:00.123Z"), which sorts as it reads.
-- Ids are Polyvisor's own opaque text; native ids are unique per connection only.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    TEXT NOT NULL
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the bearer token
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    username    TEXT,
    secret      BLOB,                        -- secretbox(nonce || box) of {"password"|"token"}
    insecure    INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'disconnected'
                CHECK (state IN ('connected', 'disconnected', 'auth_failed', 'error')),
    last_error  TEXT,
    observed_at TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE host_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_id   TEXT REFERENCES host_groups(id) ON DELETE RESTRICT,
    description TEXT NOT NULL DEFAULT '',
    policy      TEXT NOT NULL DEFAULT '{}',   -- JSON object
    created_at  TEXT NOT NULL,
    UNIQUE (parent_id, name)
);

CREATE TABLE clusters (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    native_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    vendor        TEXT NOT NULL,
    host_group_id TEXT REFERENCES host_groups(id) ON DELETE SET NULL,
    observed_at   TEXT NOT NULL,
    UNIQUE (connection_id, native_id)
);

CREATE TABLE hosts (
    id             TEXT PRIMARY KEY,
    connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    cluster_id     TEXT REFERENCES clusters(id) ON DELETE SET NULL,
    host_group_id  TEXT REFERENCES host_groups(id) ON DELETE SET NULL,
    native_id      TEXT NOT NULL,
    name           TEXT NOT NULL,
    vendor         TEXT NOT NULL,
    state          TEXT NOT NULL
                   CHECK (state IN ('connected', 'disconnected', 'maintenance', 'failed')),
    cpu_cores      INTEGER NOT NULL DEFAULT 0,
    cpu_mhz        INTEGER NOT NULL DEFAULT 0,
    memory_mb      INTEGER NOT NULL DEFAULT 0,
    memory_used_mb INTEGER NOT NULL DEFAULT 0,
    cpu_usage_pct  REAL NOT NULL DEFAULT 0,
    facts          TEXT NOT NULL DEFAULT '{}',
    source         TEXT NOT NULL DEFAULT 'poll' CHECK (source IN ('event', 'poll')),
    observed_at    TEXT NOT NULL,
    UNIQUE (connection_id, native_id)
);
CREATE INDEX hosts_name ON hosts(name, id);
CREATE INDEX hosts_group ON hosts(host_group_id);

CREATE TABLE vms (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    host_id       TEXT REFERENCES hosts(id) ON DELETE SET NULL,
    native_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    vendor        TEXT NOT NULL,
    power_state   TEXT NOT NULL
                  CHECK (power_state IN ('running', 'stopped', 'paused', 'saved', 'unknown')),
    vcpus         INTEGER NOT NULL DEFAULT 0,
    memory_mb     INTEGER NOT NULL DEFAULT 0,
    paravirtual   INTEGER,
    disks         TEXT NOT NULL DEFAULT '[]',
    nics          TEXT NOT NULL DEFAULT '[]',
    ha            TEXT NOT NULL DEFAULT 'off' CHECK (ha IN ('off', 'low', 'medium', 'high')),
    tags          TEXT NOT NULL DEFAULT '[]',
    vendor_detail TEXT NOT NULL DEFAULT '{}',
    source        TEXT NOT NULL DEFAULT 'poll' CHECK (source IN ('event', 'poll')),
    observed_at   TEXT NOT NULL,
    UNIQUE (connection_id, native_id)
);
CREATE INDEX vms_name ON vms(name, id);
CREATE INDEX vms_host ON vms(host_id);
CREATE INDEX vms_power ON vms(power_state, id);
CREATE INDEX vms_memory ON vms(memory_mb, id);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    target_type      TEXT,
    target_id        TEXT,
    lock_key         TEXT,                   -- jobs with one key share a concurrency limit
    state            TEXT NOT NULL
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress         INTEGER NOT NULL DEFAULT 0,
    params           TEXT NOT NULL DEFAULT '{}',
    result           TEXT,
    error_code       TEXT,
    error_message    TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_by       TEXT NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    UNIQUE (created_by, idempotency_key)
);
CREATE INDEX jobs_state ON jobs(state, created_at);
CREATE INDEX jobs_created ON jobs(created_at, id);

CREATE TABLE job_steps (
    job_id      TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    progress    INTEGER NOT NULL DEFAULT 0,
    detail      TEXT,
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('deploy', 'rebalance', 'power-optimize', 'evacuate')),
    cron        TEXT,
    at_time     TEXT,
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    params      TEXT NOT NULL DEFAULT '{}',
    enabled     INTEGER NOT NULL DEFAULT 1,
    last_run_at TEXT,
    next_run_at TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    time        TEXT NOT NULL,
    object_type TEXT,
    object_id   TEXT,
    severity    TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'audit')),
    message     TEXT NOT NULL,
    actor       TEXT
);
CREATE INDEX events_time ON events(time, id);
