package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// state is what one referral's write can change: the referral, its events and
// its network's feed.
type state struct {
	r      referral.Referral
	events []referral.Event
	feed   []referral.Event
}

func snapshot(t *testing.T, s storage.Store, network, id referral.ID) state {
	t.Helper()
	r, err := s.GetReferral(t.Context(), network, id)
	require.NoError(t, err)
	events, err := s.ReferralEvents(t.Context(), network, id)
	require.NoError(t, err)
	return state{r: r, events: events, feed: FeedAll(t, s, network, nil)}
}

// withoutPosition returns e as the caller built it, before the store numbered it.
func withoutPosition(e referral.Event) referral.Event {
	e.Position = 0
	return e
}

func testCreateReferral(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	r := f.NewReferral(referral.StatusDraft)
	r.NextDeadline = f.Now.Add(48 * time.Hour)
	stored, created, err := s.CreateReferral(ctx, r, CreatedEvent(r))
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, r, stored)

	got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, got)

	events, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Positive(t, events[0].Position)
	require.Equal(t, CreatedEvent(r), withoutPosition(events[0]))
	require.Equal(t, events, FeedAll(t, s, f.Network.ID, nil))

	t.Run("duplicate id", func(t *testing.T) {
		before := snapshot(t, s, f.Network.ID, r.ID)
		again := r.Clone()
		again.Status = referral.StatusRequested
		_, _, err := s.CreateReferral(ctx, again, CreatedEvent(again))
		require.ErrorIs(t, err, referral.ErrConflict)
		require.Equal(t, before, snapshot(t, s, f.Network.ID, r.ID))
	})

	t.Run("version and sequence must be 1", func(t *testing.T) {
		r := f.NewReferral(referral.StatusRequested)
		r.Version = 0
		_, _, err := s.CreateReferral(ctx, r, CreatedEvent(r))
		require.ErrorIs(t, err, referral.ErrInvalid)
		r.Version = 1
		e := CreatedEvent(r)
		e.Sequence = 0
		_, _, err = s.CreateReferral(ctx, r, e)
		require.ErrorIs(t, err, referral.ErrInvalid)
		_, err = s.GetReferral(ctx, f.Network.ID, r.ID)
		require.ErrorIs(t, err, referral.ErrNotFound, "a rejected create writes nothing")
	})

	inconsistent := []struct {
		name   string
		mutate func(r *referral.Referral, e *referral.Event)
	}{
		{"event in another network", func(_ *referral.Referral, e *referral.Event) { e.Network = f.ID() }},
		{"event of another referral", func(_ *referral.Referral, e *referral.Event) { e.Referral = f.ID() }},
		{"event to another status", func(_ *referral.Referral, e *referral.Event) { e.To = referral.StatusAccepted }},
		{"event sequence 2", func(_ *referral.Referral, e *referral.Event) { e.Sequence = 2 }},
		{"event without type", func(_ *referral.Referral, e *referral.Event) { e.Type = "" }},
		{"referral version 2", func(r *referral.Referral, _ *referral.Event) { r.Version = 2 }},
		{"referral with unknown status", func(r *referral.Referral, e *referral.Event) { r.Status, e.To = "lost", "lost" }},
	}
	for _, tc := range inconsistent {
		t.Run(tc.name, func(t *testing.T) {
			feed := FeedAll(t, s, f.Network.ID, nil)
			r := f.NewReferral(referral.StatusRequested)
			e := CreatedEvent(r)
			tc.mutate(&r, &e)
			_, _, err := s.CreateReferral(ctx, r, e)
			require.ErrorIs(t, err, referral.ErrInvalid)
			_, err = s.GetReferral(ctx, f.Network.ID, r.ID)
			require.ErrorIs(t, err, referral.ErrNotFound)
			require.Equal(t, feed, FeedAll(t, s, f.Network.ID, nil))
		})
	}
}

