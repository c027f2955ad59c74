-- Cairn store, schema 6: the snapshot slots written by publishes not yet
-- recorded (a bit per slot). A publish whose head reached storage but whose
-- answer was lost is live without this device knowing it; the next
-- snapshot must not go into a slot such a head may name.
ALTER TABLE sync_self ADD COLUMN unrecorded_snapshot_slots INTEGER NOT NULL DEFAULT 0;
