package hsds_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// Import a feed into a store, then publish the store's directory as the HSDS
// API. The handler reads a catalog the host keeps current (in a server, `go
// catalog.Run(ctx)`); Authenticate is where the host's authentication tells
// who asks, which decides what confidential records show.
func ExampleNewAPI() {
	ctx := context.Background()
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	store := memory.New()
	defer store.Close()
	if err := store.PutNetwork(ctx, referral.Network{ID: network, Name: "Riverbend"}); err != nil {
		fmt.Println(err)
		return
	}
	ds, err := hsds.ReadJSON(ctx, strings.NewReader(exampleJSON), hsds.Options{Network: network})
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := hsds.Load(ctx, store, network, ds, directory.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loaded", len(report.Services.Added), "services")

	catalog, err := directory.NewCatalog(ctx, store, network)
	if err != nil {
		fmt.Println(err)
		return
	}
	api, err := hsds.NewAPI(catalog, hsds.APIOptions{
		Authenticate: func(r *http.Request) (*referral.Actor, error) { return nil, nil }, // everyone is the public
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/services?minimal=true", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/services?per_page=5000", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// loaded 2 services
	// 200 application/json
	// 400 application/problem+json
}
