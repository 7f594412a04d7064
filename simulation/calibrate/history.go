package calibrate

import (
	"context"
	"fmt"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// CopyHistory copies a network's directory (the network, its organizations and
// services) and its referrals with every event, in feed order, from one store
// to another: a simulated replication's history into SQLite, say, to calibrate
// from later (`refkit simulate --history`). People, consents and screenings
// are not copied (referrals name people without needing their records), nor
// is the text of notes. The destination must not hold the network's referrals
// already.
func CopyHistory(ctx context.Context, dst, src storage.Store, network referral.ID) error {
	n, err := src.GetNetwork(ctx, network)
	if err != nil {
		return fmt.Errorf("copy history: %w", err)
	}
	if err := dst.PutNetwork(ctx, n); err != nil {
		return fmt.Errorf("copy history: %w", err)
	}
	page := storage.Page{Limit: storage.MaxLimit}
	for {
		orgs, next, err := src.ListOrganizations(ctx, network, page)
		if err != nil {
			return fmt.Errorf("copy history: %w", err)
		}
		for _, o := range orgs {
			if err := dst.PutOrganization(ctx, o); err != nil {
				return fmt.Errorf("copy history: organization %s: %w", o.ID, err)
			}
		}
		if next.IsZero() {
			break
		}
		page.After = next
	}
	services, err := storage.AllServices(ctx, src, network)
	if err != nil {
		return fmt.Errorf("copy history: %w", err)
	}
	for _, s := range services {
		if err := dst.PutService(ctx, s); err != nil {
			return fmt.Errorf("copy history: service %s: %w", s.ID, err)
		}
	}
	final := map[referral.ID]referral.Referral{}
	q := storage.ReferralQuery{Network: network, Page: storage.Page{Limit: storage.MaxLimit}}
	for {
		refs, next, err := src.ListReferrals(ctx, q)
		if err != nil {
			return fmt.Errorf("copy history: %w", err)
		}
		for _, r := range refs {
			final[r.ID] = r
		}
		if next.IsZero() {
			break
		}
		q.Page.After = next
	}
	// Each event is written with the referral as it ended but at the event's
	// version and status: the last write leaves the referral as it was.
	after := int64(0)
	for {
		events, err := src.Feed(ctx, storage.FeedQuery{Network: network, After: after, Limit: storage.MaxLimit})
		if err != nil {
			return fmt.Errorf("copy history: %w", err)
		}
		for _, ev := range events {
			r, ok := final[ev.Referral]
			if !ok {
				return fmt.Errorf("copy history: event %d names referral %s, which the store does not list: %w", ev.Position, ev.Referral, referral.ErrNotFound)
			}
			ev.Note = ""
			if r.Outcome != nil {
				r.Outcome = &referral.Outcome{Code: r.Outcome.Code}
			}
			r.Version, r.Status = ev.Sequence, ev.To
			if ev.Sequence < final[ev.Referral].Version {
				r.NextDeadline = time.Time{}
			}
			if ev.Sequence == 1 {
				_, created, err := dst.CreateReferral(ctx, r, ev)
				if err != nil {
					return fmt.Errorf("copy history: referral %s: %w", r.ID, err)
				}
				if !created {
					return fmt.Errorf("copy history: referral %s is already in the destination: %w", r.ID, referral.ErrConflict)
				}
				continue
			}
			if _, err := dst.UpdateReferral(ctx, r, ev); err != nil {
				return fmt.Errorf("copy history: referral %s: %w", r.ID, err)
			}
		}
		if len(events) < storage.MaxLimit {
			return nil
		}
		after = events[len(events)-1].Position
	}
}
