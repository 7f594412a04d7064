package directory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// clock is a test clock that moves only when told.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// head returns the network's directory feed head.
func head(t testing.TB, s store) int64 {
	t.Helper()
	h, err := s.DirectoryHead(context.Background(), network)
	require.NoError(t, err)
	return h
}

// TestLoad: a whole-directory load adds, updates, leaves alone and removes,
// and says which; loading the same records again writes nothing; a partial
// load only adds and updates.
func TestLoad(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			putNetwork(t, s)
			clk := &clock{now: epoch}
			opts := directory.LoadOptions{Now: clk.Now}
			recs := sample()

			rep, err := directory.Load(ctx, s, network, recs, opts)
			require.NoError(t, err)
			require.Equal(t, directory.Report{
				Organizations: directory.Changes{Added: []referral.ID{id(1), id(2)}},
				Services:      directory.Changes{Added: []referral.ID{id(10), id(11), id(12)}},
			}, rep)
			got, err := s.GetService(ctx, network, id(11))
			require.NoError(t, err)
			require.True(t, epoch.Equal(got.Created))
			require.True(t, epoch.Equal(got.Updated))
			h := head(t, s)
			require.Equal(t, int64(5), h, "one change per record written")

			clk.now = epoch.Add(time.Hour)
			rep, err = directory.Load(ctx, s, network, recs, opts)
			require.NoError(t, err)
			require.Equal(t, directory.Report{
				Organizations: directory.Changes{Unchanged: []referral.ID{id(1), id(2)}},
				Services:      directory.Changes{Unchanged: []referral.ID{id(10), id(11), id(12)}},
			}, rep, "the same records again are unchanged")
			require.Equal(t, h, head(t, s), "and nothing was written")

			// One service renamed, one gone, a new one; one organization changed.
			next := sample()
			next.Organizations[1].Description = "Primary care"
			next.Services[0].Name = "Groceries and produce"
			next.Services = append(next.Services[:1], next.Services[2], service(13, id(1), "delivery"))
			rep, err = directory.Load(ctx, s, network, next, opts)
			require.NoError(t, err)
			require.Equal(t, directory.Report{
				Organizations: directory.Changes{Updated: []referral.ID{id(2)}, Unchanged: []referral.ID{id(1)}},
				Services: directory.Changes{Added: []referral.ID{id(13)}, Updated: []referral.ID{id(10)},
					Unchanged: []referral.ID{id(12)}, Removed: []referral.ID{id(11)}},
			}, rep)
			got, err = s.GetService(ctx, network, id(10))
			require.NoError(t, err)
			require.Equal(t, "Groceries and produce", got.Name)
			require.True(t, epoch.Equal(got.Created), "created stays")
			require.True(t, clk.now.Equal(got.Updated), "updated is when it changed")
			_, err = s.GetService(ctx, network, id(11))
			require.ErrorIs(t, err, referral.ErrNotFound)

			// A partial load: only what changed, nothing removed.
			clk.now = epoch.Add(2 * time.Hour)
			changed := service(12, id(2), "vouchers")
			changed.Description = "Grocery vouchers"
			rep, err = directory.Load(ctx, s, network, directory.Records{Services: []referral.Service{changed}},
				directory.LoadOptions{Now: clk.Now, Partial: true})
			require.NoError(t, err)
			require.Equal(t, directory.Report{Services: directory.Changes{Updated: []referral.ID{id(12)}}}, rep)
			all, err := storage.AllServices(ctx, s, network)
			require.NoError(t, err)
			require.Len(t, all, 3)

			// A whole load without organization 2 removes its services and
			// reports it absent; it stays.
			rep, err = directory.Load(ctx, s, network, directory.Records{
				Organizations: next.Organizations[:1], Services: []referral.Service{next.Services[0], next.Services[2]}}, opts)
			require.NoError(t, err)
			require.Equal(t, []referral.ID{id(2)}, rep.Organizations.Absent)
			require.Equal(t, []referral.ID{id(12)}, rep.Services.Removed)
			_, err = s.GetOrganization(ctx, network, id(2))
			require.NoError(t, err)
		})
	}
}

// TestLoadComparesWhatRecordsSay: the kept HSDS part is compared as JSON (a
// store may reorder its keys and spacing), times are left out.
func TestLoadComparesWhatRecordsSay(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			putNetwork(t, s)
			recs := sample()
			recs.Services[0].HSDS = json.RawMessage(`{"z":{"b":1.50,"a":[1,2]},"a":"é \u00e9"}`)
			_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
			require.NoError(t, err)
			again := sample()
			again.Services[0].HSDS = json.RawMessage(`{ "a" : "\u00e9 é", "z" : {"a":[1,2], "b":1.50} }`)
			again.Services[1].Created = epoch.Add(-time.Hour)
			rep, err := directory.Load(ctx, s, network, again, directory.LoadOptions{})
			require.NoError(t, err)
			require.Len(t, rep.Services.Unchanged, 3, "%+v", rep)
			again.Services[0].HSDS = json.RawMessage(`{"a":"é é","z":{"a":[1,2],"b":1.5}}`)
			rep, err = directory.Load(ctx, s, network, again, directory.LoadOptions{})
			require.NoError(t, err)
			require.Equal(t, []referral.ID{id(10)}, rep.Services.Updated, "a number written otherwise is kept as written")
		})
	}
}

