package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// exampleNetwork sets up a clinic, a food bank, a person who consented to share
// with the food bank, and an engine on a fixed clock.
func exampleNetwork(deadlines lifecycle.Deadlines) (*lifecycle.Engine, referral.Actor, referral.Actor, referral.ID, func(time.Duration)) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ids := referral.NewIDGenerator(clock, nil)
	store := memory.New()
	network, clinic, foodBank, person := ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	must(store.PutNetwork(ctx, referral.Network{ID: network, Name: "Lake County Referral Network"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: clinic, Network: network, Name: "Lakeside Clinic"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: foodBank, Network: network, Name: "North Food Bank"}))
	must(store.PutPerson(ctx, referral.Person{ID: person, Network: network}))
	must(store.PutConsent(ctx, referral.Consent{ID: ids.MustNew(), Network: network, Person: person, Grantee: foodBank, Scope: referral.ScopeReferral}))
	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock, IDs: ids, Deadlines: deadlines})
	must(err)
	sender := referral.Actor{Network: network, Organization: clinic, User: "dr-lee", Role: referral.RoleStaff}
	receiver := referral.Actor{Network: network, Organization: foodBank, User: "intake", Role: referral.RoleStaff}
	return engine, sender, receiver, person, func(d time.Duration) { now = now.Add(d) }
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func Example() {
	ctx := context.Background()
	engine, clinic, foodBank, person, advance := exampleNetwork(lifecycle.Deadlines{})

	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person:   person,
		Receiver: foodBank.Organization,
		Needs:    []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		Send:     true,
	})
	must(err)
	fmt.Println(r.Status)

	advance(2 * time.Hour)
	_, err = engine.Accept(ctx, foodBank, r.ID, "We can see them Thursday.")
	must(err)
	advance(72 * time.Hour)
	r, err = engine.Complete(ctx, foodBank, r.ID, referral.Outcome{Code: "got-help", Note: "Enrolled in weekly pantry."})
	must(err)
	fmt.Println(r.Status, r.Outcome.Code, r.Closed.Sub(r.Sent))

	// A closed loop stays closed: the clinic can no longer cancel it.
	_, err = engine.Cancel(ctx, clinic, r.ID, "no-longer-needed", "")
	fmt.Println(errors.Is(err, referral.ErrInvalidTransition))
	// Output:
	// requested
	// completed got-help 74h0m0s
	// true
}

func ExampleEngine_Sweep() {
	ctx := context.Background()
	engine, clinic, foodBank, person, advance := exampleNetwork(lifecycle.Deadlines{Acknowledge: 48 * time.Hour, ExpireAfter: 24 * time.Hour})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)

	advance(49 * time.Hour)
	res, err := engine.Sweep(ctx, r.Created.Add(49*time.Hour))
	must(err)
	fmt.Printf("%+v\n", res)

	res, err = engine.Sweep(ctx, r.Created.Add(73*time.Hour))
	must(err)
	fmt.Printf("%+v\n", res)
	r, err = engine.Get(ctx, clinic, r.ID)
	must(err)
	fmt.Println(r.Status, r.Reason)
	// Output:
	// {Escalated:1 Expired:0 Skipped:0}
	// {Escalated:0 Expired:1 Skipped:0}
	// cancelled expired
}

func ExampleEngine_Feed() {
	ctx := context.Background()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)
	_, err = engine.AddNote(ctx, foodBank, r.ID, "Does the client need delivery?")
	must(err)
	_, err = engine.Acknowledge(ctx, foodBank, r.ID)
	must(err)

	// A partner system follows the feed, resuming from the last position it saw.
	var cursor int64
	for {
		events, err := engine.Feed(ctx, foodBank, cursor, 2)
		must(err)
		if len(events) == 0 {
			break
		}
		for _, ev := range events {
			fmt.Println(ev.Sequence, ev.Type, ev.To)
		}
		cursor = events[len(events)-1].Position
	}
	// Output:
	// 1 created requested
	// 2 note requested
	// 3 acknowledged requested
}

// A referral the receiver has accepted is cancelled in two steps: the sender
// asks, the receiver answers.
func ExampleEngine_RequestCancel() {
	ctx := context.Background()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)
	_, err = engine.Accept(ctx, foodBank, r.ID, "")
	must(err)

	_, err = engine.Cancel(ctx, clinic, r.ID, "need-met-elsewhere", "")
	var te *lifecycle.TransitionError
	fmt.Println(errors.As(err, &te), te.Status)
	r, err = engine.RequestCancel(ctx, clinic, r.ID, "need-met-elsewhere", "The county housed them.")
	must(err)
	fmt.Println(r.Status, r.BusinessStatus, r.CancelReason)
	r, err = engine.ConfirmCancel(ctx, foodBank, r.ID, "")
	must(err)
	fmt.Println(r.Status, r.Reason)
	// Output:
	// true accepted
	// accepted cancel-requested need-met-elsewhere
	// cancelled need-met-elsewhere
}