func testIdempotency(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	first := f.NewReferral(referral.StatusRequested)
	first.IdempotencyKey = "intake-42"
	first = f.Create(t, s, first)
	feed := FeedAll(t, s, f.Network.ID, nil)

	t.Run("same key and sender returns the first", func(t *testing.T) {
		retry := f.NewReferral(referral.StatusDraft)
		retry.IdempotencyKey = first.IdempotencyKey
		got, created, err := s.CreateReferral(ctx, retry, CreatedEvent(retry))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first, got)
		_, err = s.GetReferral(ctx, f.Network.ID, retry.ID)
		require.ErrorIs(t, err, referral.ErrNotFound)
		require.Equal(t, feed, FeedAll(t, s, f.Network.ID, nil), "no second event")
	})

	t.Run("a verbatim retry is not a conflict", func(t *testing.T) {
		got, created, err := s.CreateReferral(ctx, first, CreatedEvent(first))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first, got)
		require.Equal(t, feed, FeedAll(t, s, f.Network.ID, nil))
	})

	t.Run("key survives updates", func(t *testing.T) {
		moved, _ := f.Move(t, s, first, referral.StatusAccepted, referral.EventAccepted)
		retry := f.NewReferral(referral.StatusRequested)
		retry.IdempotencyKey = first.IdempotencyKey
		got, created, err := s.CreateReferral(ctx, retry, CreatedEvent(retry))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, moved, got, "the referral as stored now")
	})

	t.Run("same key from another sender creates", func(t *testing.T) {
		other := f.NewReferral(referral.StatusRequested)
		other.Sender = f.Other.ID
		other.IdempotencyKey = first.IdempotencyKey
		got, created, err := s.CreateReferral(ctx, other, CreatedEvent(other))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, other, got)
	})

	t.Run("no key never deduplicates", func(t *testing.T) {
		a := f.NewReferral(referral.StatusDraft)
		b := a.Clone()
		b.ID = f.ID()
		f.Create(t, s, a)
		f.Create(t, s, b)
	})
}

