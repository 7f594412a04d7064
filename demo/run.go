package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"
	_ "time/tzdata" // the sample's schedules name America/New_York; not every machine has a zone database

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
)

// Options tune Run. The zero value plays the bundled sample for three weeks.
type Options struct {
	// Sample is the network to play; nil plays the bundled one (LoadSample).
	Sample *Sample
	// Start is when the virtual clock starts; zero is Monday 2 March 2026,
	// 09:00 in Columbus.
	Start time.Time
	// Days is how long the receiving organizations' side plays before the
	// report; zero is 21. The deadline sweep runs every morning.
	Days int
	// Instruments screen the sample's people; nil means screening.Default().
	// A sample parsed with a host's registry needs the same one here.
	Instruments *screening.Registry
	// Deadlines are the receivers' response times; the zero value means
	// DefaultDeadlines. A referral whose story is "expire" is expired by the
	// sweep only if the deadlines expire anything within Days.
	Deadlines lifecycle.Deadlines
	// Logger receives the lifecycle's debug records; nil logs nothing.
	Logger *slog.Logger
}

// DefaultDeadlines are the response times the demo network sets its
// receivers: a referral nobody acknowledges is escalated after two days and
// expired three days later.
func DefaultDeadlines() lifecycle.Deadlines {
	return lifecycle.Deadlines{Acknowledge: 48 * time.Hour, Accept: 5 * 24 * time.Hour, ExpireAfter: 72 * time.Hour}
}

// RadiusM is how far from a person the demo looks for services.
const RadiusM = 10_000

// matchLimit is how many candidates one need's search keeps: the first is
// referred to, the rest are where a declined need is redirected.
const matchLimit = 5

// Run plays the sample network end to end on store, on a virtual clock, and
// returns the loop-closure report. It loads the directory into the store and
// follows it with a directory.Index, and keeps capacities with a
// directory.CapacityKeeper (accepts take a place, completions free it), so it
// writes every change to the store once; screens each person with their instruments
// and stores the results; matches every need and sends a referral with the
// person's consent to the best match; plays each receiver's story (acknowledge,
// accept, start, complete with an outcome, or decline with a reason, after
// which the referrer redirects the need to the next match, or ignore it until
// the deadline sweep expires it); then asks the lifecycle for its loop-closure
// metrics. The same sample, start and days give the same report on every store.
// The store must not hold the sample's network already (ErrConflict), and
// must keep a directory feed (storage.DirectoryFeed: every refkit backend
// does; ErrInvalid otherwise).
func Run(ctx context.Context, store storage.Store, opts Options) (*Report, error) {
	if store == nil {
		return nil, fmt.Errorf("demo: %w", referral.Invalid("store", "is required"))
	}
	feed, ok := store.(directoryStore)
	if !ok {
		return nil, fmt.Errorf("demo: %w", referral.Invalid("store", "must keep a directory feed (storage.DirectoryFeed)"))
	}
	if opts.Days < 0 {
		return nil, fmt.Errorf("demo: %w", referral.Invalid("days", "must not be negative"))
	}
	sample := opts.Sample
	if sample == nil {
		var err error
		if sample, err = LoadSample(); err != nil {
			return nil, err
		}
	}
	start := opts.Start
	if start.IsZero() {
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		start = time.Date(2026, 3, 2, 9, 0, 0, 0, ny)
	}
	deadlines := opts.Deadlines
	if deadlines == (lifecycle.Deadlines{}) {
		deadlines = DefaultDeadlines()
	}
	days := opts.Days
	if days == 0 {
		days = 21
	}
	instruments := opts.Instruments
	if instruments == nil {
		instruments = screening.Default()
	}
	p := &play{
		store:       feed,
		sample:      sample,
		instruments: instruments,
		now:         start,
		report: &Report{
			Network: sample.Network.Name, NetworkID: sample.Network.ID,
			Organizations: len(sample.Organizations), Services: len(sample.Services),
			Referrer: sample.Referrer.Name, Start: start, End: start.AddDate(0, 0, days),
		},
		services: make(map[referral.ID]referral.Service, len(sample.Services)),
		orgNames: make(map[referral.ID]string, len(sample.Organizations)+1),
		consents: map[[2]referral.ID]bool{},
	}
	// Seeded, so the ids and therefore the whole report repeat run after run.
	p.ids = referral.NewIDGenerator(p.clock, rand.NewChaCha8([32]byte{'r', 'e', 'f', 'k', 'i', 't'}))
	if err := p.load(ctx); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: p.clock, IDs: p.ids, Deadlines: deadlines, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	p.engine = engine
	p.referrer = referral.Actor{Network: sample.Network.ID, Organization: sample.Referrer.ID, User: "care-coordinator", Role: referral.RoleStaff}
	if err := p.run(ctx, days); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return p.report, nil
}

