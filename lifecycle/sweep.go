package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/refkit/refkit/referral"
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
