package sqlite

// The statements the store runs. Each is constant text with placeholders; the
// only text ever spliced in is a table name from the table values below.

// table names one record table; kind names its records in errors.
type table struct {
	name, kind string
	// get reads a record of a network; owner reads the network a record id is in.
	get, owner, exists, list string
}

func newTable(name, kind string) table {
	return table{
		name: name, kind: kind,
		get:    `SELECT data FROM ` + name + ` WHERE id = ? AND network_id = ?`,
		owner:  `SELECT network_id FROM ` + name + ` WHERE id = ?`,
		exists: `SELECT 1 FROM ` + name + ` WHERE id = ? AND network_id = ?`,
		list:   `SELECT id, data FROM ` + name + ` WHERE network_id = ? AND id > ? ORDER BY id LIMIT ?`,
	}
}

var (
	networks      = newTable("networks", "network")
	organizations = newTable("organizations", "organization")
	services      = newTable("services", "service")
	persons       = newTable("persons", "person")
	consents      = newTable("consents", "consent")
	screenings    = newTable("screenings", "screening")
)

const (
	qNetworkExists = `SELECT 1 FROM networks WHERE id = ?`
	// qFeedHead reads a network's last feed position (0 before its first
	// event); no row when the network does not exist.
	qFeedHead   = `SELECT coalesce((SELECT max(position) FROM events WHERE network_id = ?), 0) FROM networks WHERE id = ?`
	qGetNetwork = `SELECT data FROM networks WHERE id = ?`
	qPutNetwork = `INSERT INTO networks (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`
	qPutOrg     = `INSERT INTO organizations (id, network_id, data) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`
	qPutService = `INSERT INTO services (id, network_id, organization_id, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, data = excluded.data`
	qDeleteService = `DELETE FROM services WHERE id = ? AND network_id = ? RETURNING organization_id`
	qPutPerson     = `INSERT INTO persons (id, network_id, data) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`
	qPutConsent = `INSERT INTO consents
		(id, network_id, person_id, grantee_id, scope, period_start, period_end, revoked, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, grantee_id = excluded.grantee_id,
			scope = excluded.scope, period_start = excluded.period_start, period_end = excluded.period_end,
			revoked = excluded.revoked, data = excluded.data`
	qListConsents    = `SELECT data FROM consents WHERE person_id = ? AND network_id = ? ORDER BY id`
	qScreeningExists = `SELECT 1 FROM screenings WHERE id = ?`
	qScreeningPerson = `SELECT person_id FROM screenings WHERE id = ? AND network_id = ?`
	qPutScreening    = `INSERT INTO screenings (id, network_id, person_id, data) VALUES (?, ?, ?, ?)`
	qListScreenings  = `SELECT data FROM screenings WHERE person_id = ? AND network_id = ? ORDER BY id`

	qByIdempotencyKey = `SELECT data FROM referrals WHERE network_id = ? AND sender_id = ? AND idempotency_key = ?`
	qInsertReferral   = `INSERT INTO referrals
		(id, network_id, sender_id, receiver_id, person_id, status, created, next_deadline, idempotency_key, version, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qReferralState  = `SELECT version, status FROM referrals WHERE id = ? AND network_id = ?`
	qUpdateReferral = `UPDATE referrals SET sender_id = ?, receiver_id = ?, person_id = ?, status = ?,
		created = ?, next_deadline = ?, idempotency_key = ?, version = ?, data = ?
		WHERE id = ? AND network_id = ? AND version = ? AND status = ?`
	qInsertEvent = `INSERT INTO events (network_id, referral_id, sequence, type, actor_org, actor_user, actor_role,
		actor_person, at_sec, at_nsec, from_status, to_status, reason, note)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetReferral  = `SELECT data FROM referrals WHERE id = ? AND network_id = ?`
	qEvents       = `SELECT ` + eventColumns + ` FROM events e WHERE referral_id = ? AND network_id = ? ORDER BY sequence`
	qFeed         = `SELECT ` + eventColumns + ` FROM events e WHERE network_id = ? AND position > ? ORDER BY position LIMIT ?`
	qDueReferrals = `SELECT data FROM referrals
		WHERE next_deadline IS NOT NULL AND next_deadline <= ? ORDER BY next_deadline, id LIMIT ?`
)

// The directory feed's statements (see directoryfeed.go).
const (
	qAppendChange = `INSERT INTO directory_changes (network_id, kind, organization_id, service_id, capacity)
		VALUES (?, ?, ?, ?, ?)`
	qServiceRecord  = `SELECT data FROM services WHERE id = ? AND network_id = ?`
	qSetServiceData = `UPDATE services SET data = ? WHERE id = ?`
	qCapacityCause  = `SELECT capacity_cause FROM directory_cursors WHERE network_id = ?`
	qSetCause       = `INSERT INTO directory_cursors (network_id, capacity_cause) VALUES (?, ?)
		ON CONFLICT (network_id) DO UPDATE SET capacity_cause = excluded.capacity_cause`
	// qCapacityCursor reads a network's cursor (0 before the first
	// adjustment); no row when the network does not exist.
	qCapacityCursor = `SELECT coalesce((SELECT capacity_cause FROM directory_cursors WHERE network_id = ?), 0)
		FROM networks WHERE id = ?`
	qDirectoryChanges = `SELECT position, kind, organization_id, service_id, capacity FROM directory_changes
		WHERE network_id = ? AND position > ? ORDER BY position LIMIT ?`
	// qDirectoryHead reads a network's last directory feed position (0 before
	// its first change); no row when the network does not exist.
	qDirectoryHead = `SELECT coalesce((SELECT max(position) FROM directory_changes WHERE network_id = ?), 0)
		FROM networks WHERE id = ?`
)

// eventColumns are the columns scanEvents reads, of the events table aliased e.
const eventColumns = `e.position, e.network_id, e.referral_id, e.sequence, e.type, e.actor_org, e.actor_user,
	e.actor_role, e.actor_person, e.at_sec, e.at_nsec, e.from_status, e.to_status, e.reason, e.note`

// writeQueries are prepared on the writer when the store opens (see
// stmts.lookup).
var writeQueries = []string{
	qNetworkExists, qPutNetwork, qPutOrg, qPutService, qDeleteService, qPutPerson, qPutConsent,
	qScreeningExists, qScreeningPerson, qPutScreening,
	qByIdempotencyKey, qInsertReferral, qReferralState, qUpdateReferral, qInsertEvent,
	organizations.owner, services.owner, persons.owner, consents.owner,
	organizations.exists, persons.exists,
	qAppendChange, qServiceRecord, qSetServiceData, qCapacityCause, qSetCause,
}
