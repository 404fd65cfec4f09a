-- 006_audit_chain: audit events are hash-chained.  Each audit row stores the
-- hash of the audit row before it and its own hash over that and its fields,
-- so a changed or removed row breaks the chain where it happened
-- (GET /api/v1/audit/verify).  Rows written before this migration carry no
-- hash and are reported as unchained.
ALTER TABLE events ADD COLUMN prev_hash TEXT;
ALTER TABLE events ADD COLUMN hash TEXT;
CREATE INDEX events_audit ON events(seq) WHERE severity = 'audit';
