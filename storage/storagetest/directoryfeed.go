package storagetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// directoryFeed returns s as a storage.DirectoryFeed, or skips the test.
func directoryFeed(t *testing.T, s storage.Store) storage.DirectoryFeed {
	t.Helper()
	d, ok := s.(storage.DirectoryFeed)
	if !ok {
		t.Skip("the backend does not implement storage.DirectoryFeed")
	}
	return d
}

// DirectoryAll pages through a network's whole directory feed after position
// after (a few changes per call, so paging is exercised), checking that
// positions strictly increase.
func DirectoryAll(t testing.TB, d storage.DirectoryFeed, network referral.ID, after int64) []storage.DirectoryChange {
	t.Helper()
	var all []storage.DirectoryChange
	for {
		page, err := d.DirectoryChanges(context.Background(), storage.DirectoryQuery{Network: network, After: after, Limit: 3})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 3)
		for _, c := range page {
			require.Greater(t, c.Position, after, "directory feed positions must strictly increase")
			after = c.Position
		}
		all = append(all, page...)
		if len(page) < 3 {
			return all
		}
	}
}

// change is what a test expects of a DirectoryChange, its position aside.
type change struct {
	kind         storage.ChangeKind
	organization referral.ID
	service      referral.ID
	capacity     *referral.Capacity
}

func requireChanges(t *testing.T, want []change, got []storage.DirectoryChange, network referral.ID) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		require.Equal(t, network, g.Network, "change %d", i)
		require.Equal(t, w.kind, g.Kind, "change %d", i)
		require.Equal(t, w.organization, g.Organization, "change %d", i)
		require.Equal(t, w.service, g.Service, "change %d", i)
		require.Equal(t, w.capacity, g.Capacity, "change %d", i)
	}
}

