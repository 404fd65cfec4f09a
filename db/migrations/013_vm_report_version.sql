-- 013_vm_report_version: the version of the last report a VM's row took.
-- An endpoint that numbers its reports (the KVM agent stamps every read of
-- a domain, each stamp larger than the one before) lets a report that was
-- read earlier but arrives later (an event's refresh racing a job's own
-- report) be recognised as stale and dropped.  0: not numbered.
ALTER TABLE vms ADD COLUMN report_version INTEGER NOT NULL DEFAULT 0;
