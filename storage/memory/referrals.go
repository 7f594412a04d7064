package memory

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// CreateReferral stores a new referral (Version 1) and its first event (Sequence
// 1). A repeated idempotency key returns the first referral and false.
func (s *Store) CreateReferral(ctx context.Context, r referral.Referral, e referral.Event) (referral.Referral, bool, error) {
	if err := live(ctx); err != nil {
		return referral.Referral{}, false, err
	}
	if err := storage.CheckCreate(r, e); err != nil {
		return referral.Referral{}, false, err
	}
	key := idempotencyKey{network: r.Network, sender: r.Sender, key: r.IdempotencyKey}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return referral.Referral{}, false, storage.ErrClosed
	}
	net, err := s.network(r.Network)
	if err != nil {
		return referral.Referral{}, false, err
	}
	if r.IdempotencyKey != "" {
		if first, ok := s.idempotency[key]; ok {
			return s.get(first), false, nil
		}
	}
	if err := s.ownScreenings(&r); err != nil {
		return referral.Referral{}, false, err
	}
	if _, ok := s.referrals[r.ID]; ok {
		return referral.Referral{}, false, conflict("referral", r.ID, "already exists")
	}
	i := s.recs.add()
	s.encode(i, &r, false)
	ev := s.log.append(e, 0)
	rec := s.recs.at(i)
	rec.lastEvent, rec.net = ev.Position, net.at
	net.appendFeed(ev.Position)
	s.referrals[r.ID] = i
	net.referrals.insert(r.ID)
	if net.indexed {
		net.indexReferral(r.ID, r.Sender, r.Receiver, r.Person)
	}
	if r.IdempotencyKey != "" {
		s.idempotency[key] = i
	}
	if k, ok := s.deadline(i); ok {
		s.due.insert(k)
	}
	return s.get(i), true, nil
}

// ownScreenings checks that every screening r's needs cite is one of r's
// person's in r's network (storage.ForeignScreening). Callers hold the lock.
func (s *Store) ownScreenings(r *referral.Referral) error {
	for i, n := range r.Needs {
		if n.Screening.IsZero() {
			continue
		}
		if sc, err := s.screenings.find(r.Network, n.Screening); err != nil || sc.Person != r.Person {
			return storage.ForeignScreening(i)
		}
	}
	return nil
}

// GetReferral returns the referral, or ErrNotFound.
func (s *Store) GetReferral(ctx context.Context, network, id referral.ID) (referral.Referral, error) {
	if err := live(ctx); err != nil {
		return referral.Referral{}, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return referral.Referral{}, storage.ErrClosed
	}
	i, ok := s.referrals[id]
	if !ok || s.recs.at(i).network != network {
		s.mu.RUnlock()
		return referral.Referral{}, notFound("referral", id)
	}
	r := s.get(i)
	s.mu.RUnlock()
	return r, nil
}