func testUpdateReferral(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	created, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)

	n, e := Next(r, referral.StatusAccepted, referral.EventAccepted)
	n.Accepted = n.Updated
	ev, err := s.UpdateReferral(ctx, n, e)
	require.NoError(t, err)
	require.Greater(t, ev.Position, created[0].Position)
	require.Equal(t, e, withoutPosition(ev))
	got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, n, got)
	events, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, []referral.Event{created[0], ev}, events)

	t.Run("stale version conflicts and writes nothing", func(t *testing.T) {
		before := snapshot(t, s, f.Network.ID, r.ID)
		stale, e := Next(r, referral.StatusRejected, referral.EventDeclined)
		stale.Reason = "no-capacity"
		_, err := s.UpdateReferral(ctx, stale, e)
		require.ErrorIs(t, err, referral.ErrConflict)
		require.Equal(t, before, snapshot(t, s, f.Network.ID, r.ID))
	})

	t.Run("version from the future conflicts", func(t *testing.T) {
		before := snapshot(t, s, f.Network.ID, r.ID)
		ahead, _ := Next(n, referral.StatusInProgress, referral.EventStarted)
		ahead, e := Next(ahead, referral.StatusOnHold, referral.EventHeld)
		_, err := s.UpdateReferral(ctx, ahead, e)
		require.ErrorIs(t, err, referral.ErrConflict)
		require.Equal(t, before, snapshot(t, s, f.Network.ID, r.ID))
	})

	t.Run("unknown referral", func(t *testing.T) {
		unknown := f.NewReferral(referral.StatusDraft)
		next, e := Next(unknown, referral.StatusRequested, referral.EventSent)
		_, err := s.UpdateReferral(ctx, next, e)
		require.ErrorIs(t, err, referral.ErrNotFound)
	})

	inconsistent := []struct {
		name   string
		mutate func(r *referral.Referral, e *referral.Event)
	}{
		{"sequence is not the new version", func(_ *referral.Referral, e *referral.Event) { e.Sequence++ }},
		{"from is not the stored status", func(_ *referral.Referral, e *referral.Event) { e.From = referral.StatusOnHold }},
		{"to is not the new status", func(_ *referral.Referral, e *referral.Event) { e.To = referral.StatusCompleted }},
		{"event in another network", func(_ *referral.Referral, e *referral.Event) { e.Network = f.ID() }},
		{"event of another referral", func(_ *referral.Referral, e *referral.Event) { e.Referral = f.ID() }},
		{"event without type", func(_ *referral.Referral, e *referral.Event) { e.Type = "" }},
		{"referral fails validation", func(r *referral.Referral, _ *referral.Event) { r.Priority = "whenever" }},
		{"version below 2", func(r *referral.Referral, e *referral.Event) { r.Version, e.Sequence = 1, 1 }},
	}
	for _, tc := range inconsistent {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s, f.Network.ID, r.ID)
			next, e := Next(n, referral.StatusInProgress, referral.EventStarted)
			tc.mutate(&next, &e)
			_, err := s.UpdateReferral(ctx, next, e)
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.Equal(t, before, snapshot(t, s, f.Network.ID, r.ID))
		})
	}

	t.Run("every field is replaced and indexes follow", func(t *testing.T) {
		next, e := Next(n, referral.StatusInProgress, referral.EventStarted)
		next.Receiver = f.Other.ID
		next.Needs = append(next.Needs, referral.Need{Domain: referral.TransportationInsecurity, Urgency: referral.Routine})
		next.Outcome = &referral.Outcome{Code: "got-help", Note: "groceries delivered"}
		next.Reason = "capacity-restored"
		next.NextDeadline = f.Now.Add(time.Hour)
		next.IdempotencyKey = "moved-1"
		_, err := s.UpdateReferral(ctx, next, e)
		require.NoError(t, err)
		got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, next, got)

		byOld, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID, Receiver: f.Receiver.ID})
		require.NoError(t, err)
		require.Empty(t, byOld)
		byNew, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID, Receiver: f.Other.ID})
		require.NoError(t, err)
		require.Equal(t, []referral.Referral{next}, byNew)
		due, err := s.DueReferrals(ctx, f.Now.Add(time.Hour), 0)
		require.NoError(t, err)
		require.Equal(t, []referral.Referral{next}, due)

		retry := f.NewReferral(referral.StatusDraft)
		retry.IdempotencyKey = "moved-1"
		got, created, err := s.CreateReferral(ctx, retry, CreatedEvent(retry))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, next, got)

		// A changed outcome replaces the stored one.
		again, e := Next(next, referral.StatusCompleted, referral.EventCompleted)
		again.Outcome = &referral.Outcome{Code: "got-help", Note: "enrolled in weekly deliveries"}
		again.NextDeadline = time.Time{}
		_, err = s.UpdateReferral(ctx, again, e)
		require.NoError(t, err)
		got, err = s.GetReferral(ctx, f.Network.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, again, got)
	})
}

func testReferralEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusDraft))
	steps := []struct {
		to  referral.Status
		typ referral.EventType
	}{
		{referral.StatusRequested, referral.EventSent},
		{referral.StatusAccepted, referral.EventAccepted},
		{referral.StatusInProgress, referral.EventStarted},
		{referral.StatusInProgress, referral.EventNote},
		{referral.StatusOnHold, referral.EventHeld},
		{referral.StatusInProgress, referral.EventResumed},
		{referral.StatusCompleted, referral.EventCompleted},
	}
	want := []referral.Event{CreatedEvent(r)}
	for _, st := range steps {
		var e referral.Event
		r, e = f.Move(t, s, r, st.to, st.typ)
		want = append(want, withoutPosition(e))
	}

	events, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Len(t, events, len(want))
	for i, e := range events {
		require.EqualValues(t, i+1, e.Sequence)
		require.Equal(t, want[i], withoutPosition(e))
		if i > 0 {
			require.Greater(t, e.Position, events[i-1].Position)
		}
	}
	status, version, err := referral.Replay(events)
	require.NoError(t, err)
	require.Equal(t, r.Status, status)
	require.Equal(t, r.Version, version)

	_, err = s.ReferralEvents(ctx, f.Network.ID, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
}