// testDirectoryFeed: every directory write appends one change, in order,
// atomically with the write; a failed write appends nothing; networks have
// feeds of their own; cursors and limits work as the referral feed's do.
func testDirectoryFeed(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	other := NewFixture(t, s, 2)

	// The fixture's own writes: three organizations and a service.
	setup := DirectoryAll(t, d, f.Network.ID, 0)
	requireChanges(t, []change{
		{kind: storage.ChangeOrganization, organization: f.Sender.ID},
		{kind: storage.ChangeOrganization, organization: f.Receiver.ID},
		{kind: storage.ChangeOrganization, organization: f.Other.ID},
		{kind: storage.ChangeService, organization: f.Receiver.ID, service: f.Service.ID},
	}, setup, f.Network.ID)
	head := setup[len(setup)-1].Position

	org := f.NewOrganization("Safe Harbor")
	require.NoError(t, s.PutOrganization(ctx, org))
	svc := f.NewService(org.ID)
	require.NoError(t, s.PutService(ctx, svc))
	full := referral.Capacity{Available: 0, Waitlist: 2, Maximum: 12}
	require.NoError(t, d.SetCapacity(ctx, f.Network.ID, svc.ID, &full))
	require.NoError(t, d.SetCapacity(ctx, f.Network.ID, f.Service.ID, nil))
	require.NoError(t, s.DeleteService(ctx, f.Network.ID, svc.ID))

	// Writes that fail append nothing.
	orphan := f.NewService(f.ID())
	require.ErrorIs(t, s.PutService(ctx, orphan), referral.ErrNotFound)
	bad := f.NewService(org.ID)
	bad.Name = ""
	require.ErrorIs(t, s.PutService(ctx, bad), referral.ErrInvalid)
	require.ErrorIs(t, s.DeleteService(ctx, f.Network.ID, svc.ID), referral.ErrNotFound)
	require.ErrorIs(t, d.SetCapacity(ctx, f.Network.ID, svc.ID, &full), referral.ErrNotFound)
	require.ErrorIs(t, d.SetCapacity(ctx, other.Network.ID, f.Service.ID, &full), referral.ErrNotFound, "a service of another network")
	require.ErrorIs(t, d.SetCapacity(ctx, f.Network.ID, f.Service.ID, &referral.Capacity{Available: -1}), referral.ErrInvalid)
	stolen := other.NewOrganization("Elsewhere")
	stolen.ID = org.ID
	require.ErrorIs(t, s.PutOrganization(ctx, stolen), referral.ErrConflict)

	got := DirectoryAll(t, d, f.Network.ID, head)
	requireChanges(t, []change{
		{kind: storage.ChangeOrganization, organization: org.ID},
		{kind: storage.ChangeService, organization: org.ID, service: svc.ID},
		{kind: storage.ChangeCapacity, organization: org.ID, service: svc.ID, capacity: &full},
		{kind: storage.ChangeCapacity, organization: f.Receiver.ID, service: f.Service.ID},
		{kind: storage.ChangeServiceDeleted, organization: org.ID, service: svc.ID},
	}, got, f.Network.ID)

	// A capacity write changes the capacity and nothing else.
	stored, err := s.GetService(ctx, f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	want := f.Service
	want.Capacity = nil
	require.Equal(t, want, stored)
	withUnit := referral.Capacity{Available: 3, Maximum: 9, ID: "cap-1", Description: "Beds tonight",
		Unit: &referral.Unit{Name: "Bed", Scheme: "refkit"}, Updated: f.Now.Add(time.Hour)}
	require.NoError(t, d.SetCapacity(ctx, f.Network.ID, f.Service.ID, &withUnit))
	stored, err = s.GetService(ctx, f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	want.Capacity = &withUnit
	require.Equal(t, want, stored)
	last := DirectoryAll(t, d, f.Network.ID, got[len(got)-1].Position)
	require.Len(t, last, 1)
	require.Equal(t, &withUnit, last[0].Capacity)
	withUnit.Unit.Name = "Cot"
	again := DirectoryAll(t, d, f.Network.ID, got[len(got)-1].Position)
	require.Equal(t, "Bed", again[0].Capacity.Unit.Name, "the store copied the capacity in")
	again[0].Capacity.Unit.Name = "Mat"
	require.Equal(t, "Bed", DirectoryAll(t, d, f.Network.ID, got[len(got)-1].Position)[0].Capacity.Unit.Name, "and copies it out")

	// Networks have feeds of their own; an unknown network has an empty one.
	for _, c := range DirectoryAll(t, d, other.Network.ID, 0) {
		require.Equal(t, other.Network.ID, c.Network)
		require.NotEqual(t, org.ID, c.Organization)
	}
	unknown, err := d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.ID()})
	require.NoError(t, err)
	require.Empty(t, unknown)

	// The head is the last change's position; an unknown network has none.
	all := DirectoryAll(t, d, f.Network.ID, 0)
	h, err := d.DirectoryHead(ctx, f.Network.ID)
	require.NoError(t, err)
	require.Equal(t, all[len(all)-1].Position, h)
	_, err = d.DirectoryHead(ctx, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
	empty := referral.Network{ID: f.ID(), Name: "Empty network", Created: f.Now}
	require.NoError(t, s.PutNetwork(ctx, empty))
	h, err = d.DirectoryHead(ctx, empty.ID)
	require.NoError(t, err)
	require.Zero(t, h, "a network without changes has head 0")

	// A cursor past the head reads nothing; a limit reads at most that many.
	past, err := d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.Network.ID, After: 1 << 40})
	require.NoError(t, err)
	require.Empty(t, past)
	two, err := d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.Network.ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, setup[:2], two)
}

