package postgres

import (
	"context"
	mrand "math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// urlVariable names the server the tests use; CI's .ci/run sets it.
const urlVariable = "REFKIT_TEST_POSTGRES_URL"

// testURL returns the test server's URL, or skips t when none is configured.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(urlVariable)
	if url == "" {
		t.Skip("PostgreSQL tests need " + urlVariable + "; start a throwaway server with " +
			"`export " + urlVariable + "=$(.ci/postgres-server.sh)` and stop it with `.ci/postgres-server.sh stop`")
	}
	return url
}

// newSchema names a fresh schema for one test, dropped when the test ends, so
// tests and parallel package runs never see each other's rows.
func newSchema(t testing.TB, url string) string {
	t.Helper()
	name := "refkit_test_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[16:]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	return name
}

// openTest opens a store in a fresh schema, closed when the test ends.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	url := testURL(t)
	opts.Schema = newSchema(t, url)
	s, err := Open(context.Background(), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// openAgain opens a second store on s's schema: another process, as far as the
// database can tell.
func openAgain(t testing.TB, s *Store, opts Options) *Store {
	t.Helper()
	opts.Schema = s.opts.Schema
	other, err := Open(context.Background(), testURL(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	return other
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openTest(t, Options{}) })
}

func TestConformanceWithoutNotify(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openTest(t, Options{NoNotify: true, PollInterval: time.Hour})
	})
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		url  string
		opts Options
		want error
	}{
		{"malformed url", "postgres://%zz", Options{}, referral.ErrInvalid},
		{"schema that is not a plain identifier", "postgres://127.0.0.1:1/x", Options{Schema: "Robert'); DROP TABLE"}, referral.ErrInvalid},
		{"schema too long", "postgres://127.0.0.1:1/x", Options{Schema: strings.Repeat("s", 41)}, referral.ErrInvalid},
		{"negative connect timeout", "postgres://127.0.0.1:1/x", Options{ConnectTimeout: -time.Second}, referral.ErrInvalid},
		{"refused connection", "postgres://refkit@127.0.0.1:1/refkit?sslmode=disable", Options{ConnectTimeout: time.Second}, ErrConnect},
		// A documentation-range address nobody answers: only the connect timeout
		// ends the attempt.
		{"silent server", "postgres://refkit@192.0.2.1:5432/refkit?sslmode=disable", Options{ConnectTimeout: 300 * time.Millisecond}, ErrConnect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outer, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			s, err := Open(outer, tc.url, tc.opts)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, s)
			require.NoError(t, outer.Err(), "the store's own timeout ended the attempt")
			require.NotContains(t, err.Error(), "password")
		})
	}
}

