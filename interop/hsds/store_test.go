package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/postgres"
	"github.com/refkit/refkit/storage/sqlite"
)

// directoryStore is what this test needs of a backend.
type directoryStore interface {
	PutNetwork(context.Context, referral.Network) error
	PutOrganization(context.Context, referral.Organization) error
	PutService(context.Context, referral.Service) error
	GetOrganization(context.Context, referral.ID, referral.ID) (referral.Organization, error)
	GetService(context.Context, referral.ID, referral.ID) (referral.Service, error)
	Close() error
}

// TestStoresKeepEverything puts the records of the full-coverage fixture and of
// the sample into every backend and exports what comes back: the stores keep
// records as JSON documents, so the new fields, and what each record kept of
// its source, need no migration. PostgreSQL's jsonb reorders the keys of the
// kept part, which is compared as JSON.
func TestStoresKeepEverything(t *testing.T) {
	ctx := context.Background()
	backends := map[string]func(t *testing.T) directoryStore{
		"memory": func(t *testing.T) directoryStore { return memory.New() },
		"sqlite": func(t *testing.T) directoryStore {
			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "refkit.db"), sqlite.Options{})
			require.NoError(t, err)
			return s
		},
		"postgres": func(t *testing.T) directoryStore {
			url := os.Getenv("REFKIT_TEST_POSTGRES_URL")
			if url == "" {
				t.Skip("REFKIT_TEST_POSTGRES_URL names no PostgreSQL server")
			}
			schema := "refkit_hsds_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[16:]
			t.Cleanup(func() {
				conn, err := pgx.Connect(ctx, url)
				require.NoError(t, err)
				defer conn.Close(ctx)
				_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
				require.NoError(t, err)
			})
			s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
			require.NoError(t, err)
			return s
		},
	}
	datasets := map[string]*hsds.Dataset{
		"full-3.1": readFixture(t, hsds.Version31, "json"),
		"sample":   readSampleJSON(t, hsds.Options{Network: network}),
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			for dsName, ds := range datasets {
				t.Run(dsName, func(t *testing.T) {
					s := open(t)
					defer s.Close()
					require.NoError(t, s.PutNetwork(ctx, referral.Network{ID: network, Name: "Test network", Created: time.Now().UTC()}))
					back := &hsds.Dataset{Version: ds.Version}
					for _, o := range ds.Organizations {
						require.NoError(t, s.PutOrganization(ctx, o))
						got, err := s.GetOrganization(ctx, network, o.ID)
						require.NoError(t, err)
						requireSameRecord(t, o, got, o.HSDS, got.HSDS)
						back.Organizations = append(back.Organizations, got)
					}
					for _, svc := range ds.Services {
						require.NoError(t, s.PutService(ctx, svc))
						got, err := s.GetService(ctx, network, svc.ID)
						require.NoError(t, err)
						requireSameRecord(t, svc, got, svc.HSDS, got.HSDS)
						back.Services = append(back.Services, got)
					}
					var want, have bytes.Buffer
					require.NoError(t, hsds.WriteJSON(ctx, &want, ds))
					require.NoError(t, hsds.WriteJSON(ctx, &have, back))
					require.JSONEq(t, want.String(), have.String(), "what comes out of the store exports the same")
				})
			}
		})
	}
}

// requireSameRecord compares two records, their kept parts as JSON.
func requireSameRecord[T any](t *testing.T, want, got T, wantKept, gotKept json.RawMessage) {
	t.Helper()
	if len(wantKept) > 0 {
		require.JSONEq(t, string(wantKept), string(gotKept))
	}
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(w), string(g))
}
