package lifecycle_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// ExampleEngine_SweepLeased runs the deadline sweep as each of several
// processes would, on a schedule: on a store shared through leases
// (PostgreSQL) only the lease holder sweeps; on this memory store, which one
// process owns, every call sweeps.
func ExampleEngine_SweepLeased() {
	ctx := context.Background()
	engine, clinic, foodBank, person, advance := exampleNetwork(lifecycle.Deadlines{Acknowledge: 48 * time.Hour})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)
	advance(49 * time.Hour)

	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s/%d", host, os.Getpid()) // unique to this process
	res, swept, err := engine.SweepLeased(ctx, r.Created.Add(49*time.Hour), holder, 90*time.Second)
	must(err)
	fmt.Println(swept, res.Expired)
	// Output: true 1
}