// directoryStore is what the demo plays on: a store with a directory feed.
type directoryStore interface {
	storage.Store
	storage.DirectoryFeed
}

// play is one run's state: the virtual clock, the scheduled actions of the
// receiving side, and the report being filled in.
type play struct {
	store       directoryStore
	sample      *Sample
	instruments *screening.Registry
	engine      *lifecycle.Engine
	// index follows the directory in the store; keeper moves capacities as
	// referrals are accepted and closed. Both are synced before each match,
	// as a host's running followers would have caught up by then.
	index    *directory.Index
	keeper   *directory.CapacityKeeper
	ids      *referral.IDGenerator
	referrer referral.Actor
	now      time.Time
	agenda   []action
	seq      int
	report   *Report
	services map[referral.ID]referral.Service
	orgNames map[referral.ID]string
	// consents records which (person, organization) pairs have a consent, so a
	// redirect to a new organization asks for one and a second need does not.
	consents map[[2]referral.ID]bool
}

func (p *play) clock() time.Time { return p.now }

// action is something that happens at a moment of virtual time; seq keeps
// actions scheduled for the same moment in the order they were scheduled.
type action struct {
	at  time.Time
	seq int
	do  func(context.Context) error
}

func (p *play) schedule(at time.Time, do func(context.Context) error) {
	p.seq++
	p.agenda = append(p.agenda, action{at: at, seq: p.seq, do: do})
}

// load writes the sample into the store and builds the matching index from
// the store, following it from then on, as a host would after an import.
func (p *play) load(ctx context.Context) error {
	s := p.sample
	if _, err := p.store.GetNetwork(ctx, s.Network.ID); err == nil {
		return fmt.Errorf("the store already holds the sample network: %w", referral.ErrConflict)
	} else if !errors.Is(err, referral.ErrNotFound) {
		return err
	}
	if err := s.Load(ctx, p.store); err != nil {
		return err
	}
	for _, o := range append([]referral.Organization{s.Referrer}, s.Organizations...) {
		p.orgNames[o.ID] = o.Name
	}
	services, err := storage.AllServices(ctx, p.store, s.Network.ID)
	if err != nil {
		return err
	}
	for _, sv := range services {
		p.services[sv.ID] = sv
	}
	ix, err := directory.NewIndex(ctx, p.store, s.Network.ID, directory.IndexOptions{Matching: matching.Options{Now: p.clock}})
	if err != nil {
		return err
	}
	keeper, err := directory.NewCapacityKeeper(p.store, s.Network.ID, directory.KeeperOptions{})
	if err != nil {
		return err
	}
	p.index, p.keeper = ix, keeper
	return nil
}

// catchUp applies the capacity changes the referrals made so far and every
// directory change to the index.
func (p *play) catchUp(ctx context.Context) error {
	if _, err := p.keeper.Sync(ctx); err != nil {
		return err
	}
	_, err := p.index.Sync(ctx)
	return err
}

