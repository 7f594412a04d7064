package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// ids returns the referrals' ids in order.
func ids(rs []referral.Referral) []referral.ID {
	out := make([]referral.ID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// pick returns the ids of refs at the given indexes.
func pick(refs []referral.Referral, idx ...int) []referral.ID {
	out := make([]referral.ID, len(idx))
	for i, x := range idx {
		out[i] = refs[x].ID
	}
	return out
}

func testListReferrals(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	p2 := f.NewPerson()
	require.NoError(t, s.PutPerson(ctx, p2))
	S, R, O, P1 := f.Sender.ID, f.Receiver.ID, f.Other.ID, f.Person.ID
	hour := func(n int) time.Time { return f.Now.Add(time.Duration(n) * time.Hour) }

	population := []struct {
		sender, receiver, person referral.ID
		status                   referral.Status
		created                  time.Time
	}{
		{S, R, P1, referral.StatusDraft, hour(0)},
		{S, R, P1, referral.StatusRequested, hour(1)},
		{S, O, p2.ID, referral.StatusRequested, hour(2)},
		{R, O, p2.ID, referral.StatusAccepted, hour(3)},
		{O, S, P1, referral.StatusCompleted, hour(4)},
		{S, R, p2.ID, referral.StatusInProgress, hour(5)},
	}
	var refs []referral.Referral
	for _, p := range population {
		r := f.NewReferral(p.status)
		r.Sender, r.Receiver, r.Person = p.sender, p.receiver, p.person
		r.Created, r.Updated = p.created, p.created
		refs = append(refs, f.Create(t, s, r))
	}
	// A second network's referrals never show up.
	g := NewFixture(t, s, 2)
	g.Create(t, s, g.NewReferral(referral.StatusRequested))

	q := func(mod func(q *storage.ReferralQuery)) storage.ReferralQuery {
		out := storage.ReferralQuery{Network: f.Network.ID}
		mod(&out)
		return out
	}
	tests := []struct {
		name  string
		query storage.ReferralQuery
		want  []int
	}{
		{"everything", q(func(*storage.ReferralQuery) {}), []int{0, 1, 2, 3, 4, 5}},
		{"sender", q(func(q *storage.ReferralQuery) { q.Sender = S }), []int{0, 1, 2, 5}},
		{"receiver", q(func(q *storage.ReferralQuery) { q.Receiver = R }), []int{0, 1, 5}},
		{"other receiver", q(func(q *storage.ReferralQuery) { q.Receiver = O }), []int{2, 3}},
		{"person", q(func(q *storage.ReferralQuery) { q.Person = p2.ID }), []int{2, 3, 5}},
		{"statuses", q(func(q *storage.ReferralQuery) {
			q.Statuses = []referral.Status{referral.StatusRequested, referral.StatusAccepted}
		}), []int{1, 2, 3}},
		{"status nobody has", q(func(q *storage.ReferralQuery) { q.Statuses = []referral.Status{referral.StatusOnHold} }), nil},
		{"created range is half-open", q(func(q *storage.ReferralQuery) { q.CreatedFrom, q.CreatedTo = hour(1), hour(4) }), []int{1, 2, 3}},
		{"created from", q(func(q *storage.ReferralQuery) { q.CreatedFrom = hour(4) }), []int{4, 5}},
		{"created before", q(func(q *storage.ReferralQuery) { q.CreatedTo = hour(1) }), []int{0}},
		{"sender and person", q(func(q *storage.ReferralQuery) { q.Sender, q.Person = S, p2.ID }), []int{2, 5}},
		{"sender, receiver and statuses", q(func(q *storage.ReferralQuery) {
			q.Sender, q.Receiver = S, R
			q.Statuses = []referral.Status{referral.StatusDraft, referral.StatusInProgress}
		}), []int{0, 5}},
		{"no match", q(func(q *storage.ReferralQuery) { q.Sender, q.Receiver, q.Person = R, O, P1 }), nil},
		{"unknown sender", q(func(q *storage.ReferralQuery) { q.Sender = f.ID() }), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ListAll(t, s, tc.query, 0)
			require.Equal(t, pick(refs, tc.want...), ids(got))
			for _, r := range got {
				require.Equal(t, refs[slices.Index(ids(refs), r.ID)], r, "listed referrals are whole")
			}
			require.Equal(t, ids(got), ids(ListAll(t, s, tc.query, 1)), "paging one at a time")
		})
	}

	t.Run("unknown status", func(t *testing.T) {
		_, _, err := s.ListReferrals(ctx, q(func(q *storage.ReferralQuery) { q.Statuses = []referral.Status{"lost"} }))
		require.ErrorIs(t, err, referral.ErrInvalid)
	})
}

func testListPaging(t *testing.T, s storage.Store) {
	f := NewFixture(t, s, 1)
	var all, fromSender []referral.ID
	for i := range 25 {
		r := f.NewReferral(referral.StatusRequested)
		if i%3 == 0 {
			r.Sender = f.Other.ID
		} else {
			fromSender = append(fromSender, r.ID)
		}
		all = append(all, f.Create(t, s, r).ID)
	}
	slices.SortFunc(all, referral.ID.Compare)
	slices.SortFunc(fromSender, referral.ID.Compare)

	for _, limit := range []int{1, 2, 7, 24, 25, 26, 0} {
		got := ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID}, limit)
		require.Equal(t, all, ids(got), "limit %d walks every referral once, in id order", limit)
		got = ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID, Sender: f.Sender.ID}, limit)
		require.Equal(t, fromSender, ids(got), "limit %d, filtered", limit)
	}

	// A cursor is a position in id order, not a page number: resuming after any id
	// continues right after it.
	page, _, err := s.ListReferrals(t.Context(), storage.ReferralQuery{Network: f.Network.ID, Page: storage.Page{After: all[9], Limit: 3}})
	require.NoError(t, err)
	require.Equal(t, all[10:13], ids(page))
}

