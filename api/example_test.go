package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/interop/hsds"
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
	defer handler.Close() // stops the background followers when the host stops
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

// With Options.HSDS, each network's directory is also the HSDS API under
// /hsds/, for the caller's network only; with Options.KeepCapacity,
// accepted and closed referrals move their services' published capacity.
func ExampleOptions_hsds() {
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
		HSDS: &hsds.APIOptions{}, KeepCapacity: true,
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
	defer handler.Close()
	send := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer let-me-in")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	send("PUT", "/network", `{"name":"County network"}`)
	send("PUT", "/organizations/0190a6f0-8a4b-7c3d-9e2f-0000000000bb", `{"name":"Food bank"}`)
	send("PUT", "/services/0190a6f0-8a4b-7c3d-9e2f-0000000000cc", `{"organization_id":"0190a6f0-8a4b-7c3d-9e2f-0000000000bb",
		"name":"Pantry","status":"active","domains":["food-insecurity"],
		"locations":[{"id":"0190a6f0-8a4b-7c3d-9e2f-0000000000dd","latitude":39.96,"longitude":-83.0}]}`)
	rec := send("GET", "/hsds/services", "")
	var page struct {
		TotalItems int `json:"total_items"`
		Contents   []struct {
			Name string `json:"name"`
		} `json:"contents"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Code, page.TotalItems, page.Contents[0].Name)
	// Output:
	// 200 1 Pantry
}
