package simulation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// unlimitedWaitlist is the waitlist room published to the matcher for a service
// whose waitlist has no limit: the matcher only distinguishes open, waitlist and
// full, so any positive number says "waitlist open".
const unlimitedWaitlist = math.MaxInt32

// Unmet-need reasons besides the final reason of the need's last referral.
const (
	UnmetNotScreened = "not-screened"
	UnmetNoMatch     = "no-match"
)

// sim is one replication: its own store, lifecycle engine, matcher and random
// streams, driven by one goroutine.
type sim struct {
	ctx   context.Context
	sc    *Scenario
	start time.Time
	now   time.Time
	clock int64 // ns since start, mirrors now
	end   int64 // arrivals stop
	stop  int64 // hard stop after draining
	warm  int64
	q     queue

	arrivals, people, screens, partners, services *rand.Rand

	store   *memory.Store
	eng     *lifecycle.Engine
	ix      *matching.Index
	network referral.ID
	system  referral.Actor

	sites    []siteState
	svcs     []svcState
	svcByID  map[referral.ID]int32
	persons  []referral.Person
	points   []referral.Point
	screener *screener
	cells    map[int32]h3.Cell

	refs    []ref
	eps     []episode
	open    int
	dirty   []int32
	changes []matching.Change
	needBuf [1]referral.Need
	// refreshAt is when the index next takes capacity changes, with a refresh
	// interval.
	refreshAt int64
	due       dueHeap

	m        repMetrics
	progress func(float64)
	events   uint64
}

type siteState struct {
	actor referral.Actor
	rate  float64 // peak arrivals per ns
	site  *Site
}

type svcState struct {
	id, loc     referral.ID
	actor       referral.Actor
	name        string
	listed      bool // named in the scenario (reported even if never referred to)
	slots       int  // 0: unlimited
	waitLimit   int  // -1: unlimited
	busy        int
	queue       []int32
	head        int
	free        []int32 // free slot numbers
	class       int8    // the capacity class the index has
	dirty       bool    // queued for an index update
	partner     *Partners
	serviceTime *Dist
	// measures within the window [warmup, duration]
	busyNs   float64
	lastT    int64
	waitNs   float64
	waitN    int
	referred int
	served   int
	maxBusy  int
}

type ref struct {
	id       referral.ID
	ep       int32
	svc      int32
	slot     int32
	status   referral.Status
	reason   string
	distKM   float64
	queuedAt int64
	// Times are stamps (see stamp): a million referrals' times then hold no
	// pointers for the collector to follow and take a third of the memory.
	deadline  int64
	milestone [4]int64 // sent, acknowledged, accepted, closed
	created   int64
}