func testVisibility(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	g := NewFixture(t, s, 2)
	S, R, O := f.Sender.ID, f.Receiver.ID, f.Other.ID
	day := 24 * time.Hour

	// P1 lets O view; P2's view consent for O expired; P3 revoked hers an hour
	// ago; P4 gave O a referral consent, which does not let it view.
	p1 := f.Person
	p2, p3, p4 := f.NewPerson(), f.NewPerson(), f.NewPerson()
	for _, p := range []referral.Person{p2, p3, p4} {
		require.NoError(t, s.PutPerson(ctx, p))
	}
	active := f.NewConsent(p1.ID, O, referral.ScopeView)
	active.Period.End = f.Now.Add(30 * day)
	expired := f.NewConsent(p2.ID, O, referral.ScopeView)
	expired.Period = referral.Period{Start: f.Now.Add(-30 * day), End: f.Now.Add(-day)}
	revoked := f.NewConsent(p3.ID, O, referral.ScopeView)
	revoked.Revoked = f.Now.Add(-time.Hour)
	wrongScope := f.NewConsent(p4.ID, O, referral.ScopeReferral)
	for _, c := range []referral.Consent{active, expired, revoked, wrongScope} {
		require.NoError(t, s.PutConsent(ctx, c))
	}

	named := map[string]referral.Referral{}
	add := func(name string, sender, receiver, person referral.ID, status referral.Status) {
		r := f.NewReferral(status)
		r.Sender, r.Receiver, r.Person = sender, receiver, person
		named[name] = f.Create(t, s, r)
	}
	add("p1 draft", S, R, p1.ID, referral.StatusDraft)
	add("p1 sent", S, R, p1.ID, referral.StatusRequested)
	add("p2 sent", S, R, p2.ID, referral.StatusRequested)
	add("p3 sent", S, R, p3.ID, referral.StatusRequested)
	add("p4 sent", S, R, p4.ID, referral.StatusRequested)
	add("p2 draft back", R, S, p2.ID, referral.StatusDraft)
	// The receiver moved this one on; it stays visible to the receiver.
	moved := f.Create(t, s, func() referral.Referral {
		r := f.NewReferral(referral.StatusRequested)
		r.Person = p4.ID
		return r
	}())
	named["p4 accepted"], _ = f.Move(t, s, moved, referral.StatusAccepted, referral.EventAccepted)
	// Drafts withdrawn before they were sent stay the sender's alone; a referral
	// cancelled after it was sent (its Sent time says so) does not.
	add("p1 withdrawn draft", S, R, p1.ID, referral.StatusDraft)
	named["p1 withdrawn draft"], _ = f.Move(t, s, named["p1 withdrawn draft"], referral.StatusCancelled, referral.EventCancelled)
	add("p1 draft in error", S, R, p1.ID, referral.StatusDraft)
	named["p1 draft in error"], _ = f.Move(t, s, named["p1 draft in error"], referral.StatusEnteredInError, referral.EventEnteredInError)
	sentThenCancelled := f.NewReferral(referral.StatusRequested)
	sentThenCancelled.Sent = f.Now
	named["p1 cancelled after sending"], _ = f.Move(t, s, f.Create(t, s, sentThenCancelled), referral.StatusCancelled, referral.EventCancelled)
	// The other network has a referral between organizations with the same roles.
	g.Create(t, s, g.NewReferral(referral.StatusRequested))

	names := func(rs []referral.Referral) []string {
		var out []string
		for _, r := range rs {
			for name, x := range named {
				if x.ID == r.ID {
					out = append(out, name)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	all := ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID}, 0)
	allFeed := FeedAll(t, s, f.Network.ID, nil)

	tests := []struct {
		name string
		v    storage.Visibility
		want []string
	}{
		{"sender sees its drafts and everything it sent", storage.Visibility{Organization: S, At: f.Now},
			[]string{"p1 cancelled after sending", "p1 draft", "p1 draft in error", "p1 sent", "p1 withdrawn draft",
				"p2 sent", "p3 sent", "p4 accepted", "p4 sent"}},
		{"receiver sees what was sent, not drafts", storage.Visibility{Organization: R, At: f.Now},
			[]string{"p1 cancelled after sending", "p1 sent", "p2 draft back", "p2 sent", "p3 sent", "p4 accepted", "p4 sent"}},
		{"third org sees only sent referrals, with an active view consent", storage.Visibility{Organization: O, At: f.Now},
			[]string{"p1 cancelled after sending", "p1 sent"}},
		{"a revoked consent still counts before revocation", storage.Visibility{Organization: O, At: f.Now.Add(-2 * time.Hour)},
			[]string{"p1 cancelled after sending", "p1 sent", "p3 sent"}},
		{"a consent does not count after it ends", storage.Visibility{Organization: O, At: f.Now.Add(31 * day)}, nil},
		{"delegate sees the person's sent referrals, not drafts", storage.Visibility{Person: p2.ID, At: f.Now},
			[]string{"p2 sent"}},
		{"delegate sees no withdrawn draft", storage.Visibility{Person: p1.ID, At: f.Now},
			[]string{"p1 cancelled after sending", "p1 sent"}},
		{"organization or person: either grants", storage.Visibility{Organization: O, Person: p2.ID, At: f.Now},
			[]string{"p1 cancelled after sending", "p1 sent", "p2 sent"}},
		{"nobody sees nothing", storage.Visibility{At: f.Now}, nil},
		{"another network's organization sees nothing", storage.Visibility{Organization: g.Sender.ID, At: f.Now}, nil},
		{"another network's person sees nothing", storage.Visibility{Person: g.Person.ID, At: f.Now}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			got := ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID, Visible: &v}, 2)
			require.Equal(t, tc.want, names(got))

			// The backend must agree with Visibility.Allows.
			var allowed []referral.Referral
			for _, r := range all {
				consents, err := s.ListConsents(ctx, f.Network.ID, r.Person)
				require.NoError(t, err)
				if v.Allows(r, consents) {
					allowed = append(allowed, r)
				}
			}
			require.Equal(t, ids(allowed), ids(got), "agrees with Visibility.Allows")

			// The feed keeps exactly the events of the visible referrals.
			visible := map[referral.ID]bool{}
			for _, r := range got {
				visible[r.ID] = true
			}
			var want []referral.Event
			for _, e := range allFeed {
				if visible[e.Referral] {
					want = append(want, e)
				}
			}
			require.Equal(t, want, FeedAll(t, s, f.Network.ID, &v))

			// Filters combine with visibility.
			filtered := ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID, Visible: &v, Statuses: []referral.Status{referral.StatusDraft}}, 0)
			for _, r := range filtered {
				require.True(t, visible[r.ID])
				require.Equal(t, referral.StatusDraft, r.Status)
			}
		})
	}

	t.Run("nothing across networks", func(t *testing.T) {
		for _, v := range []storage.Visibility{{Organization: S, At: f.Now}, {Person: p1.ID, At: f.Now}} {
			got := ListAll(t, s, storage.ReferralQuery{Network: g.Network.ID, Visible: &v}, 0)
			require.Empty(t, got)
			require.Empty(t, FeedAll(t, s, g.Network.ID, &v))
		}
	})
}

