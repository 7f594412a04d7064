package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Leases are rows in refkit_leases, one per name: a holder and when its hold
// ends, by the database's clock, the one clock every process sharing the
// database agrees on (and, under Patroni, replicated with the rest, so a lease
// survives a failover). A lease whose holder stops renewing it ends by itself.
// The table is created beside refkit_schema_migrations rather than by a
// numbered migration, because in portable mode the migration lock itself is a
// lease, taken before any migration runs.

// createLeases creates the lease table if it is missing. Processes that start
// together race to create it: PostgreSQL then fails the loser on its catalog's
// unique index instead of skipping, which createdMeanwhile recognises (the
// table exists, which is all the caller needs).
func createLeases(ctx context.Context, db migrationDB) error {
	_, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS refkit_leases (
		name    TEXT PRIMARY KEY,
		holder  TEXT NOT NULL,
		expires TIMESTAMPTZ NOT NULL)`)
	if err != nil && !createdMeanwhile(err) {
		return err
	}
	return nil
}

// takeLeaseSQL takes or renews the lease $1 for holder $2 until $3 from now:
// it inserts the row, or takes it over where the holder is the same (a
// renewal) or the hold has ended. It returns a row only when the caller holds
// the lease afterwards.
const takeLeaseSQL = `
	INSERT INTO refkit_leases (name, holder, expires) VALUES ($1, $2, now() + $3::interval)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
	WHERE refkit_leases.holder = excluded.holder OR refkit_leases.expires <= now()
	RETURNING holder`

// migrationLease names the portable mode's migration lock in refkit_leases;
// Lease refuses it, so a host cannot hold migrations up by accident.
const migrationLease = "refkit-migrate"

// Lease bounds.
const (
	// MaxLeaseName is the longest name or holder Lease accepts, in bytes.
	MaxLeaseName = 200
	// MaxLeaseTTL is the longest hold Lease grants in one call.
	MaxLeaseTTL = 24 * time.Hour
)

// Lease takes or renews the lease called name for holder, for ttl from now by
// the database's clock, implementing storage.Leaser. It returns true when
// holder holds the lease afterwards: it was free, had expired, or was
// holder's already (renewed). Another holder's live lease makes it false.
// Several processes that call it with their own holder id on a schedule
// shorter than ttl elect one of them; if that one stops (or cannot reach the
// database), the lease passes to another within ttl. The lease is a row in
// the database, replicated like any other, so a failover does not end it.
//
// name and holder must be 1 to MaxLeaseName bytes and ttl between a
// millisecond and MaxLeaseTTL (referral.ErrInvalid otherwise).
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (_ bool, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpLease)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return false, err
	}
	switch {
	case name == "" || len(name) > MaxLeaseName:
		return false, fmt.Errorf("postgres: lease: %w", referral.Invalid("name", "must be 1 to 200 bytes"))
	case name == migrationLease:
		return false, fmt.Errorf("postgres: lease: %w", referral.Invalid("name", "is reserved for refkit's migration lock"))
	case holder == "" || len(holder) > MaxLeaseName:
		return false, fmt.Errorf("postgres: lease: %w", referral.Invalid("holder", "must be 1 to 200 bytes"))
	case ttl < time.Millisecond || ttl > MaxLeaseTTL:
		return false, fmt.Errorf("postgres: lease: %w", referral.Invalid("ttl", "must be between 1ms and 24h"))
	}
	var held bool
	// Taking a lease again for the same holder renews it, so a retry after a
	// lost connection is harmless: call's rules apply.
	err = s.call(ctx, "lease", func(q querier) error {
		var got string
		err := q.QueryRow(ctx, takeLeaseSQL, name, holder, ttl).Scan(&got)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			held = false
			return nil
		case err != nil:
			return err
		}
		held = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return held, nil
}

var _ storage.Leaser = (*Store)(nil)

// locker is the migration lock Open and Migrate take: the advisory lock, or in
// portable mode the lease row.
func (s *Store) locker() migrate.Locker {
	if s.opts.Portable {
		return &tableLock{s: s, ttl: migrationLeaseTTL}
	}
	return advisoryLock{s}
}

// migrationLeaseTTL is how long the portable migration lock is held without a
// renewal; the holder renews it every third of that while it migrates, so only
// a holder that died (or cannot reach the database) loses it.
const migrationLeaseTTL = 30 * time.Second

// tableLock is the migration lock in portable mode (migrate.Locker), for
// engines whose advisory locks are missing or stubbed (CockroachDB accepts
// pg_advisory_lock and does nothing): the lease row migrationLease in
// refkit_leases. Lock creates the schema and the lease table first (each if
// missing, tolerating a concurrent creator), then takes the lease, waiting
// with backoff while another process holds it. The lease holds only while it
// is renewed: should its holder stall past the TTL and another process take
// over, the migrations stay correct all the same, because each applies in one
// transaction that records its version under a primary key, so the loser of
// a race fails, rolls back and finds the version applied (migrate.Run).
type tableLock struct {
	s   *Store
	ttl time.Duration
}

func (l *tableLock) Lock(ctx context.Context) (migrate.Target, func() error, error) {
	s := l.s
	if err := createSchema(ctx, s, s.pool); err != nil {
		return nil, nil, err
	}
	if err := s.retry.do(ctx, func() error { return createLeases(ctx, s.pool) }); err != nil {
		return nil, nil, err
	}
	take := func(ctx context.Context) (bool, error) {
		var held bool
		err := s.retry.do(ctx, func() error {
			var got string
			err := s.pool.QueryRow(ctx, takeLeaseSQL, migrationLease, s.token, l.ttl).Scan(&got)
			held = err == nil
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
		return held, err
	}
	for attempt := 0; ; attempt++ {
		held, err := take(ctx)
		if err != nil {
			return nil, nil, err
		}
		if held {
			break
		}
		if err := s.retry.sleep(ctx, s.retry.reconnectDelay(attempt)); err != nil {
			return nil, nil, err
		}
	}
	// Renew while the migrations run.
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		lost error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
			}
			held, err := take(renewCtx)
			if renewCtx.Err() != nil {
				return
			}
			if err == nil && !held {
				err = errors.New("another process took the migration lock over")
			}
			if err != nil {
				mu.Lock()
				lost = errors.Join(lost, err)
				mu.Unlock()
			}
		}
	}()
	unlock := func() error {
		stop()
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		err := s.retry.do(ctx, func() error {
			_, err := s.pool.Exec(ctx, `DELETE FROM refkit_leases WHERE name = $1 AND holder = $2`, migrationLease, s.token)
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		return errors.Join(lost, err)
	}
	return migrator{s: s, db: s.pool}, unlock, nil
}
