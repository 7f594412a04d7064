-- refkit schema, version 1.
--
-- Each record is kept whole as JSON in `data`, so a new field needs no
-- migration; the columns beside it are copies of the fields that queries filter
-- or sort on, and every index below serves one query the store makes. IDs are
-- UUIDv7 as 16-byte BLOBs, whose byte order is creation order. Times in columns
-- are Unix nanoseconds (saturated outside 1678–2262), NULL when unset.

CREATE TABLE networks (
	id   BLOB PRIMARY KEY,
	data TEXT NOT NULL
);

CREATE TABLE organizations (
	id         BLOB PRIMARY KEY,
	network_id BLOB NOT NULL REFERENCES networks (id),
	data       TEXT NOT NULL
);
-- ListOrganizations: a network's organizations in id order.
CREATE INDEX organizations_by_network ON organizations (network_id, id);

CREATE TABLE services (
	id              BLOB PRIMARY KEY,
	network_id      BLOB NOT NULL REFERENCES networks (id),
	organization_id BLOB NOT NULL REFERENCES organizations (id),
	data            TEXT NOT NULL
);
-- ListServices: a network's services in id order.
CREATE INDEX services_by_network ON services (network_id, id);
-- The foreign key above: an organization's services.
CREATE INDEX services_by_organization ON services (organization_id);

CREATE TABLE persons (
	id         BLOB PRIMARY KEY,
	network_id BLOB NOT NULL REFERENCES networks (id),
	data       TEXT NOT NULL
);

CREATE TABLE consents (
	id           BLOB PRIMARY KEY,
	network_id   BLOB NOT NULL REFERENCES networks (id),
	person_id    BLOB NOT NULL REFERENCES persons (id),
	grantee_id   BLOB NOT NULL REFERENCES organizations (id),
	scope        TEXT NOT NULL,
	period_start INTEGER,
	period_end   INTEGER,
	revoked      INTEGER,
	data         TEXT NOT NULL
);
-- ListConsents (a person's consents in id order) and the visibility rule's
-- consent lookup (person, grantee, scope).
CREATE INDEX consents_by_person ON consents (person_id, grantee_id, scope);
CREATE INDEX consents_by_person_id ON consents (person_id, id);
CREATE INDEX consents_by_grantee ON consents (grantee_id);

CREATE TABLE screenings (
	id         BLOB PRIMARY KEY,
	network_id BLOB NOT NULL REFERENCES networks (id),
	person_id  BLOB NOT NULL REFERENCES persons (id),
	data       TEXT NOT NULL
);
-- ListScreenings: a person's results in id order.
CREATE INDEX screenings_by_person ON screenings (person_id, id);

-- Referrals name their person and organizations without foreign keys: the
-- storage contract lets a referral outlive (or precede) the records it names.
CREATE TABLE referrals (
	id              BLOB PRIMARY KEY,
	network_id      BLOB NOT NULL REFERENCES networks (id),
	sender_id       BLOB NOT NULL,
	receiver_id     BLOB NOT NULL,
	person_id       BLOB NOT NULL,
	status          TEXT NOT NULL,
	created         INTEGER NOT NULL,
	next_deadline   INTEGER,
	idempotency_key TEXT,
	version         INTEGER NOT NULL,
	data            TEXT NOT NULL
);
-- ListReferrals: by network, by sender, by receiver, by person, in id order;
-- and by receiver and statuses, a receiving organization's work queue, where
-- each status is a run in id order (the store names this index in that query:
-- without it SQLite prefers an index that avoids sorting and scans the
-- receiver's closed referrals too).
CREATE INDEX referrals_by_network ON referrals (network_id, id);
CREATE INDEX referrals_by_sender ON referrals (network_id, sender_id, id);
CREATE INDEX referrals_by_receiver ON referrals (network_id, receiver_id, id);
CREATE INDEX referrals_by_receiver_status ON referrals (network_id, receiver_id, status, id);
CREATE INDEX referrals_by_person ON referrals (network_id, person_id, id);
-- DueReferrals: the deadline sweep, earliest first, ties by id.
CREATE INDEX referrals_due ON referrals (next_deadline, id) WHERE next_deadline IS NOT NULL;
-- CreateReferral's idempotency: one referral per network, sender and key.
CREATE UNIQUE INDEX referrals_idempotency ON referrals (network_id, sender_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;

-- The event log. position is the rowid: events are never deleted, and one
-- writer appends at a time, so positions only grow and a reader never sees a
-- gap that a later commit fills. Events are small, fixed-shape and read in bulk
-- by feed followers, so they are kept in columns, not JSON: a follower catching
-- up decodes no JSON. The actor's network is the event's (validated on write).
-- at is kept exactly as Unix seconds and nanoseconds.
CREATE TABLE events (
	position     INTEGER PRIMARY KEY,
	network_id   BLOB NOT NULL REFERENCES networks (id),
	referral_id  BLOB NOT NULL REFERENCES referrals (id),
	sequence     INTEGER NOT NULL,
	type         TEXT NOT NULL,
	actor_org    BLOB,
	actor_user   TEXT NOT NULL,
	actor_role   TEXT NOT NULL,
	actor_person BLOB,
	at_sec       INTEGER NOT NULL,
	at_nsec      INTEGER NOT NULL,
	from_status  TEXT NOT NULL,
	to_status    TEXT NOT NULL,
	reason       TEXT NOT NULL,
	note         TEXT NOT NULL,
	UNIQUE (referral_id, sequence)
);
-- Feed: a network's events from a cursor, in position order.
CREATE INDEX events_by_network ON events (network_id, position);