// testDirectoryFeedLimits: every backend refuses the same malformed calls with
// ErrInvalid, before doing anything.
func testDirectoryFeedLimits(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	for name, q := range map[string]storage.DirectoryQuery{
		"no network":     {},
		"negative after": {Network: f.Network.ID, After: -1},
		"limit too big":  {Network: f.Network.ID, Limit: storage.MaxLimit + 1},
		"negative limit": {Network: f.Network.ID, Limit: -1},
	} {
		_, err := d.DirectoryChanges(ctx, q)
		require.ErrorIs(t, err, referral.ErrInvalid, name)
	}
	page, err := d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.Network.ID, Limit: storage.MaxLimit})
	require.NoError(t, err)
	require.Len(t, page, 4)

	for name, a := range map[string]storage.CapacityAdjustment{
		"no network":     {Service: f.Service.ID, Delta: -1, Cause: 1},
		"no service":     {Network: f.Network.ID, Delta: -1, Cause: 1},
		"zero delta":     {Network: f.Network.ID, Service: f.Service.ID, Cause: 1},
		"delta too big":  {Network: f.Network.ID, Service: f.Service.ID, Delta: storage.MaxCapacityDelta + 1, Cause: 1},
		"delta too low":  {Network: f.Network.ID, Service: f.Service.ID, Delta: -storage.MaxCapacityDelta - 1, Cause: 1},
		"zero cause":     {Network: f.Network.ID, Service: f.Service.ID, Delta: -1},
		"negative cause": {Network: f.Network.ID, Service: f.Service.ID, Delta: -1, Cause: -3},
	} {
		_, err := d.AdjustCapacity(ctx, a)
		require.ErrorIs(t, err, referral.ErrInvalid, name)
	}
	require.ErrorIs(t, d.SetCapacity(ctx, referral.NilID, f.Service.ID, nil), referral.ErrInvalid)
	require.ErrorIs(t, d.SetCapacity(ctx, f.Network.ID, referral.NilID, nil), referral.ErrInvalid)
	require.ErrorIs(t, d.SetCapacity(ctx, f.Network.ID, f.Service.ID, &referral.Capacity{Available: 1, Unit: &referral.Unit{}}), referral.ErrInvalid)
	require.Len(t, DirectoryAll(t, d, f.Network.ID, 0), 4, "nothing refused was written")
}

// testCapacityAdjustments: AdjustCapacity moves Available once per cause,
// within [0, Maximum], and keeps the cursor a follower resumes from.
func testCapacityAdjustments(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	other := NewFixture(t, s, 2)
	head := DirectoryAll(t, d, f.Network.ID, 0)
	after := head[len(head)-1].Position

	cursor := func(network referral.ID) int64 {
		t.Helper()
		c, err := d.CapacityCursor(ctx, network)
		require.NoError(t, err)
		return c
	}
	available := func(service referral.ID) *referral.Capacity {
		t.Helper()
		svc, err := s.GetService(ctx, f.Network.ID, service)
		require.NoError(t, err)
		return svc.Capacity
	}
	require.Zero(t, cursor(f.Network.ID))
	_, err := d.CapacityCursor(ctx, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)

	at := f.Now.Add(2 * time.Hour)
	steps := []struct {
		name      string
		delta     int
		cause     int64
		at        time.Time
		applied   bool
		available int
	}{
		{"take a place", -1, 5, at, true, 11},
		{"the same cause again", -1, 5, time.Time{}, false, 11},
		{"an earlier cause", -1, 3, time.Time{}, false, 11},
		{"free it", +1, 8, time.Time{}, true, 12},
		{"above the waitlist of places", -20, 9, time.Time{}, true, 0},
		{"not below zero", -1, 10, time.Time{}, true, 0},
		{"free several", +5, 12, time.Time{}, true, 5},
	}
	var want []change
	for _, st := range steps {
		applied, err := d.AdjustCapacity(ctx, storage.CapacityAdjustment{
			Network: f.Network.ID, Service: f.Service.ID, Delta: st.delta, Cause: st.cause, At: st.at})
		require.NoError(t, err, st.name)
		require.Equal(t, st.applied, applied, st.name)
		c := available(f.Service.ID)
		require.Equal(t, st.available, c.Available, st.name)
		require.Equal(t, 4, c.Waitlist, "%s: the waitlist is the service's own", st.name)
		require.True(t, at.Equal(c.Updated), "%s: updated stays at the last time given", st.name)
		if st.applied {
			want = append(want, change{kind: storage.ChangeCapacity, organization: f.Receiver.ID, service: f.Service.ID, capacity: c})
		}
	}
	require.Equal(t, int64(12), cursor(f.Network.ID))
	require.Zero(t, cursor(other.Network.ID), "cursors are per network")
	requireChanges(t, want, DirectoryAll(t, d, f.Network.ID, after), f.Network.ID)

	// Maximum bounds a free; a service without capacity is left alone but the
	// cursor moves past the cause.
	require.NoError(t, d.SetCapacity(ctx, f.Network.ID, f.Service.ID, &referral.Capacity{Available: 9, Maximum: 10}))
	applied, err := d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: f.Service.ID, Delta: 3, Cause: 13})
	require.NoError(t, err)
	require.True(t, applied)
	require.Equal(t, &referral.Capacity{Available: 10, Maximum: 10}, available(f.Service.ID))
	untracked := f.NewService(f.Receiver.ID)
	untracked.Capacity = nil
	require.NoError(t, s.PutService(ctx, untracked))
	before := DirectoryAll(t, d, f.Network.ID, 0)
	applied, err = d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: untracked.ID, Delta: -1, Cause: 20})
	require.NoError(t, err)
	require.False(t, applied)
	require.Nil(t, available(untracked.ID))
	require.Equal(t, int64(20), cursor(f.Network.ID))
	require.Equal(t, before, DirectoryAll(t, d, f.Network.ID, 0), "nothing to record")

	// Unknown networks and services are ErrNotFound, and move no cursor.
	_, err = d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.ID(), Service: f.Service.ID, Delta: -1, Cause: 30})
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: f.ID(), Delta: -1, Cause: 30})
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: other.Network.ID, Service: f.Service.ID, Delta: -1, Cause: 30})
	require.ErrorIs(t, err, referral.ErrNotFound, "a service of another network")
	require.Equal(t, int64(20), cursor(f.Network.ID))
	require.Zero(t, cursor(other.Network.ID))
}

