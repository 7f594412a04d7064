package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/refkit/refkit/lifecycle"
)

// Leaser grants a named lease to one holder at a time for ttl: true when
// holder has it now (newly, or renewed), false when another holder does.
// serve takes the lease before each deadline sweep, so that of several serve
// processes sharing one PostgreSQL database only one sweeps. A store that has
// the method (storage/postgres's lease) is used as the Leaser; see
// leaserOf.
type Leaser interface {
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// sweepLease is the lease's name.
const sweepLease = "refkit-deadline-sweep"

// leaserOf returns the store's lease when it has one. Without one (SQLite,
// memory, a PostgreSQL store without the lease) every process sweeps: that is
// safe, since each sweep's writes are version-conditioned (a referral another
// sweeper moved first is skipped), only wasteful.
func leaserOf(store any) Leaser {
	l, _ := store.(Leaser)
	return l
}

// sweeper runs the deadline sweep every interval until its context ends.
type sweeper struct {
	engine   *lifecycle.Engine
	leaser   Leaser
	holder   string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	tel      *telemetry
}

// run sweeps every interval until ctx ends.
func (s *sweeper) run(ctx context.Context) {
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	for {
		s.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// once runs one sweep if this process holds (or takes) the lease, and
// reports the outcome: swept, standby or error. The lease lasts two
// intervals, so a holder that dies is replaced after at most that long, and
// a live one renews it every interval.
func (s *sweeper) once(ctx context.Context) (string, lifecycle.SweepResult) {
	if s.leaser != nil {
		held, err := s.leaser.Lease(ctx, sweepLease, s.holder, 2*s.interval)
		if err != nil {
			s.record(ctx, "error", lifecycle.SweepResult{}, err)
			return "error", lifecycle.SweepResult{}
		}
		if !held {
			s.record(ctx, "standby", lifecycle.SweepResult{}, nil)
			return "standby", lifecycle.SweepResult{}
		}
	}
	res, err := s.engine.Sweep(ctx, s.now())
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return "canceled", res
		}
		s.record(ctx, "error", res, err)
		return "error", res
	}
	s.record(ctx, "swept", res, nil)
	return "swept", res
}

func (s *sweeper) record(ctx context.Context, outcome string, res lifecycle.SweepResult, err error) {
	if s.tel != nil {
		s.tel.sweep(ctx, outcome, res)
	}
	switch {
	case err != nil:
		s.log.ErrorContext(ctx, "deadline sweep failed", slog.String("error", err.Error()))
	case res.Escalated+res.Expired+res.Skipped > 0:
		s.log.InfoContext(ctx, "deadline sweep", slog.Int("escalated", res.Escalated),
			slog.Int("expired", res.Expired), slog.Int("skipped", res.Skipped))
	}
}
