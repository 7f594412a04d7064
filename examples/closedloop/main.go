// Command closedloop walks one referral around the whole loop on the embedded
// SQLite store: a clinic screens a patient as food-insecure, refers them to a
// food bank with their consent, the food bank acknowledges, accepts, serves them
// and records the outcome. It prints the referral's history and the loop-closure
// report.
//
//	go run ./examples/closedloop                  # a SQLite file in a temporary directory
//	go run ./examples/closedloop -db refkit.db    # keep the database to look at
//	go run ./examples/closedloop -memory          # the in-memory store instead
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

func main() {
	dbPath := flag.String("db", "", "SQLite database file to use and keep (default: a temporary file, removed at exit)")
	inMemory := flag.Bool("memory", false, "use the in-memory store instead of SQLite")
	flag.Parse()
	if err := main1(context.Background(), os.Stdout, os.Stderr, *dbPath, *inMemory); err != nil {
		fmt.Fprintln(os.Stderr, "closedloop:", err)
		os.Exit(1)
	}
}

// main1 runs the example on the chosen store. When the database is kept, it
// tells info (stderr) the ids to look it up by, e.g. with refkit fhir export.
func main1(ctx context.Context, out, info io.Writer, dbPath string, inMemory bool) error {
	if inMemory {
		store := memory.New()
		defer store.Close()
		_, err := run(ctx, out, store)
		return err
	}
	kept := dbPath != ""
	if !kept {
		dir, err := os.MkdirTemp("", "refkit-closedloop-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "refkit.db")
	}
	store, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := run(ctx, out, store)
	if err == nil && kept {
		fmt.Fprintf(info, "\nKept %s: network %s, referral %s, sent by %s to %s\n",
			dbPath, r.Network, r.ID, r.Sender, r.Receiver)
	}
	return err
}

func run(ctx context.Context, out io.Writer, store storage.Store) (referral.Referral, error) {
	// A virtual clock, so the example prints the same thing every time.
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ids := referral.NewIDGenerator(clock, nil)

	network := referral.Network{ID: ids.MustNew(), Name: "Lake County Referral Network"}
	clinic := referral.Organization{ID: ids.MustNew(), Network: network.ID, Name: "Lakeside Family Clinic"}
	foodBank := referral.Organization{ID: ids.MustNew(), Network: network.ID, Name: "North Shore Food Bank"}
	person := referral.Person{ID: ids.MustNew(), Network: network.ID, GivenName: "Sam", FamilyName: "Rivera", HouseholdSize: 3}
	consent := referral.Consent{
		ID: ids.MustNew(), Network: network.ID, Person: person.ID, Grantee: foodBank.ID,
		Scope: referral.ScopeReferral, Period: referral.Period{Start: now, End: now.AddDate(1, 0, 0)},
	}
	for _, put := range []func() error{
		func() error { return store.PutNetwork(ctx, network) },
		func() error { return store.PutOrganization(ctx, clinic) },
		func() error { return store.PutOrganization(ctx, foodBank) },
		func() error { return store.PutPerson(ctx, person) },
		func() error { return store.PutConsent(ctx, consent) },
	} {
		if err := put(); err != nil {
			return referral.Referral{}, err
		}
	}

	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock, IDs: ids,
		Deadlines: lifecycle.Deadlines{Acknowledge: 24 * time.Hour, Accept: 72 * time.Hour, ExpireAfter: 48 * time.Hour}})
	if err != nil {
		return referral.Referral{}, err
	}
	nurse := referral.Actor{Network: network.ID, Organization: clinic.ID, User: "nurse-okafor", Role: referral.RoleStaff}
	intake := referral.Actor{Network: network.ID, Organization: foodBank.ID, User: "intake-desk", Role: referral.RoleStaff}

	r, err := engine.Create(ctx, nurse, lifecycle.CreateRequest{
		Person:         person.ID,
		Receiver:       foodBank.ID,
		Needs:          []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Instrument: "hunger-vital-sign"}},
		Send:           true,
		IdempotencyKey: "visit-2026-03-02-sam",
		Note:           "Family of three, ran out of food twice last month.",
	})
	if err != nil {
		return referral.Referral{}, err
	}

	// The food bank's side of the loop, hours and days later.
	steps := []struct {
		after time.Duration
		do    func() (referral.Referral, error)
	}{
		{2 * time.Hour, func() (referral.Referral, error) { return engine.Acknowledge(ctx, intake, r.ID) }},
		{1 * time.Hour, func() (referral.Referral, error) {
			return engine.AddNote(ctx, intake, r.ID, "Can Sam come to the Thursday distribution?")
		}},
		{30 * time.Minute, func() (referral.Referral, error) { return engine.AddNote(ctx, nurse, r.ID, "Yes, Thursday works.") }},
		{3 * time.Hour, func() (referral.Referral, error) { return engine.Accept(ctx, intake, r.ID, "Booked for Thursday.") }},
		{48 * time.Hour, func() (referral.Referral, error) { return engine.Start(ctx, intake, r.ID) }},
		{2 * time.Hour, func() (referral.Referral, error) {
			return engine.Complete(ctx, intake, r.ID, referral.Outcome{Code: "got-help", Note: "Enrolled in weekly pantry and SNAP application started."})
		}},
	}
	for _, s := range steps {
		now = now.Add(s.after)
		if r, err = s.do(); err != nil {
			return referral.Referral{}, err
		}
	}

	history, err := engine.History(ctx, nurse, r.ID)
	if err != nil {
		return referral.Referral{}, err
	}
	fmt.Fprintf(out, "Referral to %s for %s: %s (%s)\n\n", foodBank.Name, r.Needs[0].Domain, r.Status, r.Outcome.Code)
	for _, ev := range history {
		who := clinic.Name
		if ev.Actor.Organization == foodBank.ID {
			who = foodBank.Name
		}
		line := fmt.Sprintf("%s  %-13s %-12s %s", ev.At.Format("Mon 02 Jan 15:04"), ev.Type, ev.To, who)
		if ev.Note != "" {
			line += fmt.Sprintf(": %q", ev.Note)
		}
		fmt.Fprintln(out, line)
	}

	report, err := engine.Metrics(ctx, nurse, now.AddDate(0, 0, -30), now.Add(time.Hour))
	if err != nil {
		return referral.Referral{}, err
	}
	fmt.Fprintf(out, "\nLoop closure: %d referral(s), %.0f%% closed; acknowledged in %v, accepted in %v, completed in %v\n",
		report.Total, 100*report.ClosureRate, report.TimeToAcknowledge.Median, report.TimeToAccept.Median, report.TimeToComplete.Median)
	return r, nil
}