// testDirectoryChanged: a channel from DirectoryChanged wakes at the next
// change to its own network's directory, and only then.
func testDirectoryChanged(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	other := NewFixture(t, s, 2)

	_, err := d.DirectoryChanged(ctx, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	writes := []struct {
		name  string
		write func() error
	}{
		{"an organization", func() error { return s.PutOrganization(ctx, f.NewOrganization("New agency")) }},
		{"a service", func() error { return s.PutService(ctx, f.Service) }},
		{"a capacity", func() error { return d.SetCapacity(ctx, f.Network.ID, f.Service.ID, &referral.Capacity{Available: 1}) }},
		{"an adjustment", func() error {
			_, err := d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: f.Service.ID, Delta: -1, Cause: 1})
			return err
		}},
		{"a deletion", func() error { return s.DeleteService(ctx, f.Network.ID, f.Service.ID) }},
	}
	for _, w := range writes {
		ch, err := d.DirectoryChanged(ctx, f.Network.ID)
		require.NoError(t, err)
		require.False(t, woken(ch), w.name)
		require.NoError(t, s.PutService(ctx, other.Service))
		require.False(t, woken(ch), "%s: a change in another network does not wake", w.name)
		require.ErrorIs(t, s.DeleteService(ctx, f.Network.ID, f.ID()), referral.ErrNotFound)
		require.False(t, woken(ch), "%s: a failed write does not wake", w.name)
		other.Create(t, s, other.NewReferral(referral.StatusRequested))
		f.Create(t, s, f.NewReferral(referral.StatusRequested))
		require.False(t, woken(ch), "%s: a referral write does not wake", w.name)
		require.NoError(t, w.write())
		require.True(t, woken(ch), "%s wakes", w.name)
	}
	ch, err := d.DirectoryChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	_, err = d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: other.Service.ID, Delta: -1, Cause: 2})
	require.ErrorIs(t, err, referral.ErrNotFound)
	require.False(t, woken(ch), "an adjustment that found nothing does not wake")
}

