-- refkit schema, version 2: the directory feed (storage.DirectoryFeed).
--
-- Every directory write appends a row to directory_changes in its own
-- transaction. position is the rowid, as for events: rows are never deleted
-- and one writer appends at a time (the file's write lock), so positions only
-- grow and a reader never sees a gap a later commit fills. The organization
-- and service a change names are not foreign keys: a deleted service's
-- changes stay. capacity is the JSON of the capacity a capacity change set,
-- NULL for other kinds (and for a capacity no longer tracked).
CREATE TABLE directory_changes (
	position        INTEGER PRIMARY KEY,
	network_id      BLOB NOT NULL REFERENCES networks (id),
	kind            TEXT NOT NULL,
	organization_id BLOB NOT NULL,
	service_id      BLOB,
	capacity        TEXT
);
-- DirectoryChanges and the feed head DirectoryChanged watches: a network's
-- changes from a cursor, in position order.
CREATE INDEX directory_changes_by_network ON directory_changes (network_id, position);

-- directory_cursors holds each network's capacity cursor: the last referral
-- feed position AdjustCapacity took, so each cause moves a capacity once.
CREATE TABLE directory_cursors (
	network_id     BLOB PRIMARY KEY REFERENCES networks (id),
	capacity_cause INTEGER NOT NULL
);
