package postgres

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// TestConformancePortable runs the whole conformance suite in portable mode
// with serialization failures (SQLSTATE 40001) injected at random into one
// statement in ten, half before the server runs it and half after (inside
// the attempt's transaction, which is then rolled back), as CockroachDB
// reports them under contention. Every call must retry its way to the same
// results as without faults.
func TestConformancePortable(t *testing.T) {
	testURL(t) // skips without a server, before the check below could fail
	f := &faults{rng: mrand.New(mrand.NewPCG(18, 40001)), before: 0.05, after: 0.05, fail: serializationFailure}
	// The suite's subtests run in parallel, after this function returns:
	// count the faults once they are done.
	t.Cleanup(func() {
		require.Positive(t, f.count(), "faults were injected")
		t.Logf("%d serialization failures injected", f.count())
	})
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := openTest(t, Options{Portable: true, PollInterval: time.Hour, MaxRetries: 20})
		s.hook = f.wrap
		return s
	})
}

// TestInterruptedWrites loses the connection of a write once, either before
// the statement ran (nothing written) or after it committed (the answer
// lost): in both cases the store retries, finds out whether the first attempt
// took effect, and completes the call exactly once. With retries off, a write
// whose answer was lost is referral.ErrOutcomeUnknown.
func TestInterruptedWrites(t *testing.T) {
	ctx := context.Background()
	type write struct {
		name string
		// run does the write on a fresh fixture and checks that it took effect
		// exactly once.
		run func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error
	}
	writes := []write{
		{"create referral", func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error {
			r := f.NewReferral(referral.StatusRequested)
			arm()
			got, created, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r))
			if err != nil {
				return err
			}
			require.True(t, created, "the call that stored it reports it created")
			require.Equal(t, r, got)
			requireEvents(t, s, f, 1)
			return nil
		}},
		{"create referral with an idempotency key", func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error {
			r := f.NewReferral(referral.StatusRequested)
			r.IdempotencyKey = "intake-18"
			arm()
			_, created, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r))
			if err != nil {
				return err
			}
			require.True(t, created)
			requireEvents(t, s, f, 1)
			return nil
		}},
		{"update referral", func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error {
			r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
			next, e := storagetest.Next(r, referral.StatusAccepted, referral.EventAccepted)
			arm()
			got, err := s.UpdateReferral(ctx, next, e)
			if err != nil {
				return err
			}
			require.Positive(t, got.Position)
			stored, err := s.GetReferral(ctx, f.Network.ID, r.ID)
			require.NoError(t, err)
			require.Equal(t, next, stored)
			events := requireEvents(t, s, f, 2)
			require.Equal(t, got.Position, events[1].Position, "the position returned is the stored event's")
			return nil
		}},
		{"put screening", func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error {
			sc := f.NewScreening(f.Person.ID)
			arm()
			if err := s.PutScreening(ctx, sc); err != nil {
				return err
			}
			got, err := s.GetScreening(ctx, f.Network.ID, sc.ID)
			require.NoError(t, err)
			require.Equal(t, sc, got)
			return nil
		}},
		{"delete service", func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error {
			arm()
			if err := s.DeleteService(ctx, f.Network.ID, f.Service.ID); err != nil {
				return err
			}
			_, err := s.GetService(ctx, f.Network.ID, f.Service.ID)
			require.ErrorIs(t, err, referral.ErrNotFound)
			return nil
		}},
		{"put person", func(t *testing.T, s *Store, f *storagetest.Fixture, arm func()) error {
			p := f.NewPerson()
			arm()
			if err := s.PutPerson(ctx, p); err != nil {
				return err
			}
			got, err := s.GetPerson(ctx, f.Network.ID, p.ID)
			require.NoError(t, err)
			require.Equal(t, p, got)
			return nil
		}},
	}
	for _, w := range writes {
		for _, landed := range []bool{false, true} {
			name := w.name + "/lost before it ran"
			if landed {
				name = w.name + "/committed, answer lost"
			}
			t.Run(name, func(t *testing.T) {
				s := openTest(t, Options{Rand: mrand.NewPCG(1, 8)})
				s.retry.sleep = func(context.Context, time.Duration) error { return nil }
				f := storagetest.NewFixture(t, s, 1)
				faults := &faults{rng: mrand.New(mrand.NewPCG(2, 9)), match: isWrite, fail: connectionLost, limit: 1}
				if landed {
					faults.after = 1
				} else {
					faults.before = 1
				}
				require.NoError(t, w.run(t, s, f, func() { s.hook = faults.wrap }))
				require.Equal(t, 1, faults.count(), "one write was interrupted")
			})
		}
	}

	t.Run("without retries the outcome is unknown", func(t *testing.T) {
		s := openTest(t, Options{RetryTimeout: -1})
		f := storagetest.NewFixture(t, s, 1)
		r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
		next, e := storagetest.Next(r, referral.StatusAccepted, referral.EventAccepted)
		s.hook = (&faults{rng: mrand.New(mrand.NewPCG(3, 3)), match: isWrite, after: 1, fail: connectionLost, limit: 1}).wrap
		_, err := s.UpdateReferral(ctx, next, e)
		require.ErrorIs(t, err, referral.ErrOutcomeUnknown)
		require.ErrorIs(t, err, referral.ErrUnavailable, "an unknown outcome is a kind of unavailability")
		// The host's documented retry: the same command from the same read
		// version. The first attempt landed, so the retry is a conflict, and
		// the history shows the first attempt's event once.
		_, err = s.UpdateReferral(ctx, next, e)
		require.ErrorIs(t, err, referral.ErrConflict)
		events := requireEvents(t, s, f, 2)
		require.Equal(t, withoutPositionAt(e), withoutPositionAt(events[1]))
	})
}

