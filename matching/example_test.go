package matching_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

func exampleDirectory() []referral.Service {
	pantry := referral.Service{
		ID:           referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000001"),
		Organization: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000a1"),
		Name:         "Downtown Food Pantry",
		Status:       referral.ServiceActive,
		Domains:      []referral.Domain{referral.FoodInsecurity},
		Eligibility:  `fpl_percent <= 200 && household_size >= 1`,
		Languages:    []string{"en", "es"},
		Capacity:     &referral.Capacity{Available: 4},
		Locations: []referral.Location{{
			ID:       referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000b1"),
			Latitude: 37.8044, Longitude: -122.2712,
		}},
	}
	veterans := referral.Service{
		ID:           referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000002"),
		Organization: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000a2"),
		Name:         "Veterans Housing Line",
		Status:       referral.ServiceActive,
		Domains:      []referral.Domain{referral.HousingInstability, referral.FoodInsecurity},
		Eligibility:  `veteran`,
		ServiceAreas: []referral.ServiceArea{{Kind: referral.AreaVirtual}},
	}
	return []referral.Service{pantry, veterans}
}

func exampleRequest() matching.Request {
	income := 30000.0
	return matching.Request{
		Person: referral.Person{
			BirthDate:     referral.Date{Year: 1980, Month: time.May, Day: 2},
			HouseholdSize: 3, IncomeAnnual: &income, State: "CA", Languages: []string{"es"},
			Veteran: referral.Known(false),
		},
		Needs:   []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		Near:    &referral.Point{Latitude: 37.8000, Longitude: -122.2700},
		RadiusM: 10000,
		Explain: true,
		AsOf:    time.Date(2026, time.February, 2, 15, 0, 0, 0, time.UTC),
	}
}

// Build an index and match one request; every match says why, every excluded
// candidate says why not.
func ExampleIndex_Match() {
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := ix.Match(context.Background(), exampleRequest())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range res.Matches {
		fmt.Printf("match %s at %.0f m, score %.3f\n", m.Service, *m.DistanceM, m.Score)
		for _, r := range m.Reasons {
			fmt.Println(strings.TrimSpace("  " + r.Code + " " + r.Detail))
		}
	}
	for _, x := range res.Excluded {
		fmt.Printf("excluded %s: %s %s\n", x.Service, x.Reasons[0].Code, x.Reasons[0].Detail)
	}
	// Output:
	// match 0190a6f0-8a4b-7c3d-9e2f-000000000001 at 500 m, score 8.600
	// within-radius 0.50 km
	// covers-need food-insecurity
	// eligible
	// speaks-language es
	// has-capacity 4 open
	// excluded 0190a6f0-8a4b-7c3d-9e2f-000000000002: rule-failed rule is false: veteran
}

// A rule that is not boolean is rejected with its position.
func ExampleCheckRule() {
	fmt.Println(matching.CheckRule(`age + 1`))
	fmt.Println(matching.CheckRule("age >= 18 &&\n  incom < 100"))
	fmt.Println(matching.CheckRule(`age >= 18 && speaks("es")`))
	// Output:
	// refkit: invalid input: eligibility rule: expected bool, but got int
	// refkit: invalid input: eligibility rule: unknown name incom (line 2, column 2)
	// <nil>
}

// Income as a percent of the poverty guideline in force at a date.
func ExampleGuidelines_FPLPercent() {
	g := matching.DefaultGuidelines()
	pct, _ := g.FPLPercent(33000, 4, "TX", time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC))
	fmt.Printf("%.1f%%\n", pct)
	pct, _ = g.FPLPercent(32150, 4, "TX", time.Date(2025, time.March, 1, 0, 0, 0, 0, time.UTC))
	fmt.Printf("%.1f%%\n", pct)
	_, ok := g.FPLPercent(33000, 4, "PR", time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(ok)
	// Output:
	// 100.0%
	// 100.0%
	// false
}

// Updates swap in a new snapshot; readers holding the old one are unaffected.
func ExampleIndex_Update() {
	ix, _ := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	before := ix.Snapshot()
	id := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000001")
	_ = ix.Update(context.Background(), matching.SetCapacity(id, &referral.Capacity{Available: 0}))
	old, _ := before.Service(id)
	now, _ := ix.Snapshot().Service(id)
	fmt.Println(old.Capacity.Available, now.Capacity.Available)
	// Output:
	// 4 0
}

// A person who has not said whether they are a veteran, nor given an income:
// the veterans' line may or may not serve them, and with Unknown "include" it
// comes back as a possible match naming what to ask.
func ExampleIndex_Match_unknownFacts() {
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := exampleRequest()
	req.Person = referral.Person{HouseholdSize: 2, State: "CA", Languages: []string{"en"}}
	req.Unknown = matching.UnknownInclude
	res, err := ix.Match(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("matches:", len(res.Matches))
	for _, m := range res.Possible {
		fmt.Printf("possible %s: ask for %s\n", m.Service, strings.Join(m.Unknown, ", "))
	}
	// Output:
	// matches: 0
	// possible 0190a6f0-8a4b-7c3d-9e2f-000000000001: ask for fpl_percent
	// possible 0190a6f0-8a4b-7c3d-9e2f-000000000002: ask for veteran
}

// Every admitted rule has a worst-case cost; rules that could run away are
// refused with the reason and the place.
func ExampleRuleLimits_Check() {
	limits := matching.DefaultRuleLimits()
	cost, err := limits.Check(`veteran || any(languages, # == "es")`)
	fmt.Println(cost, err)
	_, err = limits.Check(`let r = 1..1000; all(r, {all(r, {all(r, {true})})})`)
	fmt.Println(err)
	_, err = limits.Check(`all(keys(attributes), {all(keys(attributes), {true})})`)
	fmt.Println(err)
	// Output:
	// 655 <nil>
	// refkit: invalid input: eligibility rule: range 1..1000 is longer than 100 (line 1, column 9)
	// refkit: invalid input: eligibility rule: worst-case cost 172,004 is above 10,000 (line 1, column 0)
}