// UpdateReferral replaces the referral and appends e, atomically, if the stored
// version is r.Version-1.
func (s *Store) UpdateReferral(ctx context.Context, r referral.Referral, e referral.Event) (referral.Event, error) {
	if err := live(ctx); err != nil {
		return referral.Event{}, err
	}
	if err := storage.CheckUpdate(r, e); err != nil {
		return referral.Event{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return referral.Event{}, storage.ErrClosed
	}
	i, ok := s.referrals[r.ID]
	if !ok || s.recs.at(i).network != r.Network {
		return referral.Event{}, notFound("referral", r.ID)
	}
	old := s.recs.at(i)
	if old.version != r.Version-1 {
		return referral.Event{}, conflict("referral", r.ID, "changed since it was read")
	}
	if string(e.From) != s.log.symbol(old.status) {
		return referral.Event{}, referral.Invalid("event.from", "must be the stored status")
	}
	// Screenings are immutable and never deleted, so needs the stored referral
	// already cited for the same person were checked when they were written.
	sameNeeds := s.sameNeeds(i, r.Needs)
	if r.Person != old.person || !sameNeeds {
		if err := s.ownScreenings(&r); err != nil {
			return referral.Event{}, err
		}
	}
	oldKey := s.log.string(old.idempotencyK)
	keyChanged := r.IdempotencyKey != oldKey || r.Sender != old.sender
	newKey := idempotencyKey{network: r.Network, sender: r.Sender, key: r.IdempotencyKey}
	if keyChanged && r.IdempotencyKey != "" {
		if other, ok := s.idempotency[newKey]; ok && other != i {
			return referral.Event{}, conflict("referral", r.ID, "idempotency key is taken")
		}
	}

	// Everything is checked: from here on nothing fails, so the write is whole.
	net := s.netList[old.net]
	if net.indexed {
		net.reindex(old, &r)
	}
	if keyChanged {
		if oldKey != "" {
			delete(s.idempotency, idempotencyKey{network: old.network, sender: old.sender, key: oldKey})
		}
		if r.IdempotencyKey != "" {
			s.idempotency[newKey] = i
		}
	}
	before, hadDeadline := s.deadline(i)
	ev := s.log.append(e, old.lastEvent)
	// Needs rarely change on a transition; unchanged, they are not copied again.
	s.encode(i, &r, sameNeeds)
	old.lastEvent = ev.Position
	if after, has := s.deadline(i); after != before || has != hadDeadline {
		if hadDeadline {
			s.due.remove(before)
		}
		if has {
			s.due.insert(after)
		}
	}
	net.appendFeed(ev.Position)
	return ev, nil
}

// ListReferrals pages through the referrals matching q in id order, walking the
// narrowest index the query names.
func (s *Store) ListReferrals(ctx context.Context, q storage.ReferralQuery) ([]referral.Referral, referral.ID, error) {
	if err := live(ctx); err != nil {
		return nil, referral.NilID, err
	}
	limit, err := storage.CheckReferralQuery(q)
	if err != nil {
		return nil, referral.NilID, err
	}
	var (
		out  []referral.Referral
		next referral.ID
	)
	err = s.view(func() error {
		var ok bool
		out, next, ok = s.referralPage(&q, limit)
		if !ok {
			return errUnindexed
		}
		return nil
	})
	if errors.Is(err, errUnindexed) {
		// The first listing that narrows by sender, receiver or person builds
		// the indexes under the write lock, then reads as any other.
		err = s.write(ctx, noInput, func() error {
			var ok bool
			out, next, ok = s.referralPage(&q, limit)
			if !ok {
				s.networks[q.Network].index(s)
				out, next, _ = s.referralPage(&q, limit)
			}
			return nil
		})
	}
	return out, next, err
}

// errUnindexed is referralPage's signal that the query needs the network's
// indexes, which are not built yet; it never leaves the package.
var errUnindexed = errors.New("memory: referral indexes not built")

// referralPage is ListReferrals under the read lock; an unknown network lists
// nothing (nil). ok is false, with nothing read, when the query narrows by an
// index the network has not built (see network.index).
func (s *Store) referralPage(q *storage.ReferralQuery, limit int) (out []referral.Referral, next referral.ID, ok bool) {
	net, found := s.networks[q.Network]
	if !found {
		return nil, referral.NilID, true
	}
	if !net.indexed && (!q.Sender.IsZero() || !q.Receiver.IsZero() || !q.Person.IsZero() ||
		q.Visible != nil && q.Visible.Organization.IsZero()) {
		return nil, referral.NilID, false
	}
	ids := &net.referrals
	narrow := func(m map[referral.ID]*ordered[referral.ID], id referral.ID) {
		if id.IsZero() {
			return
		}
		if o := m[id]; o.Len() < ids.Len() {
			ids = o
		}
	}
	narrow(net.bySender, q.Sender)
	narrow(net.byReceiver, q.Receiver)
	narrow(net.byPerson, q.Person)
	if v := q.Visible; v != nil && v.Organization.IsZero() {
		// A delegate sees only their person's referrals.
		narrow(net.byPerson, v.Person)
		if v.Person.IsZero() {
			return nil, referral.NilID, true
		}
	}
	out, next = page(ids, q.Page.After, limit, func(id referral.ID) (referral.Referral, bool) {
		i := s.referrals[id]
		r := s.decode(i)
		if !s.matches(q, &r) {
			return referral.Referral{}, false
		}
		s.complete(i, &r)
		return r, true
	})
	return out, next, true
}

// matches applies q's filters to r. Callers hold the lock.
func (s *Store) matches(q *storage.ReferralQuery, r *referral.Referral) bool {
	switch {
	case !q.Sender.IsZero() && r.Sender != q.Sender,
		!q.Receiver.IsZero() && r.Receiver != q.Receiver,
		!q.Person.IsZero() && r.Person != q.Person,
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, r.Status),
		!q.CreatedFrom.IsZero() && r.Created.Before(q.CreatedFrom),
		!q.CreatedTo.IsZero() && !r.Created.Before(q.CreatedTo):
		return false
	}
	return s.visible(q.Visible, r)
}