// requireEvents checks the fixture's network feed has n events and returns them.
func requireEvents(t *testing.T, s *Store, f *storagetest.Fixture, n int) []referral.Event {
	t.Helper()
	events := storagetest.FeedAll(t, s, f.Network.ID, nil)
	require.Len(t, events, n)
	return events
}

func withoutPositionAt(e referral.Event) referral.Event {
	e.Position = 0
	e.At = e.At.UTC()
	return e
}

// TestRetriesAfterKill kills the store's server process in the middle of a
// call, as a failover does: with its retries on, the store reconnects and the
// call completes, once.
func TestRetriesAfterKill(t *testing.T) {
	ctx := context.Background()

	t.Run("a write", func(t *testing.T) {
		s, app := openNamed(t, Options{})
		f := storagetest.NewFixture(t, s, 1)
		r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
		hold := blocker(t, s)
		_, err := hold.Exec(ctx, `SELECT position FROM feed_heads WHERE network_id = $1 FOR UPDATE`, uid(f.Network.ID))
		require.NoError(t, err)
		next, e := storagetest.Next(r, referral.StatusAccepted, referral.EventAccepted)
		done := make(chan error, 1)
		go func() {
			_, err := s.UpdateReferral(ctx, next, e)
			done <- err
		}()
		terminateWaiting(t, s, app)
		// The retry waits for the lock again; the holder lets go.
		terminateAfterWaiting(t, s, app, hold)
		require.NoError(t, <-done)
		got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, next, got)
		requireEvents(t, s, f, 2)
	})

	t.Run("a read", func(t *testing.T) {
		s, app := openNamed(t, Options{})
		f := storagetest.NewFixture(t, s, 1)
		r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
		hold := blocker(t, s)
		_, err := hold.Exec(ctx, `LOCK TABLE referrals IN ACCESS EXCLUSIVE MODE`)
		require.NoError(t, err)
		type result struct {
			r   referral.Referral
			err error
		}
		done := make(chan result, 1)
		go func() {
			got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
			done <- result{got, err}
		}()
		terminateWaiting(t, s, app)
		terminateAfterWaiting(t, s, app, hold)
		got := <-done
		require.NoError(t, got.err)
		require.Equal(t, r, got.r)
	})
}

// terminateAfterWaiting waits until the store's retried call waits for the
// lock hold keeps, then releases it.
func terminateAfterWaiting(t *testing.T, s *Store, app string, hold pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting int
		// Not through hold: a transaction sees pg_stat_activity as it was
		// when it first looked.
		require.NoError(t, s.pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting))
		if waiting > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the retried call never came back")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, hold.Rollback(ctx))
}

