package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Get returns a referral the actor may see; any other is ErrNotFound.
func (e *Engine) Get(ctx context.Context, actor referral.Actor, id referral.ID) (referral.Referral, error) {
	if err := actor.Validate(); err != nil {
		return referral.Referral{}, fmt.Errorf("get referral: actor: %w", err)
	}
	r, err := e.load(ctx, actor, id, e.now())
	if err != nil {
		return referral.Referral{}, fmt.Errorf("get referral: %w", err)
	}
	return r, nil
}

// ListQuery selects referrals for List. Set fields combine with AND; the actor's
// access is always applied on top.
type ListQuery struct {
	Sender   referral.ID
	Receiver referral.ID
	Person   referral.ID
	Statuses []referral.Status
	// CreatedFrom and CreatedTo keep referrals created in [CreatedFrom, CreatedTo).
	CreatedFrom time.Time
	CreatedTo   time.Time
	Page        storage.Page
}

// List pages through the referrals the actor may see that match q, oldest first.
// It returns the page and the cursor of the next one (zero when there is none).
func (e *Engine) List(ctx context.Context, actor referral.Actor, q ListQuery) ([]referral.Referral, referral.ID, error) {
	if err := actor.Validate(); err != nil {
		return nil, referral.NilID, fmt.Errorf("list referrals: actor: %w", err)
	}
	// The store checks the query's bounds (storage.CheckReferralQuery): a status
	// filter is at most one entry per status.
	out, next, err := e.store.ListReferrals(ctx, storage.ReferralQuery{
		Network: actor.Network, Sender: q.Sender, Receiver: q.Receiver, Person: q.Person,
		Statuses: q.Statuses, CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo,
		Visible: e.visibilityFilter(actor), Page: q.Page,
	})
	if err != nil {
		return nil, referral.NilID, fmt.Errorf("list referrals: %w", err)
	}
	return out, next, nil
}

// History returns a referral's events, oldest first: its status changes and the
// notes the two organizations exchanged.
func (e *Engine) History(ctx context.Context, actor referral.Actor, id referral.ID) ([]referral.Event, error) {
	if _, err := e.Get(ctx, actor, id); err != nil {
		return nil, fmt.Errorf("referral history: %w", err)
	}
	events, err := e.store.ReferralEvents(ctx, actor.Network, id)
	if err != nil {
		return nil, fmt.Errorf("referral history: %w", err)
	}
	return events, nil
}

// Feed returns the events after position after (0 from the start) on referrals the
// actor may see, at most limit of them (0 means storage.DefaultLimit). A partner
// system follows referrals in real time by calling Feed with the Position of the
// last event it processed.
func (e *Engine) Feed(ctx context.Context, actor referral.Actor, after int64, limit int) ([]referral.Event, error) {
	if err := actor.Validate(); err != nil {
		return nil, fmt.Errorf("feed: actor: %w", err)
	}
	if after < 0 {
		return nil, fmt.Errorf("feed: %w", referral.Invalid("after", "must not be negative"))
	}
	events, err := e.store.Feed(ctx, storage.FeedQuery{Network: actor.Network, After: after, Limit: limit, Visible: e.visibilityFilter(actor)})
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	return events, nil
}

// Follow calls fn with every event after position after on referrals the actor
// may see, in feed order, and then waits for more, until ctx ends (its error is
// returned, wrapped) or fn returns an error (returned as is). A partner system
// resumes after a restart by passing the Position of the last event it handled.
//
// On a store that implements storage.FeedNotifier, Follow sleeps until an append
// wakes it, whichever process made the append (the notifier's contract; the
// backend states how soon another process's append wakes it); on others it
// re-reads the feed every Options.PollInterval.
//
// A store that is unavailable (referral.ErrUnavailable: a database failover,
// a restart, a network outage) does not end Follow: it waits, from 100 ms
// doubling to at most 5 s between tries, logs a warning through
// Options.Logger, and resumes after the last event fn handled, so the outage
// neither skips an event nor delivers one twice. Any other error from the
// store ends Follow, as does ctx.
func (e *Engine) Follow(ctx context.Context, actor referral.Actor, after int64, fn func(referral.Event) error) error {
	if err := actor.Validate(); err != nil {
		return fmt.Errorf("follow: actor: %w", err)
	}
	notifier, _ := e.store.(storage.FeedNotifier)
	outage := 0
	// pause decides what a store error means: nil to try again after a
	// wait (the store is unavailable), or the error that ends Follow.
	pause := func(err error) error {
		if !errors.Is(err, referral.ErrUnavailable) || ctx.Err() != nil {
			return fmt.Errorf("follow: %w", err)
		}
		wait := min(followRetryCap, followRetryBase<<min(outage, 8))
		outage++
		if e.log != nil {
			e.log.LogAttrs(ctx, slog.LevelWarn, "follow: store unavailable, retrying",
				slog.String("network_id", actor.Network.String()), slog.Int64("after", after),
				slog.Int("attempt", outage), slog.Duration("wait", wait))
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("follow: %w", ctx.Err())
		case <-timer.C:
			return nil
		}
	}
	for {
		// Take the wake-up channel before reading, so an append between the read
		// and the wait is not missed.
		var wake <-chan struct{}
		if notifier != nil {
			ch, err := notifier.FeedChanged(ctx, actor.Network)
			if err != nil {
				if err := pause(err); err != nil {
					return err
				}
				continue
			}
			wake = ch
		}
		caughtUp := false
		for !caughtUp {
			events, err := e.Feed(ctx, actor, after, storage.MaxLimit)
			if err != nil {
				if err := pause(err); err != nil {
					return err
				}
				break
			}
			outage = 0
			for _, ev := range events {
				e.tel.delivered(ctx, &ev, e.now)
				if err := fn(ev); err != nil {
					return err
				}
				after = ev.Position
			}
			caughtUp = len(events) < storage.MaxLimit
		}
		if !caughtUp {
			// The read failed: take a fresh channel and read again.
			continue
		}
		if wake == nil {
			timer := time.NewTimer(e.poll)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("follow: %w", ctx.Err())
			case <-timer.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("follow: %w", ctx.Err())
		case <-wake:
		}
	}
}

