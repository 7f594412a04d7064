package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/refkit/refkit/referral"
)

// querier is what one attempt of a call runs its statements through: the pool
// (each statement its own implicit transaction) or, in portable mode, the
// attempt's explicit transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Backoff between attempts after a lost connection: the first waits up to
// reconnectBase, each further one up to twice as long, never more than
// reconnectCap, so a store finds a newly promoted leader within about a second
// of its promotion.
const (
	reconnectBase = 25 * time.Millisecond
	reconnectCap  = time.Second
)

// failure is what a failed attempt means for the next one.
type failure int

const (
	// final: retrying cannot help (bad input, a conflict, a cancelled
	// context, a timeout the server enforced).
	final failure = iota
	// contention: a serialization failure or deadlock; the transaction was
	// rolled back and a new attempt may pass.
	contention
	// unsent: the server could not be reached, or refused the statement before
	// running it (shutting down, a standby, too many connections): nothing was
	// written.
	unsent
	// lost: the connection broke after the statement was sent; a write may or
	// may not have been committed.
	lost
)

// classifyAttempt tells what a failed attempt means for the next one.
func classifyAttempt(err error) failure {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return final
	case retryable(err):
		return contention
	case errors.As(err, &connErr), pgconn.SafeToRetry(err):
		// No connection, or one that failed before the statement left.
		return unsent
	case errors.As(err, &pgErr):
		code, class := pgErr.Code, pgErr.Code[:min(2, len(pgErr.Code))]
		ended := pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC"
		switch {
		case !ended && (code == "25006" || code == "57P03" || class == "53"):
			// A standby (the leader was demoted under the connection), a
			// server still starting, or too few resources: the statement
			// failed, so its transaction wrote nothing.
			return unsent
		case class == "08", code == "57P01", code == "57P02", code == "57P03", class == "53":
			// The session was ended under the statement: on a leader being
			// shut down a commit may already be durable (it waits for the
			// synchronous standby after writing it locally).
			return lost
		}
		return final
	}
	if brokenConnection(err) {
		return lost
	}
	// refkit's own verdicts (not found, conflict, invalid), a closed store,
	// and whatever else: a new attempt would meet them again.
	return final
}

// brokenConnection reports a connection that broke under a statement: reset,
// closed, or ended mid-message.
func brokenConnection(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// retrier holds the retry policy: how many serialization failures a call
// retries, how long it keeps trying to reach the server, and the jitter.
type retrier struct {
	max     int
	timeout time.Duration
	mu      sync.Mutex
	rng     *mrand.Rand
	sleep   func(ctx context.Context, d time.Duration) error
	now     func() time.Time
}

func newRetrier(limit int, timeout time.Duration, src mrand.Source) *retrier {
	return &retrier{max: limit, timeout: timeout, rng: mrand.New(src), sleep: sleepCtx, now: time.Now}
}

// retryable reports whether err is a transient failure that a fresh attempt of
// the whole transaction can clear: a serialization failure (PostgreSQL under
// SERIALIZABLE or REPEATABLE READ, and the normal contention signal of
// CockroachDB and YugabyteDB) or a deadlock.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// do runs fn, retrying it on serialization failures only. The migrations use
// it: they run on one connection and start over from the lock when it breaks.
func (r *retrier) do(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= r.max {
			return fmt.Errorf("still failing after %d retries: %w: %w", attempt, referral.ErrConflict, err)
		}
		if serr := r.sleep(ctx, r.delay(attempt)); serr != nil {
			return serr
		}
	}
}

// delay is the wait before retry number attempt (from 0) after a serialization
// failure: uniformly random in (0, min(retryCap, retryBase·2^attempt)], "full
// jitter", so that writers that collided once do not collide again in step.
func (r *retrier) delay(attempt int) time.Duration {
	return r.jitter(retryBase, retryCap, attempt)
}

// reconnectDelay is the wait before attempt number attempt (from 0) after the
// server could not be reached.
func (r *retrier) reconnectDelay(attempt int) time.Duration {
	return r.jitter(reconnectBase, reconnectCap, attempt)
}

func (r *retrier) jitter(base, ceiling time.Duration, attempt int) time.Duration {
	if attempt < 16 {
		ceiling = min(ceiling, base<<attempt)
	}
	r.mu.Lock()
	d := r.rng.Int64N(int64(ceiling)) + 1
	r.mu.Unlock()
	return time.Duration(d)
}

