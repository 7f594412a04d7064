package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// SweepResult counts what a sweep did.
type SweepResult struct {
	Escalated int `json:"escalated"`
	Expired   int `json:"expired"`
	// Skipped counts referrals changed by someone else during the sweep; the next
	// sweep looks at them again if they are still overdue.
	Skipped int `json:"skipped"`
}

// sweepBatch is how many due referrals one store call returns.
const sweepBatch = 500

// Sweep acts on every referral, in every network, whose deadline has passed at
// now: a missed deadline is escalated (an "escalated" event) and, Deadlines.
// ExpireAfter later, the referral is expired (cancelled, reason "expired"). With
// ExpireAfter zero it expires at the deadline. Each referral's network's
// deadlines apply (Options.NetworkDeadlines). now is passed in, not read from the
// clock, so a simulation can sweep at virtual times.
func (e *Engine) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	ctx, span := e.tel.beginSweep(ctx)
	res, err := e.sweep(ctx, now)
	e.tel.sweep(ctx, span, res, err)
	return res, err
}

// sweep is Sweep, unobserved.
func (e *Engine) sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	var res SweepResult
	seen := make(map[referral.ID]bool)
	for {
		due, err := e.store.DueReferrals(ctx, now, sweepBatch)
		if err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
		progressed := false
		for _, r := range due {
			t := e.sweepAction(r, now)
			if t == "" {
				continue
			}
			system := referral.Actor{Network: r.Network, Role: referral.RoleSystem, User: "refkit-sweep"}
			cmd := Command{}
			if t == TriggerExpire {
				cmd.Reason = ReasonExpired
			}
			_, _, err := e.do(ctx, system, r.ID, t, cmd)
			switch {
			case err == nil:
				progressed = true
				if t == TriggerExpire {
					res.Expired++
				} else {
					res.Escalated++
				}
			case errors.Is(err, referral.ErrConflict), errors.Is(err, referral.ErrInvalidTransition), errors.Is(err, referral.ErrNotFound):
				// Someone else moved the referral since the store listed it.
				if !seen[r.ID] {
					res.Skipped++
				}
			default:
				return res, fmt.Errorf("sweep: %w", err)
			}
			seen[r.ID] = true
		}
		if !progressed {
			return res, nil
		}
	}
}

// SweepLease is the name of the lease SweepLeased takes.
const SweepLease = "refkit-sweep"

// SweepLeased is Sweep for hosts that run it on a schedule in several
// processes sharing one database: on a store that implements storage.Leaser
// (PostgreSQL) it first takes or renews the lease SweepLease for holder, for
// ttl, and sweeps only if it holds it, so one process sweeps at a time; swept
// reports whether it did. Call it from every process more often than ttl,
// each with a holder id of its own (a host name and process id, say): the
// holder keeps the lease by renewing it, and if it stops (it died, or cannot
// reach the database) another process takes the lease over within ttl. The
// lease is a row in the database, replicated with everything else, so a
// database failover does not end it: the holder renews it on the new leader
// (the store retries through the failover), or, if it cannot within ttl,
// another process takes it.
//
// A sweep that overlaps another (a holder stalled past ttl while its
// successor sweeps) is still safe: every expiry and escalation is a
// version-conditioned command, so the second to act on a referral skips it.
// The lease saves that duplicated work, it does not guard correctness. On a
// store without leases (memory, which serves one process, and SQLite, whose
// write lock serialises the sweeps' commands) SweepLeased always sweeps.
func (e *Engine) SweepLeased(ctx context.Context, now time.Time, holder string, ttl time.Duration) (SweepResult, bool, error) {
	if leaser, ok := e.store.(storage.Leaser); ok {
		held, err := leaser.Lease(ctx, SweepLease, holder, ttl)
		if err != nil {
			return SweepResult{}, false, fmt.Errorf("sweep: lease: %w", err)
		}
		if !held {
			return SweepResult{}, false, nil
		}
	}
	res, err := e.Sweep(ctx, now)
	return res, true, err
}

// sweepAction decides what a due referral needs at now, if anything.
func (e *Engine) sweepAction(r referral.Referral, now time.Time) Trigger {
	due := pendingDeadline(r)
	if due.IsZero() || now.Before(due) {
		return ""
	}
	expire := e.Deadlines(r.Network).ExpireAfter
	if r.Escalated.IsZero() && expire != 0 {
		return TriggerEscalate
	}
	if expire < 0 || now.Before(due.Add(expire)) {
		return ""
	}
	return TriggerExpire
}
