package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// server is the API on a memory store, authenticating with the JWKS keygen
// wrote, as refkit serve does.
func server(t *testing.T, jwksFile string) *httptest.Server {
	t.Helper()
	data, err := os.ReadFile(jwksFile)
	require.NoError(t, err)
	kf, err := keyfunc.NewJWKSetJSON(data)
	require.NoError(t, err)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("https://id.refkit.test"),
		jwt.WithAudience("refkit"), jwt.WithExpirationRequired())
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	h, err := api.New(store, engine, api.Options{Authenticator: api.AuthenticatorFunc(func(r *http.Request) (referral.Actor, error) {
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), claims, kf.Keyfunc); err != nil {
			return referral.Actor{}, api.ErrUnauthenticated
		}
		a := referral.Actor{Role: referral.Role(claims["refkit_role"].(string)), User: claims["sub"].(string)}
		a.Network = referral.MustParseID(claims["refkit_network"].(string))
		if o, ok := claims["refkit_organization"].(string); ok {
			a.Organization = referral.MustParseID(o)
		}
		return a, nil
	})})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestLoad: keygen's key signs tokens the server accepts, and a run drives
// every loop to completion with no errors, reporting every endpoint.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"keygen", "--out", dir}, &out, &errOut), errOut.String())
	srv := server(t, filepath.Join(dir, "jwks.json"))
	key := filepath.Join(dir, "signing-key.pem")

	out.Reset()
	code := run(context.Background(), []string{"run", "--base", srv.URL, "--key", key, "--clients", "4", "--networks", "2",
		"--loops", "3", "--json"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, 12, rep.Loops)
	require.Zero(t, rep.Errors)
	var names []string
	for _, e := range rep.ByEndpoint {
		names = append(names, e.Endpoint)
		require.Equal(t, 12, e.Count, e.Endpoint)
		require.LessOrEqual(t, e.P50ms, e.P99ms)
	}
	require.Equal(t, []string{"GET /referrals/{id}", "GET /referrals/{id}/history", "POST /referrals",
		"POST /referrals/{id}/accept", "POST /referrals/{id}/acknowledge", "POST /referrals/{id}/complete",
		"POST /referrals/{id}/start"}, names)
	require.Greater(t, rep.CommandsPS, 0.0)

	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"token", "--key", key, "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa",
		"--organization", "0190a6f0-8a4b-7c3d-9e2f-0000000000bb", "--role", "admin"}, &out, &errOut), errOut.String())
	req, err := http.NewRequest("PUT", srv.URL+"/network", strings.NewReader(`{"name":"n"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out.String()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "a token from the token command is accepted")
}

func TestID(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"id", "-n", "3"}, &out, &errOut), errOut.String())
	lines := strings.Fields(out.String())
	require.Len(t, lines, 3)
	for _, l := range lines {
		_, err := referral.ParseID(l)
		require.NoError(t, err)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: refkit-load"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"run", "--clients", "0"}, 1, "--clients must be 1 to 512"},
		{[]string{"run", "--duration", "1h"}, 1, "--duration must be above 0 and at most 10m0s"},
		{[]string{"run", "--base", "ftp://x"}, 1, "--base must be an http(s) URL"},
		{[]string{"token", "--key", "/nonexistent"}, 1, "--key"},
		{[]string{"id", "-n", "0"}, 1, "-n must be 1 to 1000"},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		require.Equal(t, tc.code, run(context.Background(), tc.args, &out, &errOut), tc.args)
		require.Contains(t, errOut.String(), tc.want)
	}
}