func testDueReferrals(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := NewFixture(t, s, 1)
	b := NewFixture(t, s, 2)
	now := a.Now.Add(72 * time.Hour)
	withDeadline := func(f *Fixture, at time.Time) referral.Referral {
		r := f.NewReferral(referral.StatusRequested)
		r.NextDeadline = at
		return f.Create(t, s, r)
	}
	// Created out of deadline order, across two networks, with a tie.
	late := withDeadline(a, now)
	tieA := withDeadline(a, now.Add(-time.Hour))
	first := withDeadline(b, now.Add(-2*time.Hour))
	tieB := withDeadline(b, now.Add(-time.Hour))
	withDeadline(a, now.Add(time.Hour))
	none := withDeadline(a, time.Time{})

	ties := []referral.Referral{tieA, tieB}
	slices.SortFunc(ties, func(x, y referral.Referral) int { return x.ID.Compare(y.ID) })
	want := []referral.Referral{first, ties[0], ties[1], late}

	got, err := s.DueReferrals(ctx, now, 0)
	require.NoError(t, err)
	require.Equal(t, want, got, "due means set and not after now, earliest first, ties by id")

	got, err = s.DueReferrals(ctx, now, 2)
	require.NoError(t, err)
	require.Equal(t, want[:2], got)

	got, err = s.DueReferrals(ctx, now.Add(-90*time.Minute), 0)
	require.NoError(t, err)
	require.Equal(t, want[:1], got)

	// Updates move referrals in and out of the index.
	cleared, e := Next(late, referral.StatusAccepted, referral.EventAccepted)
	cleared.NextDeadline = time.Time{}
	_, err = s.UpdateReferral(ctx, cleared, e)
	require.NoError(t, err)
	set, e := Next(none, referral.StatusRequested, referral.EventAcknowledged)
	set.BusinessStatus = referral.BusinessAcknowledged
	set.NextDeadline = now.Add(-3 * time.Hour)
	_, err = s.UpdateReferral(ctx, set, e)
	require.NoError(t, err)
	moved, e := Next(first, referral.StatusRequested, referral.EventAcknowledged)
	moved.BusinessStatus = referral.BusinessAcknowledged
	moved.NextDeadline = now.Add(-30 * time.Minute)
	_, err = s.UpdateReferral(ctx, moved, e)
	require.NoError(t, err)

	got, err = s.DueReferrals(ctx, now, 0)
	require.NoError(t, err)
	require.Equal(t, []referral.Referral{set, ties[0], ties[1], moved}, got)
}
