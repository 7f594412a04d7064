package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// seeded holds the fixed ids of the example network, so the curl session can be
// pasted as printed and a kept database (-db) is seeded again without
// duplicates: every put below creates or replaces.
var seeded = struct {
	Network, Clinic, FoodBank, Service, Location, Person, Consent referral.ID
}{
	Network:  referral.MustParseID("01930000-0000-7000-8000-000000000001"),
	Clinic:   referral.MustParseID("01930000-0000-7000-8000-0000000000c1"),
	FoodBank: referral.MustParseID("01930000-0000-7000-8000-0000000000f1"),
	Service:  referral.MustParseID("01930000-0000-7000-8000-0000000005e1"),
	Location: referral.MustParseID("01930000-0000-7000-8000-00000000010c"),
	Person:   referral.MustParseID("01930000-0000-7000-8000-0000000000a1"),
	Consent:  referral.MustParseID("01930000-0000-7000-8000-0000000000c5"),
}

// seed writes a tiny referral network: a clinic that refers, a food bank with
// one pantry service (a location and capacity), and a fictional person who
// consented to share their referrals with the food bank. A real host loads its
// directory from its own records or an HSDS feed instead.
func seed(ctx context.Context, store storage.Store) error {
	since := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	income := 28000.0
	puts := []func() error{
		func() error {
			return store.PutNetwork(ctx, referral.Network{ID: seeded.Network, Name: "Lake County Referral Network"})
		},
		func() error {
			return store.PutOrganization(ctx, referral.Organization{ID: seeded.Clinic, Network: seeded.Network, Name: "Lakeside Family Clinic"})
		},
		func() error {
			return store.PutOrganization(ctx, referral.Organization{ID: seeded.FoodBank, Network: seeded.Network, Name: "North Shore Food Bank"})
		},
		func() error {
			return store.PutService(ctx, referral.Service{
				ID: seeded.Service, Network: seeded.Network, Organization: seeded.FoodBank,
				Name: "Weekly Pantry", Status: referral.ServiceActive,
				Domains:     []referral.Domain{referral.FoodInsecurity},
				Eligibility: `fpl_percent <= 200`,
				Languages:   []string{"en", "es"},
				Capacity:    &referral.Capacity{Available: 12},
				Locations: []referral.Location{{
					ID: seeded.Location, Name: "North Shore Warehouse", Latitude: 42.3601, Longitude: -87.8295,
				}},
			})
		},
		func() error {
			return store.PutPerson(ctx, referral.Person{
				ID: seeded.Person, Network: seeded.Network, GivenName: "Sam", FamilyName: "Rivera",
				HouseholdSize: 3, IncomeAnnual: &income, State: "IL", Languages: []string{"es", "en"},
				Location: &referral.Point{Latitude: 42.3636, Longitude: -87.8447},
			})
		},
		func() error {
			return store.PutConsent(ctx, referral.Consent{
				ID: seeded.Consent, Network: seeded.Network, Person: seeded.Person, Grantee: seeded.FoodBank,
				Scope: referral.ScopeReferral, Period: referral.Period{Start: since},
			})
		},
	}
	for _, put := range puts {
		if err := put(); err != nil {
			return err
		}
	}
	return nil
}

// printSession prints a curl session against base that walks one referral
// around the loop. Shell variables hold the identity headers each side sends,
// so the commands stay readable; paste them into bash or zsh.
func printSession(w io.Writer, base string) {
	fmt.Fprintf(w, `refkit embed-http example listening on %[1]s
network %[2]s; Ctrl-C stops.

API=%[1]s
CLINIC=(-H 'Refkit-Organization: %[3]s' -H 'Refkit-User: nurse-okafor' -H 'Refkit-Role: staff')
FOODBANK=(-H 'Refkit-Organization: %[4]s' -H 'Refkit-User: intake-desk' -H 'Refkit-Role: staff')
JSON=(-H 'Content-Type: application/json')

# The food bank follows its event feed (server-sent events; run it in a second terminal):
curl -N "${FOODBANK[@]}" $API/events

# The clinic screens, matches and refers:
curl "${CLINIC[@]}" "${JSON[@]}" $API/screenings -d '{"person_id":"%[5]s","instrument":"hunger-vital-sign","answers":{"88122-7":"Often true","88123-5":"Sometimes true"}}'
curl "${CLINIC[@]}" "${JSON[@]}" $API/matches -d '{"person":{"household_size":3,"income_annual":28000,"state":"IL","languages":["es"]},"needs":[{"domain":"food-insecurity","urgency":"routine"}],"near":{"latitude":42.3636,"longitude":-87.8447},"radius_m":10000}'
REFERRAL=$(curl -s "${CLINIC[@]}" "${JSON[@]}" -H 'Idempotency-Key: visit-1' $API/referrals -d '{"person_id":"%[5]s","receiver_id":"%[4]s","service_id":"%[6]s","needs":[{"domain":"food-insecurity","urgency":"routine"}],"send":true,"note":"Family of three."}' | sed -n 's/.*"id":"\([^"]*\)".*/\1/p'); echo $REFERRAL

# The food bank works it; "version" makes a command fail with 409 if the referral changed since:
curl -X POST "${FOODBANK[@]}" $API/referrals/$REFERRAL/acknowledge
curl "${FOODBANK[@]}" "${JSON[@]}" $API/referrals/$REFERRAL/accept -d '{"version":2}'
curl "${FOODBANK[@]}" "${JSON[@]}" $API/referrals/$REFERRAL/complete -d '{"outcome":{"code":"got-help"}}'

# The clinic sees the loop closed:
curl "${CLINIC[@]}" $API/referrals/$REFERRAL/history
`, base, seeded.Network, seeded.Clinic, seeded.FoodBank, seeded.Person, seeded.Service)
}
