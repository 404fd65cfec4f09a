-- 005_ha: host health, HA restarts and fencing, maintenance mode.
--   hosts.unreachable_since  when the host stopped answering (NULL while it answers)
--   hosts.maintenance        Polyvisor's maintenance flag: the host takes no new VMs and shows
--                            state 'maintenance' whatever its adapter reports
--   vms.ha_status            why an HA VM is not running, or what HA last did with it
--   ha_fence                 copies of VMs restarted elsewhere that must never run again where
--                            they were: when that host comes back, they are stopped and removed
ALTER TABLE hosts ADD COLUMN unreachable_since TEXT;
ALTER TABLE hosts ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vms ADD COLUMN ha_status TEXT;

CREATE TABLE ha_fence (
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    native_id     TEXT NOT NULL,
    vm_id         TEXT,
    job_id        TEXT,            -- the fencing job, once started
    created_at    TEXT NOT NULL,
    PRIMARY KEY (connection_id, native_id)
);
