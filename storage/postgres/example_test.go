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

// Example_failover connects to a Patroni cluster through every node, so the
// store follows the leader, and shows what a host does with the two errors a
// failover longer than the store's own retries leaves: nothing was written
// (ErrUnavailable), or a write may have landed (ErrOutcomeUnknown), and in
// both cases the same request, with its idempotency key, is safe to repeat.
// It needs a cluster, so it has no checked output.
func Example_failover() {
	ctx := context.Background()
	s, err := postgres.Open(ctx,
		"postgres://refkit@db1:5432,db2:5432,db3:5432/refkit?target_session_attrs=read-write&connect_timeout=2",
		postgres.Options{RetryTimeout: 40 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	engine, err := lifecycle.New(s, s, lifecycle.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	nurse := referral.Actor{Network: referral.NewID(), Organization: referral.NewID(), User: "nurse", Role: referral.RoleStaff}
	req := lifecycle.CreateRequest{
		Person: referral.NewID(), Receiver: referral.NewID(), Send: true, IdempotencyKey: "intake-2031",
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
	}
	for attempt := 0; attempt < 3; attempt++ {
		r, err := engine.Create(ctx, nurse, req)
		switch {
		case err == nil:
			fmt.Println(r.Status)
			return
		case errors.Is(err, referral.ErrOutcomeUnknown):
			// It may have been stored: the same key returns it if so.
		case errors.Is(err, referral.ErrUnavailable):
			// Nothing was stored.
		default:
			fmt.Println(err)
			return
		}
		time.Sleep(5 * time.Second)
	}
}
