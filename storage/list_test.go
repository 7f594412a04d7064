package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

func TestAllServices(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	defer store.Close()
	net, org := ids.MustNew(), ids.MustNew()
	require.NoError(t, store.PutNetwork(ctx, referral.Network{ID: net, Name: "N"}))
	require.NoError(t, store.PutOrganization(ctx, referral.Organization{ID: org, Network: net, Name: "O"}))

	tests := []struct {
		name  string
		count int
	}{
		{"none", 0},
		{"one page", 3},
		{"exactly a page", storage.MaxLimit},
		{"three pages", 2*storage.MaxLimit + 7},
	}
	var want []referral.ID
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for len(want) < tt.count {
				s := referral.Service{ID: ids.MustNew(), Network: net, Organization: org, Name: "S",
					Status: referral.ServiceActive, Domains: []referral.Domain{referral.FoodInsecurity},
					ServiceAreas: []referral.ServiceArea{{Kind: referral.AreaVirtual}}}
				require.NoError(t, store.PutService(ctx, s))
				want = append(want, s.ID)
			}
			got, err := storage.AllServices(ctx, store, net)
			require.NoError(t, err)
			require.Len(t, got, tt.count)
			for i, s := range got {
				require.Equal(t, want[i], s.ID, "every service once, in id order")
			}
		})
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := storage.AllServices(cancelled, store, net)
	require.ErrorIs(t, err, context.Canceled)
}

func ExampleAllServices() {
	ctx := context.Background()
	store := memory.New()
	defer store.Close()
	net, org := referral.NewID(), referral.NewID()
	for _, err := range []error{
		store.PutNetwork(ctx, referral.Network{ID: net, Name: "Lake County"}),
		store.PutOrganization(ctx, referral.Organization{ID: org, Network: net, Name: "Food Bank"}),
		store.PutService(ctx, referral.Service{ID: referral.NewID(), Network: net, Organization: org, Name: "Pantry",
			Status: referral.ServiceActive, Domains: []referral.Domain{referral.FoodInsecurity},
			ServiceAreas: []referral.ServiceArea{{Kind: referral.AreaVirtual}}}),
	} {
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	services, err := storage.AllServices(ctx, store, net)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(services), services[0].Name)
	// Output: 1 Pantry
}
