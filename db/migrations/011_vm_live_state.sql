-- 011_vm_live_state: what the API shows of a VM's power state is what is
-- known now.  A VM whose host is disconnected or failed, or whose
-- connection is not connected, reads 'unknown'; the last state heard stays
-- in vms.power_state (placement and HA decide on it) and is shown as
-- last_known_power_state, with stale_since saying since when it is stale.
CREATE VIEW vms_live AS
SELECT v.*,
       CASE WHEN h.state IN ('disconnected', 'failed') OR c.state <> 'connected' THEN 'unknown'
            ELSE v.power_state END AS live_power_state,
       v.power_state AS last_known_power_state,
       CASE WHEN h.state IN ('disconnected', 'failed') THEN coalesce(h.unreachable_since, h.observed_at)
            WHEN c.state <> 'connected' THEN coalesce(c.observed_at, v.observed_at)
            END AS stale_since
FROM vms v
JOIN connections c ON c.id = v.connection_id
LEFT JOIN hosts h ON h.id = v.host_id;