func testFeed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := NewFixture(t, s, 1)
	b := NewFixture(t, s, 2)

	// Interleave writes in two networks so positions are shared out between them.
	var refsA, refsB []referral.Referral
	for i := range 6 {
		refsA = append(refsA, a.Create(t, s, a.NewReferral(referral.StatusRequested)))
		if i%2 == 0 {
			refsB = append(refsB, b.Create(t, s, b.NewReferral(referral.StatusRequested)))
		}
	}
	for i := range refsA {
		refsA[i], _ = a.Move(t, s, refsA[i], referral.StatusAccepted, referral.EventAccepted)
		if i < len(refsB) {
			refsB[i], _ = b.Move(t, s, refsB[i], referral.StatusAccepted, referral.EventAccepted)
		}
	}

	for _, tc := range []struct {
		name string
		f    *Fixture
		refs []referral.Referral
	}{{"first network", a, refsA}, {"second network", b, refsB}} {
		t.Run(tc.name, func(t *testing.T) {
			feed := FeedAll(t, s, tc.f.Network.ID, nil)
			want := map[referral.ID]int64{}
			for _, r := range tc.refs {
				want[r.ID] = r.Version
			}
			type eventKey struct {
				referral referral.ID
				sequence int64
			}
			seen := map[eventKey]bool{}
			perReferral := map[referral.ID][]referral.Event{}
			for _, e := range feed {
				require.Equal(t, tc.f.Network.ID, e.Network, "only the asked network")
				_, ok := want[e.Referral]
				require.True(t, ok)
				perReferral[e.Referral] = append(perReferral[e.Referral], e)
				key := eventKey{e.Referral, e.Sequence}
				require.False(t, seen[key], "every event exactly once")
				seen[key] = true
			}
			for _, r := range tc.refs {
				events, err := s.ReferralEvents(ctx, tc.f.Network.ID, r.ID)
				require.NoError(t, err)
				require.Equal(t, events, perReferral[r.ID], "the feed holds every event, in sequence order per referral")
			}

			for _, limit := range []int{1, 2, 5, storage.MaxLimit} {
				var paged []referral.Event
				var after int64
				for {
					page, err := s.Feed(ctx, storage.FeedQuery{Network: tc.f.Network.ID, After: after, Limit: limit})
					require.NoError(t, err)
					require.LessOrEqual(t, len(page), limit)
					if len(page) == 0 {
						break
					}
					paged = append(paged, page...)
					after = page[len(page)-1].Position
				}
				require.Equal(t, feed, paged, "paging with limit %d", limit)
			}

			mid := feed[len(feed)/2].Position
			rest, err := s.Feed(ctx, storage.FeedQuery{Network: tc.f.Network.ID, After: mid})
			require.NoError(t, err)
			require.Equal(t, feed[len(feed)/2+1:], rest)
		})
	}

	t.Run("a follower resuming from its last position misses nothing", func(t *testing.T) {
		feed := FeedAll(t, s, a.Network.ID, nil)
		last := feed[len(feed)-1].Position
		empty, err := s.Feed(ctx, storage.FeedQuery{Network: a.Network.ID, After: last})
		require.NoError(t, err)
		require.Empty(t, empty)

		b.Move(t, s, refsB[0], referral.StatusInProgress, referral.EventStarted)
		_, appended := a.Move(t, s, refsA[0], referral.StatusInProgress, referral.EventStarted)
		next, err := s.Feed(ctx, storage.FeedQuery{Network: a.Network.ID, After: last})
		require.NoError(t, err)
		require.Equal(t, []referral.Event{appended}, next)
		require.Greater(t, appended.Position, last)
	})

	t.Run("negative cursor", func(t *testing.T) {
		_, err := s.Feed(ctx, storage.FeedQuery{Network: a.Network.ID, After: -1})
		require.ErrorIs(t, err, referral.ErrInvalid)
	})
}
