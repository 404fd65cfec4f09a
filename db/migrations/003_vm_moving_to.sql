-- 003_vm_moving_to: a VM moving to another connection (a KVM VM migrating
-- to another agent's host) keeps its row and its Polyvisor id.  While the
-- move runs, moving_to names the destination connection: the source's
-- "gone" report leaves the row alone, and the destination's first report of
-- that native id adopts it.
ALTER TABLE vms ADD COLUMN moving_to TEXT REFERENCES connections(id) ON DELETE SET NULL;
CREATE INDEX vms_moving ON vms(native_id) WHERE moving_to IS NOT NULL;
