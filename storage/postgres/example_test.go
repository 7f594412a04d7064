package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/postgres"
)

// Example opens a store, gives it a network, and runs a referral through the
// lifecycle engine on it. It needs a server, so it has no checked output: see
// ExampleOpen for one that runs everywhere.
func Example() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, os.Getenv("REFKIT_TEST_POSTGRES_URL"), postgres.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	network := referral.Network{ID: referral.NewID(), Name: "County Care Network"}
	clinic := referral.Organization{ID: referral.NewID(), Network: network.ID, Name: "Riverside Clinic"}
	pantry := referral.Organization{ID: referral.NewID(), Network: network.ID, Name: "Eastside Food Bank"}
	person := referral.Person{ID: referral.NewID(), Network: network.ID}
	for _, err := range []error{
		s.PutNetwork(ctx, network), s.PutOrganization(ctx, clinic), s.PutOrganization(ctx, pantry), s.PutPerson(ctx, person),
	} {
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	engine, err := lifecycle.New(s, s, lifecycle.Options{ImpliedConsent: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	nurse := referral.Actor{Network: network.ID, Organization: clinic.ID, User: "nurse", Role: referral.RoleStaff}
	r, err := engine.Create(ctx, nurse, lifecycle.CreateRequest{
		Person: person.ID, Receiver: pantry.ID, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
	})
	fmt.Println(r.Status, err)
}

// ExampleOpen shows the error an unreachable server gives: Open waits at most
// the connect timeout, then fails with ErrConnect.
func ExampleOpen() {
	ctx := context.Background()
	_, err := postgres.Open(ctx, "postgres://refkit@127.0.0.1:1/refkit?sslmode=disable",
		postgres.Options{ConnectTimeout: 2 * time.Second})
	fmt.Println(errors.Is(err, postgres.ErrConnect))
	// Output: true
}

// ExampleNew shows New's check of its arguments: it builds a store on the
// caller's pool, so it needs one.
func ExampleNew() {
	_, err := postgres.New(context.Background(), nil, postgres.Options{})
	fmt.Println(errors.Is(err, referral.ErrInvalid))
	// Output: true
}
