package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// holdMigrationLock takes schema's migration lock in a session of its own, as
// a process that is migrating would hold it, and returns the session.
func holdMigrationLock(t *testing.T, schema string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(testURL(t))
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, lockSQL, lockClass)
	require.NoError(t, err)
	return conn
}

// waitingForLock reports whether a session named app waits for a lock.
func waitingForLock(t *testing.T, conn *pgx.Conn, app string) bool {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `
		SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n))
	return n > 0
}

// TestMigrationLock: Open waits while another session holds its schema's
// migration lock and proceeds when it is released; the lock of another schema
// does not hold it up; and a migration runs on the locked connection, so a
// pool of one connection suffices.
func TestMigrationLock(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)

	t.Run("waits for the holder of its schema's lock", func(t *testing.T) {
		schema := newSchema(t, url)
		holder := holdMigrationLock(t, schema)
		app := "refkit_lock_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[20:]
		type opened struct {
			s   *Store
			err error
		}
		done := make(chan opened, 1)
		go func() {
			s, err := Open(ctx, withApplicationName(url, app), Options{Schema: schema})
			done <- opened{s, err}
		}()
		deadline := time.Now().Add(time.Minute)
		for !waitingForLock(t, holder, app) {
			require.True(t, time.Now().Before(deadline), "Open never waited for the lock")
			time.Sleep(5 * time.Millisecond)
		}
		var tables int
		require.NoError(t, holder.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&tables))
		require.Zero(t, tables, "nothing is created before the lock is taken")

		_, err := holder.Exec(ctx, unlockSQL, lockClass)
		require.NoError(t, err)
		got := <-done
		require.NoError(t, got.err)
		require.NoError(t, got.s.Close())
	})

	t.Run("another schema's lock does not hold it up", func(t *testing.T) {
		holdMigrationLock(t, newSchema(t, url))
		s, err := Open(ctx, url, Options{Schema: newSchema(t, url)})
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})

	t.Run("a cancelled wait takes nothing and leaves nothing held", func(t *testing.T) {
		schema := newSchema(t, url)
		holder := holdMigrationLock(t, schema)
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := Open(short, url, Options{Schema: schema})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		_, err = holder.Exec(ctx, unlockSQL, lockClass)
		require.NoError(t, err)
		s, err := Open(ctx, url, Options{Schema: schema})
		require.NoError(t, err, "the lock is free again")
		require.NoError(t, s.Close())
	})

	t.Run("a pool of one connection migrates", func(t *testing.T) {
		s, err := Open(ctx, url, Options{Schema: newSchema(t, url), MaxConns: 1})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Migrate(ctx))
		var applied int
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM refkit_schema_migrations`).Scan(&applied))
		require.Equal(t, len(s.migrations), applied)
	})
}