// stamp is a time as Unix nanoseconds, 0 for the zero time: simulated times
// are years away from 1970, so no real time stamps to 0.
func stamp(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

type episode struct {
	person   int32
	need     referral.Need
	tried    []int32
	last     int32 // last referral, -1 for none
	site     int32 // the site that refers it
	attempts int
}

// newSim builds a replication's world: the store with the network, the sites'
// and services' organizations, the people, and the matcher over the directory.
func newSim(ctx context.Context, sc *Scenario, seed uint64) (*sim, error) {
	s := &sim{
		ctx: ctx, sc: sc, start: sc.Start.UTC(), svcByID: map[referral.ID]int32{}, cells: map[int32]h3.Cell{},
		arrivals: rand.New(rand.NewPCG(seed, 1)), people: rand.New(rand.NewPCG(seed, 2)),
		screens: rand.New(rand.NewPCG(seed, 3)), partners: rand.New(rand.NewPCG(seed, 4)),
		services: rand.New(rand.NewPCG(seed, 5)),
	}
	s.now = s.start
	s.end = int64(sc.Duration)
	s.warm = int64(sc.Warmup)
	drain := time.Duration(sc.Drain)
	if drain == 0 {
		drain = 365 * 24 * time.Hour
	}
	s.stop = s.end + int64(drain)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	ids := referral.NewIDGenerator(s.clockNow, rand.NewChaCha8(key))
	s.store = memory.New()
	eng, err := lifecycle.New(s.store, s.store, lifecycle.Options{
		Now: s.clockNow, IDs: ids, ImpliedConsent: true,
		Deadlines: lifecycle.Deadlines{
			Acknowledge: time.Duration(sc.Policy.AcknowledgeWithin), Accept: time.Duration(sc.Policy.AcceptWithin),
			ExpireAfter: time.Duration(sc.Policy.ExpireAfter),
		},
	})
	if err != nil {
		return nil, err
	}
	s.eng = eng
	network := referral.Network{ID: ids.MustNew(), Name: "simulation", Created: s.start}
	if sc.Name != "" {
		network.Name = sc.Name
	}
	s.network = network.ID
	s.system = referral.Actor{Network: network.ID, Role: referral.RoleSystem, User: "simulation"}
	if err := s.store.PutNetwork(ctx, network); err != nil {
		return nil, err
	}
	org := func(name string) (referral.Actor, error) {
		o := referral.Organization{ID: ids.MustNew(), Network: network.ID, Name: name, Created: s.start}
		if err := s.store.PutOrganization(ctx, o); err != nil {
			return referral.Actor{}, err
		}
		return referral.Actor{Network: network.ID, Organization: o.ID, User: "simulation", Role: referral.RoleStaff}, nil
	}
	for i := range sc.Sites {
		site := &sc.Sites[i]
		a, err := org(site.Name)
		if err != nil {
			return nil, err
		}
		peak := 1.0
		if len(site.Hourly) > 0 {
			peak = 0
			for _, m := range site.Hourly {
				peak = max(peak, m)
			}
		}
		s.sites = append(s.sites, siteState{actor: a, rate: site.RatePerDay * peak / float64(24*time.Hour), site: site})
	}
	services, err := s.directory(ids, org)
	if err != nil {
		return nil, err
	}
	s.ix, err = matching.New(ctx, services, matching.Options{Now: s.clockNow, Weights: sc.Policy.Weights})
	if err != nil {
		return nil, err
	}
	in, err := instrument(sc.Screening.Instrument)
	if err != nil {
		return nil, err
	}
	am, err := newAnswerModel(in, &sc.Screening)
	if err != nil {
		return nil, err
	}
	s.screener = newScreener(am)
	if err := s.populate(ids); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *sim) clockNow() time.Time { return s.now }

// directory puts the scenario's services (and the synthetic directory) in the
// store and returns them for the matcher.
func (s *sim) directory(ids *referral.IDGenerator, org func(string) (referral.Actor, error)) ([]referral.Service, error) {
	size := len(s.sc.Services)
	if sy := s.sc.Synthetic; sy != nil {
		size += sy.Locations // at least one location per service: an upper bound
	}
	out := make([]referral.Service, 0, size)
	s.svcs = make([]svcState, 0, size)
	s.svcByID = make(map[referral.ID]int32, size)
	add := func(svc referral.Service, actor referral.Actor, st svcState) error {
		if err := s.store.PutService(s.ctx, svc); err != nil {
			return err
		}
		st.id, st.actor, st.lastT = svc.ID, actor, s.warm
		if len(svc.Locations) > 0 {
			st.loc = svc.Locations[0].ID
		}
		for k := st.slots - 1; k >= 0; k-- {
			st.free = append(st.free, int32(k))
		}
		// The index starts with the capacity the simulation publishes.
		svc.Capacity = st.capacity()
		st.class = classOf(svc.Capacity)
		s.svcByID[svc.ID] = int32(len(s.svcs))
		s.svcs = append(s.svcs, st)
		out = append(out, svc)
		return nil
	}
	for i := range s.sc.Services {
		spec := &s.sc.Services[i]
		actor, err := org(spec.Name)
		if err != nil {
			return nil, err
		}
		svc := referral.Service{
			ID: ids.MustNew(), Network: s.network, Organization: actor.Organization, Name: spec.Name,
			Status: referral.ServiceActive, Domains: spec.Domains, Eligibility: spec.Eligibility,
			MinimumAge: spec.MinimumAge, MaximumAge: spec.MaximumAge, Languages: spec.Languages,
			Locations: []referral.Location{{ID: ids.MustNew(), Name: spec.Name, Latitude: spec.Latitude, Longitude: spec.Longitude}},
			Created:   s.start, Updated: s.start,
		}
		st := svcState{name: spec.Name, listed: true, waitLimit: -1, partner: &s.sc.Partners, serviceTime: &spec.ServiceTime}
		if spec.Partner != nil {
			st.partner = spec.Partner
		}
		if c := spec.Capacity; c != nil {
			st.slots = c.Slots
			if c.Waitlist != nil {
				st.waitLimit = *c.Waitlist
			}
		}
		if err := add(svc, actor, st); err != nil {
			return nil, fmt.Errorf("services[%d]: %w", i, err)
		}
	}
	if sy := s.sc.Synthetic; sy != nil {
		for _, svc := range synth.Directory(sy.Seed, sy.Locations) {
			o := referral.Organization{ID: svc.Organization, Network: s.network, Name: "synthetic", Created: s.start}
			if err := s.store.PutOrganization(s.ctx, o); err != nil {
				return nil, err
			}
			svc.Network = s.network
			st := svcState{name: "synthetic " + svc.ID.String(), waitLimit: -1, partner: &s.sc.Partners, serviceTime: &sy.ServiceTime}
			if svc.Capacity != nil {
				st.slots, st.waitLimit = svc.Capacity.Available+1, svc.Capacity.Waitlist
			}
			actor := referral.Actor{Network: s.network, Organization: svc.Organization, User: "simulation", Role: referral.RoleStaff}
			if err := add(svc, actor, st); err != nil {
				return nil, fmt.Errorf("synthetic_directory: %w", err)
			}
		}
	}
	return out, nil
}

// capacity is what the service publishes now.
func (st *svcState) capacity() *referral.Capacity {
	if st.slots == 0 {
		return nil
	}
	c := &referral.Capacity{Available: st.slots - st.busy}
	switch {
	case st.waitLimit < 0:
		c.Waitlist = unlimitedWaitlist
	default:
		c.Waitlist = max(0, st.waitLimit-(len(st.queue)-st.head))
	}
	return c
}

// Capacity classes, as the matcher distinguishes them.
func classOf(c *referral.Capacity) int8 {
	switch {
	case c == nil:
		return 0
	case c.Available > 0:
		return 1
	case c.Waitlist > 0:
		return 2
	}
	return 3
}

// populate draws the people and stores them.
func (s *sim) populate(ids *referral.IDGenerator) error {
	p := &s.sc.Population
	r := s.people
	s.persons = make([]referral.Person, p.Size)
	s.points = make([]referral.Point, p.Size)
	var guideline matching.Guideline
	if p.FPLPercent != nil {
		g, ok := matching.DefaultGuidelines().At(s.start)
		if !ok {
			return referral.Invalid("start", "precedes the poverty guidelines fpl_percent needs")
		}
		guideline = g
	}
	centres := make(choices, len(p.Centres))
	for i, c := range p.Centres {
		centres[i] = Choice{Weight: c.Weight}
	}
	langs := make(choices, len(p.Languages))
	for i, l := range p.Languages {
		langs[i] = Choice{Weight: l.Weight}
	}
	for i := range s.persons {
		var pl placement
		if len(s.sc.points) > 0 {
			pl = s.sc.points[r.IntN(len(s.sc.points))]
		} else {
			c := &p.Centres[centres.pick(r)]
			dlat := c.SDKM * r.NormFloat64() / 111.32
			dlon := c.SDKM * r.NormFloat64() / (111.32 * math.Max(0.01, math.Cos(c.Latitude*math.Pi/180)))
			pl = placement{lat: clamp(c.Latitude+dlat, -89.9, 89.9), lon: wrapLon(c.Longitude + dlon), state: c.State, county: c.County, zip: c.Zip}
		}
		s.points[i] = referral.Point{Latitude: pl.lat, Longitude: pl.lon}
		age := int(p.Age.draw(r))
		birth := s.start.AddDate(-age, 0, -r.IntN(365)-1)
		hh := max(1, int(math.Round(p.HouseholdSize.draw(r))))
		person := referral.Person{
			ID: ids.MustNew(), Network: s.network, BirthDate: referral.DateOf(birth), HouseholdSize: hh,
			Location: &s.points[i], State: pl.state, County: pl.county, Zip: pl.zip, Created: s.start, Updated: s.start,
		}
		switch {
		case p.FPLPercent != nil:
			region, ok := matching.RegionOf(pl.state)
			if !ok {
				region = matching.Contiguous
			}
			inc := math.Round(p.FPLPercent.draw(r) / 100 * guideline.Regions[region].For(hh))
			person.IncomeAnnual = &inc
		case p.IncomeAnnual != nil:
			inc := math.Round(p.IncomeAnnual.draw(r))
			person.IncomeAnnual = &inc
		}
		if k := langs.pick(r); k >= 0 {
			person.Languages = p.Languages[k].Languages
		}
		if k := choices(p.Insurance).pick(r); k >= 0 {
			person.Insurance = p.Insurance[k].Value
		}
		person.Veteran = referral.Known(r.Float64() < p.Veteran)
		person.Disabled = referral.Known(r.Float64() < p.Disabled)
		person.Pregnant = referral.Known(r.Float64() < p.Pregnant)
		if err := s.store.PutPerson(s.ctx, person); err != nil {
			return fmt.Errorf("population: %w", err)
		}
		s.persons[i] = person
	}
	return nil
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func wrapLon(v float64) float64 {
	for v > 180 {
		v -= 360
	}
	for v < -180 {
		v += 360
	}
	return v
}

// setClock moves the virtual clock to t (ns since start).
func (s *sim) setClock(t int64) {
	s.clock = t
	s.now = s.start.Add(time.Duration(t))
}

func (s *sim) after(d time.Duration, kind uint8, arg int32) {
	s.q.push(s.clock+max(0, int64(d)), kind, arg)
}

// run drives the replication until the queue empties or the drain ends.
func (s *sim) run() error {
	for i := range s.sites {
		s.nextArrival(int32(i))
	}
	if every := int64(s.sc.Policy.SweepEvery); every > 0 && (s.sc.Policy.AcknowledgeWithin > 0 || s.sc.Policy.AcceptWithin > 0) {
		s.q.push(every, evSweep, 0)
	}
	for s.q.len() > 0 {
		e := s.q.pop()
		if e.at > s.stop {
			break
		}
		s.setClock(e.at)
		var err error
		switch e.kind {
		case evArrival:
			err = s.arrive(e.arg)
		case evAcknowledge:
			err = s.acknowledge(e.arg)
		case evDecide:
			err = s.decide(e.arg)
		case evContact:
			err = s.contact(e.arg)
		case evFinish:
			err = s.finish(e.arg)
		case evSweep:
			err = s.sweep()
		}
		if err != nil {
			return err
		}
		s.events++
		if s.events&0xfff == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
			if s.progress != nil {
				s.progress(math.Min(1, float64(s.clock)/float64(s.end)))
			}
		}
	}
	s.setClock(max(s.clock, s.end))
	for i := range s.svcs {
		s.svcs[i].account(s)
	}
	return nil
}

// nextArrival schedules a site's next arrival: a Poisson process at the peak rate,
// thinned by the hour-of-day profile.
func (s *sim) nextArrival(site int32) {
	st := &s.sites[site]
	t := s.clock
	for {
		t += int64(s.arrivals.ExpFloat64() / st.rate)
		if t >= s.end {
			return
		}
		h := st.site.Hourly
		if len(h) == 0 {
			break
		}
		peak := 0.0
		for _, m := range h {
			peak = max(peak, m)
		}
		hour := s.start.Add(time.Duration(t)).Hour()
		if s.arrivals.Float64()*peak < h[hour] {
			break
		}
	}
	s.q.push(t, evArrival, site)
}

func (s *sim) arrive(site int32) error {
	s.nextArrival(site)
	p := int32(s.people.IntN(len(s.persons)))
	screened := s.screens.Float64() < s.sc.Screening.Coverage
	needs := s.screener.screen(s.screens)
	s.m.arrivals++
	if screened {
		s.m.screened++
	}
	for _, n := range needs {
		if !screened {
			s.unmet(p, n.Domain, UnmetNotScreened)
			continue
		}
		s.m.needs++
		s.eps = append(s.eps, episode{person: p, need: n, last: -1, site: site})
		if err := s.refer(int32(len(s.eps)-1), site); err != nil {
			return err
		}
	}
	return nil
}

// refer matches an episode's need and refers it to the best service not yet tried.
func (s *sim) refer(ep int32, site int32) error {
	if err := s.flushCapacity(); err != nil {
		return err
	}
	e := &s.eps[ep]
	s.needBuf[0] = e.need
	pol := &s.sc.Policy
	res, err := s.ix.Match(s.ctx, matching.Request{
		Person: s.persons[e.person], Needs: s.needBuf[:], RadiusM: pol.RadiusKM * 1000, Limit: pol.Limit,
		Full: pol.WhenFull, AsOf: s.now,
	})
	if err != nil {
		return fmt.Errorf("match: %w", err)
	}
	pick, k := -1, int32(-1)
	for i := range res.Matches {
		j, ok := s.svcByID[res.Matches[i].Service]
		if ok && !containsInt32(e.tried, j) {
			pick, k = i, j
			break
		}
	}
	if pick < 0 {
		reason := UnmetNoMatch
		if e.last >= 0 {
			reason = s.refs[e.last].reason
		}
		s.unmet(e.person, e.need.Domain, reason)
		return nil
	}
	mt := &res.Matches[pick]
	e.tried = append(e.tried, k)
	sender := s.sites[site].actor
	req := lifecycle.CreateRequest{
		Person: s.persons[e.person].ID, Needs: s.needBuf[:], Receiver: s.svcs[k].actor.Organization,
		Service: mt.Service, Location: mt.Location, Send: true,
	}
	if e.last >= 0 {
		req.Replaces = s.refs[e.last].id
		s.m.rereferrals++
	}
	r, err := s.eng.Create(s.ctx, sender, req)
	if err != nil {
		return fmt.Errorf("create referral: %w", err)
	}
	rf := ref{id: r.ID, ep: ep, svc: k, slot: -1, created: stamp(r.Created)}
	if mt.DistanceM != nil {
		rf.distKM = *mt.DistanceM / 1000
	}
	s.refs = append(s.refs, rf)
	ri := int32(len(s.refs) - 1)
	s.record(ri, r)
	e.last = ri
	e.attempts++
	s.open++
	s.svcs[k].referred++
	s.after(s.svcs[k].partner.AcknowledgeAfter.hours(s.partners), evAcknowledge, ri)
	return nil
}

func containsInt32(xs []int32, x int32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// record copies what the engine returned into the replication's view.
func (s *sim) record(ri int32, r referral.Referral) {
	rf := &s.refs[ri]
	rf.status, rf.reason = r.Status, r.Reason
	rf.milestone = [4]int64{stamp(r.Sent), stamp(r.Acknowledged), stamp(r.Accepted), stamp(r.Closed)}
	if next := stamp(r.NextDeadline); next != rf.deadline {
		rf.deadline = next
		if rf.deadline != 0 {
			s.due.push(dueEntry{at: rf.deadline, ref: ri})
		}
	}
	if r.Status.Terminal() {
		s.open--
	}
}

// do runs a lifecycle command as the receiving organization.
func (s *sim) do(ri int32, t lifecycle.Trigger, cmd lifecycle.Command) error {
	rf := &s.refs[ri]
	r, err := s.eng.Do(s.ctx, s.svcs[rf.svc].actor, rf.id, t, cmd)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	s.record(ri, r)
	return nil
}

func (s *sim) acknowledge(ri int32) error {
	if s.refs[ri].status != referral.StatusRequested {
		return nil // expired meanwhile
	}
	if err := s.do(ri, lifecycle.TriggerAcknowledge, lifecycle.Command{}); err != nil {
		return err
	}
	s.after(s.svcs[s.refs[ri].svc].partner.DecideAfter.hours(s.partners), evDecide, ri)
	return nil
}

func (s *sim) decide(ri int32) error {
	rf := &s.refs[ri]
	if rf.status != referral.StatusRequested || rf.milestone[1] == 0 {
		return nil // not acknowledged: expired meanwhile
	}
	st := &s.svcs[rf.svc]
	reason := ""
	if st.slots > 0 && st.busy >= st.slots && st.waitLimit >= 0 && len(st.queue)-st.head >= st.waitLimit {
		reason = "no-capacity"
	} else {
		x := s.partners.Float64()
		for _, d := range st.partner.Decline {
			if x < d.P {
				reason = d.Reason
				break
			}
			x -= d.P
		}
	}
	if reason != "" {
		if err := s.do(ri, lifecycle.TriggerDecline, lifecycle.Command{Reason: reason}); err != nil {
			return err
		}
		return s.rerefer(ri)
	}
	if err := s.do(ri, lifecycle.TriggerAccept, lifecycle.Command{}); err != nil {
		return err
	}
	s.after(st.partner.ContactAfter.hours(s.partners), evContact, ri)
	return nil
}

// rerefer sends a declined or expired referral's need to the next service, or
// counts it unmet once the policy's re-referrals are used up.
func (s *sim) rerefer(ri int32) error {
	rf := &s.refs[ri]
	e := &s.eps[rf.ep]
	if e.attempts > s.sc.Policy.MaxRereferrals {
		s.unmet(e.person, e.need.Domain, rf.reason)
		return nil
	}
	return s.refer(rf.ep, e.site)
}

func (s *sim) contact(ri int32) error {
	rf := &s.refs[ri]
	if rf.status != referral.StatusAccepted {
		return nil
	}
	st := &s.svcs[rf.svc]
	if s.partners.Float64() >= st.partner.Reach {
		return s.fail(ri, "unable-to-contact")
	}
	rf.queuedAt = s.clock
	if st.slots == 0 || st.busy < st.slots {
		return s.begin(ri)
	}
	if st.waitLimit >= 0 && len(st.queue)-st.head >= st.waitLimit {
		return s.fail(ri, "no-capacity")
	}
	if err := s.do(ri, lifecycle.TriggerHold, lifecycle.Command{Reason: "waitlisted"}); err != nil {
		return err
	}
	st.queue = append(st.queue, ri)
	s.capacityChanged(rf.svc)
	return nil
}

func (s *sim) fail(ri int32, reason string) error {
	if err := s.do(ri, lifecycle.TriggerFail, lifecycle.Command{Reason: reason}); err != nil {
		return err
	}
	e := &s.eps[s.refs[ri].ep]
	s.unmet(e.person, e.need.Domain, reason)
	return nil
}

// begin gives a free slot to a referral that reached the front, unless the
// person does not show up.
func (s *sim) begin(ri int32) error {
	rf := &s.refs[ri]
	st := &s.svcs[rf.svc]
	show := 1 - st.partner.NoShow
	if ft := st.partner.FollowThrough; ft != nil {
		show *= ft.Base * math.Exp2(-rf.distKM/ft.HalfDistanceKM)
	}
	if s.partners.Float64() >= show {
		return s.fail(ri, "no-show")
	}
	t := lifecycle.TriggerStart
	if rf.status == referral.StatusOnHold {
		t = lifecycle.TriggerResume
	}
	if err := s.do(ri, t, lifecycle.Command{}); err != nil {
		return err
	}
	st.account(s)
	st.busy++
	st.maxBusy = max(st.maxBusy, st.busy)
	if st.slots > 0 {
		if st.busy > st.slots || len(st.free) == 0 {
			return fmt.Errorf("service %d: slot used twice: %w", rf.svc, errSlot)
		}
		rf.slot = st.free[len(st.free)-1]
		st.free = st.free[:len(st.free)-1]
	}
	if rf.queuedAt >= s.warm && rf.queuedAt < s.end {
		st.waitNs += float64(s.clock - rf.queuedAt)
		st.waitN++
	}
	s.capacityChanged(rf.svc)
	s.after(st.serviceTime.hours(s.services), evFinish, ri)
	return nil
}

var errSlot = errors.New("simulation: capacity invariant broken")

func (s *sim) finish(ri int32) error {
	rf := &s.refs[ri]
	st := &s.svcs[rf.svc]
	if err := s.do(ri, lifecycle.TriggerComplete, lifecycle.Command{Outcome: &referral.Outcome{Code: "got-help"}}); err != nil {
		return err
	}
	st.account(s)
	st.busy--
	if rf.slot >= 0 {
		st.free = append(st.free, rf.slot)
	}
	st.served++
	for st.head < len(st.queue) && (st.slots == 0 || st.busy < st.slots) {
		next := st.queue[st.head]
		st.head++
		if st.head > 1024 && st.head*2 > len(st.queue) {
			st.queue = append(st.queue[:0], st.queue[st.head:]...)
			st.head = 0
		}
		if err := s.begin(next); err != nil {
			return err
		}
	}
	s.capacityChanged(rf.svc)
	return nil
}

// account adds the slot-time used since the last change, within the window.
func (st *svcState) account(s *sim) {
	from, to := max(st.lastT, s.warm), min(s.clock, s.end)
	if to > from {
		st.busyNs += float64(st.busy) * float64(to-from)
	}
	st.lastT = s.clock
}

// capacityChanged marks a service for an index update when the class the matcher
// sees (open, waitlist only, full) differs from what the index has; the matcher
// reads nothing finer with explanations off. Updates are batched until the next
// search, or until the policy's capacity refresh is due.
func (s *sim) capacityChanged(k int32) {
	st := &s.svcs[k]
	if st.slots == 0 || st.dirty {
		return
	}
	if classOf(st.capacity()) != st.class {
		st.dirty = true
		s.dirty = append(s.dirty, k)
	}
}

func (s *sim) flushCapacity() error {
	if len(s.dirty) == 0 {
		return nil
	}
	if every := int64(s.sc.Policy.CapacityRefresh); every > 0 {
		if s.clock < s.refreshAt {
			return nil
		}
		s.refreshAt = (s.clock/every + 1) * every
	}
	s.changes = s.changes[:0]
	for _, k := range s.dirty {
		st := &s.svcs[k]
		st.dirty = false
		c := st.capacity()
		if cl := classOf(c); cl != st.class {
			st.class = cl
			s.changes = append(s.changes, matching.SetCapacity(st.id, c))
		}
	}
	s.dirty = s.dirty[:0]
	if len(s.changes) == 0 {
		return nil
	}
	s.m.indexUpdates++
	return s.ix.Update(s.ctx, s.changes...)
}

// sweep runs the real deadline sweep at the virtual time, then finds the
// referrals it expired and re-refers them.
func (s *sim) sweep() error {
	if _, err := s.eng.Sweep(s.ctx, s.now); err != nil {
		return err
	}
	var again []dueEntry
	now := stamp(s.now)
	for s.due.len() > 0 && s.due.peek().at <= now {
		d := s.due.pop()
		rf := &s.refs[d.ref]
		if rf.deadline != d.at || rf.status.Terminal() {
			continue // superseded
		}
		r, err := s.eng.Get(s.ctx, s.system, rf.id)
		if err != nil {
			return err
		}
		if r.Status == rf.status && stamp(r.NextDeadline) == rf.deadline {
			again = append(again, d) // the sweep left it for a later round
			continue
		}
		rf.deadline = 0
		s.record(d.ref, r)
		if r.Status.Terminal() {
			if err := s.rerefer(d.ref); err != nil {
				return err
			}
		}
	}
	for _, d := range again {
		s.due.push(d)
	}
	if s.clock < s.end || s.open > 0 {
		s.after(time.Duration(s.sc.Policy.SweepEvery), evSweep, 0)
	}
	return nil
}

// unmet counts a need that ended without service.
func (s *sim) unmet(person int32, d referral.Domain, reason string) {
	cell, ok := s.cells[person]
	if !ok {
		res := s.sc.Policy.AreaResolution
		if res == 0 {
			res = 6
		}
		p := s.points[person]
		cell = h3.LatLngToCell(h3.NewLatLng(p.Latitude, p.Longitude), res)
		s.cells[person] = cell
	}
	s.m.unmet(d, cell, reason)
}