// testDirectoryFeedTail: writers to one network's directory race while a
// reader tails the feed from its last position; the reader must see every
// change exactly once.
func testDirectoryFeedTail(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	const writers, each = 4, 15
	head := DirectoryAll(t, d, f.Network.ID, 0)
	after := head[len(head)-1].Position

	services := make([][]referral.Service, writers)
	for w := range writers {
		for range each {
			services[w] = append(services[w], f.NewService(f.Receiver.ID))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, svc := range services[w] {
				var err error
				if i%3 == 2 {
					err = d.SetCapacity(ctx, f.Network.ID, services[w][i-1].ID, &referral.Capacity{Available: i})
				} else {
					err = s.PutService(ctx, svc)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var got []storage.DirectoryChange
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		page, err := d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.Network.ID, After: after, Limit: 5})
		require.NoError(t, err)
		for _, c := range page {
			require.Greater(t, c.Position, after)
			require.False(t, seen[c.Position])
			seen[c.Position] = true
			after = c.Position
		}
		got = append(got, page...)
		if finished && len(page) == 0 {
			break
		}
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, got, writers*each, "the tail saw every change once")
	require.Equal(t, got, DirectoryAll(t, d, f.Network.ID, head[len(head)-1].Position), "in the order a reader from the start sees")
}

// testDirectoryFeedClose: after Close the directory feed's calls fail with
// storage.ErrClosed, and waiting followers are woken.
func testDirectoryFeedClose(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	ch, err := d.DirectoryChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("Close did not wake a directory follower")
	}
	_, err = d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.Network.ID})
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = d.DirectoryChanged(ctx, f.Network.ID)
	require.ErrorIs(t, err, storage.ErrClosed)
	require.ErrorIs(t, d.SetCapacity(ctx, f.Network.ID, f.Service.ID, nil), storage.ErrClosed)
	_, err = d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: f.Service.ID, Delta: 1, Cause: 1})
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = d.CapacityCursor(ctx, f.Network.ID)
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = d.DirectoryHead(ctx, f.Network.ID)
	require.ErrorIs(t, err, storage.ErrClosed)
}

// testDirectoryFeedContext: a cancelled context fails every call with its
// error and writes nothing.
func testDirectoryFeedContext(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	f := NewFixture(t, s, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"changes": func() error {
			_, err := d.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.Network.ID})
			return err
		},
		"changed": func() error { _, err := d.DirectoryChanged(ctx, f.Network.ID); return err },
		"set":     func() error { return d.SetCapacity(ctx, f.Network.ID, f.Service.ID, nil) },
		"adjust": func() error {
			_, err := d.AdjustCapacity(ctx, storage.CapacityAdjustment{Network: f.Network.ID, Service: f.Service.ID, Delta: 1, Cause: 1})
			return err
		},
		"cursor": func() error { _, err := d.CapacityCursor(ctx, f.Network.ID); return err },
		"head":   func() error { _, err := d.DirectoryHead(ctx, f.Network.ID); return err },
	}
	for name, call := range calls {
		err := call()
		require.True(t, errors.Is(err, context.Canceled), "%s: %v", name, err)
	}
	require.Len(t, DirectoryAll(t, d, f.Network.ID, 0), 4)
	svc, err := s.GetService(t.Context(), f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	require.Equal(t, f.Service.Capacity, svc.Capacity)
}

// testConfidentialRecords: the confidential flags and an organization's
// access grants are kept like every other field.
func testConfidentialRecords(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	shelter := f.NewOrganization("Safe Harbor")
	shelter.ConfidentialAccess = []referral.ID{f.Receiver.ID}
	shelter.Phones = []referral.Phone{{Number: "+1-555-0199", Confidential: true}}
	shelter.Contacts = []referral.Contact{{Name: "House manager", Confidential: true}}
	require.NoError(t, s.PutOrganization(ctx, shelter))
	svc := f.NewService(shelter.ID)
	svc.Domains = []referral.Domain{referral.InterpersonalSafety}
	svc.Locations[0].Confidential = true
	svc.Locations[0].Phones = []referral.Phone{{Number: "+1-555-0198", Confidential: true}}
	svc.Contacts = []referral.Contact{{Name: "Advocate", Phones: []referral.Phone{{Number: "+1-555-0197", Confidential: true}}}}
	require.NoError(t, s.PutService(ctx, svc))
	gotOrg, err := s.GetOrganization(ctx, f.Network.ID, shelter.ID)
	require.NoError(t, err)
	require.Equal(t, shelter, gotOrg)
	gotSvc, err := s.GetService(ctx, f.Network.ID, svc.ID)
	require.NoError(t, err)
	require.Equal(t, svc, gotSvc)
}

