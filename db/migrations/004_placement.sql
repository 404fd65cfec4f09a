-- 004_placement: what the placement engine needs beyond the inventory.
--   hosts.tags          host tags that tag rules of a host group's policy ask about
--   vms.anti_affinity   availability sets: VMs sharing a set name stay on different hosts
--   vms.affinity        affinity sets: VMs sharing a set name stay on one host
--   vms.last_moved_at   when placement last moved the VM (rebalance cool-down)
--   plans               rebalance / power-optimize / evacuate plans kept for review
--   schedules.*         what the last run did
ALTER TABLE hosts ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE vms ADD COLUMN anti_affinity TEXT NOT NULL DEFAULT '[]';
ALTER TABLE vms ADD COLUMN affinity TEXT NOT NULL DEFAULT '[]';
ALTER TABLE vms ADD COLUMN last_moved_at TEXT;

CREATE TABLE plans (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('rebalance', 'power-optimize', 'evacuate')),
    state         TEXT NOT NULL
                  CHECK (state IN ('proposed', 'approved', 'executing', 'done', 'failed',
                                   'rejected', 'superseded')),
    schedule_id   TEXT REFERENCES schedules(id) ON DELETE SET NULL,
    job_id        TEXT,                   -- the job that made the plan
    execute_job_id TEXT,                  -- the job that carries it out
    host_group_id TEXT,
    params        TEXT NOT NULL DEFAULT '{}',
    moves         TEXT NOT NULL DEFAULT '[]',
    summary       TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    decided_by    TEXT
);
CREATE INDEX plans_created ON plans(created_at, id);

ALTER TABLE schedules ADD COLUMN last_job_id TEXT;
ALTER TABLE schedules ADD COLUMN last_error TEXT;
ALTER TABLE schedules ADD COLUMN created_by TEXT NOT NULL DEFAULT 'admin';
