-- 012_fence_done: a fenced stale copy is remembered for a short while after
-- it was removed (job_id 'done', done_at), so that reports of it still in
-- flight from the host's event stream (its power-off, its undefine) are not
-- taken for a VM that appeared: the VM would be listed twice meanwhile.
ALTER TABLE ha_fence ADD COLUMN done_at TEXT;
