package postgres

import (
	"context"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// faults makes statements fail on purpose, at the pgx level: installed as a
// store's hook, it wraps every querier a call's attempt uses. A statement it
// picks fails either before it reaches the server (nothing runs) or after the
// server ran it (the effect is there, in the attempt's transaction or, on the
// pool, committed), with the error fail returns.
type faults struct {
	mu  sync.Mutex
	rng *mrand.Rand
	// before and after are the chances that a matching statement fails
	// before or after it runs.
	before, after float64
	// match picks the statements that may fail; nil matches all.
	match func(sql string) bool
	// fail is the injected error.
	fail func() error
	// limit caps the injections; 0 is unlimited.
	limit    int
	injected int
}

// serializationFailure is what CockroachDB reports at any statement or commit
// under contention.
func serializationFailure() error {
	return &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: "restart transaction (injected)"}
}

// connectionLost is a connection that broke after the statement was sent.
func connectionLost() error { return io.ErrUnexpectedEOF }

// decide says whether the next matching statement fails before or after it
// runs.
func (f *faults) decide(sql string) (before, after bool) {
	if f.match != nil && !f.match(sql) {
		return false, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit > 0 && f.injected >= f.limit {
		return false, false
	}
	x := f.rng.Float64()
	switch {
	case x < f.before:
		f.injected++
		return true, false
	case x < f.before+f.after:
		f.injected++
		return false, true
	}
	return false, false
}

func (f *faults) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

func (f *faults) wrap(q querier) querier { return faultyQuerier{q: q, f: f} }

type faultyQuerier struct {
	q querier
	f *faults
}

func (fq faultyQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	before, after := fq.f.decide(sql)
	if before {
		return pgconn.CommandTag{}, fq.f.fail()
	}
	tag, err := fq.q.Exec(ctx, sql, args...)
	if err == nil && after {
		return pgconn.CommandTag{}, fq.f.fail()
	}
	return tag, err
}

func (fq faultyQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	before, after := fq.f.decide(sql)
	if before {
		return nil, fq.f.fail()
	}
	rows, err := fq.q.Query(ctx, sql, args...)
	if err != nil || !after {
		return rows, err
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return nil, fq.f.fail()
}

func (fq faultyQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	before, after := fq.f.decide(sql)
	if before {
		return errRow{fq.f.fail()}
	}
	return faultyRow{row: fq.q.QueryRow(ctx, sql, args...), after: after, f: fq.f}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// faultyRow runs the statement (Scan is where pgx sends it) and then, if told
// to, fails as if the answer had been lost.
type faultyRow struct {
	row   pgx.Row
	after bool
	f     *faults
}

func (r faultyRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if (err == nil || err == pgx.ErrNoRows) && r.after {
		return r.f.fail()
	}
	return err
}

// isWrite matches the statements that change data.
func isWrite(sql string) bool {
	s := strings.ToUpper(sql)
	return strings.Contains(s, "INSERT ") || strings.Contains(s, "UPDATE ") || strings.Contains(s, "DELETE ")
}
