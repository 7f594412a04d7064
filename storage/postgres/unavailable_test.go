package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

func TestClassify(t *testing.T) {
	state := func(code string) error {
		return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "value 'Rivera' in the message"}
	}
	wrapped := func(err error) error { return fmt.Errorf("query: %w", err) }
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, referral.ErrUnavailable},
		{"connection reset", wrapped(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), referral.ErrUnavailable},
		{"unexpected EOF", wrapped(io.ErrUnexpectedEOF), referral.ErrUnavailable},
		{"EOF", io.EOF, referral.ErrUnavailable},
		{"connection closed by the driver", wrapped(pgconn.ErrConnClosed), referral.ErrUnavailable},
		{"connection exception (class 08)", state("08006"), referral.ErrUnavailable},
		{"connection does not exist", state("08003"), referral.ErrUnavailable},
		{"administrator shutdown", state("57P01"), referral.ErrUnavailable},
		{"crash shutdown", state("57P02"), referral.ErrUnavailable},
		{"cannot connect now", state("57P03"), referral.ErrUnavailable},
		{"too many connections", state("53300"), referral.ErrUnavailable},
		{"disk full", state("53100"), referral.ErrUnavailable},
		{"lock not available", state("55P03"), referral.ErrUnavailable},
		{"statement timeout", state("57014"), referral.ErrUnavailable},
		{"internal error", state("XX000"), referral.ErrUnavailable},
		{"a failure nobody anticipated", errors.New("something else"), referral.ErrUnavailable},
		{"the caller's deadline passed", wrapped(context.DeadlineExceeded), referral.ErrUnavailable},
		{"unique violation", state("23505"), referral.ErrConflict},
		{"foreign key violation", state("23503"), referral.ErrNotFound},
		{"not null violation", state("23502"), referral.ErrInvalid},
		{"NUL in text", state("22P05"), referral.ErrInvalid},
		{"numeric out of range", state("22003"), referral.ErrInvalid},
		{"too many parameters", state("54000"), referral.ErrInvalid},
		{"pool closed by its owner", wrapped(puddle.ErrClosedPool), storage.ErrClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			require.ErrorIs(t, got, tc.want)
			if tc.want == referral.ErrInvalid {
				require.NotContains(t, got.Error(), "Rivera", "the server's message may quote the value")
			}
			if tc.want == storage.ErrClosed {
				require.False(t, errors.Is(got, referral.ErrUnavailable), "a closed pool is not worth a retry")
			}
		})
	}

	t.Run("a cancelled context stays the caller's", func(t *testing.T) {
		got := classify(wrapped(context.Canceled))
		require.ErrorIs(t, got, context.Canceled)
		require.False(t, errors.Is(got, referral.ErrUnavailable))
	})
	t.Run("the original error stays in the chain", func(t *testing.T) {
		got := classify(state("57P01"))
		var pgErr *pgconn.PgError
		require.ErrorAs(t, got, &pgErr)
		require.Equal(t, "57P01", pgErr.Code)
	})
	t.Run("nothing is nothing", func(t *testing.T) {
		require.NoError(t, classify(nil))
	})
}

// openNamed opens a store in a fresh schema whose connections carry a unique
// application_name, so a test can find its backends on a server other tests
// share, and kill only those.
func openNamed(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	url := testURL(t)
	app := "refkit_kill_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[20:]
	opts.Schema = newSchema(t, url)
	s, err := Open(context.Background(), withApplicationName(url, app), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, app
}

// withApplicationName returns the connection string url with the session's
// application_name set to app, in URL or key=value form.
func withApplicationName(url, app string) string {
	if !strings.Contains(url, "://") {
		return url + " application_name=" + app
	}
	if strings.Contains(url, "?") {
		return url + "&application_name=" + app
	}
	return url + "?application_name=" + app
}

// blocker is a second session on the store's schema that holds locks the
// store's next call will wait for.
func blocker(t *testing.T, s *Store) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(testURL(t))
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = s.opts.Schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	return tx
}

