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

// Failure reasons the simulation records beyond lifecycle.DefaultCodes: the
// person left the waitlist, or the service dropped them from it.
const (
	ReasonAbandoned       = "abandoned"
	ReasonWaitlistExpired = "waitlist-expired"
)

// seriesServices is the most scenario services whose occupancy and queue are
// kept as time series (besides the total over all services).
const seriesServices = 20

// sim is one replication: its own store, lifecycle engines, matcher and random
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
	rng   *keyed

	store *memory.Store
	// eng runs every command but create, and the sweep; engines holds one per
	// set of deadlines, so that each service's referrals are sent with its own.
	eng     *lifecycle.Engine
	engines map[[3]time.Duration]*lifecycle.Engine
	ids     *referral.IDGenerator
	ix      *matching.Index
	network referral.ID
	system  referral.Actor
	pol     livePolicy
	hold    bool // Policy.Acceptance is AcceptanceHolds

	sites    []siteState
	svcs     []svcState
	svcByID  map[referral.ID]int32
	people   []person
	points   []referral.Point
	income   float64 // scratch for personAt
	screener *screener
	needBuf  []referral.Need // direct needs of one arrival
	cells    map[int32]h3.Cell
	pathways []pathway

	refs []ref
	eps  []episode
	// strs holds the statuses and reasons refs name, needs the needs eps
	// name: a million of each then hold no pointer for the collector.
	strs  interned[string]
	needs interned[referral.Need]
	open  int
	dirty []int32
	// changes buffers capacity updates for the index.
	changes []matching.Change
	one     [1]referral.Need
	// refreshAt is when the index next takes capacity changes, with a refresh
	// interval.
	refreshAt int64
	due       dueHeap

	bucket int64 // time-series bucket width, ns
	series []seriesState

	m        repMetrics
	progress func(float64)
	events   uint64
}

// livePolicy is the network's policy as dated changes leave it.
type livePolicy struct {
	radiusKM       float64
	whenFull       matching.Full
	maxRereferrals int
	maxWait        time.Duration
	deadlines      [3]time.Duration // acknowledge, accept, expire after
}

type siteState struct {
	actor   referral.Actor
	arrive  *arrivals
	members []int32 // the catchment's people; nil: everyone
	count   uint64  // arrivals so far: the next arrival's key
}

type svcState struct {
	id, loc referral.ID
	actor   referral.Actor
	name    string
	listed  int32 // index in Scenario.Services; -1 for a generated service
	slots   int   // 0: unlimited
	// waitLimit is the waitlist's size, -1 unlimited.
	waitLimit int
	// busy are in service; held are slots and heldWait waitlist places held by
	// accepted referrals whose people are not yet reached; waiting are on the
	// waitlist (queue holds them in order, with entries that left lazily
	// skipped).
	busy, held, heldWait, waiting int
	queue                         []int32
	head                          int
	free                          []int32 // free slot numbers
	used                          []bool  // slot numbers in use, kept once capacity has changed
	class                         int8    // the capacity class the index has
	dirty                         bool    // queued for an index update
	closed                        bool
	partner                       *partnerModel
	serviceTime                   *sampler
	policy                        *ServicePolicy // nil: the network's
	series                        int32          // index in sim.series, -1 for none
	// measures within the window [warmup, duration]
	busyNs, queueNs, slotNs float64
	lastT                   int64
	waitNs                  float64
	waitN                   int
	// reached counts people reached (within the window) and waited, abandoned
	// and expired those of them who had to wait, gave up, were dropped.
	reached, waited, abandoned, expired int
	referred, accepted, served          int
	maxBusy, maxQueue                   int
}

// partnerModel is a Partners block compiled for drawing.
type partnerModel struct {
	p                         *Partners
	ack, decide, contact, pat *sampler
}

// Holds an accepted referral keeps (AcceptanceHolds).
const (
	holdNone uint8 = iota
	holdSlot
	holdWait
)

