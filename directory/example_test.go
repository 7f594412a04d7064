package directory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// Load a directory into a store, then again with one service changed and one
// gone: Load says what it did each time.
func ExampleLoad() {
	ctx := context.Background()
	store := memory.New()
	defer store.Close()
	if err := store.PutNetwork(ctx, referral.Network{ID: network, Name: "County Care Network"}); err != nil {
		fmt.Println(err)
		return
	}
	report, err := directory.Load(ctx, store, network, sample(), directory.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("added", len(report.Organizations.Added), "organizations and", len(report.Services.Added), "services")

	next := sample()
	next.Services[0].Description = "Fresh produce on Fridays"
	next.Services = next.Services[:2]
	report, err = directory.Load(ctx, store, network, next, directory.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("updated", len(report.Services.Updated), "unchanged", len(report.Services.Unchanged), "removed", len(report.Services.Removed))
	// Output:
	// added 2 organizations and 3 services
	// updated 1 unchanged 1 removed 1
}

// An Index follows the store: the host writes a capacity to the store only,
// and the index, once it has applied the change, stops offering the full
// service.
func ExampleIndex() {
	ctx := context.Background()
	store := memory.New()
	defer store.Close()
	if err := store.PutNetwork(ctx, referral.Network{ID: network, Name: "County Care Network"}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := directory.Load(ctx, store, network, sample(), directory.LoadOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	ix, err := directory.NewIndex(ctx, store, network, directory.IndexOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := matching.Request{
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		Near:  &referral.Point{Latitude: 39.96, Longitude: -83.0}, RadiusM: 5000, Full: matching.Exclude,
	}
	res, err := ix.Match(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("matches before:", len(res.Matches))

	// In a host, `go ix.Run(ctx)` applies changes as they come; Sync applies
	// what is there now.
	if err := store.SetCapacity(ctx, network, sample().Services[0].ID, &referral.Capacity{Available: 0}); err != nil {
		fmt.Println(err)
		return
	}
	applied, err := ix.Sync(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err = ix.Match(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("changes applied:", applied, "matches after:", len(res.Matches))
	// Output:
	// matches before: 3
	// changes applied: 1 matches after: 2
}

// A CapacityKeeper follows the referral feed: accepting a referral takes a
// place at its service, completing it frees the place, and the host writes
// nothing but the referral.
func ExampleCapacityKeeper() {
	ctx := context.Background()
	store := memory.New()
	defer store.Close()
	if err := store.PutNetwork(ctx, referral.Network{ID: network, Name: "County Care Network"}); err != nil {
		fmt.Println(err)
		return
	}
	recs := sample()
	recs.Services[0].Capacity = &referral.Capacity{Available: 3}
	if _, err := directory.Load(ctx, store, network, recs, directory.LoadOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	person := referral.Person{ID: id(500), Network: network, GivenName: "Pat"}
	consent := referral.Consent{ID: id(501), Network: network, Person: person.ID, Grantee: id(1), Scope: referral.ScopeReferral}
	if err := errors.Join(store.PutPerson(ctx, person), store.PutConsent(ctx, consent)); err != nil {
		fmt.Println(err)
		return
	}
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	keeper, err := directory.NewCapacityKeeper(store, network, directory.KeeperOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	clinic := referral.Actor{Network: network, Organization: id(2), Role: referral.RoleStaff}
	pantry := referral.Actor{Network: network, Organization: id(1), Role: referral.RoleStaff}
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{Person: person.ID, Receiver: id(1), Service: id(10), Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	available := func() int {
		svc, _ := store.GetService(ctx, network, id(10))
		return svc.Capacity.Available
	}
	if _, err := engine.Accept(ctx, pantry, r.ID, ""); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := keeper.Sync(ctx); err != nil { // in a host: go keeper.Run(ctx)
		fmt.Println(err)
		return
	}
	fmt.Println("after the accept:", available())
	if _, err := engine.Complete(ctx, pantry, r.ID, referral.Outcome{Code: "got-help"}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := keeper.Sync(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after the completion:", available())
	// Output:
	// after the accept: 2
	// after the completion: 3
}
