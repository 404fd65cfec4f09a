-- 008_alerts: alerts raised by host-group thresholds (CPU, memory, host
-- unreachable).  A row exists while the alert is active; raising and
-- clearing are events.  One alert per (object, kind).
CREATE TABLE alerts (
    id        TEXT PRIMARY KEY,
    object_id TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('cpu', 'memory', 'unreachable')),
    value     REAL,
    threshold REAL,
    message   TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    UNIQUE (object_id, kind)
);
