package storage

import (
	"errors"
	"fmt"

	"github.com/refkit/refkit/referral"
)

// Errors about the store itself rather than a record, returned by every
// backend (memory, sqlite, postgres) so that a host tests for one value
// whichever backend it runs.
var (
	// ErrClosed: the store was closed (Close), or the pool it was built on was
	// closed by its owner. Every call after Close fails with it.
	//
	// It deliberately wraps no referral sentinel: none describes it, and each
	// would invite the wrong reaction. ErrUnavailable and ErrConflict invite a
	// retry, which can never succeed on a closed store; ErrInvalid blames the
	// input and ErrNotFound claims a record is absent. A host meets it when a
	// request races its own shutdown.
	ErrClosed = errors.New("refkit: store is closed")

	// ErrSchemaBehind: the store was opened without migrating (the SQL
	// backends' Options.NoMigrate) on a database that lacks migrations this
	// version needs. Every call but Migrate and Close fails with it until the
	// host runs Migrate on that store.
	//
	// It wraps referral.ErrConflict: the request is well-formed (so not
	// ErrInvalid) and retrying alone never helps (so not ErrUnavailable); what
	// is wrong is the state of the store relative to the code, which is what a
	// conflict reports.
	ErrSchemaBehind = fmt.Errorf("refkit: database schema is older than this version of refkit; run Migrate: %w", referral.ErrConflict)

	// ErrNewerSchema: the database was written by a newer refkit, so this
	// version refuses to open it rather than risk corrupting data it does not
	// understand. It wraps referral.ErrConflict for the same reason as
	// ErrSchemaBehind: the database and the code disagree.
	ErrNewerSchema = fmt.Errorf("refkit: database schema is newer than this version of refkit: %w", referral.ErrConflict)
)