type ref struct {
	id   referral.ID
	ep   int32
	svc  int32
	slot int32
	// prev is the episode's referral before this one, -1 for none: the
	// services an episode tried are its referrals'.
	prev     int32
	status   uint32 // in sim.strs
	reason   uint32 // in sim.strs
	distKM   float64
	queuedAt int64
	hold     uint8
	inQueue  bool
	attempt  uint8 // which referral of its episode it is, from 0
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

// episode is one need of one person, from the arrival (or pathway) that found
// it to its last referral.
type episode struct {
	person int32
	need   uint32 // in sim.needs
	last   int32  // last referral, -1 for none
	// sender is the referring site, or for a pathway −1 − the service whose
	// organization refers.
	sender   int32
	attempts int32
	depth    int32  // pathway steps from an arrival's need
	key      uint64 // its draws' key (see rng.go)
}

// pathway is a Pathway resolved against the scenario.
type pathway struct {
	from, to    referral.Domain
	fromService int32 // -1: any
	p           float64
	after       *sampler
}

// newSim builds a replication's world: the store with the network, the sites'
// and services' organizations, the people, and the matcher over the directory.
func newSim(ctx context.Context, sc *Scenario, seed uint64) (*sim, error) {
	s := &sim{
		ctx: ctx, sc: sc, start: sc.Start.UTC(), svcByID: map[referral.ID]int32{}, cells: map[int32]h3.Cell{},
		rng: newKeyed(seed), engines: map[[3]time.Duration]*lifecycle.Engine{},
		hold: sc.Policy.Acceptance != AcceptanceNoHold,
	}
	s.now = s.start
	s.end = int64(sc.Duration)
	s.warm = int64(sc.Warmup)
	s.stop = int64(sc.horizon())
	s.bucket = int64(sc.bucket())
	pol := &sc.Policy
	s.pol = livePolicy{
		radiusKM: pol.RadiusKM, whenFull: pol.WhenFull, maxRereferrals: pol.MaxRereferrals, maxWait: time.Duration(pol.MaxWait),
		deadlines: [3]time.Duration{time.Duration(pol.AcknowledgeWithin), time.Duration(pol.AcceptWithin), time.Duration(pol.ExpireAfter)},
	}
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	s.ids = referral.NewIDGenerator(s.clockNow, rand.NewChaCha8(key))
	s.store = memory.New()
	eng, err := s.engine(s.pol.deadlines)
	if err != nil {
		return nil, err
	}
	s.eng = eng
	network := referral.Network{ID: s.ids.MustNew(), Name: "simulation", Created: s.start}
	if sc.Name != "" {
		network.Name = sc.Name
	}
	s.network = network.ID
	s.system = referral.Actor{Network: network.ID, Role: referral.RoleSystem, User: "simulation"}
	if err := s.store.PutNetwork(ctx, network); err != nil {
		return nil, err
	}
	loc := sc.location()
	for i := range sc.Sites {
		a, err := s.org(sc.Sites[i].Name)
		if err != nil {
			return nil, err
		}
		stream := rand.New(rand.NewPCG(mix(seed^0xa771_7a15), mix(uint64(i)+1)))
		s.sites = append(s.sites, siteState{actor: a, arrive: newArrivals(sc, i, loc, stream)})
	}
	services, err := s.directory()
	if err != nil {
		return nil, err
	}
	s.ix, err = matching.New(ctx, services, matching.Options{Now: s.clockNow, Weights: pol.Weights})
	if err != nil {
		return nil, err
	}
	if len(sc.Screening.Needs) == 0 {
		in, err := instrument(sc.Screening.Instrument)
		if err != nil {
			return nil, err
		}
		am, err := newAnswerModel(in, &sc.Screening)
		if err != nil {
			return nil, err
		}
		s.screener = newScreener(am)
	}
	if err := s.populate(); err != nil {
		return nil, err
	}
	members, err := catchments(sc.Sites, s.points, MaxCatchmentMembers)
	if err != nil {
		return nil, err
	}
	for i := range s.sites {
		s.sites[i].members = members[i]
	}
	for _, p := range sc.Pathways {
		pw := pathway{from: p.From, to: p.To, fromService: int32(sc.service(p.FromService)), p: p.P}
		if p.FromService == "" {
			pw.fromService = -1
		}
		if p.After != nil {
			pw.after = p.After.compile()
		}
		s.pathways = append(s.pathways, pw)
	}
	s.series = make([]seriesState, 1, 1+seriesServices)
	if n := len(sc.Services); n > 0 && n <= seriesServices {
		for k := range sc.Services {
			s.svcs[k].series = int32(len(s.series))
			s.series = append(s.series, seriesState{})
		}
	}
	nb := int((s.end + s.bucket - 1) / s.bucket)
	for i := range s.series {
		s.series[i].busy.init(nb)
		s.series[i].queue.init(nb)
	}
	return s, nil
}

func (s *sim) clockNow() time.Time { return s.now }

// codes are the lifecycle's code lists with the simulation's waitlist reasons.
func codes() lifecycle.Codes {
	c := lifecycle.DefaultCodes()
	c.Fail = append(c.Fail, ReasonAbandoned, ReasonWaitlistExpired)
	return c
}

// engine returns the lifecycle engine for a set of deadlines (acknowledge,
// accept, expire after), sharing the replication's store, clock and ids.
func (s *sim) engine(d [3]time.Duration) (*lifecycle.Engine, error) {
	if e, ok := s.engines[d]; ok {
		return e, nil
	}
	e, err := lifecycle.New(s.store, s.store, lifecycle.Options{Now: s.clockNow, IDs: s.ids, ImpliedConsent: true, Codes: codes(),
		Deadlines: lifecycle.Deadlines{Acknowledge: d[0], Accept: d[1], ExpireAfter: d[2]}})
	if err != nil {
		return nil, err
	}
	s.engines[d] = e
	return e, nil
}

// creator is the engine that creates a service's referrals: the network's
// deadlines, with those the service sets itself.
func (s *sim) creator(k int32) (*lifecycle.Engine, error) {
	p := s.svcs[k].policy
	if p == nil || (p.AcknowledgeWithin == nil && p.AcceptWithin == nil) {
		return s.engine(s.pol.deadlines)
	}
	d := s.pol.deadlines
	if p.AcknowledgeWithin != nil {
		d[0] = time.Duration(*p.AcknowledgeWithin)
	}
	if p.AcceptWithin != nil {
		d[1] = time.Duration(*p.AcceptWithin)
	}
	return s.engine(d)
}

func (s *sim) org(name string) (referral.Actor, error) {
	o := referral.Organization{ID: s.ids.MustNew(), Network: s.network, Name: name, Created: s.start}
	if err := s.store.PutOrganization(s.ctx, o); err != nil {
		return referral.Actor{}, err
	}
	return referral.Actor{Network: s.network, Organization: o.ID, User: "simulation", Role: referral.RoleStaff}, nil
}

// directory puts the scenario's services (and the synthetic directory) in the
// store and returns them for the matcher.
func (s *sim) directory() ([]referral.Service, error) {
	size := len(s.sc.Services)
	if sy := s.sc.Synthetic; sy != nil {
		size += sy.Locations // at least one location per service: an upper bound
	}
	out := make([]referral.Service, 0, size)
	s.svcs = make([]svcState, 0, size)
	s.svcByID = make(map[referral.ID]int32, size)
	partners := map[*Partners]*partnerModel{}
	model := func(p *Partners) *partnerModel {
		if m, ok := partners[p]; ok {
			return m
		}
		m := &partnerModel{p: p, ack: p.AcknowledgeAfter.compile(), decide: p.DecideAfter.compile(), contact: p.ContactAfter.compile()}
		if p.Patience != nil {
			m.pat = p.Patience.compile()
		}
		partners[p] = m
		return m
	}
	add := func(svc referral.Service, actor referral.Actor, st svcState) error {
		if err := s.store.PutService(s.ctx, svc); err != nil {
			return err
		}
		st.id, st.actor, st.lastT, st.series = svc.ID, actor, s.warm, -1
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
		actor, err := s.org(spec.Name)
		if err != nil {
			return nil, err
		}
		svc := referral.Service{
			ID: s.ids.MustNew(), Network: s.network, Organization: actor.Organization, Name: spec.Name,
			Status: referral.ServiceActive, Domains: spec.Domains, Eligibility: spec.Eligibility,
			MinimumAge: spec.MinimumAge, MaximumAge: spec.MaximumAge, Languages: spec.Languages,
			Locations: []referral.Location{{ID: s.ids.MustNew(), Name: spec.Name, Latitude: spec.Latitude, Longitude: spec.Longitude}},
			Created:   s.start, Updated: s.start,
		}
		st := svcState{name: spec.Name, listed: int32(i), waitLimit: -1, partner: model(&s.sc.Partners),
			serviceTime: spec.ServiceTime.compile(), policy: spec.Policy}
		if spec.Partner != nil {
			st.partner = model(spec.Partner)
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
		serviceTime := sy.ServiceTime.compile()
		namer := newNamer()
		for _, svc := range synth.Directory(sy.Seed, sy.Locations) {
			o := referral.Organization{ID: svc.Organization, Network: s.network, Name: "synthetic", Created: s.start}
			if err := s.store.PutOrganization(s.ctx, o); err != nil {
				return nil, err
			}
			svc.Network = s.network
			svc.Name = namer.name(svc)
			st := svcState{name: svc.Name, listed: -1, waitLimit: -1, partner: model(&s.sc.Partners), serviceTime: serviceTime}
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

// capacity is what the service publishes now: slots not in use or held, and
// waitlist places not taken or held.
func (st *svcState) capacity() *referral.Capacity {
	if st.slots == 0 {
		return nil
	}
	c := &referral.Capacity{Available: max(0, st.available())}
	switch {
	case st.waitLimit < 0:
		c.Waitlist = unlimitedWaitlist
	default:
		c.Waitlist = max(0, st.waitLimit-st.waiting-st.heldWait)
	}
	return c
}

// available is the number of free slots not held for anyone.
func (st *svcState) available() int { return len(st.free) - st.held }

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

// setFlags records a person's yes-or-no facts; it is the one place that knows
// how referral.Person holds them.
func setFlags(p *referral.Person, veteran, disabled, pregnant bool) {
	p.Veteran, p.Disabled, p.Pregnant = known[b2i(veteran)], known[b2i(disabled)], known[b2i(pregnant)]
}

// known are the two answers a simulated person's yes-or-no facts take: every
// fact of the population is drawn, so none is unknown. The pointers are
// shared by every person built, and nothing writes through them.
var known = [2]*bool{referral.Known(false), referral.Known(true)}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// person is one member of the population, kept compactly: a national run has
// a million of them, built into a referral.Person only to be matched, and
// put in the store only when first referred (the lifecycle reads them then).
type person struct {
	id        referral.ID
	income    float64 // NaN: unknown
	year      int16
	month     uint8
	day       uint8
	household int16
	lang      int16 // index in Population.Languages, -1 for none
	insurance int16 // index in Population.Insurance, -1 for none
	place     int32 // index in Population.Centres, or in the points file's rows
	flags     uint8 // veteran, disabled, pregnant
	stored    bool
}

const (
	flagVeteran uint8 = 1 << iota
	flagDisabled
	flagPregnant
)

// populate draws the people.
func (s *sim) populate() error {
	p := &s.sc.Population
	r := s.rng.at(0, 0x9e09_1e)
	s.people = make([]person, p.Size)
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
	var places *placer
	if len(s.sc.points) > 0 {
		places = newPlacer(s.sc.points)
	}
	age, household := p.Age.compile(), p.HouseholdSize.compile()
	var fpl, income *sampler
	if p.FPLPercent != nil {
		fpl = p.FPLPercent.compile()
	}
	if p.IncomeAnnual != nil {
		income = p.IncomeAnnual.compile()
	}
	for i := range s.people {
		var pl placement
		var place int
		if places != nil {
			pl, place = places.place(r)
		} else {
			place = centres.pick(r)
			c := &p.Centres[place]
			dlat := c.SDKM * r.NormFloat64() / 111.32
			dlon := c.SDKM * r.NormFloat64() / (111.32 * math.Max(0.01, math.Cos(c.Latitude*math.Pi/180)))
			pl = placement{lat: clamp(c.Latitude+dlat, -89.9, 89.9), lon: wrapLon(c.Longitude + dlon), state: c.State}
		}
		s.points[i] = referral.Point{Latitude: pl.lat, Longitude: pl.lon}
		years := int(age.draw(r))
		birth := referral.DateOf(s.start.AddDate(-years, 0, -r.IntN(365)-1))
		hh := max(1, int(math.Round(household.draw(r))))
		pp := person{
			id: s.ids.MustNew(), year: int16(birth.Year), month: uint8(birth.Month), day: uint8(birth.Day),
			household: int16(min(hh, math.MaxInt16)), place: int32(place), income: math.NaN(),
		}
		switch {
		case fpl != nil:
			region, ok := matching.RegionOf(pl.state)
			if !ok {
				region = matching.Contiguous
			}
			pp.income = math.Round(fpl.draw(r) / 100 * guideline.Regions[region].For(hh))
		case income != nil:
			pp.income = math.Round(income.draw(r))
		}
		pp.lang = int16(langs.pick(r))
		pp.insurance = int16(choices(p.Insurance).pick(r))
		if r.Float64() < p.Veteran {
			pp.flags |= flagVeteran
		}
		if r.Float64() < p.Disabled {
			pp.flags |= flagDisabled
		}
		if r.Float64() < p.Pregnant {
			pp.flags |= flagPregnant
		}
		s.people[i] = pp
	}
	return nil
}

// personAt builds person i's record. Its IncomeAnnual points at the sim's
// scratch, so it is valid until the next call: matching reads it at once, and
// the store copies it.
func (s *sim) personAt(i int32) referral.Person {
	pp := &s.people[i]
	pop := &s.sc.Population
	out := referral.Person{
		ID: pp.id, Network: s.network, BirthDate: referral.Date{Year: int(pp.year), Month: time.Month(pp.month), Day: int(pp.day)},
		HouseholdSize: int(pp.household), Location: &s.points[i], Created: s.start, Updated: s.start,
	}
	if len(s.sc.points) > 0 {
		pl := &s.sc.points[pp.place]
		out.State, out.County, out.Zip = pl.state, pl.county, pl.zip
	} else {
		c := &pop.Centres[pp.place]
		out.State, out.County, out.Zip = c.State, c.County, c.Zip
	}
	if !math.IsNaN(pp.income) {
		s.income = pp.income
		out.IncomeAnnual = &s.income
	}
	if pp.lang >= 0 {
		out.Languages = pop.Languages[pp.lang].Languages
	}
	if pp.insurance >= 0 {
		out.Insurance = pop.Insurance[pp.insurance].Value
	}
	setFlags(&out, pp.flags&flagVeteran != 0, pp.flags&flagDisabled != 0, pp.flags&flagPregnant != 0)
	return out
}

// store puts person i in the store, the first time they are referred.
func (s *sim) storePerson(i int32) error {
	if s.people[i].stored {
		return nil
	}
	if err := s.store.PutPerson(s.ctx, s.personAt(i)); err != nil {
		return fmt.Errorf("population: %w", err)
	}
	s.people[i].stored = true
	return nil
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
	if every := int64(s.sc.Policy.SweepEvery); every > 0 && s.sc.needsSweep() {
		s.q.push(every, evSweep, 0)
	}
	for i, c := range s.sc.Changes {
		s.q.push(int64(c.At.Sub(s.start)), evChange, int32(i))
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
		case evAbandon:
			err = s.leaveQueue(e.arg, ReasonAbandoned)
		case evWaitExpire:
			err = s.leaveQueue(e.arg, ReasonWaitlistExpired)
		case evChange:
			err = s.change(e.arg)
		case evRefer:
			err = s.refer(e.arg)
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
	for k := range s.svcs {
		s.svcs[k].account(s)
	}
	for i := range s.series {
		s.series[i].busy.set(s.clock, s.series[i].busy.value, s.bucket)
		s.series[i].queue.set(s.clock, s.series[i].queue.value, s.bucket)
	}
	return nil
}

// nextArrival schedules a site's next arrival.
func (s *sim) nextArrival(site int32) {
	if t, ok := s.sites[site].arrive.next(s.clock); ok {
		s.q.push(t, evArrival, site)
	}
}

func (s *sim) arrive(site int32) error {
	st := &s.sites[site]
	key := keyOf(uint64(site)+1, st.count)
	st.count++
	s.nextArrival(site)
	r := s.rng.at(drawArrival, key)
	var p int32
	if st.members != nil {
		p = st.members[r.IntN(len(st.members))]
	} else {
		p = int32(r.IntN(len(s.people)))
	}
	screened := r.Float64() < s.sc.Screening.Coverage
	var needs []referral.Need
	if s.screener != nil {
		needs = s.screener.screen(r)
	} else {
		s.needBuf = s.needBuf[:0]
		for _, d := range s.sc.Screening.Needs {
			if r.Float64() < d.P {
				s.needBuf = append(s.needBuf, referral.Need{Domain: d.Domain, Urgency: referral.Routine})
			}
		}
		needs = s.needBuf
	}
	s.m.arrivals++
	if screened {
		s.m.screened++
	}
	for j, n := range needs {
		if !screened {
			s.unmet(p, n.Domain, UnmetNotScreened)
			continue
		}
		s.m.needs++
		s.eps = append(s.eps, episode{person: p, need: s.needs.of(n), last: -1, sender: site, key: keyOf(key, uint64(j))})
		if err := s.refer(int32(len(s.eps) - 1)); err != nil {
			return err
		}
	}
	return nil
}

// senderOf is the organization that refers an episode's need.
func (s *sim) senderOf(e *episode) referral.Actor {
	if e.sender >= 0 {
		return s.sites[e.sender].actor
	}
	return s.svcs[-1-e.sender].actor
}

// refer matches an episode's need and refers it to the best open service not
// yet tried.
func (s *sim) refer(ep int32) error {
	if err := s.flushCapacity(); err != nil {
		return err
	}
	e := &s.eps[ep]
	s.one[0] = s.needs.at(e.need)
	res, err := s.ix.Match(s.ctx, matching.Request{
		Person: s.personAt(e.person), Needs: s.one[:], RadiusM: s.pol.radiusKM * 1000, Limit: s.sc.Policy.Limit,
		Full: s.pol.whenFull, AsOf: s.now,
	})
	if err != nil {
		return fmt.Errorf("match: %w", err)
	}
	pick, k := -1, int32(-1)
	for i := range res.Matches {
		j, ok := s.svcByID[res.Matches[i].Service]
		if ok && !s.tried(e, j) {
			pick, k = i, j
			break
		}
	}
	if pick < 0 {
		reason := UnmetNoMatch
		if e.last >= 0 {
			reason = s.reasonOf(e.last)
		}
		s.unmet(e.person, s.one[0].Domain, reason)
		return nil
	}
	mt := &res.Matches[pick]
	if err := s.storePerson(e.person); err != nil {
		return err
	}
	req := lifecycle.CreateRequest{
		Person: s.people[e.person].id, Needs: s.one[:], Receiver: s.svcs[k].actor.Organization,
		Service: mt.Service, Location: mt.Location, Send: true,
	}
	if e.last >= 0 {
		req.Replaces = s.refs[e.last].id
		s.m.rereferrals++
	}
	eng, err := s.creator(k)
	if err != nil {
		return err
	}
	r, err := eng.Create(s.ctx, s.senderOf(e), req)
	if err != nil {
		return fmt.Errorf("create referral: %w", err)
	}
	rf := ref{id: r.ID, ep: ep, svc: k, slot: -1, prev: e.last, created: stamp(r.Created)}
	if e.last >= 0 {
		rf.attempt = s.refs[e.last].attempt + 1
	}
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
	s.after(s.svcs[k].partner.ack.hours(s.draws(ri, drawAcknowledge)), evAcknowledge, ri)
	return nil
}

// tried reports whether episode e has been referred to service k.
func (s *sim) tried(e *episode, k int32) bool {
	for ri := e.last; ri >= 0; ri = s.refs[ri].prev {
		if s.refs[ri].svc == k {
			return true
		}
	}
	return false
}

// statusOf and reasonOf are a referral's last known status and reason.
func (s *sim) statusOf(ri int32) referral.Status {
	return referral.Status(s.strs.at(s.refs[ri].status))
}
func (s *sim) reasonOf(ri int32) string { return s.strs.at(s.refs[ri].reason) }

// needOf is an episode's need.
func (s *sim) needOf(e *episode) referral.Need { return s.needs.at(e.need) }

// draws is the generator for one purpose of a referral: keyed by its episode
// and which attempt of the episode it is.
func (s *sim) draws(ri int32, purpose uint64) *rand.Rand {
	rf := &s.refs[ri]
	return s.rng.at(purpose, keyOf(s.eps[rf.ep].key, uint64(rf.attempt)))
}

// record copies what the engine returned into the replication's view.
func (s *sim) record(ri int32, r referral.Referral) {
	rf := &s.refs[ri]
	rf.status, rf.reason = s.strs.of(string(r.Status)), s.strs.of(r.Reason)
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
	if s.statusOf(ri) != referral.StatusRequested {
		return nil // expired meanwhile
	}
	if err := s.do(ri, lifecycle.TriggerAcknowledge, lifecycle.Command{}); err != nil {
		return err
	}
	s.after(s.svcs[s.refs[ri].svc].partner.decide.hours(s.draws(ri, drawDecide)), evDecide, ri)
	return nil
}

func (s *sim) decide(ri int32) error {
	rf := &s.refs[ri]
	if s.statusOf(ri) != referral.StatusRequested || rf.milestone[1] == 0 {
		return nil // not acknowledged: expired meanwhile
	}
	k := rf.svc
	st := &s.svcs[k]
	reason := ""
	hold := holdNone
	switch {
	case st.closed:
		reason = "service-not-offered"
	case st.slots == 0:
	case s.hold && st.available() > 0:
		hold = holdSlot
	case s.hold && (st.waitLimit < 0 || st.waiting+st.heldWait < st.waitLimit):
		hold = holdWait
	case s.hold:
		reason = "no-capacity"
	case st.available() <= 0 && st.waitLimit >= 0 && st.waiting >= st.waitLimit:
		reason = "no-capacity"
	}
	if reason == "" {
		x := s.draws(ri, drawDecline).Float64()
		for _, d := range st.partner.p.Decline {
			if x < d.P {
				reason, hold = d.Reason, holdNone
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
	st.accepted++
	rf.hold = hold
	switch hold {
	case holdSlot:
		s.adjust(k, 0, 0, 1, 0)
	case holdWait:
		s.adjust(k, 0, 0, 0, 1)
	}
	s.after(st.partner.contact.hours(s.draws(ri, drawContact)), evContact, ri)
	return nil
}

// release gives up the place an accepted referral held, if any.
func (s *sim) release(ri int32) error {
	rf := &s.refs[ri]
	h := rf.hold
	rf.hold = holdNone
	switch h {
	case holdSlot:
		s.adjust(rf.svc, 0, 0, -1, 0)
		return s.slotFreed(rf.svc)
	case holdWait:
		s.adjust(rf.svc, 0, 0, 0, -1)
	}
	return nil
}

// rerefer sends a declined or expired referral's need to the next service, or
// counts it unmet once the policy's re-referrals are used up.
func (s *sim) rerefer(ri int32) error {
	rf := &s.refs[ri]
	e := &s.eps[rf.ep]
	if int(e.attempts) > s.pol.maxRereferrals {
		s.unmet(e.person, s.needOf(e).Domain, s.reasonOf(ri))
		return nil
	}
	return s.refer(rf.ep)
}

func (s *sim) contact(ri int32) error {
	rf := &s.refs[ri]
	if s.statusOf(ri) != referral.StatusAccepted {
		return nil
	}
	k := rf.svc
	st := &s.svcs[k]
	if s.draws(ri, drawReach).Float64() >= st.partner.p.Reach {
		if err := s.release(ri); err != nil {
			return err
		}
		return s.fail(ri, "unable-to-contact")
	}
	rf.queuedAt = s.clock
	inWindow := s.clock >= s.warm && s.clock < s.end
	if inWindow {
		st.reached++
	}
	h := rf.hold
	rf.hold = holdNone
	switch h {
	case holdSlot:
		s.adjust(k, 0, 0, -1, 0)
	case holdWait:
		s.adjust(k, 0, 0, 0, -1)
	}
	// A held slot is the person's; otherwise they start only when a slot is
	// free and nobody is waiting before them. (A held slot can be missing only
	// after the service's capacity was cut: the person then waits.)
	if st.slots == 0 || (h == holdSlot && len(st.free) > 0) || (st.available() > 0 && st.waiting == 0) {
		started, err := s.begin(ri)
		if err != nil || started {
			return err
		}
		return s.slotFreed(k) // a no-show leaves the slot to whoever waits
	}
	if h == holdNone && st.waitLimit >= 0 && st.waiting >= st.waitLimit {
		return s.fail(ri, "no-capacity")
	}
	if err := s.do(ri, lifecycle.TriggerHold, lifecycle.Command{Reason: "waitlisted"}); err != nil {
		return err
	}
	if inWindow {
		st.waited++
	}
	rf.inQueue = true
	st.queue = append(st.queue, ri)
	s.adjust(k, 0, 1, 0, 0)
	if pm := st.partner.pat; pm != nil {
		s.after(pm.hours(s.draws(ri, drawPatience)), evAbandon, ri)
	}
	if w := s.maxWait(k); w > 0 {
		s.after(w, evWaitExpire, ri)
	}
	return nil
}

// maxWait is how long service k keeps people on its waitlist (0: no limit).
func (s *sim) maxWait(k int32) time.Duration {
	if p := s.svcs[k].policy; p != nil && p.MaxWait != nil {
		return time.Duration(*p.MaxWait)
	}
	return s.pol.maxWait
}

// leaveQueue takes a waiting person off the waitlist: they gave up
// (ReasonAbandoned, the need is unmet) or the service dropped them
// (ReasonWaitlistExpired, the need is re-referred).
func (s *sim) leaveQueue(ri int32, reason string) error {
	rf := &s.refs[ri]
	if !rf.inQueue {
		return nil // started, or left for the other reason, meanwhile
	}
	rf.inQueue = false
	k := rf.svc
	st := &s.svcs[k]
	s.adjust(k, 0, -1, 0, 0)
	if rf.queuedAt >= s.warm && rf.queuedAt < s.end {
		if reason == ReasonAbandoned {
			st.abandoned++
		} else {
			st.expired++
		}
	}
	if err := s.do(ri, lifecycle.TriggerFail, lifecycle.Command{Reason: reason}); err != nil {
		return err
	}
	if reason == ReasonWaitlistExpired {
		return s.rerefer(ri)
	}
	e := &s.eps[rf.ep]
	s.unmet(e.person, s.needOf(e).Domain, reason)
	return nil
}

func (s *sim) fail(ri int32, reason string) error {
	if err := s.do(ri, lifecycle.TriggerFail, lifecycle.Command{Reason: reason}); err != nil {
		return err
	}
	e := &s.eps[s.refs[ri].ep]
	s.unmet(e.person, s.needOf(e).Domain, reason)
	return nil
}

// begin gives a free slot to a referral that reached the front, unless the
// person does not show up; started says which.
func (s *sim) begin(ri int32) (started bool, err error) {
	rf := &s.refs[ri]
	k := rf.svc
	st := &s.svcs[k]
	show := 1 - st.partner.p.NoShow
	if ft := st.partner.p.FollowThrough; ft != nil {
		show *= ft.Base * math.Exp2(-rf.distKM/ft.HalfDistanceKM)
	}
	if s.draws(ri, drawShow).Float64() >= show {
		return false, s.fail(ri, "no-show")
	}
	t := lifecycle.TriggerStart
	if s.statusOf(ri) == referral.StatusOnHold {
		t = lifecycle.TriggerResume
	}
	if err := s.do(ri, t, lifecycle.Command{}); err != nil {
		return false, err
	}
	if st.slots > 0 {
		if len(st.free) == 0 {
			return false, fmt.Errorf("service %d: slot used twice: %w", k, errSlot)
		}
		rf.slot = st.free[len(st.free)-1]
		st.free = st.free[:len(st.free)-1]
		if st.used != nil {
			st.used[rf.slot] = true
		}
	}
	s.adjust(k, 1, 0, 0, 0)
	if rf.queuedAt >= s.warm && rf.queuedAt < s.end {
		st.waitNs += float64(s.clock - rf.queuedAt)
		st.waitN++
	}
	s.after(st.serviceTime.hours(s.draws(ri, drawService)), evFinish, ri)
	return true, nil
}

var errSlot = errors.New("simulation: capacity invariant broken")

func (s *sim) finish(ri int32) error {
	rf := &s.refs[ri]
	k := rf.svc
	st := &s.svcs[k]
	if err := s.do(ri, lifecycle.TriggerComplete, lifecycle.Command{Outcome: &referral.Outcome{Code: "got-help"}}); err != nil {
		return err
	}
	s.adjust(k, -1, 0, 0, 0)
	if rf.slot >= 0 {
		if st.used != nil {
			st.used[rf.slot] = false
		}
		if int(rf.slot) < st.slots {
			st.free = append(st.free, rf.slot)
		}
	}
	st.served++
	if err := s.pathway(ri); err != nil {
		return err
	}
	return s.slotFreed(k)
}

// slotFreed starts waiting people while service k has free slots.
func (s *sim) slotFreed(k int32) error {
	st := &s.svcs[k]
	for st.waiting > 0 && (st.slots == 0 || st.available() > 0) {
		next := st.queue[st.head]
		st.head++
		if st.head > 1024 && st.head*2 > len(st.queue) {
			st.queue = append(st.queue[:0], st.queue[st.head:]...)
			st.head = 0
		}
		if !s.refs[next].inQueue {
			continue // left the waitlist earlier
		}
		s.refs[next].inQueue = false
		s.adjust(k, 0, -1, 0, 0)
		if _, err := s.begin(next); err != nil {
			return err
		}
	}
	return nil
}

// pathway starts the needs a completed referral leads to.
func (s *sim) pathway(ri int32) error {
	if len(s.pathways) == 0 {
		return nil
	}
	rf := &s.refs[ri]
	parent := s.eps[rf.ep]
	if parent.depth >= MaxPathwayDepth {
		return nil
	}
	for i, pw := range s.pathways {
		if pw.from != s.needOf(&parent).Domain || (pw.fromService >= 0 && pw.fromService != s.svcs[rf.svc].listed) {
			continue
		}
		r := s.draws(ri, drawPathway+uint64(i))
		if r.Float64() >= pw.p {
			continue
		}
		var delay time.Duration
		if pw.after != nil {
			delay = pw.after.hours(r)
		}
		s.m.pathwayNeeds++
		s.eps = append(s.eps, episode{
			person: parent.person, need: s.needs.of(referral.Need{Domain: pw.to, Urgency: referral.Routine}), last: -1,
			sender: -1 - rf.svc, depth: parent.depth + 1, key: keyOf(parent.key, 0x9a7_0000+uint64(i)),
		})
		s.after(delay, evRefer, int32(len(s.eps)-1))
	}
	return nil
}

// adjust changes service k's counts (in service, waiting, held slots, held
// waitlist places), keeping its measures and time series and the index's view
// of its capacity in step.
func (s *sim) adjust(k int32, busy, waiting, held, heldWait int) {
	st := &s.svcs[k]
	if busy != 0 || waiting != 0 {
		st.account(s)
		for _, i := range [2]int32{0, st.series} {
			if i < 0 {
				continue
			}
			ss := &s.series[i]
			ss.busy.set(s.clock, ss.busy.value+busy, s.bucket)
			ss.queue.set(s.clock, ss.queue.value+waiting, s.bucket)
		}
	}
	st.busy += busy
	st.waiting += waiting
	st.held += held
	st.heldWait += heldWait
	st.maxBusy = max(st.maxBusy, st.busy)
	st.maxQueue = max(st.maxQueue, st.waiting)
	s.capacityChanged(k)
}

// account adds the slot-time used, the slot-time offered and the queue-time
// waited since the last change, within the window.
func (st *svcState) account(s *sim) {
	from, to := max(st.lastT, s.warm), min(s.clock, s.end)
	if to > from {
		st.busyNs += float64(st.busy) * float64(to-from)
		st.queueNs += float64(st.waiting) * float64(to-from)
		st.slotNs += float64(st.slots) * float64(to-from)
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
	return s.publish()
}

// publish sends the changed capacities to the index now.
func (s *sim) publish() error {
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
		if rf.deadline != d.at || s.statusOf(d.ref).Terminal() {
			continue // superseded
		}
		r, err := s.eng.Get(s.ctx, s.system, rf.id)
		if err != nil {
			return err
		}
		if r.Status == s.statusOf(d.ref) && stamp(r.NextDeadline) == rf.deadline {
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

// change applies one of the scenario's dated changes.
func (s *sim) change(i int32) error {
	c := &s.sc.Changes[i]
	switch {
	case c.Site != "":
		return nil // rates are read by the arrival process at their times
	case c.Service != "":
		k := int32(s.sc.service(c.Service))
		st := &s.svcs[k]
		if c.Capacity != nil {
			s.resize(k, c.Capacity)
		}
		if p := c.Policy; p != nil {
			np := ServicePolicy{}
			if st.policy != nil {
				np = *st.policy
			}
			if p.AcknowledgeWithin != nil {
				np.AcknowledgeWithin = p.AcknowledgeWithin
			}
			if p.AcceptWithin != nil {
				np.AcceptWithin = p.AcceptWithin
			}
			if p.MaxWait != nil {
				np.MaxWait = p.MaxWait
			}
			st.policy = &np
		}
		if c.Closed != nil && *c.Closed != st.closed {
			st.closed = *c.Closed
			if err := s.publish(); err != nil {
				return err
			}
			svc, ok := s.ix.Snapshot().Service(st.id)
			if !ok {
				return fmt.Errorf("service %s left the index: %w", st.name, errSlot)
			}
			svc.Status = referral.ServiceActive
			if st.closed {
				svc.Status = referral.ServiceTemporarilyClosed
			}
			s.m.indexUpdates++
			if err := s.ix.Update(s.ctx, matching.Put(svc)); err != nil {
				return err
			}
		}
		return s.slotFreed(k)
	}
	p := c.Policy
	if p.RadiusKM != nil {
		s.pol.radiusKM = *p.RadiusKM
	}
	if p.WhenFull != nil {
		s.pol.whenFull = *p.WhenFull
	}
	if p.MaxRereferrals != nil {
		s.pol.maxRereferrals = *p.MaxRereferrals
	}
	if p.MaxWait != nil {
		s.pol.maxWait = time.Duration(*p.MaxWait)
	}
	for j, d := range []*Duration{p.AcknowledgeWithin, p.AcceptWithin, p.ExpireAfter} {
		if d != nil {
			s.pol.deadlines[j] = time.Duration(*d)
		}
	}
	eng, err := s.engine(s.pol.deadlines)
	if err != nil {
		return err
	}
	s.eng = eng
	return nil
}

// resize gives service k a new capacity. Nobody in service is preempted: slot
// numbers at or above the new count are retired as their people finish.
func (s *sim) resize(k int32, c *Capacity) {
	st := &s.svcs[k]
	if st.used == nil {
		// Before its first change a service's slots are 0 to slots−1, in use
		// unless free.
		st.used = make([]bool, st.slots)
		for i := range st.used {
			st.used[i] = true
		}
		for _, f := range st.free {
			st.used[f] = false
		}
	}
	for len(st.used) < c.Slots {
		st.used = append(st.used, false)
	}
	st.free = st.free[:0]
	for n := c.Slots - 1; n >= 0; n-- {
		if !st.used[n] {
			st.free = append(st.free, int32(n))
		}
	}
	st.account(s)
	st.slots = c.Slots
	st.waitLimit = -1
	if c.Waitlist != nil {
		st.waitLimit = *c.Waitlist
	}
	s.capacityChanged(k)
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