func (p *play) run(ctx context.Context, days int) error {
	// The clinic sees one person every 45 minutes and refers them at once.
	for i, person := range p.sample.People {
		at := p.report.Start.Add(time.Duration(i) * 45 * time.Minute)
		p.schedule(at, func(ctx context.Context) error { return p.visit(ctx, person) })
	}
	// The network's deadline sweep runs every morning.
	for d := 1; d <= days; d++ {
		at := p.report.Start.AddDate(0, 0, d).Add(-2 * time.Hour)
		p.schedule(at, p.sweep)
	}
	for len(p.agenda) > 0 {
		i := 0
		for j, a := range p.agenda {
			if a.at.Before(p.agenda[i].at) || a.at.Equal(p.agenda[i].at) && a.seq < p.agenda[i].seq {
				i = j
			}
		}
		next := p.agenda[i]
		p.agenda = slices.Delete(p.agenda, i, i+1)
		if next.at.After(p.report.End) {
			continue
		}
		p.now = next.at
		if err := next.do(ctx); err != nil {
			return err
		}
	}
	p.now = p.report.End
	return p.finish(ctx)
}

// visit screens one person, stores the results and refers every need found.
func (p *play) visit(ctx context.Context, sp Person) error {
	person := sp.Person
	if err := p.store.PutPerson(ctx, person); err != nil {
		return fmt.Errorf("person %s: %w", person.ID, err)
	}
	pr := PersonReport{Person: person.ID, Name: person.GivenName + " " + person.FamilyName}
	var needs []referral.Need
	for _, id := range sp.instruments() {
		in, err := p.instruments.Lookup(id)
		if err != nil {
			return err
		}
		resp, err := screening.ParseAnswers(in, sp.Answers[id])
		if err != nil {
			return fmt.Errorf("person %s, %s: %w", person.ID, id, err)
		}
		res := resp.Score()
		sc := res.Screening(p.ids.MustNew(), person.Network, person.ID, p.now)
		if err := p.store.PutScreening(ctx, sc); err != nil {
			return fmt.Errorf("screening %s: %w", sc.ID, err)
		}
		pr.Screenings = append(pr.Screenings, ScreeningReport{
			Instrument: id, Total: sc.Total, Band: sc.Band, Valid: sc.Valid,
			PositiveDomains: sc.PositiveDomains, Flags: sc.Flags,
		})
		needs = mergeNeeds(needs, sc.Needs)
	}
	pr.Needs = needs
	p.report.People = append(p.report.People, pr)
	for _, need := range needs {
		if err := p.refer(ctx, sp, need, referral.ID{}, sp.Story[need.Domain]); err != nil {
			return err
		}
	}
	return nil
}

// mergeNeeds adds found needs to have, keeping one need per domain at the
// most pressing urgency, most pressing first.
func mergeNeeds(have, found []referral.Need) []referral.Need {
	for _, n := range found {
		i := slices.IndexFunc(have, func(h referral.Need) bool { return h.Domain == n.Domain })
		switch {
		case i < 0:
			have = append(have, n)
		case n.Urgency.Rank() > have[i].Urgency.Rank():
			have[i] = n
		}
	}
	slices.SortStableFunc(have, func(a, b referral.Need) int { return b.Urgency.Rank() - a.Urgency.Rank() })
	return have
}

