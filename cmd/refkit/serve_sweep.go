package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/refkit/refkit/lifecycle"
)

// sweeper runs the deadline sweep every interval until its context ends,
// through lifecycle.Engine.SweepLeased: on a store that several processes
// share (PostgreSQL, a storage.Leaser) only the holder of the sweep lease
// sweeps; on one that serves one process (SQLite) it always sweeps.
type sweeper struct {
	engine   *lifecycle.Engine
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
	res, swept, err := s.engine.SweepLeased(ctx, s.now(), s.holder, 2*s.interval)
	switch {
	case err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return "canceled", res
	case err != nil:
		s.record(ctx, "error", res, err)
		return "error", res
	case !swept:
		s.record(ctx, "standby", res, nil)
		return "standby", res
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
