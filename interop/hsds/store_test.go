package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/backendtest"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

// TestStoresKeepEverything puts the records of the full-coverage fixture and of
// the sample into every backend and exports what comes back: the stores keep
// records as JSON documents, so the new fields, and what each record kept of
// its source, need no migration. PostgreSQL's jsonb reorders the keys of the
// kept part, which is compared as JSON.
func TestStoresKeepEverything(t *testing.T) {
	ctx := context.Background()
	datasets := map[string]*hsds.Dataset{
		"full-3.1": readFixture(t, hsds.Version31, "json"),
		"sample":   readSampleJSON(t, hsds.Options{Network: network}),
	}
	for _, b := range backendtest.All(backendtest.Options{}) {
		t.Run(b.Name, func(t *testing.T) {
			for dsName, ds := range datasets {
				t.Run(dsName, func(t *testing.T) {
					s, _ := b.Open(t)
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
