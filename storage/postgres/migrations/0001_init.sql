-- 0001_init: the whole refkit schema. Every table keeps the full record as JSONB
-- (doc) and copies into typed columns only what queries filter, join or sort on,
-- so adding a field to a record needs no migration.

CREATE TABLE networks (
    id  UUID PRIMARY KEY,
    doc JSONB NOT NULL
);

-- feed_heads holds the last feed position handed out in each network. Writers
-- increment it inside the transaction that appends the event, so the row lock
-- orders a network's appends by commit (see doc.go).
CREATE TABLE feed_heads (
    network_id UUID PRIMARY KEY REFERENCES networks (id),
    position   BIGINT NOT NULL
);

CREATE TABLE organizations (
    id         UUID PRIMARY KEY,
    network_id UUID NOT NULL REFERENCES networks (id),
    doc        JSONB NOT NULL
);
-- ListOrganizations pages a network's organizations in id order.
CREATE INDEX organizations_network_idx ON organizations (network_id, id);

CREATE TABLE services (
    id              UUID PRIMARY KEY,
    network_id      UUID NOT NULL REFERENCES networks (id),
    organization_id UUID NOT NULL REFERENCES organizations (id),
    doc             JSONB NOT NULL
);
-- ListServices pages a network's services in id order (the directory load).
CREATE INDEX services_network_idx ON services (network_id, id);
CREATE INDEX services_organization_idx ON services (organization_id);

CREATE TABLE persons (
    id         UUID PRIMARY KEY,
    network_id UUID NOT NULL REFERENCES networks (id),
    doc        JSONB NOT NULL
);

-- Consents carry their validity in columns: the visibility filter reads them
-- inside the referral and feed queries.
CREATE TABLE consents (
    id           UUID PRIMARY KEY,
    network_id   UUID NOT NULL REFERENCES networks (id),
    person_id    UUID NOT NULL REFERENCES persons (id),
    grantee_id   UUID NOT NULL REFERENCES organizations (id),
    scope        TEXT NOT NULL,
    period_start TIMESTAMPTZ,
    period_end   TIMESTAMPTZ,
    revoked      TIMESTAMPTZ,
    doc          JSONB NOT NULL
);
-- ListConsents and the visibility filter look consents up by person.
CREATE INDEX consents_person_idx ON consents (person_id, id);
CREATE INDEX consents_grantee_idx ON consents (grantee_id);

CREATE TABLE screenings (
    id         UUID PRIMARY KEY,
    network_id UUID NOT NULL REFERENCES networks (id),
    person_id  UUID NOT NULL REFERENCES persons (id),
    doc        JSONB NOT NULL
);
-- ListScreenings lists a person's results in id (time) order.
CREATE INDEX screenings_person_idx ON screenings (person_id, id);

CREATE TABLE referrals (
    id              UUID PRIMARY KEY,
    network_id      UUID NOT NULL REFERENCES networks (id),
    sender_id       UUID NOT NULL,
    receiver_id     UUID NOT NULL,
    person_id       UUID NOT NULL,
    status          TEXT NOT NULL,
    created         TIMESTAMPTZ NOT NULL,
    next_deadline   TIMESTAMPTZ,
    version         BIGINT NOT NULL,
    -- NULL when the referral has no key: NULLs never collide in the unique index.
    idempotency_key TEXT,
    doc             JSONB NOT NULL
);
-- Create's idempotency: one referral per network, sender and key.
CREATE UNIQUE INDEX referrals_idempotency_idx ON referrals (network_id, sender_id, idempotency_key);
-- Listings page in id order within a network, narrowed by receiver and status
-- (a receiving organization's work queue), sender, or person.
CREATE INDEX referrals_network_idx ON referrals (network_id, id);
CREATE INDEX referrals_receiver_idx ON referrals (network_id, receiver_id, status, id);
CREATE INDEX referrals_sender_idx ON referrals (network_id, sender_id, id);
CREATE INDEX referrals_person_idx ON referrals (network_id, person_id, id);
-- The deadline sweep reads due referrals across networks, earliest first.
CREATE INDEX referrals_due_idx ON referrals (next_deadline, id) WHERE next_deadline IS NOT NULL;

-- events is the append-only log. The primary key is the feed cursor; the unique
-- (referral_id, sequence) is a referral's history and makes a duplicate append
-- impossible.
CREATE TABLE events (
    network_id  UUID NOT NULL,
    position    BIGINT NOT NULL,
    referral_id UUID NOT NULL REFERENCES referrals (id),
    sequence    BIGINT NOT NULL,
    doc         JSONB NOT NULL,
    PRIMARY KEY (network_id, position),
    UNIQUE (referral_id, sequence)
);