func TestOpenSchemaVersions(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	schema := newSchema(t, url)

	s, err := Open(ctx, url, Options{Schema: schema, NoMigrate: true})
	require.NoError(t, err, "an empty schema opens when told not to migrate")
	_, err = s.GetNetwork(ctx, referral.NewID())
	require.ErrorIs(t, err, storage.ErrSchemaBehind, "but refuses work until Migrate")
	require.NoError(t, s.Migrate(ctx))
	_, err = s.GetNetwork(ctx, referral.NewID())
	require.ErrorIs(t, err, referral.ErrNotFound)
	require.NoError(t, s.Close())

	s, err = Open(ctx, url, Options{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx), "migrating a current database is a no-op")
	var applied int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM refkit_schema_migrations`).Scan(&applied))
	require.Equal(t, len(s.migrations), applied)
	_, err = s.pool.Exec(ctx, `INSERT INTO refkit_schema_migrations (version, name, applied_at) VALUES (99, 'future', now())`)
	require.NoError(t, err)
	require.ErrorIs(t, s.Migrate(ctx), storage.ErrNewerSchema)
	require.NoError(t, s.Close())

	for _, opts := range []Options{{Schema: schema}, {Schema: schema, NoMigrate: true}} {
		_, err = Open(ctx, url, opts)
		require.ErrorIs(t, err, storage.ErrNewerSchema)
	}
}

func TestNewOnCallersPool(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	schema := newSchema(t, url)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)

	_, err = New(ctx, pool, Options{Schema: schema})
	require.ErrorIs(t, err, referral.ErrInvalid, "the pool decides the schema")
	_, err = New(ctx, nil, Options{})
	require.ErrorIs(t, err, referral.ErrInvalid)

	s, err := New(ctx, pool, Options{})
	require.NoError(t, err)
	f := storagetest.NewFixture(t, s, 1)
	require.NoError(t, s.Close())
	require.NoError(t, pool.Ping(ctx), "Close leaves a pool it did not open")
	var name string
	require.NoError(t, pool.QueryRow(ctx, `SELECT doc->>'name' FROM networks WHERE id = $1`, uid(f.Network.ID)).Scan(&name))
	require.Equal(t, f.Network.Name, name, "the tables are in the pool's schema")
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	f := storagetest.NewFixture(t, s, 1)
	ch, err := s.FeedChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")
	_, open := <-ch
	require.False(t, open, "Close wakes followers")

	calls := []struct {
		name string
		call func() error
	}{
		{"GetNetwork", func() error { _, err := s.GetNetwork(ctx, f.Network.ID); return err }},
		{"PutPerson", func() error { return s.PutPerson(ctx, f.NewPerson()) }},
		{"CreateReferral", func() error {
			r := f.NewReferral(referral.StatusDraft)
			_, _, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r))
			return err
		}},
		{"Feed", func() error { _, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID}); return err }},
		{"FeedChanged", func() error { _, err := s.FeedChanged(ctx, f.Network.ID); return err }},
		{"Migrate", func() error { return s.Migrate(ctx) }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), storage.ErrClosed)
		})
	}
}

// TestFeedTailUnderConcurrentWriters reads the feed from a cursor while eight
// writers append: a reader that resumes after the last position it saw must
// end with every event, each once, in the order of the final feed. A plain
// sequence would fail this (a later position committing first is read, then
// the earlier one commits below the reader's cursor).
func TestFeedTailUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	f := storagetest.NewFixture(t, s, 1)
	const writers, perWriter = 8, 40
	done := make(chan error, writers)
	for range writers {
		go func() {
			for range perWriter {
				r := f.NewReferral(referral.StatusRequested)
				if _, _, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r)); err != nil {
					done <- err
					return
				}
				next, e := storagetest.Next(r, referral.StatusAccepted, referral.EventAccepted)
				if _, err := s.UpdateReferral(ctx, next, e); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	var tailed []referral.Event
	var after int64
	finished := 0
	for finished < writers {
		select {
		case err := <-done:
			require.NoError(t, err)
			finished++
		default:
		}
		page, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, After: after, Limit: 50})
		require.NoError(t, err)
		for _, e := range page {
			require.Greater(t, e.Position, after)
			after = e.Position
		}
		tailed = append(tailed, page...)
	}
	rest := storagetest.FeedAll(t, s, f.Network.ID, nil)
	require.Len(t, rest, writers*perWriter*2)
	for {
		page, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, After: after, Limit: storage.MaxLimit})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		tailed = append(tailed, page...)
		after = page[len(page)-1].Position
	}
	require.Equal(t, rest, tailed, "the tailing reader saw every event once, in feed order")
}

func TestRetryLoop(t *testing.T) {
	ctx := context.Background()
	serialization := func() error { return &pgconn.PgError{Code: "40001"} }
	deadlock := func() error { return &pgconn.PgError{Code: "40P01"} }
	unique := &pgconn.PgError{Code: "23505"}
	tests := []struct {
		name     string
		failures []func() error
		max      int
		calls    int
		sleeps   int
		want     error
	}{
		{"success at once", nil, 3, 1, 0, nil},
		{"serialization failures then success", []func() error{serialization, serialization}, 3, 3, 2, nil},
		{"deadlock then success", []func() error{deadlock}, 3, 2, 1, nil},
		{"gives up as a conflict", []func() error{serialization, serialization, serialization}, 2, 3, 2, referral.ErrConflict},
		{"other errors are not retried", []func() error{func() error { return unique }}, 3, 1, 0, unique},
		{"no retries", []func() error{serialization}, 0, 1, 0, referral.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRetrier(tc.max, time.Second, mrand.NewPCG(1, 2))
			sleeps := 0
			r.sleep = func(context.Context, time.Duration) error {
				sleeps++
				return nil
			}
			calls := 0
			err := r.do(ctx, func() error {
				calls++
				if calls <= len(tc.failures) {
					return tc.failures[calls-1]()
				}
				return nil
			})
			require.Equal(t, tc.calls, calls)
			require.Equal(t, tc.sleeps, sleeps)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}

	t.Run("a cancelled context ends the wait", func(t *testing.T) {
		r := newRetrier(5, time.Second, mrand.NewPCG(1, 2))
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		calls := 0
		err := r.do(cancelled, func() error { calls++; return serialization() })
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, calls)
	})
}

func TestRetryDelay(t *testing.T) {
	a := newRetrier(10, time.Second, mrand.NewPCG(7, 7))
	b := newRetrier(10, time.Second, mrand.NewPCG(7, 7))
	for attempt := range 40 {
		d := a.delay(attempt)
		ceiling := retryCap
		if attempt < 16 {
			ceiling = min(retryCap, retryBase<<attempt)
		}
		require.Positive(t, d)
		require.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
		require.Equal(t, d, b.delay(attempt), "a seeded source makes the jitter reproducible")
	}
}

// TestSerializationFailureRetried provokes a real serialization failure: a
// REPEATABLE READ transaction updates a row that a concurrent transaction
// changed after its snapshot. The retry loop must recognise the server's error
// and succeed on the second attempt.
func TestSerializationFailureRetried(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{Rand: mrand.NewPCG(3, 4)})
	f := storagetest.NewFixture(t, s, 1)
	var failures []error
	attempts := 0
	err := s.retry.do(ctx, func() error {
		attempts++
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
			var pos int64
			if err := tx.QueryRow(ctx, `SELECT position FROM feed_heads WHERE network_id = $1`, uid(f.Network.ID)).Scan(&pos); err != nil {
				return err
			}
			if attempts == 1 {
				if _, err := s.pool.Exec(ctx, `UPDATE feed_heads SET position = position + 1 WHERE network_id = $1`, uid(f.Network.ID)); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE feed_heads SET position = $2 WHERE network_id = $1`, uid(f.Network.ID), pos+1)
			return err
		})
		if err != nil {
			failures = append(failures, err)
		}
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts)
	require.Len(t, failures, 1)
	require.True(t, retryable(failures[0]), "the server reported SQLSTATE 40001: %v", failures[0])
	var pos int64
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT position FROM feed_heads WHERE network_id = $1`, uid(f.Network.ID)).Scan(&pos))
	require.EqualValues(t, 2, pos, "both increments landed")
}

// TestFollowerInAnotherProcess follows a feed through one store while another
// store on the same database writes: the follower must be woken by NOTIFY, as
// its poll interval is far longer than the test.
func TestFollowerInAnotherProcess(t *testing.T) {
	writer := openTest(t, Options{})
	reader := openAgain(t, writer, Options{})
	f := storagetest.NewFixture(t, writer, 1)
	events := follow(t, reader, f, time.Hour)

	first := f.Create(t, writer, f.NewReferral(referral.StatusRequested))
	requireEvent(t, events, first.ID, 1)
	// The follower has read the feed and is waiting on its channel now.
	moved, _ := f.Move(t, writer, first, referral.StatusAccepted, referral.EventAccepted)
	requireEvent(t, events, moved.ID, 2)
	second := f.Create(t, writer, f.NewReferral(referral.StatusRequested))
	requireEvent(t, events, second.ID, 1)
}

// TestFollowerWithoutNotify checks the degraded mode for engines without
// LISTEN/NOTIFY: channels close after the poll interval, so a follower in
// another process still catches up.
func TestFollowerWithoutNotify(t *testing.T) {
	ctx := context.Background()
	writer := openTest(t, Options{NoNotify: true})
	reader := openAgain(t, writer, Options{NoNotify: true, PollInterval: 20 * time.Millisecond})
	f := storagetest.NewFixture(t, writer, 1)

	ch, err := reader.FeedChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("a channel of a store without NOTIFY closes after the poll interval")
	}

	events := follow(t, reader, f, time.Hour)
	r := f.Create(t, writer, f.NewReferral(referral.StatusRequested))
	requireEvent(t, events, r.ID, 1)
}

// TestListenerReconnects kills the listener's backend: followers are woken (a
// notification may have been lost) and, once the listener is back, remote
// appends wake them again.
func TestListenerReconnects(t *testing.T) {
	ctx := context.Background()
	writer := openTest(t, Options{})
	reader := openAgain(t, writer, Options{})
	f := storagetest.NewFixture(t, writer, 1)

	ch, err := reader.FeedChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	var killed int
	require.NoError(t, writer.pool.QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN "' || $1 || '"'`, reader.channel).Scan(&killed))
	require.Equal(t, 1, killed)
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("losing the listener wakes followers")
	}

	events := follow(t, reader, f, time.Hour)
	r := f.Create(t, writer, f.NewReferral(referral.StatusRequested))
	requireEvent(t, events, r.ID, 1)
}