// TestLoadKeepsWhatTheStoreKnows: live capacity, access grants and
// confidential marks the records do not carry are kept.
func TestLoadKeepsWhatTheStoreKnows(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			d := s
			putNetwork(t, s)
			recs := sample()
			recs.Services[0].Capacity = &referral.Capacity{Available: 10, Maximum: 10}
			recs.Services[0].Phones = []referral.Phone{{ID: "p1", Number: "+1-555-0100"}, {Number: "+1-555-0101"}}
			recs.Services[0].Contacts = []referral.Contact{{Name: "House manager"}}
			_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
			require.NoError(t, err)

			// The day's accepts; the shelter's own marks and grants.
			require.NoError(t, d.SetCapacity(ctx, network, id(10), &referral.Capacity{Available: 7, Maximum: 10}))
			stored, err := s.GetService(ctx, network, id(10))
			require.NoError(t, err)
			stored.Locations[0].Confidential = true
			stored.Phones[0].Number = "+1-555-0199" // the same phone by id
			stored.Phones[0].Confidential = true
			stored.Phones[1].Confidential = true
			stored.Contacts[0].Confidential = true
			require.NoError(t, s.PutService(ctx, stored))
			o, err := s.GetOrganization(ctx, network, id(1))
			require.NoError(t, err)
			o.ConfidentialAccess = []referral.ID{id(2)}
			require.NoError(t, s.PutOrganization(ctx, o))

			rep, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
			require.NoError(t, err)
			require.Equal(t, []referral.ID{id(1), id(2)}, rep.Organizations.Unchanged)
			require.Equal(t, []referral.ID{id(10)}, rep.Services.Updated, "the phone number changed")
			got, err := s.GetService(ctx, network, id(10))
			require.NoError(t, err)
			require.Equal(t, &referral.Capacity{Available: 7, Maximum: 10}, got.Capacity)
			require.True(t, got.Locations[0].Confidential)
			require.Equal(t, []referral.Phone{{ID: "p1", Number: "+1-555-0100", Confidential: true}, {Number: "+1-555-0101", Confidential: true}}, got.Phones)
			require.True(t, got.Contacts[0].Confidential)
			gotOrg, err := s.GetOrganization(ctx, network, id(1))
			require.NoError(t, err)
			require.Equal(t, []referral.ID{id(2)}, gotOrg.ConfidentialAccess)

			rep, err = directory.Load(ctx, s, network, recs, directory.LoadOptions{ReplaceCapacity: true})
			require.NoError(t, err)
			require.Equal(t, []referral.ID{id(10)}, rep.Services.Updated)
			got, err = s.GetService(ctx, network, id(10))
			require.NoError(t, err)
			require.Equal(t, &referral.Capacity{Available: 10, Maximum: 10}, got.Capacity, "the feed's figures, when asked")
			require.True(t, got.Locations[0].Confidential, "never made public")
		})
	}
}

// TestLoadRefuses: bad input is refused before anything is written.
func TestLoadRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := backends[0].open(t)
	_, err := directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
	require.ErrorIs(t, err, referral.ErrNotFound, "the network must exist")
	putNetwork(t, s)
	other := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000bb")
	tests := []struct {
		name  string
		edit  func(r *directory.Records)
		field string
	}{
		{"invalid service", func(r *directory.Records) { r.Services[2].Name = "" }, "services[2].name"},
		{"invalid organization", func(r *directory.Records) { r.Organizations[1].Name = "" }, "organizations[1].name"},
		{"service of another network", func(r *directory.Records) { r.Services[1].Network = other }, "services[1].network_id"},
		{"organization of another network", func(r *directory.Records) { r.Organizations[0].Network = other }, "organizations[0].network_id"},
		{"repeated service", func(r *directory.Records) { r.Services[2].ID = r.Services[0].ID }, "services[2].id"},
		{"service id of an organization", func(r *directory.Records) { r.Services[0].ID = r.Organizations[0].ID }, "services[0].id"},
		{"unknown organization", func(r *directory.Records) { r.Services[1].Organization = id(99) }, "services[1].organization_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := sample()
			tc.edit(&recs)
			_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
			require.Zero(t, head(t, s), "nothing was written")
		})
	}
	_, err = directory.Load(ctx, nil, network, sample(), directory.LoadOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = directory.Load(ctx, s, referral.NilID, sample(), directory.LoadOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)

	// A service may name an organization the store has and the records do not.
	_, err = directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
	require.NoError(t, err)
	rep, err := directory.Load(ctx, s, network, directory.Records{Services: []referral.Service{service(20, id(2), "late")}},
		directory.LoadOptions{Partial: true})
	require.NoError(t, err)
	require.Equal(t, []referral.ID{id(20)}, rep.Services.Added)
}

// plainStore hides a store's batch writes: what a host's own store without
// storage.DirectoryBatch looks like to Load.
type plainStore struct{ directory.Loader }

// TestLoadWithoutBatches: Load writes one record at a time on a store that
// does not write batches, with the same result, and in batches of at most
// storage.MaxLimit records on one that does.
func TestLoadWithoutBatches(t *testing.T) {
	ctx := context.Background()
	s, _ := backends[0].open(t)
	putNetwork(t, s)
	recs := sample()
	for i := range 1200 {
		recs.Services = append(recs.Services, service(3000+i, id(1+i%2), "extra"))
	}
	rep, err := directory.Load(ctx, plainStore{s}, network, recs, directory.LoadOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Services.Added, 1203)
	require.Equal(t, int64(1205), head(t, s))

	other, _ := backends[0].open(t)
	putNetwork(t, other)
	batched, err := directory.Load(ctx, other, network, recs, directory.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, rep, batched)
	require.Equal(t, int64(1205), head(t, other), "one change per record, in two batches")
	changes := storagetest.DirectoryAll(t, other, network, 0)
	require.Equal(t, storage.ChangeOrganization, changes[0].Kind)
	require.Equal(t, storage.ChangeOrganization, changes[1].Kind)
}