// refer matches one need and refers it to the best service whose organization
// has not already declined it (replaces, when redirecting), with the person's
// consent, and schedules the receiver's story.
func (p *play) refer(ctx context.Context, sp Person, need referral.Need, replaces referral.ID, story Story) error {
	person := sp.Person
	declined := p.declinedBy(replaces)
	if err := p.catchUp(ctx); err != nil {
		return err
	}
	res, err := p.index.Match(ctx, matching.Request{
		Person: person, Needs: []referral.Need{need}, RadiusM: RadiusM,
		Limit: matchLimit + len(declined), Full: matching.Exclude, AsOf: p.now,
	})
	if err != nil {
		return fmt.Errorf("match person %s, %s: %w", person.ID, need.Domain, err)
	}
	var m *matching.Match
	for i := range res.Matches {
		org := p.services[res.Matches[i].Service].Organization
		if !slices.Contains(declined, org) && org != p.referrer.Organization {
			m = &res.Matches[i]
			break
		}
	}
	if m == nil {
		p.report.Unmet = append(p.report.Unmet, UnmetNeed{Person: person.ID, Name: p.personName(person.ID), Domain: need.Domain, Redirect: !replaces.IsZero()})
		return nil
	}
	svc := p.services[m.Service]
	if err := p.consent(ctx, person.ID, svc.Organization); err != nil {
		return err
	}
	key := fmt.Sprintf("demo-%s-%s", person.ID, need.Domain)
	if !replaces.IsZero() {
		key += "-after-" + replaces.String()
	}
	r, err := p.engine.Create(ctx, p.referrer, lifecycle.CreateRequest{
		Person: person.ID, Needs: []referral.Need{need}, Receiver: svc.Organization,
		Service: svc.ID, Location: m.Location, Send: true, IdempotencyKey: key, Replaces: replaces,
	})
	if err != nil {
		return fmt.Errorf("refer person %s, %s: %w", person.ID, need.Domain, err)
	}
	p.report.Referrals = append(p.report.Referrals, ReferralReport{
		Referral: r.ID, Person: person.ID, Name: p.personName(person.ID), Domain: need.Domain, Urgency: need.Urgency,
		Service: svc.ID, ServiceName: svc.Name, Receiver: svc.Organization, ReceiverName: p.orgNames[svc.Organization],
		DistanceM: m.DistanceM, Area: m.Area, Score: m.Score, Reasons: m.Reasons, Replaces: replaces,
	})
	p.story(sp, r, story)
	return nil
}

// declinedBy lists the organizations that declined the chain of referrals
// ending in id, so a redirect does not go back to any of them.
func (p *play) declinedBy(id referral.ID) []referral.ID {
	var orgs []referral.ID
	for !id.IsZero() {
		i := slices.IndexFunc(p.report.Referrals, func(r ReferralReport) bool { return r.Referral == id })
		if i < 0 {
			break
		}
		orgs = append(orgs, p.report.Referrals[i].Receiver)
		id = p.report.Referrals[i].Replaces
	}
	return orgs
}

func (p *play) personName(id referral.ID) string {
	for _, pr := range p.report.People {
		if pr.Person == id {
			return pr.Name
		}
	}
	return ""
}

// consent records, once per organization, the person's consent to share their
// referral with it, as the clinic would have them sign at the visit.
func (p *play) consent(ctx context.Context, person, org referral.ID) error {
	if p.consents[[2]referral.ID{person, org}] {
		return nil
	}
	c := referral.Consent{
		ID: p.ids.MustNew(), Network: p.sample.Network.ID, Person: person, Grantee: org,
		Scope: referral.ScopeReferral, Period: referral.Period{Start: p.now, End: p.now.AddDate(1, 0, 0)},
	}
	if err := p.store.PutConsent(ctx, c); err != nil {
		return fmt.Errorf("consent %s: %w", c.ID, err)
	}
	p.consents[[2]referral.ID{person, org}] = true
	return nil
}