// testDirectoryBatch: PutDirectory writes every record, organizations first,
// each with its change, or, when any record fails, nothing at all.
func testDirectoryBatch(t *testing.T, s storage.Store) {
	d := directoryFeed(t, s)
	b, ok := s.(storage.DirectoryBatch)
	if !ok {
		t.Skip("the backend does not implement storage.DirectoryBatch")
	}
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	other := NewFixture(t, s, 2)
	head := func() int64 {
		t.Helper()
		h, err := d.DirectoryHead(ctx, f.Network.ID)
		require.NoError(t, err)
		return h
	}
	start := head()

	// Refused before anything is written.
	orgA, orgB := f.NewOrganization("Agency A"), f.NewOrganization("Agency B")
	bad := f.NewService(orgA.ID)
	bad.Name = ""
	tooMany := make([]referral.Service, storage.MaxLimit)
	for i := range tooMany {
		tooMany[i] = f.NewService(f.Receiver.ID)
	}
	foreign := other.NewOrganization("Elsewhere")
	for name, call := range map[string]func() error{
		"invalid record": func() error {
			return b.PutDirectory(ctx, []referral.Organization{orgA}, []referral.Service{f.NewService(orgA.ID), bad})
		},
		"too many": func() error { return b.PutDirectory(ctx, []referral.Organization{orgA}, tooMany) },
		"two networks": func() error {
			return b.PutDirectory(ctx, []referral.Organization{orgA, foreign}, nil)
		},
		"repeated id": func() error { return b.PutDirectory(ctx, []referral.Organization{orgA, orgA}, nil) },
	} {
		err := call()
		require.ErrorIs(t, err, referral.ErrInvalid, name)
	}
	var ve *referral.ValidationError
	require.ErrorAs(t, b.PutDirectory(ctx, []referral.Organization{orgA}, []referral.Service{f.NewService(orgA.ID), bad}), &ve)
	require.Equal(t, "services[1].name", ve.Field)

	// A record that fails fails the batch, whole.
	lost := f.NewService(f.ID())
	takenSvc := other.NewService(other.Receiver.ID)
	require.NoError(t, s.PutService(ctx, takenSvc))
	stolen := f.NewService(orgA.ID)
	stolen.ID = takenSvc.ID
	stolenOrg := f.NewOrganization("Stolen")
	stolenOrg.ID = other.Sender.ID
	require.ErrorIs(t, b.PutDirectory(ctx, []referral.Organization{orgA}, []referral.Service{f.NewService(orgA.ID), lost}), referral.ErrNotFound)
	require.ErrorIs(t, b.PutDirectory(ctx, []referral.Organization{orgA}, []referral.Service{f.NewService(orgA.ID), stolen}), referral.ErrConflict)
	require.ErrorIs(t, b.PutDirectory(ctx, []referral.Organization{orgA, stolenOrg}, nil), referral.ErrConflict)
	unknown := orgA
	unknown.Network = f.ID()
	require.ErrorIs(t, b.PutDirectory(ctx, []referral.Organization{unknown}, nil), referral.ErrNotFound)
	require.Equal(t, start, head(), "nothing of a failed batch is written")
	_, err := s.GetOrganization(ctx, f.Network.ID, orgA.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	require.NoError(t, b.PutDirectory(ctx, nil, nil), "an empty batch writes nothing")
	require.Equal(t, start, head())

	// A batch: new organizations, services of theirs and of a stored one, a
	// stored service replaced.
	ch, err := d.DirectoryChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	svc1, svc2 := f.NewService(orgA.ID), f.NewService(orgB.ID)
	replaced := f.Service
	replaced.Name = "Groceries and produce"
	require.NoError(t, b.PutDirectory(ctx, []referral.Organization{orgA, orgB}, []referral.Service{svc1, svc2, replaced}))
	select {
	case <-ch:
	default:
		t.Fatal("a batch wakes directory followers")
	}
	requireChanges(t, []change{
		{kind: storage.ChangeOrganization, organization: orgA.ID},
		{kind: storage.ChangeOrganization, organization: orgB.ID},
		{kind: storage.ChangeService, organization: orgA.ID, service: svc1.ID},
		{kind: storage.ChangeService, organization: orgB.ID, service: svc2.ID},
		{kind: storage.ChangeService, organization: f.Receiver.ID, service: f.Service.ID},
	}, DirectoryAll(t, d, f.Network.ID, start), f.Network.ID)
	for _, want := range []referral.Service{svc1, svc2, replaced} {
		got, err := s.GetService(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	got, err := s.GetOrganization(ctx, f.Network.ID, orgB.ID)
	require.NoError(t, err)
	require.Equal(t, orgB, got)
}
