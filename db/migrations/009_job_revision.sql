-- 009_job_revision: a job's revision goes up by one with every change to the
-- job or its steps, so a client holding two copies of a job (one from a
-- reply, one from the event stream) keeps the newer one.
ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- A step's change is a change of its job.
CREATE TRIGGER job_steps_revision AFTER UPDATE ON job_steps
BEGIN
    UPDATE jobs SET revision = revision + 1 WHERE id = NEW.job_id;
END;
