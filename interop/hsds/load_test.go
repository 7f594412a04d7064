package hsds_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

// TestLoad: an imported dataset loads into a store once; loading it again
// writes nothing; what comes back exports as the dataset does.
func TestLoad(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) storage.Store{
		"memory": func(t *testing.T) storage.Store { return memory.New() },
		"sqlite": func(t *testing.T) storage.Store {
			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "refkit.db"), sqlite.Options{})
			require.NoError(t, err)
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			require.NoError(t, s.PutNetwork(ctx, referral.Network{ID: network, Name: "Test network"}))
			ds := readSampleJSON(t, hsds.Options{Network: network})
			rep, err := hsds.Load(ctx, s, network, ds, directory.LoadOptions{})
			require.NoError(t, err)
			require.Len(t, rep.Services.Added, len(ds.Services))
			require.Len(t, rep.Organizations.Added, len(ds.Organizations))
			rep, err = hsds.Load(ctx, s, network, readSampleJSON(t, hsds.Options{Network: network}), directory.LoadOptions{})
			require.NoError(t, err)
			require.Len(t, rep.Services.Unchanged, len(ds.Services), "a re-import of the same feed changes nothing")
			services, err := storage.AllServices(ctx, s, network)
			require.NoError(t, err)
			require.Len(t, services, len(ds.Services))
		})
	}
	_, err := hsds.Load(ctx, memory.New(), network, nil, directory.LoadOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
}