// Follow's wait after the store was unavailable: followRetryBase, doubling
// with each failure in a row, at most followRetryCap.
const (
	followRetryBase = 100 * time.Millisecond
	followRetryCap  = 5 * time.Second
)

// Durations summarises a set of elapsed times.
type Durations struct {
	Count  int           `json:"count"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
}

// Report is the loop-closure report for a period.
type Report struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Total counts referrals created in the period that the actor may see.
	Total    int                     `json:"total"`
	ByStatus map[referral.Status]int `json:"by_status"`
	// ByReason counts, per status, the reason codes referrals ended in ("" when none).
	ByReason map[referral.Status]map[string]int `json:"by_reason"`
	// Outcomes counts completed referrals by outcome code.
	Outcomes map[string]int `json:"outcomes"`
	// ClosureRate is the share of referrals whose loop closed (completed with an
	// outcome) among those created, not counting ones entered in error.
	ClosureRate float64 `json:"closure_rate"`
	// Times are measured from when a referral was sent.
	TimeToAcknowledge Durations `json:"time_to_acknowledge"`
	TimeToAccept      Durations `json:"time_to_accept"`
	TimeToComplete    Durations `json:"time_to_complete"`
}

// Metrics reports loop closure over the referrals created in [from, to) that the
// actor may see: a network admin sees the whole network, staff their own
// organization's referrals.
func (e *Engine) Metrics(ctx context.Context, actor referral.Actor, from, to time.Time) (Report, error) {
	if !to.After(from) {
		return Report{}, fmt.Errorf("metrics: %w", referral.Invalid("to", "must be after from"))
	}
	rep := Report{
		From: from, To: to, ByStatus: map[referral.Status]int{},
		ByReason: map[referral.Status]map[string]int{}, Outcomes: map[string]int{},
	}
	var ack, accept, complete []time.Duration
	q := ListQuery{CreatedFrom: from, CreatedTo: to, Page: storage.Page{Limit: storage.MaxLimit}}
	for {
		page, next, err := e.List(ctx, actor, q)
		if err != nil {
			return Report{}, fmt.Errorf("metrics: %w", err)
		}
		for _, r := range page {
			rep.Total++
			rep.ByStatus[r.Status]++
			if r.Status.Terminal() {
				if rep.ByReason[r.Status] == nil {
					rep.ByReason[r.Status] = map[string]int{}
				}
				rep.ByReason[r.Status][r.Reason]++
			}
			if r.Status == referral.StatusCompleted && r.Outcome != nil {
				rep.Outcomes[r.Outcome.Code]++
			}
			if r.Sent.IsZero() {
				continue
			}
			if !r.Acknowledged.IsZero() {
				ack = append(ack, r.Acknowledged.Sub(r.Sent))
			}
			if !r.Accepted.IsZero() {
				accept = append(accept, r.Accepted.Sub(r.Sent))
			}
			if r.Status == referral.StatusCompleted {
				complete = append(complete, r.Closed.Sub(r.Sent))
			}
		}
		if next.IsZero() {
			break
		}
		q.Page.After = next
	}
	if n := rep.Total - rep.ByStatus[referral.StatusEnteredInError]; n > 0 {
		rep.ClosureRate = float64(rep.ByStatus[referral.StatusCompleted]) / float64(n)
	}
	rep.TimeToAcknowledge = summarise(ack)
	rep.TimeToAccept = summarise(accept)
	rep.TimeToComplete = summarise(complete)
	return rep, nil
}

// summarise computes nearest-rank percentiles, so reported times are ones that
// actually occurred.
func summarise(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	return Durations{Count: len(ds), Median: percentile(ds, 50), P90: percentile(ds, 90)}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