// call runs a call that writes nothing (or whose write is idempotent, an
// upsert of the same document): every failure that a new attempt may clear
// is retried, within the store's limits.
func (s *Store) call(ctx context.Context, op string, fn func(q querier) error) error {
	return s.run(ctx, op, false, func(q querier, _ bool) error { return fn(q) })
}

// write runs a call whose effect must happen once. When an attempt's
// connection breaks after the statement was sent, the next attempt runs with
// again set: fn must then find out whether the earlier one took effect (its
// referral, event or record is there, and is the caller's) and finish without
// applying it twice.
func (s *Store) write(ctx context.Context, op string, fn func(q querier, again bool) error) error {
	return s.run(ctx, op, true, fn)
}

// run is the retry loop behind call and write. Serialization failures are
// retried up to Options.MaxRetries times (then ErrConflict); a server that
// cannot be reached, or a connection lost mid-call, is retried until
// Options.RetryTimeout has passed since the first such failure (then
// ErrUnavailable, or ErrOutcomeUnknown for a write that may have been
// applied); anything else ends the call at once.
func (s *Store) run(ctx context.Context, op string, write bool, fn func(q querier, again bool) error) error {
	if err := s.live(ctx); err != nil {
		return err
	}
	var (
		again       bool
		conflicts   int
		reconnects  int
		giveUpAfter time.Time
	)
	for {
		err := s.attempt(ctx, func(q querier) error { return fn(q, again) })
		if err == nil {
			return nil
		}
		kind := classifyAttempt(err)
		if s.closed.Load() {
			kind = final
		}
		switch kind {
		case contention:
			if conflicts >= s.retry.max {
				return s.failAfter(op, fmt.Errorf("still failing after %d retries: %w: %w", conflicts, referral.ErrConflict, err), again)
			}
			if serr := s.retry.sleep(ctx, s.retry.delay(conflicts)); serr != nil {
				return s.failAfter(op, serr, again)
			}
			conflicts++
			s.tel.retried(ctx, retryContention)
			continue
		case unsent, lost:
			if kind == lost && write {
				again = true
			}
			// The server this pool talks to has gone (or is a standby now):
			// its other connections are likely dead too, so drop them all
			// and let the next attempt connect afresh, to the new leader.
			s.pool.Reset()
			now := s.retry.now()
			if giveUpAfter.IsZero() {
				giveUpAfter = now.Add(s.retry.timeout)
			}
			wait := s.retry.reconnectDelay(reconnects)
			if s.retry.timeout <= 0 || now.Add(wait).After(giveUpAfter) {
				return s.failAfter(op, err, again)
			}
			if serr := s.retry.sleep(ctx, wait); serr != nil {
				return s.failAfter(op, errors.Join(serr, err), again)
			}
			reconnects++
			s.tel.retried(ctx, retryReconnect)
			continue
		}
		if write && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && !pgconn.SafeToRetry(err) {
			// The caller's context ended with the statement on its way: it
			// may have been committed all the same.
			again = true
		}
		return s.failAfter(op, err, again)
	}
}

// attempt runs fn once: on the pool, or in portable mode inside one explicit
// transaction, committed when fn succeeds. An engine that detects a
// serialization conflict at commit (CockroachDB) reports it there, and the
// whole attempt is retried.
func (s *Store) attempt(ctx context.Context, fn func(q querier) error) error {
	if !s.opts.Portable {
		return fn(s.wrap(s.pool))
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(s.wrap(tx)); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		_ = tx.Rollback(rctx)
		cancel()
		return err
	}
	return tx.Commit(ctx)
}

// wrap passes q through the store's test hook, if any.
func (s *Store) wrap(q querier) querier {
	if s.hook == nil {
		return q
	}
	return s.hook(q)
}

// failAfter is fail for the last attempt of a call: when an earlier attempt
// of a write may have been applied and the call still failed for a reason
// that is not about the request, the outcome is unknown, and the error says
// so (referral.ErrOutcomeUnknown) beside its cause.
func (s *Store) failAfter(op string, err error, again bool) error {
	err = s.fail(op, err)
	if !again || errors.Is(err, referral.ErrOutcomeUnknown) {
		return err
	}
	if errors.Is(err, referral.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w; an earlier attempt was interrupted after it was sent, so it may have been written: %w", err, referral.ErrOutcomeUnknown)
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
