package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := memory.New()
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// TestLargeListings pages through tens of thousands of referrals created out of
// id order, through every index, and checks the deadline index under churn.
func TestLargeListings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 20,000 referrals")
	}
	ctx := t.Context()
	s := memory.New()
	f := storagetest.NewFixture(t, s, 1)
	const n = 20000
	receivers := []referral.ID{f.Receiver.ID, f.Other.ID}
	var all []referral.Referral
	for i := range n {
		all = append(all, f.NewReferral(referral.StatusRequested))
		all[i].Receiver = receivers[i%2]
		all[i].NextDeadline = f.Now.Add(time.Duration(n-i) * time.Second)
	}
	// Insert in a scrambled order so the indexes see inserts in the middle.
	for i := range n {
		r := all[(i*7919)%n]
		_, created, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r))
		require.NoError(t, err)
		require.True(t, created)
	}

	got := storagetest.ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID, Receiver: f.Other.ID}, storage.MaxLimit)
	require.Len(t, got, n/2)
	for i, r := range got {
		require.Equal(t, all[2*i+1].ID, r.ID)
	}

	// Clear every third deadline; the rest stay due in deadline order.
	for i := 0; i < n; i += 3 {
		next, e := storagetest.Next(all[i], referral.StatusAccepted, referral.EventAccepted)
		next.NextDeadline = time.Time{}
		_, err := s.UpdateReferral(ctx, next, e)
		require.NoError(t, err)
	}
	due, err := s.DueReferrals(ctx, f.Now.Add(n*time.Second), storage.MaxLimit)
	require.NoError(t, err)
	require.Len(t, due, storage.MaxLimit)
	want := n - 1
	for _, r := range due {
		for want%3 == 0 {
			want--
		}
		require.Equal(t, all[want].ID, r.ID)
		want--
	}
}

// TestConcurrentReadersAndWriters mixes listings, feed reads and writes so the
// race detector sees every lock path.
func TestConcurrentReadersAndWriters(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	f := storagetest.NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusInProgress))
	done := make(chan error, 2)
	go func() {
		cur := r
		for range 200 {
			next, e := storagetest.Next(cur, referral.StatusInProgress, referral.EventNote)
			if _, err := s.UpdateReferral(ctx, next, e); err != nil {
				done <- err
				return
			}
			cur = next
		}
		done <- nil
	}()
	go func() {
		for range 200 {
			v := storage.Visibility{Organization: f.Receiver.ID, At: f.Now}
			if _, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID, Visible: &v}); err != nil {
				done <- err
				return
			}
			if _, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, Visible: &v}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	events, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Len(t, events, 201)
}

// setupBench stores n in-progress referrals and returns them.
func setupBench(b *testing.B, n int) (*memory.Store, []referral.ID, referral.ID) {
	s := memory.New()
	f := storagetest.NewFixture(b, s, 1)
	ids := make([]referral.ID, n)
	for i := range ids {
		ids[i] = f.Create(b, s, f.NewReferral(referral.StatusInProgress)).ID
	}
	return s, ids, f.Network.ID
}

