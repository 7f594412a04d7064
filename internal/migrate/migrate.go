// Package migrate applies numbered SQL schema migrations. Each storage backend
// embeds its own migration files (numbered the same way in every backend) and
// adapts its driver to [Target] and [Locker]; this package holds the one rule
// set they share: which migrations are due, in what order, when to refuse, and
// that all of it happens under the database's migration lock.
//
// The lock is what makes processes that start together safe: the first to take
// it creates the record table and applies what is due, the others then find the
// work done. Without it, two processes' "CREATE TABLE IF NOT EXISTS" race on
// PostgreSQL's catalog and one fails. How the lock is taken belongs to the
// database: PostgreSQL takes a session advisory lock keyed by schema, or, in
// its portable mode for engines whose advisory locks are missing or do
// nothing (CockroachDB), a lease row in a lock table that expires unless its
// holder renews it; SQLite needs none, because every step is an IMMEDIATE
// transaction that its write lock serialises ([Unlocked]). Run is the same
// for all of them, and stays correct even if a lease passes to another
// process mid-run: each migration applies in one transaction that records its
// version, so the loser of a race on a version fails, and finds it applied.
//
// We use this small runner rather than a migration library because the SQLite
// backend talks database/sql and the PostgreSQL backend talks pgx natively; the
// libraries that cover both want one of them wrapped in the other's interface,
// and bring more dependencies than this file has lines.
//
// What a host tests for lives in package storage: a database ahead of this
// build is storage.ErrNewerSchema.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Migration is one numbered schema change, applied in a single transaction.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Record is a migration as the database recorded it.
type Record struct {
	Version int
	Name    string
}

// Target adapts one database to the runner. Run and Check call it only while
// they hold the database's migration lock (see Locker).
type Target interface {
	// Prepare creates the table that records applied migrations, and what
	// else the backend needs before any migration (PostgreSQL's lease
	// table), each if missing.
	Prepare(ctx context.Context) error
	// Applied returns the recorded migrations in any order.
	Applied(ctx context.Context) ([]Record, error)
	// Apply executes m.SQL and records m, in one transaction. It must fail,
	// leaving nothing behind, if m's version is already recorded.
	Apply(ctx context.Context, m Migration) error
}

// Locker takes a database's migration lock, which lets one process at a time
// prepare, check and apply migrations.
type Locker interface {
	// Lock waits until the caller holds the lock, or ctx ends. It returns the
	// Target to migrate through while holding it (a session lock is held by one
	// connection, so its Target works on that connection) and unlock, which
	// releases the lock and must be called once. A lock whose holder dies must
	// not stay held: a session lock ends with its session, a lease expires.
	Lock(ctx context.Context) (t Target, unlock func() error, err error)
}

// Unlocked returns a Locker that takes no lock and migrates through t, for a
// database whose own transactions already serialise every step (SQLite, whose
// IMMEDIATE transactions take the file's write lock): Run then still finishes
// correctly when two processes race, the loser of each step finding it done.
func Unlocked(t Target) Locker { return unlocked{t} }

type unlocked struct{ t Target }

func (u unlocked) Lock(context.Context) (Target, func() error, error) {
	return u.t, func() error { return nil }, nil
}

// locked runs fn on the Target l hands out while it holds the lock, and
// releases the lock whatever fn returned.
func locked(ctx context.Context, l Locker, fn func(t Target) (Status, error)) (st Status, err error) {
	t, unlock, err := l.Lock(ctx)
	if err != nil {
		return st, fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("migrate: release the migration lock: %w", uerr))
		}
	}()
	return fn(t)
}

// Load reads migrations named NNNN_name.sql from the root of fsys. Versions
// must run 1, 2, 3, ... without gaps or repeats, so every backend's numbering
// can be compared file by file.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("migrate: file %q: %w", e.Name(),
				referral.Invalid("migration", "name must be NNNN_name.sql"))
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrate: read %q: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrate: migration %d (%s): %w", m.Version, m.Name,
				referral.Invalid("migration", "versions must be consecutive from 1"))
		}
	}
	return ms, nil
}

// Status is how far a database is from the migrations this version knows.
type Status struct {
	// Current is the highest applied version; 0 for an empty database.
	Current int
	// Latest is the highest version known to this build.
	Latest int
}

// Pending reports whether migrations remain to be applied.
func (s Status) Pending() bool { return s.Current < s.Latest }

// Check reads the database's status, under the migration lock, without
// changing anything beyond what Target.Prepare creates. It fails with
// storage.ErrNewerSchema when the database is ahead of ms, and with a conflict
// when a recorded migration differs from ms.
func Check(ctx context.Context, l Locker, ms []Migration) (Status, error) {
	return locked(ctx, l, func(t Target) (Status, error) { return check(ctx, t, ms) })
}

func check(ctx context.Context, t Target, ms []Migration) (Status, error) {
	st := Status{Latest: len(ms)}
	if err := t.Prepare(ctx); err != nil {
		return st, fmt.Errorf("migrate: prepare: %w", err)
	}
	recs, err := t.Applied(ctx)
	if err != nil {
		return st, fmt.Errorf("migrate: read applied migrations: %w", err)
	}
	slices.SortFunc(recs, func(a, b Record) int { return a.Version - b.Version })
	if n := len(recs); n > 0 && recs[n-1].Version > len(ms) {
		st.Current = recs[n-1].Version
		return st, fmt.Errorf("migrate: database at version %d, this build knows %d: %w",
			st.Current, len(ms), storage.ErrNewerSchema)
	}
	for i, r := range recs {
		if r.Version != i+1 {
			return st, fmt.Errorf("migrate: recorded versions have a gap before %d: %w", r.Version, referral.ErrConflict)
		}
		if ms[i].Name != r.Name {
			return st, fmt.Errorf("migrate: version %d recorded as %q, this build has %q: %w",
				r.Version, r.Name, ms[i].Name, referral.ErrConflict)
		}
		st.Current = r.Version
	}
	return st, nil
}

// Run takes the migration lock, applies every pending migration in order and
// returns the final status. Processes that start together wait for one another
// at the lock; should a Locker let two through at once (Unlocked), the loser of
// a race on a version sees it recorded and moves on.
func Run(ctx context.Context, l Locker, ms []Migration) (Status, error) {
	return locked(ctx, l, func(t Target) (Status, error) {
		st, err := check(ctx, t, ms)
		if err != nil {
			return st, err
		}
		for _, m := range ms[st.Current:] {
			if err := t.Apply(ctx, m); err != nil {
				again, cerr := check(ctx, t, ms)
				if cerr == nil && again.Current >= m.Version {
					st = again
					continue
				}
				return st, fmt.Errorf("migrate: apply %d (%s): %w", m.Version, m.Name, err)
			}
			st.Current = m.Version
		}
		return st, nil
	})
}