// Business statuses record the steps inside a status: acknowledged while
// requested; waitlisted, scheduled and no-show once accepted.
func ExampleEngine_Schedule() {
	ctx := context.Background()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)
	for _, step := range []func() (referral.Referral, error){
		func() (referral.Referral, error) { return engine.Acknowledge(ctx, foodBank, r.ID) },
		func() (referral.Referral, error) {
			return engine.Waitlist(ctx, foodBank, r.ID, "A place frees up in May.")
		},
		func() (referral.Referral, error) { return engine.Schedule(ctx, foodBank, r.ID, "Intake 6 May, 10:00.") },
		func() (referral.Referral, error) { return engine.NoShow(ctx, foodBank, r.ID, "") },
		func() (referral.Referral, error) {
			return engine.Schedule(ctx, foodBank, r.ID, "Intake 13 May, 10:00.")
		},
		func() (referral.Referral, error) { return engine.Start(ctx, foodBank, r.ID) },
	} {
		r, err = step()
		must(err)
		fmt.Println(r.Status, r.BusinessStatus)
	}
	// Output:
	// requested acknowledged
	// accepted waitlisted
	// accepted scheduled
	// accepted no-show
	// accepted scheduled
	// in-progress
}

func ExampleEngine_Metrics() {
	ctx := context.Background()
	engine, clinic, foodBank, person, advance := exampleNetwork(lifecycle.Deadlines{})
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, outcome := range []string{"got-help", "", "got-help"} {
		r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
			Person: person, Receiver: foodBank.Organization, Send: true,
			Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
		})
		must(err)
		advance(time.Duration(i+1) * time.Hour)
		if outcome == "" {
			_, err = engine.Decline(ctx, foodBank, r.ID, "no-capacity", "")
			must(err)
			continue
		}
		_, err = engine.Accept(ctx, foodBank, r.ID, "")
		must(err)
		_, err = engine.Complete(ctx, foodBank, r.ID, referral.Outcome{Code: outcome})
		must(err)
	}
	rep, err := engine.Metrics(ctx, clinic, from, from.AddDate(0, 1, 0))
	must(err)
	fmt.Printf("referrals %d, closed %.0f%%, declined for %v, median time to complete %v\n",
		rep.Total, 100*rep.ClosureRate, rep.ByReason[referral.StatusRejected], rep.TimeToComplete.Median)
	// Output: referrals 3, closed 67%, declined for map[no-capacity:1], median time to complete 1h0m0s
}

func ExampleGraph() {
	dot := lifecycle.Graph()
	fmt.Println(strings.HasPrefix(dot, "digraph"), strings.Contains(dot, "in-progress"))
	// Output: true true
}

func ExampleEngine_History() {
	ctx := context.Background()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)
	_, err = engine.Decline(ctx, foodBank, r.ID, "no-capacity", "Full until next month.")
	must(err)

	history, err := engine.History(ctx, clinic, r.ID)
	must(err)
	for _, ev := range history {
		fmt.Println(strings.TrimSpace(fmt.Sprintln(ev.Sequence, ev.Type, ev.From, "→", ev.To, ev.Reason, ev.Note)))
	}
	// Output:
	// 1 created  → requested
	// 2 declined requested → rejected no-capacity Full until next month.
}

func ExampleEngine_List() {
	ctx := context.Background()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	for _, send := range []bool{true, true, false} {
		_, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
			Person: person, Receiver: foodBank.Organization, Send: send,
			Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
		})
		must(err)
	}
	// The food bank's inbox: what was sent to it, one page at a time. The clinic's
	// draft is not visible to it.
	q := lifecycle.ListQuery{Receiver: foodBank.Organization, Statuses: []referral.Status{referral.StatusRequested}}
	q.Page.Limit = 1
	pages := 0
	for {
		page, next, err := engine.List(ctx, foodBank, q)
		must(err)
		pages += len(page)
		if next.IsZero() {
			break
		}
		q.Page.After = next
	}
	fmt.Println(pages, "referrals in the inbox")
	// Output: 2 referrals in the inbox
}

func ExampleEngine_Follow() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	})
	must(err)
	go func() {
		// The food bank's side, some time later.
		_, err := engine.Accept(ctx, foodBank, r.ID, "")
		must(err)
	}()

	// A partner system mirrors the food bank's referrals: it handles the backlog,
	// then is woken by each new event, until it stops following.
	seen := 0
	err = engine.Follow(ctx, foodBank, 0, func(ev referral.Event) error {
		fmt.Println(ev.Sequence, ev.Type)
		if seen++; seen == 2 {
			cancel()
		}
		return nil
	})
	fmt.Println(errors.Is(err, context.Canceled))
	// Output:
	// 1 created
	// 2 accepted
	// true
}

// CreateOnce tells a retried request apart from a new one, so an API can
// answer 201 the first time and 200 after.
func ExampleEngine_CreateOnce() {
	ctx := context.Background()
	engine, clinic, foodBank, person, _ := exampleNetwork(lifecycle.Deadlines{})
	req := lifecycle.CreateRequest{
		Person: person, Receiver: foodBank.Organization, Send: true, IdempotencyKey: "visit-2026-03-02",
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
	}
	first, created, err := engine.CreateOnce(ctx, clinic, req)
	must(err)
	fmt.Println(created)
	again, created, err := engine.CreateOnce(ctx, clinic, req)
	must(err)
	fmt.Println(created, again.ID == first.ID)
	// Output:
	// true
	// false true
}