// BenchmarkGetUpdate is the store's share of one lifecycle transition: read a
// referral, toggle it between in-progress and on-hold, write it with its event.
// The store is rebuilt (timer stopped) every so often so the event log's memory
// stays bounded however large b.N gets.
func BenchmarkGetUpdate(b *testing.B) {
	ctx := context.Background()
	const referrals, rebuild = 1024, 1 << 17
	var (
		s       *memory.Store
		ids     []referral.ID
		network referral.ID
	)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%rebuild == 0 {
			b.StopTimer()
			s, ids, network = setupBench(b, referrals)
			b.StartTimer()
		}
		r, err := s.GetReferral(ctx, network, ids[i%referrals])
		if err != nil {
			b.Fatal(err)
		}
		to, typ := referral.StatusOnHold, referral.EventHeld
		if r.Status == referral.StatusOnHold {
			to, typ = referral.StatusInProgress, referral.EventResumed
		}
		from := r.Status
		r.Status = to
		r.Version++
		e := referral.Event{
			Network: r.Network, Referral: r.ID, Sequence: r.Version, Type: typ,
			Actor: referral.Actor{Network: r.Network, Organization: r.Receiver, Role: referral.RoleStaff},
			At:    r.Updated, From: from, To: to,
		}
		if _, err := s.UpdateReferral(ctx, r, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListByReceiver pages through one receiver's in-progress referrals,
// 100 at a time, out of 20,000 split between two receivers.
func BenchmarkListByReceiver(b *testing.B) {
	ctx := context.Background()
	s := memory.New()
	f := storagetest.NewFixture(b, s, 1)
	for i := range 20000 {
		r := f.NewReferral(referral.StatusInProgress)
		if i%2 == 0 {
			r.Receiver = f.Other.ID
		}
		f.Create(b, s, r)
	}
	q := storage.ReferralQuery{
		Network: f.Network.ID, Receiver: f.Other.ID,
		Statuses: []referral.Status{referral.StatusInProgress}, Page: storage.Page{Limit: 100},
	}
	b.ReportAllocs()
	for b.Loop() {
		got, next, err := s.ListReferrals(ctx, q)
		if err != nil || len(got) != 100 || next.IsZero() {
			b.Fatal(err, len(got))
		}
	}
}

// TestLazyIndexes checks the per-sender, per-receiver and per-person indexes,
// which the first listing that narrows by one of them builds: every such
// listing agrees with filtering the whole network, whether the referrals were
// written before the indexes existed, moved between senders, receivers and
// people after, or created after; and erasing a person before any listing
// finds all their referrals.
func TestLazyIndexes(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	f := storagetest.NewFixture(t, s, 1)
	orgs := []referral.ID{f.Sender.ID, f.Receiver.ID, f.Other.ID}
	people := []referral.ID{f.Person.ID}
	for range 3 {
		p := f.NewPerson()
		require.NoError(t, s.PutPerson(ctx, p))
		people = append(people, p.ID)
	}
	var refs []referral.Referral
	create := func(n int) {
		for i := range n {
			r := f.NewReferral(referral.StatusRequested)
			r.Sender, r.Receiver, r.Person = orgs[i%2], orgs[1+i%2], people[i%len(people)]
			refs = append(refs, f.Create(t, s, r))
		}
	}
	queries := func() []storage.ReferralQuery {
		var qs []storage.ReferralQuery
		for _, o := range orgs {
			qs = append(qs, storage.ReferralQuery{Network: f.Network.ID, Sender: o}, storage.ReferralQuery{Network: f.Network.ID, Receiver: o})
		}
		for _, p := range people {
			v := storage.Visibility{Person: p, At: f.Now}
			qs = append(qs, storage.ReferralQuery{Network: f.Network.ID, Person: p}, storage.ReferralQuery{Network: f.Network.ID, Visible: &v})
		}
		return qs
	}
	check := func(step string) {
		all := storagetest.ListAll(t, s, storage.ReferralQuery{Network: f.Network.ID}, storage.MaxLimit)
		require.Len(t, all, len(refs), step)
		for _, q := range queries() {
			var want []referral.ID
			for _, r := range all {
				if (q.Sender.IsZero() || r.Sender == q.Sender) && (q.Receiver.IsZero() || r.Receiver == q.Receiver) &&
					(q.Person.IsZero() || r.Person == q.Person) && (q.Visible == nil || q.Visible.Allows(r, nil)) {
					want = append(want, r.ID)
				}
			}
			var got []referral.ID
			for _, r := range storagetest.ListAll(t, s, q, 7) {
				got = append(got, r.ID)
			}
			require.Equal(t, want, got, "%s: %+v", step, q)
		}
	}

	tests := []struct {
		name string
		step func()
	}{
		{"written before any listing", func() { create(60) }},
		{"moved after the indexes were built", func() {
			for i := 0; i < len(refs); i += 4 {
				n, e := storagetest.Next(refs[i], referral.StatusAccepted, referral.EventAccepted)
				n.Sender, n.Receiver, n.Person = orgs[2], orgs[0], people[(i/4)%len(people)]
				_, err := s.UpdateReferral(ctx, n, e)
				require.NoError(t, err)
				refs[i] = n
			}
		}},
		{"created after the indexes were built", func() { create(25) }},
	}
	for _, tc := range tests {
		tc.step()
		check(tc.name)
	}

	// A fresh store erased before anything listed builds the person index.
	s2 := memory.New()
	f2 := storagetest.NewFixture(t, s2, 2)
	for range 3 {
		r := f2.NewReferral(referral.StatusRequested)
		e := storagetest.CreatedEvent(r)
		e.Note = "call after five"
		_, _, err := s2.CreateReferral(ctx, r, e)
		require.NoError(t, err)
	}
	res, err := s2.ErasePerson(ctx, f2.Network.ID, f2.Person.ID, f2.Now)
	require.NoError(t, err)
	require.Equal(t, 3, res.Events)
}

// TestLazyIndexesConcurrent has several readers make the first narrowing
// listing at once while a writer creates referrals, so the race detector sees
// the indexes built under the write lock while others read and write.
func TestLazyIndexesConcurrent(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	f := storagetest.NewFixture(t, s, 1)
	for range 50 {
		f.Create(t, s, f.NewReferral(referral.StatusRequested))
	}
	const readers = 4
	done := make(chan error, readers+1)
	go func() {
		for range 100 {
			r := f.NewReferral(referral.StatusRequested)
			if _, _, err := s.CreateReferral(ctx, r, storagetest.CreatedEvent(r)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range readers {
		go func() {
			for range 20 {
				got, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID, Receiver: f.Receiver.ID, Page: storage.Page{Limit: storage.MaxLimit}})
				if err != nil {
					done <- err
					return
				}
				if len(got) < 50 {
					done <- fmt.Errorf("listed %d referrals of at least 50", len(got))
					return
				}
			}
			done <- nil
		}()
	}
	for range readers + 1 {
		require.NoError(t, <-done)
	}
}

// TestOrganizationsCopiedInAndOut: an organization's lists are the store's
// own, so changing what was put, or what was got, changes nothing stored.
func TestOrganizationsCopiedInAndOut(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name   string
		mutate func(o *referral.Organization)
	}{
		{"identifiers", func(o *referral.Organization) { o.Identifiers[0].Value = "changed" }},
		{"phones", func(o *referral.Organization) { o.Phones[0].Number = "+1-555-0199" }},
		{"contacts", func(o *referral.Organization) { o.Contacts[0].Phones[0].Number = "+1-555-0199" }},
		{"confidential access", func(o *referral.Organization) { o.ConfidentialAccess[0] = referral.NilID }},
		{"hsds", func(o *referral.Organization) { o.HSDS[2] = 'X' }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := memory.New()
			f := storagetest.NewFixture(t, s, 1)
			o := f.NewOrganization("Northside Pantry")
			o.Identifiers = []referral.Identifier{{System: "US-EIN", Value: "12-3456789"}}
			o.Phones = []referral.Phone{{Number: "+1-555-0100"}}
			o.Contacts = []referral.Contact{{Name: "Intake", Phones: []referral.Phone{{Number: "+1-555-0101"}}}}
			o.ConfidentialAccess = []referral.ID{f.Sender.ID}
			o.HSDS = []byte(`{"id":"x"}`)
			want := o.Clone()
			require.NoError(t, s.PutOrganization(ctx, o))
			tc.mutate(&o)
			got, err := s.GetOrganization(ctx, f.Network.ID, o.ID)
			require.NoError(t, err)
			require.Equal(t, want, got, "changed through what was put")
			tc.mutate(&got)
			again, err := s.GetOrganization(ctx, f.Network.ID, o.ID)
			require.NoError(t, err)
			require.Equal(t, want, again, "changed through what was got")
		})
	}
}
