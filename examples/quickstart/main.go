// Command quickstart is refkit's main job as a short program: screen a person,
// match their needs to services near them, refer them with their consent, let
// the receiving organization close the loop, and report. It uses the bundled
// fictional sample network around Columbus, Ohio (package demo) on the
// embedded SQLite store. `go run ./cmd/refkit demo` plays the same flow for a
// whole clinic's day, with declines, redirects and an expiry.
//
//	go run ./examples/quickstart
//
// README.md quotes screenMatchRefer, between the README markers; a test keeps
// the two identical.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/sqlite"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "refkit-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "refkit.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()

	// The sample network: its directory goes into the store, the clinic is the
	// referrer, and María is the first person it screens.
	sample, err := demo.LoadSample()
	if err != nil {
		return err
	}
	if err := sample.Load(ctx, store); err != nil {
		return err
	}
	maria := sample.People[0]
	if err := store.PutPerson(ctx, maria.Person); err != nil {
		return err
	}
	// A fixed clock, so the program prints the same thing every time.
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	index, err := matching.New(ctx, sample.Services, matching.Options{Now: clock})
	if err != nil {
		return err
	}
	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock})
	if err != nil {
		return err
	}
	clinic := referral.Actor{Network: sample.Network.ID, Organization: sample.Referrer.ID, User: "care-coordinator", Role: referral.RoleStaff}

	r, err := screenMatchRefer(ctx, store, index, engine, clinic, maria.Person, maria.Answers["ahc-hrsn"], now)
	if err != nil {
		return err
	}
	service, err := store.GetService(ctx, r.Network, r.Service)
	if err != nil {
		return err
	}
	receiver, err := store.GetOrganization(ctx, r.Network, r.Receiver)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Referred %s for %s to %q at %s: %s\n", maria.Person.GivenName, r.Needs[0].Domain, service.Name, receiver.Name, r.Status)

	// The receiving organization's side: acknowledge, accept, serve, and record
	// the outcome that closes the loop.
	intake := referral.Actor{Network: r.Network, Organization: r.Receiver, User: "intake", Role: referral.RoleStaff}
	for _, step := range []struct {
		after time.Duration
		do    func() (referral.Referral, error)
	}{
		{3 * time.Hour, func() (referral.Referral, error) { return engine.Acknowledge(ctx, intake, r.ID) }},
		{22 * time.Hour, func() (referral.Referral, error) { return engine.Accept(ctx, intake, r.ID, "Booked for Thursday.") }},
		{2 * 24 * time.Hour, func() (referral.Referral, error) { return engine.Start(ctx, intake, r.ID) }},
		{2 * time.Hour, func() (referral.Referral, error) {
			return engine.Complete(ctx, intake, r.ID, referral.Outcome{Code: "got-help", Note: "Enrolled in weekly pickup."})
		}},
	} {
		now = now.Add(step.after)
		if r, err = step.do(); err != nil {
			return err
		}
		state := string(r.Status)
		if r.BusinessStatus != "" {
			state += " (" + string(r.BusinessStatus) + ")"
		}
		fmt.Fprintf(out, "  %s  %s\n", now.Format("Mon 02 Jan 15:04"), state)
	}

	report, err := engine.Metrics(ctx, clinic, now.AddDate(0, 0, -7), now.Add(time.Minute))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Loop closure: %d referral, %.0f%% closed, completed %v after sending\n",
		report.Total, 100*report.ClosureRate, report.TimeToComplete.Median)
	return nil
}

// README:begin
// screenMatchRefer screens a person, finds the best service near them for
// their most pressing need, and sends them there with their consent.
func screenMatchRefer(ctx context.Context, store storage.Store, index *matching.Index, engine *lifecycle.Engine,
	clinic referral.Actor, person referral.Person, answers []byte, now time.Time) (referral.Referral, error) {
	ahc, _ := screening.Default().Lookup("ahc-hrsn")
	response, err := screening.ParseAnswers(ahc, answers) // {"answers": {"88122-7": "Often true", ...}}
	if err != nil {
		return referral.Referral{}, err
	}
	needs := response.Score().Needs // the most pressing first, e.g. food-insecurity
	if len(needs) == 0 {
		return referral.Referral{}, fmt.Errorf("the screening found no need: %w", referral.ErrNotFound)
	}
	need := needs[0]
	found, err := index.Match(ctx, matching.Request{Person: person, Needs: []referral.Need{need}, RadiusM: 10_000, Full: matching.Exclude})
	if err != nil {
		return referral.Referral{}, err
	}
	if len(found.Matches) == 0 {
		return referral.Referral{}, fmt.Errorf("no service within 10 km for %s: %w", need.Domain, referral.ErrNotFound)
	}
	best := found.Matches[0] // carries its service's organization: no second lookup
	consent := referral.Consent{ID: referral.NewID(), Network: person.Network, Person: person.ID, Grantee: best.Organization,
		Scope: referral.ScopeReferral, Period: referral.Period{Start: now, End: now.AddDate(1, 0, 0)}}
	if err := store.PutConsent(ctx, consent); err != nil {
		return referral.Referral{}, err
	}
	return engine.Create(ctx, clinic, lifecycle.CreateRequest{Person: person.ID, Needs: []referral.Need{need},
		Receiver: best.Organization, Service: best.Service, Location: best.Location, Send: true})
}

// README:end
