-- 0002_directory_feed: the directory feed (storage.DirectoryFeed). Every
-- directory write appends a change in the same statement, at a position taken
-- from the network's row in directory_heads: the row lock, held to commit,
-- orders a network's changes by commit, as feed_heads does for events (see
-- doc.go). The row is made by the first change (an upsert), so networks
-- created before this migration need nothing. The organization and service a
-- change names are not foreign keys: a deleted service's changes stay.

CREATE TABLE directory_heads (
    network_id UUID PRIMARY KEY REFERENCES networks (id),
    position   BIGINT NOT NULL
);

-- The primary key is the cursor DirectoryChanges reads from. capacity is the
-- capacity a capacity change set (NULL for other kinds, and for a capacity no
-- longer tracked).
CREATE TABLE directory_changes (
    network_id      UUID NOT NULL,
    position        BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    organization_id UUID NOT NULL,
    service_id      UUID,
    capacity        JSONB,
    PRIMARY KEY (network_id, position)
);

-- Each network's capacity cursor: the last referral feed position
-- AdjustCapacity took, so each cause moves a capacity once.
CREATE TABLE directory_cursors (
    network_id     UUID PRIMARY KEY REFERENCES networks (id),
    capacity_cause BIGINT NOT NULL
);