// story schedules what the receiver does with r. Response times vary with the
// referral's position, so the report's medians are not all one number.
func (p *play) story(sp Person, r referral.Referral, story Story) {
	if story == "" {
		story = StoryComplete
	}
	intake := referral.Actor{Network: r.Network, Organization: r.Receiver, User: "intake", Role: referral.RoleStaff}
	k := time.Duration(len(p.report.Referrals) % 4)
	sent := p.now
	at := func(d time.Duration) time.Time { return sent.Add(d) }
	ack := func(ctx context.Context) error { _, err := p.engine.Acknowledge(ctx, intake, r.ID); return err }
	accept := func(ctx context.Context) error {
		_, err := p.engine.Accept(ctx, intake, r.ID, "Intake appointment booked.")
		return err // the capacity keeper takes the place
	}
	start := func(ctx context.Context) error { _, err := p.engine.Start(ctx, intake, r.ID); return err }
	// The receiver acts only on a referral still open: with tight deadlines the
	// sweep may have expired it first, as it would a real slow receiver's.
	open := func(do func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			cur, err := p.engine.Get(ctx, intake, r.ID)
			if err != nil {
				return err
			}
			if cur.Status.Terminal() {
				return nil
			}
			return do(ctx)
		}
	}
	ack, accept, start = open(ack), open(accept), open(start)
	switch story {
	case StoryComplete, StoryInProgress:
		p.schedule(at(2*time.Hour+k*45*time.Minute), ack)
		p.schedule(at(20*time.Hour+k*6*time.Hour), accept)
		p.schedule(at(3*24*time.Hour+k*12*time.Hour), start)
		if story == StoryComplete {
			p.schedule(at(6*24*time.Hour+k*20*time.Hour), open(func(ctx context.Context) error {
				outcome := referral.Outcome{Code: "got-help", Note: "Service delivered; the person confirmed it helped."}
				_, err := p.engine.Complete(ctx, intake, r.ID, outcome)
				return err // the capacity keeper frees the place
			}))
		}
	case StoryExpire:
		// Nobody at the receiver ever opens it: the sweep escalates it at the
		// acknowledge deadline and expires it ExpireAfter later.
	default:
		reason, _ := story.Decline()
		p.schedule(at(90*time.Minute+k*30*time.Minute), ack)
		p.schedule(at(5*time.Hour+k*time.Hour), open(func(ctx context.Context) error {
			if _, err := p.engine.Decline(ctx, intake, r.ID, reason, "Declined at intake."); err != nil {
				return err
			}
			if reason == "no-capacity" {
				// The receiver publishes that it is full, so matching stops
				// offering it to anyone.
				if err := p.setCapacity(ctx, r.Service, 0); err != nil {
					return err
				}
			}
			// The care coordinator sees the decline in the feed an hour later
			// and redirects the need to the next match.
			p.schedule(p.now.Add(time.Hour), func(ctx context.Context) error {
				return p.refer(ctx, sp, r.Needs[0], r.ID, StoryComplete)
			})
			return nil
		}))
	}
}

func (p *play) sweep(ctx context.Context) error {
	res, err := p.engine.Sweep(ctx, p.now)
	if err != nil {
		return err
	}
	p.report.Sweep.Escalated += res.Escalated
	p.report.Sweep.Expired += res.Expired
	p.report.Sweep.Skipped += res.Skipped
	return nil
}

// setCapacity publishes a service's open slots to the store, once: the index
// follows the store.
func (p *play) setCapacity(ctx context.Context, service referral.ID, available int) error {
	svc, err := p.store.GetService(ctx, p.sample.Network.ID, service)
	if err != nil {
		return fmt.Errorf("service %s: %w", service, err)
	}
	c := referral.Capacity{Available: available, Updated: p.now}
	if svc.Capacity != nil {
		c.Waitlist = svc.Capacity.Waitlist
	}
	if err := p.store.SetCapacity(ctx, svc.Network, service, &c); err != nil {
		return fmt.Errorf("service %s: %w", service, err)
	}
	return nil
}

// finish reads every referral's final state and the lifecycle's loop-closure
// report, as the referring clinic sees them.
func (p *play) finish(ctx context.Context) error {
	if err := p.sweep(ctx); err != nil {
		return err
	}
	for i := range p.report.Referrals {
		rr := &p.report.Referrals[i]
		r, err := p.engine.Get(ctx, p.referrer, rr.Referral)
		if err != nil {
			return err
		}
		// Stores may hand times back in UTC; the report speaks the clinic's zone.
		loc := p.report.Start.Location()
		rr.Status, rr.Reason, rr.Sent = r.Status, r.Reason, r.Sent.In(loc)
		if !r.Closed.IsZero() {
			rr.Closed = r.Closed.In(loc)
		}
		if r.Outcome != nil {
			rr.Outcome = r.Outcome.Code
		}
		history, err := p.engine.History(ctx, p.referrer, r.ID)
		if err != nil {
			return err
		}
		rr.Events = len(history)
	}
	loop, err := p.engine.Metrics(ctx, p.referrer, p.report.Start, p.report.End.Add(time.Second))
	if err != nil {
		return err
	}
	p.report.Loop = loop
	return nil
}
