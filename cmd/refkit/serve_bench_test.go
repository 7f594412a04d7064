package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/refkit/refkit/referral"
)

// BenchmarkAuthenticate measures checking one bearer token as serve does on
// every request: verifying it (ES256 or RS256 signature, claims, actor), and
// finding it in the cache of verified tokens.
func BenchmarkAuthenticate(b *testing.B) {
	t := &testing.T{}
	rsaKey, ecKey := newSigners(t)
	file := filepath.Join(b.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks(t, rsaKey, ecKey), 0o600); err != nil {
		b.Fatal(err)
	}
	c := &serveCmd{}
	fs := newFlagSet("serve", c)
	if err := fs.Parse([]string{"--jwks-file", file, "--issuer", testIssuer, "--audience", testAudience}); err != nil {
		b.Fatal(err)
	}
	if err := c.cfg.resolve(c.settings, func(string) string { return "" }); err != nil {
		b.Fatal(err)
	}
	auth, err := newTokenAuth(context.Background(), &c.cfg, nil, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	ids := referral.NewIDGenerator(time.Now, nil)
	actor := referral.Actor{Network: ids.MustNew(), Organization: ids.MustNew(), Role: referral.RoleStaff, User: "u"}
	for _, k := range []signer{ecKey, rsaKey} {
		req := httptest.NewRequest("GET", "/network", nil)
		req.Header.Set("Authorization", "Bearer "+mint(t, k, actor, nil))
		b.Run(k.method.Alg()+"/verify", func(b *testing.B) {
			for b.Loop() {
				clear(auth.cache.m)
				if _, err := auth.Authenticate(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.method.Alg()+"/cached", func(b *testing.B) {
			for b.Loop() {
				if _, err := auth.Authenticate(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
