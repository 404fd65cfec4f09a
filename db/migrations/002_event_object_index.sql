-- 002_event_object_index: "what happened to this VM/host/job" is the most
-- common event query (filter=object_id eq '…'); give it an index.
CREATE INDEX events_object ON events(object_id, time);
