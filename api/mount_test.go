package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

// TestDirectoryMount: Options.Directory is served under /directory/ behind
// authentication, with the actor in its request's context.
func TestDirectoryMount(t *testing.T) {
	store := memory.New()
	defer store.Close()
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	actor := referral.Actor{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa"),
		Organization: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000bb"), Role: referral.RoleStaff}
	directory := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := api.ActorFrom(r.Context())
		require.True(t, ok)
		json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "network": a.Network.String()})
	})
	h, err := api.New(store, engine, api.Options{Directory: directory,
		Authenticator: api.AuthenticatorFunc(func(r *http.Request) (referral.Actor, error) {
			if r.Header.Get("Authorization") == "" {
				return referral.Actor{}, api.ErrUnauthenticated
			}
			return actor, nil
		})})
	require.NoError(t, err)
	tests := []struct {
		name   string
		auth   bool
		status int
		path   string
	}{
		{"authenticated", true, 200, "/services"},
		{"no token", false, 401, ""},
	}
	for _, tc := range tests {
		req := httptest.NewRequestWithContext(context.Background(), "GET", "/directory/services", nil)
		if tc.auth {
			req.Header.Set("Authorization", "Bearer x")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, tc.name)
		if tc.status == 200 {
			var got map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, map[string]string{"path": tc.path, "network": actor.Network.String()}, got)
		}
	}
}

// TestReadyzSchemaBehind: a store opened without migrating, on a database
// that needs them, is not ready.
func TestReadyzSchemaBehind(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "new.db"), sqlite.Options{NoMigrate: true})
	require.NoError(t, err)
	defer store.Close()
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	h, err := api.New(store, engine, api.Options{Authenticator: api.AuthenticatorFunc(func(*http.Request) (referral.Actor, error) {
		return referral.Actor{}, api.ErrUnauthenticated
	})})
	require.NoError(t, err)
	for _, tc := range []struct {
		migrate bool
		status  int
	}{{false, 503}, {true, 200}} {
		if tc.migrate {
			require.NoError(t, store.Migrate(ctx))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/readyz", nil))
		require.Equal(t, tc.status, rec.Code, rec.Body.String())
	}
}

// TestNewRejectsMissingParts: New refuses to build without its parts.
func TestNewRejectsMissingParts(t *testing.T) {
	store := memory.New()
	defer store.Close()
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	auth := api.AuthenticatorFunc(func(*http.Request) (referral.Actor, error) { return referral.Actor{}, nil })
	tests := []struct {
		name  string
		build func() (*api.Handler, error)
	}{
		{"no store", func() (*api.Handler, error) { return api.New(nil, engine, api.Options{Authenticator: auth}) }},
		{"no engine", func() (*api.Handler, error) { return api.New(store, nil, api.Options{Authenticator: auth}) }},
		{"no authenticator", func() (*api.Handler, error) { return api.New(store, engine, api.Options{}) }},
		{"negative body limit", func() (*api.Handler, error) {
			return api.New(store, engine, api.Options{Authenticator: auth, MaxBody: -1})
		}},
	}
	for _, tc := range tests {
		_, err := tc.build()
		require.ErrorIs(t, err, referral.ErrInvalid, tc.name)
	}
}
