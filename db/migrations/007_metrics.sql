-- 007_metrics: monitoring history.  A VM's measured CPU and memory (as its
-- adapter last reported them), and samples of hosts' and VMs' figures in
-- two tiers: raw samples (tier 0, one per collection interval, kept a day
-- by default) and five-minute averages (tier 1, kept a month).  One row is a
-- few dozen bytes: the key is (object, tier, time) in a WITHOUT ROWID table,
-- times are Unix seconds.
ALTER TABLE vms ADD COLUMN cpu_usage_pct REAL;
ALTER TABLE vms ADD COLUMN memory_used_mb INTEGER;

CREATE TABLE metric_samples (
    object_id TEXT NOT NULL,
    tier      INTEGER NOT NULL,
    t         INTEGER NOT NULL,
    cpu_pct   REAL,
    mem_mb    INTEGER,
    n         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (object_id, tier, t)
) WITHOUT ROWID;
CREATE INDEX metric_samples_age ON metric_samples(tier, t);