// follow runs lifecycle.Engine.Follow on s (any store) for f's network, as the
// receiving organization, until the test ends, and returns the events it sees.
// poll is the engine's poll interval, used only by stores without notifications.
func follow(t *testing.T, s *Store, f *storagetest.Fixture, poll time.Duration) <-chan referral.Event {
	t.Helper()
	engine, err := lifecycle.New(s, s, lifecycle.Options{PollInterval: poll})
	require.NoError(t, err)
	actor := referral.Actor{Network: f.Network.ID, Organization: f.Receiver.ID, User: "partner-system", Role: referral.RoleStaff}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan referral.Event, 100)
	done := make(chan error, 1)
	go func() {
		done <- engine.Follow(ctx, actor, 0, func(e referral.Event) error {
			select {
			case out <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	return out
}

// requireEvent waits for the follower's next event and checks it.
func requireEvent(t *testing.T, events <-chan referral.Event, id referral.ID, sequence int64) {
	t.Helper()
	select {
	case e := <-events:
		require.Equal(t, id, e.Referral)
		require.Equal(t, sequence, e.Sequence)
	case <-time.After(time.Minute):
		t.Fatal("the follower was not woken")
	}
}

func TestPayload(t *testing.T) {
	s := &Store{token: "01956000-0000-7000-8000-0000000000aa"}
	n := newNotifier(s)
	network := referral.MustParseID("01956000-0000-7000-8000-000000000001")
	tests := []struct {
		payload string
		want    referral.ID
		ok      bool
	}{
		{network.String() + " 01956000-0000-7000-8000-0000000000bb", network, true},
		{network.String() + " " + s.token, referral.NilID, false},
		{network.String(), referral.NilID, false},
		{"not-an-id other", referral.NilID, false},
		{"", referral.NilID, false},
	}
	for _, tc := range tests {
		got, ok := n.parse(tc.payload)
		require.Equal(t, tc.ok, ok, tc.payload)
		require.Equal(t, tc.want, got)
	}
}

func FuzzPayload(f *testing.F) {
	f.Add("01956000-0000-7000-8000-000000000001 token")
	f.Add(" ")
	f.Add("01956000-0000-7000-8000-000000000001")
	n := newNotifier(&Store{token: "self"})
	f.Fuzz(func(t *testing.T, payload string) {
		network, ok := n.parse(payload)
		if !ok {
			require.True(t, network.IsZero())
			return
		}
		id, token, _ := strings.Cut(payload, " ")
		require.NotEqual(t, "self", token)
		require.Equal(t, id, network.String())
	})
}

// TestConcurrentOpen opens several stores on one empty schema at once, as
// processes starting together do: every one migrates or finds the work done.
func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	schema := newSchema(t, url)
	const processes = 4
	errs := make(chan error, processes)
	stores := make(chan *Store, processes)
	for range processes {
		go func() {
			s, err := Open(ctx, url, Options{Schema: schema})
			errs <- err
			stores <- s
		}()
	}
	for range processes {
		require.NoError(t, <-errs)
		if s := <-stores; s != nil {
			require.NoError(t, s.Close())
		}
	}
	s := openAgain(t, &Store{opts: Options{Schema: schema}}, Options{})
	var applied int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM refkit_schema_migrations`).Scan(&applied))
	require.Equal(t, len(s.migrations), applied, "each migration recorded once")
}

// TestUnstorableText checks that text PostgreSQL cannot hold in JSONB (a NUL
// character) in a field the record's validation lets through is ErrInvalid,
// and nothing is written.
func TestUnstorableText(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	f := storagetest.NewFixture(t, s, 1)
	sc := f.NewScreening(f.Person.ID)
	sc.Answers = map[string][]string{"q1": {"often\x00"}}
	require.ErrorIs(t, s.PutScreening(ctx, sc), referral.ErrInvalid)
	_, err := s.GetScreening(ctx, f.Network.ID, sc.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
}

// TestMigrationRetiresReceived: a database written before referral statuses
// followed the SDOH Clinical Care IG holds acknowledged referrals as
// "received"; migration 3 makes them requested with business status
// acknowledged, and their history still replays.
func TestMigrationRetiresReceived(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, Options{})
	f := storagetest.NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	r, _ = f.Move(t, s, r, referral.StatusRequested, referral.EventAcknowledged)
	untouched := f.Create(t, s, f.NewReferral(referral.StatusRequested))

	// Write r as the schema before migration 3 held it, and forget migration 3
	// (the latest: forgetting an earlier one would leave a gap the runner refuses).
	for _, q := range []string{
		`UPDATE referrals SET status = 'received', doc = jsonb_set(doc, '{status}', '"received"') WHERE id = $1`,
		`UPDATE events SET doc = jsonb_set(doc, '{to}', '"received"') WHERE referral_id = $1 AND sequence = 2`,
	} {
		_, err := s.pool.Exec(ctx, q, r.ID.String())
		require.NoError(t, err)
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM refkit_schema_migrations WHERE version = 3`)
	require.NoError(t, err)

	require.NoError(t, s.Migrate(ctx))
	got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	want := r
	want.BusinessStatus = referral.BusinessAcknowledged
	require.Equal(t, want, got)
	events, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	status, version, err := referral.Replay(events)
	require.NoError(t, err)
	require.Equal(t, referral.StatusRequested, status)
	require.Equal(t, r.Version, version)
	other, err := s.GetReferral(ctx, f.Network.ID, untouched.ID)
	require.NoError(t, err)
	require.Equal(t, untouched, other, "referrals in other statuses are left alone")
}
