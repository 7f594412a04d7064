package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
)

// ids lists what an iterator yields, in order.
func serviceIDs(c *directory.Catalog) []referral.ID {
	var out []referral.ID
	for s := range c.Services() {
		out = append(out, s.ID)
	}
	return out
}

func organizationIDs(c *directory.Catalog) []referral.ID {
	var out []referral.ID
	for o := range c.Organizations() {
		out = append(out, o.ID)
	}
	return out
}

// TestCatalogFollowsTheStore: the catalog holds the records as the store has
// them, in id order, and follows every kind of write.
func TestCatalogFollowsTheStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			putNetwork(t, s)
			_, err := directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
			require.NoError(t, err)
			c, err := directory.NewCatalog(ctx, s, network)
			require.NoError(t, err)
			require.Equal(t, network, c.Network())
			require.Equal(t, []referral.ID{id(1), id(2)}, organizationIDs(c))
			require.Equal(t, []referral.ID{id(10), id(11), id(12)}, serviceIDs(c))
			stored, err := s.GetService(ctx, network, id(11))
			require.NoError(t, err)
			got, ok := c.Service(id(11))
			require.True(t, ok)
			require.Equal(t, stored, got)

			org3 := org(3, "Hilltop Housing")
			require.NoError(t, s.PutOrganization(ctx, org3))
			require.NoError(t, s.PutService(ctx, service(9, org3.ID, "first")))
			require.NoError(t, s.DeleteService(ctx, network, id(11)))
			require.NoError(t, s.SetCapacity(ctx, network, id(12), &referral.Capacity{Available: 4, Maximum: 9}))
			renamed := sample().Organizations[0]
			renamed.Name = "Eastside Pantry and Kitchen"
			require.NoError(t, s.PutOrganization(ctx, renamed))
			rev := c.Revision()
			n, err := c.Sync(ctx)
			require.NoError(t, err)
			require.Equal(t, 5, n)
			require.Greater(t, c.Revision(), rev, "records changed")
			rev = c.Revision()
			require.NoError(t, s.SetCapacity(ctx, network, id(12), &referral.Capacity{Available: 4, Maximum: 9}))
			_, err = c.Sync(ctx)
			require.NoError(t, err)
			require.Equal(t, rev, c.Revision(), "a capacity alone is not a new revision")
			require.Equal(t, []referral.ID{id(1), id(2), id(3)}, organizationIDs(c))
			require.Equal(t, []referral.ID{id(9), id(10), id(12)}, serviceIDs(c))
			o, ok := c.Organization(id(1))
			require.True(t, ok)
			require.Equal(t, "Eastside Pantry and Kitchen", o.Name)
			got, ok = c.Service(id(12))
			require.True(t, ok)
			require.Equal(t, &referral.Capacity{Available: 4, Maximum: 9}, got.Capacity)
			_, ok = c.Service(id(11))
			require.False(t, ok)
			orgs, services := c.Len()
			require.Equal(t, [2]int{3, 3}, [2]int{orgs, services})

			// Copies out: changing one changes nothing held.
			got.Name = "changed"
			again, _ := c.Service(id(12))
			require.Equal(t, "vouchers", again.Name)

			// Run follows; a loop may stop early.
			runCtx, cancel := context.WithCancel(ctx)
			ran := make(chan error, 1)
			go func() { ran <- c.Run(runCtx) }()
			require.NoError(t, s.DeleteService(ctx, network, id(9)))
			wait, stop := context.WithTimeout(ctx, time.Minute)
			require.NoError(t, c.Wait(wait, head(t, s)))
			stop()
			require.Equal(t, []referral.ID{id(10), id(12)}, serviceIDs(c))
			for range c.Services() {
				break
			}
			cancel()
			require.ErrorIs(t, <-ran, context.Canceled)
		})
	}
}

func TestCatalogRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := backends[0].open(t)
	_, err := directory.NewCatalog(ctx, s, network)
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = directory.NewCatalog(ctx, nil, network)
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = directory.NewCatalog(ctx, s, referral.NilID)
	require.ErrorIs(t, err, referral.ErrInvalid)
}
