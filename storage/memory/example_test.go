package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// Example stores a referral, retries its creation, accepts it with a
// version-conditioned update, shows a stale writer losing, and reads the feed.
func Example() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()

	network := referral.Network{ID: referral.MustParseID("01956000-0000-7000-8000-000000000001"), Name: "County Care Network"}
	clinic := referral.Organization{ID: referral.MustParseID("01956000-0000-7000-8000-000000000002"), Network: network.ID, Name: "Riverside Clinic"}
	pantry := referral.Organization{ID: referral.MustParseID("01956000-0000-7000-8000-000000000003"), Network: network.ID, Name: "Eastside Food Bank"}
	person := referral.Person{ID: referral.MustParseID("01956000-0000-7000-8000-000000000004"), Network: network.ID}
	for _, err := range []error{
		s.PutNetwork(ctx, network), s.PutOrganization(ctx, clinic), s.PutOrganization(ctx, pantry), s.PutPerson(ctx, person),
	} {
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	r := referral.Referral{
		ID: referral.MustParseID("01956000-0000-7000-8000-000000000005"), Network: network.ID, Person: person.ID,
		Needs:  []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		Sender: clinic.ID, Receiver: pantry.ID, Status: referral.StatusRequested, Priority: referral.Urgent,
		Created: now, Updated: now, Version: 1, IdempotencyKey: "intake-1",
	}
	nurse := referral.Actor{Network: network.ID, Organization: r.Sender, User: "nurse", Role: referral.RoleStaff}
	created := referral.Event{Network: network.ID, Referral: r.ID, Sequence: 1, Type: referral.EventCreated, Actor: nurse, At: now, To: r.Status}
	stored, isNew, err := s.CreateReferral(ctx, r, created)
	fmt.Println(stored.Version, isNew, err)

	// A retry with the same idempotency key returns the first referral.
	_, isNew, _ = s.CreateReferral(ctx, r, created)
	fmt.Println("retry created:", isNew)

	// Accept it: the write is conditioned on the version read.
	got, _ := s.GetReferral(ctx, network.ID, r.ID)
	from := got.Status
	got.Status, got.Version = referral.StatusAccepted, got.Version+1
	e, err := s.UpdateReferral(ctx, got, referral.Event{
		Network: network.ID, Referral: r.ID, Sequence: got.Version, Type: referral.EventAccepted, At: now, From: from, To: got.Status,
		Actor: referral.Actor{Network: network.ID, Organization: r.Receiver, User: "intake", Role: referral.RoleStaff},
	})
	fmt.Println(e.Sequence, e.To, err)

	// A second writer that read the same version loses.
	_, err = s.UpdateReferral(ctx, got, e)
	fmt.Println(err != nil)

	feed, _ := s.Feed(ctx, storage.FeedQuery{Network: network.ID})
	for _, ev := range feed {
		fmt.Println(ev.Position, ev.Type, ev.To)
	}
	// Output:
	// 1 true <nil>
	// retry created: false
	// 2 accepted <nil>
	// true
	// 1 created requested
	// 2 accepted accepted
}