// TestPortableMigrationLock: in portable mode the migration lock is a lease
// row. Stores opening together on an empty schema (so also creating the lease
// table together) all open, with each migration recorded once; a live lease
// held by another process makes Open wait until it is released; an expired
// one (its holder died) is taken over.
func TestPortableMigrationLock(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)

	t.Run("concurrent first start", func(t *testing.T) {
		schema := newSchema(t, url)
		const processes = 4
		errs := make(chan error, processes)
		for range processes {
			go func() {
				s, err := Open(ctx, url, Options{Schema: schema, Portable: true})
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range processes {
			require.NoError(t, <-errs)
		}
		s := openAgain(t, &Store{opts: Options{Schema: schema}}, Options{Portable: true})
		var applied, leases int
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM refkit_schema_migrations`).Scan(&applied))
		require.Equal(t, len(s.migrations), applied, "each migration recorded once")
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM refkit_leases WHERE name = $1`, migrationLease).Scan(&leases))
		require.Zero(t, leases, "every store released the lock")
	})

	// setLease stores the migration lease as another process would hold it.
	setLease := func(t *testing.T, schema, expires string) *pgx.Conn {
		t.Helper()
		s, err := Open(ctx, url, Options{Schema: schema, Portable: true})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		cfg, err := pgx.ParseConfig(url)
		require.NoError(t, err)
		cfg.RuntimeParams["search_path"] = schema
		conn, err := pgx.ConnectConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close(context.Background()) })
		_, err = conn.Exec(ctx, `INSERT INTO refkit_leases (name, holder, expires) VALUES ($1, 'another process', now() + `+expires+`)`, migrationLease)
		require.NoError(t, err)
		return conn
	}

	t.Run("waits for a live lease", func(t *testing.T) {
		schema := newSchema(t, url)
		conn := setLease(t, schema, `interval '1 hour'`)
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := Open(short, url, Options{Schema: schema, Portable: true})
		require.ErrorIs(t, err, context.DeadlineExceeded, "Open waits while another process holds the lock")
		done := make(chan error, 1)
		go func() {
			s, err := Open(ctx, url, Options{Schema: schema, Portable: true})
			if err == nil {
				err = s.Close()
			}
			done <- err
		}()
		_, err = conn.Exec(ctx, `DELETE FROM refkit_leases WHERE name = $1`, migrationLease)
		require.NoError(t, err)
		require.NoError(t, <-done, "and opens once it is released")
	})

	t.Run("takes over an expired lease", func(t *testing.T) {
		schema := newSchema(t, url)
		setLease(t, schema, `interval '-1 second'`)
		s, err := Open(ctx, url, Options{Schema: schema, Portable: true})
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
}

// TestLease checks the lease a deadline sweeper takes: one holder at a time,
// renewals, a takeover once the holder's time has passed, and bounded input.
func TestLease(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	other := openAgain(t, s, Options{})
	expire := func(name string) {
		_, err := s.pool.Exec(ctx, `UPDATE refkit_leases SET expires = now() - interval '1 second' WHERE name = $1`, name)
		require.NoError(t, err)
	}
	steps := []struct {
		name   string
		store  *Store
		holder string
		before func()
		want   bool
	}{
		{"a free lease is taken", s, "process-a", nil, true},
		{"another holder is refused while it is live", other, "process-b", nil, false},
		{"its holder renews it", s, "process-a", nil, true},
		{"still refused", other, "process-b", nil, false},
		{"taken over once it expired", other, "process-b", func() { expire("sweep") }, true},
		{"the old holder is refused now", s, "process-a", nil, false},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		got, err := st.store.Lease(ctx, "sweep", st.holder, time.Minute)
		require.NoError(t, err, st.name)
		require.Equal(t, st.want, got, st.name)
	}
	got, err := s.Lease(ctx, "another job", "process-a", time.Minute)
	require.NoError(t, err)
	require.True(t, got, "leases of different names are independent")

	long := string(make([]byte, MaxLeaseName+1))
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{
		{"", "h", time.Minute}, {long, "h", time.Minute}, {migrationLease, "h", time.Minute},
		{"n", "", time.Minute}, {"n", long, time.Minute}, {"n", "h", 0}, {"n", "h", 25 * time.Hour},
	} {
		_, err := s.Lease(ctx, bad.name, bad.holder, bad.ttl)
		require.ErrorIs(t, err, referral.ErrInvalid)
	}
	require.NoError(t, other.Close())
	_, err = other.Lease(ctx, "sweep", "process-b", time.Minute)
	require.ErrorIs(t, err, storage.ErrClosed)
}

// TestMultiHostURL opens a store through a URL naming several hosts, the
// first of which refuses connections (a node that is down): pgx tries them in
// order, and target_session_attrs=read-write keeps only a server that accepts
// writes.
func TestMultiHostURL(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(testURL(t))
	require.NoError(t, err)
	u.Host = "127.0.0.1:1," + u.Host
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String(), Options{Schema: newSchema(t, testURL(t)), ConnectTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer s.Close()
	f := storagetest.NewFixture(t, s, 1)
	f.Create(t, s, f.NewReferral(referral.StatusRequested))
	requireEvents(t, s, f, 1)
}

// TestAttemptFailures pins down what each failure means for the next attempt.
func TestAttemptFailures(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure
	}{
		{"serialization failure", serializationFailure(), contention},
		{"lost after sending", connectionLost(), lost},
		{"administrator shutdown", pgErr("FATAL", "57P01"), lost},
		{"a standby refuses a write", pgErr("ERROR", "25006"), unsent},
		{"server starting", pgErr("FATAL", "57P03"), lost},
		{"disk full", pgErr("ERROR", "53100"), unsent},
		{"unique violation", pgErr("ERROR", "23505"), final},
		{"statement timeout", pgErr("ERROR", "57014"), final},
		{"cancelled", context.Canceled, final},
		{"refkit's own verdict", notFound("referral", referral.NilID), final},
		{"a connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, lost},
		{"a closed connection", fmt.Errorf("query: %w", pgconn.ErrConnClosed), lost},
		{"deadline", context.DeadlineExceeded, final},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, classifyAttempt(tc.err), tc.name)
	}
	require.Equal(t, final, classifyAttempt(errors.Join(context.Canceled, connectionLost())), "the caller's cancellation wins")
}

func pgErr(severity, code string) error {
	return &pgconn.PgError{Severity: severity, Code: code, Message: "from the server"}
}
