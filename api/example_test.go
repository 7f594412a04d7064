package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// A host mounts the API in its own server, with its own authentication: here
// a fixed token stands for a network admin.
func ExampleNew() {
	store := memory.New()
	defer store.Close()
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	admin := referral.Actor{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa"),
		Organization: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000bb"), Role: referral.RoleAdmin}
	handler, err := api.New(store, engine, api.Options{
		Authenticator: api.AuthenticatorFunc(func(r *http.Request) (referral.Actor, error) {
			if r.Header.Get("Authorization") != "Bearer let-me-in" {
				return referral.Actor{}, api.ErrUnauthenticated
			}
			return admin, nil
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/refkit/", http.StripPrefix("/refkit", handler))

	for _, token := range []string{"let-me-in", "guess"} {
		req := httptest.NewRequestWithContext(context.Background(), "PUT", "/refkit/network", strings.NewReader(`{"name":"County network"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// 200 application/json
	// 401 application/problem+json
}