// visible applies v (nil allows everything) to r. Callers hold the lock.
func (s *Store) visible(v *storage.Visibility, r *referral.Referral) bool {
	return v == nil || v.Allows(*r, s.consentsOf[r.Person])
}

// ReferralEvents returns the referral's events in sequence order.
func (s *Store) ReferralEvents(ctx context.Context, network, id referral.ID) ([]referral.Event, error) {
	var out []referral.Event
	err := s.read(ctx, func() error {
		i, ok := s.referrals[id]
		if !ok || s.recs.at(i).network != network {
			return notFound("referral", id)
		}
		rec := s.recs.at(i)
		positions := s.log.positions(rec.lastEvent, rec.version)
		out = make([]referral.Event, len(positions))
		for k, pos := range positions {
			out[k] = s.log.at(pos)
		}
		return nil
	})
	return out, err
}

// Feed returns the network's events after position q.After, in position order.
func (s *Store) Feed(ctx context.Context, q storage.FeedQuery) ([]referral.Event, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	limit, err := storage.CheckFeed(q)
	if err != nil {
		return nil, err
	}
	var out []referral.Event
	err = s.view(func() error {
		out = s.feed(&q, limit)
		return nil
	})
	return out, err
}

// feed is Feed under the read lock; an unknown network has no events (nil).
func (s *Store) feed(q *storage.FeedQuery, limit int) []referral.Event {
	net, ok := s.networks[q.Network]
	if !ok {
		return nil
	}
	start := sort.Search(len(net.feed), func(i int) bool { return net.feed[i] > q.After })
	out := make([]referral.Event, 0, min(limit, len(net.feed)-start))
	for _, pos := range net.feed[start:] {
		ev := s.log.at(pos)
		if q.Visible != nil {
			if r := s.decode(s.referrals[ev.Referral]); !s.visible(q.Visible, &r) {
				continue
			}
		}
		out = append(out, ev)
		if len(out) == limit {
			break
		}
	}
	return out
}

// DueReferrals returns up to limit referrals, from every network, whose deadline
// is not after now, earliest first. limit follows storage.Limit: 0 is
// storage.DefaultLimit.
func (s *Store) DueReferrals(ctx context.Context, now time.Time, limit int) ([]referral.Referral, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	limit, err := storage.Limit(limit)
	if err != nil {
		return nil, err
	}
	var out []referral.Referral
	err = s.view(func() error {
		for k := range s.due.all() {
			if k.after(now) || len(out) == limit {
				break
			}
			out = append(out, s.get(s.referrals[k.id]))
		}
		return nil
	})
	return out, err
}

// FeedChanged returns a channel closed at the network's next feed append (or when
// the store closes), implementing storage.FeedNotifier.
func (s *Store) FeedChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	net, err := s.network(network)
	if err != nil {
		return nil, err
	}
	if net.appended == nil {
		net.appended = make(chan struct{})
	}
	return net.appended, nil
}
