-- 010_stream_ids: the event stream's ids are one sequence that outlives a
-- daemon.  A daemon reserves a block of ids at start (and more as it runs
-- low), so ids only ever grow, across restarts and, later, across daemons.
CREATE TABLE stream_ids (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    reserved INTEGER NOT NULL
);
INSERT INTO stream_ids (id, reserved) VALUES (1, 0);