// terminateWaiting kills the store's backend once it waits for a lock, and
// fails t if none does within a minute.
func terminateWaiting(t *testing.T, s *Store, app string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		var killed int
		require.NoError(t, s.pool.QueryRow(ctx, `
			SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&killed))
		if killed > 0 {
			require.Equal(t, 1, killed)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the store's call never waited for the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKilledConnection kills the store's server process in the middle of a
// call (pg_terminate_backend while the call waits for a lock), with the
// store's own retries off: the call fails with referral.ErrUnavailable (a
// write with referral.ErrOutcomeUnknown too, since it had been sent), nothing
// it was writing is written, and the store works again on its next call. The
// server itself keeps running: other tests share it.
func TestKilledConnection(t *testing.T) {
	ctx := context.Background()

	t.Run("a write", func(t *testing.T) {
		s, app := openNamed(t, Options{RetryTimeout: -1})
		f := storagetest.NewFixture(t, s, 1)
		r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
		hold := blocker(t, s)
		// The write increments the network's feed head: holding its row makes
		// the write wait.
		_, err := hold.Exec(ctx, `SELECT position FROM feed_heads WHERE network_id = $1 FOR UPDATE`, uid(f.Network.ID))
		require.NoError(t, err)

		next, e := storagetest.Next(r, referral.StatusAccepted, referral.EventAccepted)
		done := make(chan error, 1)
		go func() {
			_, err := s.UpdateReferral(ctx, next, e)
			done <- err
		}()
		terminateWaiting(t, s, app)
		err = <-done
		t.Log(err)
		require.ErrorIs(t, err, referral.ErrUnavailable)
		require.ErrorIs(t, err, referral.ErrOutcomeUnknown, "the write had been sent")
		require.NotErrorIs(t, err, referral.ErrConflict)
		require.NoError(t, hold.Rollback(ctx))

		got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
		require.NoError(t, err, "the store works on its next call")
		require.Equal(t, r, got, "the killed write was not committed")
		_, err = s.UpdateReferral(ctx, next, e)
		require.NoError(t, err, "the retry with the same version succeeds")
	})

	t.Run("a read", func(t *testing.T) {
		s, app := openNamed(t, Options{RetryTimeout: -1})
		f := storagetest.NewFixture(t, s, 1)
		r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
		hold := blocker(t, s)
		_, err := hold.Exec(ctx, `LOCK TABLE referrals IN ACCESS EXCLUSIVE MODE`)
		require.NoError(t, err)

		done := make(chan error, 1)
		go func() {
			_, err := s.GetReferral(ctx, f.Network.ID, r.ID)
			done <- err
		}()
		terminateWaiting(t, s, app)
		err = <-done
		require.ErrorIs(t, err, referral.ErrUnavailable)
		require.NotErrorIs(t, err, referral.ErrOutcomeUnknown, "a read writes nothing")
		require.NoError(t, hold.Rollback(ctx))
		got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)
	})

	t.Run("a create retried with its idempotency key", func(t *testing.T) {
		s, app := openNamed(t, Options{RetryTimeout: -1})
		f := storagetest.NewFixture(t, s, 1)
		hold := blocker(t, s)
		_, err := hold.Exec(ctx, `SELECT position FROM feed_heads WHERE network_id = $1 FOR UPDATE`, uid(f.Network.ID))
		require.NoError(t, err)
		r := f.NewReferral(referral.StatusRequested)
		r.IdempotencyKey = "intake-7"
		done := make(chan error, 1)
		go func() {
			_, _, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r))
			done <- err
		}()
		terminateWaiting(t, s, app)
		require.ErrorIs(t, <-done, referral.ErrUnavailable)
		require.NoError(t, hold.Rollback(ctx))

		retry := r.Clone()
		retry.ID = f.ID() // a host retrying builds the request again
		got, created, err := s.CreateReferral(ctx, retry, storagetest.CreatedEvent(retry))
		require.NoError(t, err)
		require.True(t, created, "the first attempt was not written, so the retry creates")
		again, created, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r))
		require.NoError(t, err)
		require.False(t, created, "and a further retry returns it")
		require.Equal(t, got, again)
	})
}

// TestOpenUnreachable: a server nobody answers is ErrConnect, which is
// referral.ErrUnavailable, not a bare driver error.
func TestOpenUnreachable(t *testing.T) {
	_, err := Open(context.Background(), "postgres://refkit@127.0.0.1:1/refkit?sslmode=disable", Options{ConnectTimeout: time.Second})
	require.ErrorIs(t, err, ErrConnect)
	require.ErrorIs(t, err, referral.ErrUnavailable)
}

// TestPoolExhausted: a call that cannot get a connection from the pool before
// its deadline is referral.ErrUnavailable, with the deadline in the chain.
func TestPoolExhausted(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxConns: 1})
	f := storagetest.NewFixture(t, s, 1)
	held, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.GetNetwork(short, f.Network.ID)
	require.ErrorIs(t, err, referral.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	held.Release()
	_, err = s.GetNetwork(ctx, f.Network.ID)
	require.NoError(t, err, "the store works once a connection is free")
}
