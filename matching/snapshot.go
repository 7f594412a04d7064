package matching

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/referral"
)

// Options configure an index. The zero value is usable.
type Options struct {
	// Resolution is the H3 resolution locations are bucketed at, 5 to 9. Default
	// 7 (hexagons of about 5 km², right for radii of a few to tens of
	// kilometres). Buckets are grouped by their cell two resolutions coarser,
	// which the query's grid disk walks; polygon areas are filled at Resolution.
	Resolution int
	// Weights tune ranking; nil means DefaultWeights.
	Weights *Weights
	// Guidelines are the poverty guidelines fpl_percent uses; nil means
	// DefaultGuidelines.
	Guidelines Guidelines
	// Limits bound untrusted rules.
	Limits RuleLimits
	// Now is the clock for requests without as_of; nil means time.Now.
	Now func() time.Time
	// Disclose reports whether viewer, of the services' network, may see the
	// exact place of the confidential locations of organization's services
	// (see Request.Viewer). Nil means the organization's own staff and admins
	// and system actors may (referral.Organization.Discloses without grants);
	// package directory sets it from the organizations' ConfidentialAccess. It
	// is called only for matches and exclusions at a confidential location,
	// and must be safe for concurrent use.
	Disclose func(viewer referral.Actor, organization referral.ID) bool
	// TracerProvider receives a span per request (see the package doc's
	// Telemetry); nil means the OpenTelemetry global provider, which records
	// nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the request metrics; nil means the
	// OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

func (o Options) withDefaults() (Options, error) {
	if o.Resolution == 0 {
		o.Resolution = 7
	}
	if o.Resolution < 5 || o.Resolution > 9 {
		return o, invalidf("resolution", "must be between 5 and 9")
	}
	if o.Weights == nil {
		w := DefaultWeights()
		o.Weights = &w
	}
	if err := o.Weights.validate(); err != nil {
		return o, err
	}
	if o.Guidelines == nil {
		o.Guidelines = DefaultGuidelines()
	}
	if err := o.Guidelines.validate(); err != nil {
		return o, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// domainSet is a bit set over the domains a snapshot's services use.
type domainSet [2]uint64

func (d domainSet) and(o domainSet) domainSet { return domainSet{d[0] & o[0], d[1] & o[1]} }
func (d domainSet) or(o domainSet) domainSet  { return domainSet{d[0] | o[0], d[1] | o[1]} }
func (d domainSet) empty() bool               { return d[0]|d[1] == 0 }
func (d domainSet) count() int                { return bits.OnesCount64(d[0]) + bits.OnesCount64(d[1]) }
func (d *domainSet) set(i int)                { d[i/64] |= 1 << (i % 64) }
func (d domainSet) has(i int) bool            { return d[i/64]&(1<<(i%64)) != 0 }

// rank is the number of bits of d below bit i.
func (d domainSet) rank(i int) int {
	if i < 64 {
		return bits.OnesCount64(d[0] & (1<<i - 1))
	}
	return bits.OnesCount64(d[0]) + bits.OnesCount64(d[1]&(1<<(i-64)-1))
}

// maxDomains is how many distinct domains one snapshot's services may use.
const maxDomains = 128

// svc is a service as the matcher reads it: flattened, with its rule compiled.
type svc struct {
	id      referral.ID
	active  bool
	status  referral.ServiceStatus
	domains domainSet
	rule    int32 // index into Snapshot.rules, -1 for none
	minAge  int
	maxAge  int
	langs   []string
	langSet int32 // index of langs in Snapshot.langSets
	doms    int32 // index of its domain list in Snapshot.domLists
	// prof is the profile the index copies next to the service's locations
	// and area entries; the reference path reads it for the reasons too.
	prof profile
	// hours are the service's schedules, compiled once (see hoursOf); nil
	// when it has none.
	hours *referral.Hours
	// ageText is the service's age reason text, built once; capacity lives in
	// Snapshot.caps.
	ageText string
	// areas, for the linear scan and for explanations.
	counties, zips, states []string
	polygon                map[h3.Cell]struct{}
	virtual                bool
	hasArea                bool
}

// areaRef is a service in an area list, with what the area filter reads copied
// in, so walking a state's list does not touch the service table. latLo and
// latHi bound the latitudes, in degrees, of the service's locations with
// coordinates (when profile.placed()): a request far from all of them in
// latitude has none within its radius, and looks no further.
type areaRef struct {
	domains      domainSet
	svc          int32
	latLo, latHi float32
	profile
}

// Snapshot is an immutable index of a directory: safe for any number of concurrent
// readers. Index.Update builds a new one and swaps it in.
type Snapshot struct {
	opts     Options
	rules    *rules
	source   []referral.Service // sorted by id, as loaded
	services []svc              // parallel to source
	caps     capTable           // parallel to source; see capTable
	ids      []referral.ID      // parallel to source: results read them densely
	orgs     []referral.ID      // parallel to source: the services' organizations
	byID     map[referral.ID]int32
	domains  map[referral.Domain]int
	programs []*rule
	langSets [][]string // distinct service language lists
	// domLists are the distinct domain lists of the services, as listed (a
	// profile names its service's), for the reasons of a match.
	domLists [][]referral.Domain
	// statuses are the distinct service statuses, active first, so the index
	// carries a status in one byte.
	statuses []referral.ServiceStatus

	grid grid

	counties map[string]areaList
	zips     map[string]areaList
	states   map[string]areaList
	polygons map[h3.Cell]areaList
	virtual  areaList
	// nowhere lists the services with no place to be found (no placed or
	// virtual location, no readable area): explanations name them.
	nowhere []int32
	// secret holds, for each service with a confidential location, the
	// vicinity of each of its locations ("" for one that is not
	// confidential); nil when no service has one, so a directory without
	// confidential locations pays nothing for them (see confidential.go).
	secret map[int32][]string

	// scratch is shared by the snapshots capacity updates derive from this one:
	// they have the same services, rules and language lists, which is all a
	// scratch is sized by, and a fresh pool per update would allocate a
	// directory-sized scratch per request when capacity changes between requests.
	scratch *sync.Pool

	// tel is the index's telemetry; nil for a snapshot built outside an
	// Index (tests), which is not observed.
	tel *tel
}

// build makes a snapshot of services. Services are validated for what matching
// reads; rules compile through rs, so texts compiled before are reused. A done
// ctx stops it between two services, each of which compiles at most one rule.
func build(ctx context.Context, services []referral.Service, opts Options, rs *rules) (*Snapshot, error) {
	src := slices.Clone(services)
	slices.SortFunc(src, func(a, b referral.Service) int { return a.ID.Compare(b.ID) })
	s := &Snapshot{
		opts:     opts,
		rules:    rs,
		source:   src,
		services: make([]svc, len(src)),
		statuses: []referral.ServiceStatus{referral.ServiceActive},
		caps:     newCapTable(len(src)),
		ids:      make([]referral.ID, len(src)),
		orgs:     make([]referral.ID, len(src)),
		byID:     make(map[referral.ID]int32, len(src)),
		domains:  map[referral.Domain]int{},
	}
	areas := newAreaLists()
	ruleIdx := map[*rule]int32{}
	langIdx := map[string]int32{}
	domIdx := map[string]int32{}
	done := ctx.Done()
	for i := range src {
		select {
		case <-done:
			return nil, ctx.Err()
		default:
		}
		sv := &src[i]
		field := "services[" + strconv.Itoa(i) + "]"
		if _, dup := s.byID[sv.ID]; dup {
			return nil, invalidf(field+".id", "is a duplicate")
		}
		if err := validService(*sv); err != nil {
			return nil, prefixed(field, err)
		}
		s.byID[sv.ID] = int32(i)
		e := svc{
			id: sv.ID, status: sv.Status, active: sv.Status == referral.ServiceActive, rule: -1,
			minAge: sv.MinimumAge, maxAge: sv.MaximumAge,
		}
		if e.minAge > 0 || e.maxAge > 0 {
			e.ageText = ageBand(e.minAge, e.maxAge)
		}
		for _, d := range sv.Domains {
			bit, ok := s.domains[d]
			if !ok {
				if len(s.domains) == maxDomains {
					return nil, invalidf(field+".domains", "a directory may use at most %d domains", maxDomains)
				}
				bit = len(s.domains)
				s.domains[d] = bit
			}
			e.domains.set(bit)
		}
		if sv.Eligibility != "" {
			ru, err := rs.compile(sv.Eligibility)
			if err != nil {
				var re *RuleError
				if errors.As(err, &re) {
					named := *re
					named.Service = sv.ID
					return nil, &named
				}
				return nil, err
			}
			idx, ok := ruleIdx[ru]
			if !ok {
				idx = int32(len(s.programs))
				s.programs = append(s.programs, ru)
				ruleIdx[ru] = idx
			}
			e.rule = idx
		}
		for _, l := range languagesOf(sv) {
			e.langs = append(e.langs, strings.ToLower(l))
		}
		langKey := ""
		for _, l := range e.langs { // length-prefixed: no tag can fake a separator
			langKey += strconv.Itoa(len(l)) + ":" + l
		}
		langs, ok := langIdx[langKey]
		if !ok {
			langs = int32(len(s.langSets))
			s.langSets = append(s.langSets, e.langs)
			langIdx[langKey] = langs
		}
		e.langSet = langs
		domKey := ""
		for _, d := range sv.Domains { // length-prefixed, as the language lists
			domKey += strconv.Itoa(len(d)) + ":" + string(d)
		}
		doms, ok := domIdx[domKey]
		if !ok {
			doms = int32(len(s.domLists))
			s.domLists = append(s.domLists, slices.Clone(sv.Domains))
			domIdx[domKey] = doms
		}
		e.doms = doms
		if scs := hoursOf(sv); len(scs) > 0 {
			h := referral.CompileHours(scs)
			e.hours = &h
		}
		placed := 0
		latLo, latHi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, l := range sv.Locations {
			if l.Placed() {
				placed++
				// Rounded outwards, so the float32 bounds hold the latitudes.
				latLo = min(latLo, math.Nextafter32(float32(l.Latitude), float32(math.Inf(-1))))
				latHi = max(latHi, math.Nextafter32(float32(l.Latitude), float32(math.Inf(1))))
			}
		}
		s.keepSecret(int32(i), sv)
		served := areasOf(sv)
		e.hasArea = len(served) > 0
		if !e.hasArea && placed == 0 {
			s.nowhere = append(s.nowhere, int32(i))
		}
		e.prof = profileOf(&e, len(sv.Locations), placed, s.statusOf(e.status))
		areas.add(&e, served, areaRef{svc: int32(i), domains: e.domains, latLo: latLo, latHi: latHi, profile: e.prof}, opts.Resolution)
		s.services[i] = e
		s.caps.set(int32(i), sv.Capacity)
		s.ids[i], s.orgs[i] = sv.ID, sv.Organization
	}
	s.setAreas(areas)
	s.grid = newGrid(src, s.services, opts.Resolution)
	n, r, l := len(s.services), len(s.programs), len(s.langSets)
	s.scratch = &sync.Pool{New: func() any { return newScratch(n, r, l) }}
	return s, nil
}

// areaLists collects the area lists while a snapshot is built.
type areaLists struct {
	counties, zips, states map[string][]areaRef
	polygons               map[h3.Cell][]areaRef
	virtual                []areaRef
}

func newAreaLists() *areaLists {
	return &areaLists{counties: map[string][]areaRef{}, zips: map[string][]areaRef{},
		states: map[string][]areaRef{}, polygons: map[h3.Cell][]areaRef{}}
}

// add records a service's areas in the service and in the area lists.
func (s *areaLists) add(e *svc, areas []referral.ServiceArea, ref areaRef, res int) {
	for _, a := range areas {
		switch a.Kind {
		case referral.AreaCounty:
			for _, v := range a.Values {
				e.counties = append(e.counties, normalize(v))
				s.counties[normalize(v)] = append(s.counties[normalize(v)], ref)
			}
		case referral.AreaZip:
			for _, v := range a.Values {
				e.zips = append(e.zips, normalize(v))
				s.zips[normalize(v)] = append(s.zips[normalize(v)], ref)
			}
		case referral.AreaState:
			for _, v := range a.Values {
				e.states = append(e.states, v)
				s.states[v] = append(s.states[v], ref)
			}
		case referral.AreaVirtual:
			if !e.virtual {
				e.virtual = true
				s.virtual = append(s.virtual, ref)
			}
		case referral.AreaPolygon:
			if e.polygon == nil {
				e.polygon = map[h3.Cell]struct{}{}
			}
			for _, c := range polyfill(a.Polygon, res) {
				if _, seen := e.polygon[c]; !seen {
					e.polygon[c] = struct{}{}
					s.polygons[c] = append(s.polygons[c], ref)
				}
			}
		}
	}
}

// statusOf returns the index of st in s.statuses, adding it when new.
func (s *Snapshot) statusOf(st referral.ServiceStatus) uint8 {
	i := slices.Index(s.statuses, st)
	if i < 0 {
		i = len(s.statuses)
		s.statuses = append(s.statuses, st)
	}
	return uint8(i)
}

// setAreas files the collected area lists by domain.
func (s *Snapshot) setAreas(a *areaLists) {
	n := len(s.domains)
	byKey := func(m map[string][]areaRef) map[string]areaList {
		out := make(map[string]areaList, len(m))
		for k, refs := range m {
			slices.SortFunc(refs, func(a, b areaRef) int { return int(a.svc - b.svc) })
			out[k] = newAreaList(slices.CompactFunc(refs, func(a, b areaRef) bool { return a.svc == b.svc }), n)
		}
		return out
	}
	s.counties, s.zips, s.states = byKey(a.counties), byKey(a.zips), byKey(a.states)
	s.polygons = make(map[h3.Cell]areaList, len(a.polygons))
	for c, refs := range a.polygons {
		s.polygons[c] = newAreaList(refs, n)
	}
	s.virtual = newAreaList(a.virtual, n)
}

// areaList is the services of one area (a zip, a county, a state, a polygon's
// cell, or all the virtual services), listed once per domain they address and
// grouped by domain, so a request walks only the entries of its own domains:
// the nation's virtual services are hundreds of entries.
//
// A domain's entries are in parts of services alike for ranking: active or
// not, the same language list, with opening hours or without; in a part,
// by service. Two entries of a part without opening hours, for a request
// whose domains they address only this one of, score the same when their
// capacity classes are the same: the heaps keep the first of them, by
// service, and reject the rest once they reject one.
type areaList struct {
	refs []areaRef
	from []int32 // refs[from[d]:from[d+1]] address domain bit d
	// parts[partFrom[d]:partFrom[d+1]] are domain bit d's parts.
	parts    []areaPart
	partFrom []int32
}

// areaPart is the entries [start:end] of a domain's entries in an areaList.
type areaPart struct {
	start, end int32
	langs      int32
	timed      bool
	active     bool
}

func newAreaList(refs []areaRef, domains int) areaList {
	l := areaList{from: make([]int32, domains+1), partFrom: make([]int32, domains+1)}
	key := func(r *areaRef) areaPart {
		return areaPart{langs: r.langs, timed: r.timed(), active: r.status == 0}
	}
	for d := range domains {
		l.from[d], l.partFrom[d] = int32(len(l.refs)), int32(len(l.parts))
		start := len(l.refs)
		for _, r := range refs {
			if r.domains.has(d) {
				l.refs = append(l.refs, r)
			}
		}
		mine := l.refs[start:]
		slices.SortStableFunc(mine, func(a, b areaRef) int {
			ka, kb := key(&a), key(&b)
			switch {
			case ka.active != kb.active:
				if ka.active {
					return -1
				}
				return 1
			case ka.langs != kb.langs:
				return int(ka.langs - kb.langs)
			case ka.timed != kb.timed:
				if kb.timed {
					return -1
				}
				return 1
			}
			return int(a.svc - b.svc)
		})
		for i := range mine {
			if k := key(&mine[i]); i == 0 || k != key(&mine[i-1]) {
				k.start = int32(i)
				l.parts = append(l.parts, k)
			}
			l.parts[len(l.parts)-1].end = int32(i + 1)
		}
	}
	l.from[domains], l.partFrom[domains] = int32(len(l.refs)), int32(len(l.parts))
	return l
}

// domain returns the entries addressing domain bit d, and their parts.
func (l areaList) domain(d int) ([]areaRef, []areaPart) {
	if l.from == nil {
		return nil, nil
	}
	return l.refs[l.from[d]:l.from[d+1]], l.parts[l.partFrom[d]:l.partFrom[d+1]]
}

// polyfill covers a polygon with the compacted set of cells whose centres fall
// inside it. Large polygons are filled at a coarser resolution first, so a
// state-sized area does not expand into a million cells.
func polyfill(ring []referral.Point, res int) []h3.Cell {
	loop := make(h3.GeoLoop, len(ring))
	for i, p := range ring {
		loop[i] = h3.NewLatLng(p.Latitude, p.Longitude)
	}
	cells := h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, res)
	return h3.CompactCells(cells)
}

// hoursOf is the schedules that say when a service is open: its own, else
// those of its service_at_locations, else those of its locations.
func hoursOf(sv *referral.Service) []referral.Schedule {
	if len(sv.Schedules) > 0 {
		return sv.Schedules
	}
	var out []referral.Schedule
	for _, l := range sv.Locations {
		out = append(out, l.ServiceSchedules...)
	}
	if len(out) > 0 {
		return out
	}
	for _, l := range sv.Locations {
		out = append(out, l.Schedules...)
	}
	return out
}

// languagesOf is the languages a service is delivered in: its own, else those
// spoken at its locations.
func languagesOf(sv *referral.Service) []string {
	if len(sv.Languages) > 0 {
		return sv.Languages
	}
	var out []string
	for _, l := range sv.Locations {
		for _, lang := range l.Languages {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, lang) }) {
				out = append(out, lang)
			}
		}
	}
	return out
}

// areasOf is the areas matching can read that a service serves: its own, those
// it serves from its locations, and anywhere when it has a virtual location.
func areasOf(sv *referral.Service) []referral.ServiceArea {
	var out []referral.ServiceArea
	add := func(areas []referral.ServiceArea) {
		for _, a := range areas {
			if a.Kind != "" {
				out = append(out, a)
			}
		}
	}
	add(sv.ServiceAreas)
	for _, l := range sv.Locations {
		add(l.ServiceAreas)
		if l.Type == referral.LocationVirtual {
			out = append(out, referral.ServiceArea{Kind: referral.AreaVirtual})
		}
	}
	return out
}

// domainReason is why a service that covers none of the request's domains is
// excluded: a service with no domain at all is unmatchable until its taxonomy
// terms are mapped.
func (s *Snapshot) domainReason(svc int32) Reason {
	if s.services[svc].domains.empty() {
		return Reason{ReasonUnmatchable, "no SDOH domain"}
	}
	return Reason{Code: ReasonDomainMismatch}
}

// withNowhere adds to explained exclusions the services that address a domain
// of the request but have no place to be found, so a person can fix them.
func (s *Snapshot) withNowhere(q *query, out []Exclusion) []Exclusion {
	added := false
	for _, i := range s.nowhere {
		if !s.services[i].domains.and(q.mask).empty() {
			out = append(out, Exclusion{Service: s.ids[i], Reasons: []Reason{{ReasonUnmatchable, "no location with coordinates and no service area"}}})
			added = true
		}
	}
	if added {
		slices.SortStableFunc(out, func(a, b Exclusion) int { return a.Service.Compare(b.Service) })
	}
	return out
}

// validService checks what matching reads. It does not require network_id: a
// directory file for matching often has none.
func validService(s referral.Service) error {
	if s.ID.IsZero() {
		return invalidf("id", "is required")
	}
	probe := s
	if probe.Network.IsZero() {
		probe.Network = s.ID
	}
	if probe.Organization.IsZero() {
		probe.Organization = s.ID
	}
	if strings.TrimSpace(probe.Name) == "" {
		probe.Name = "unnamed"
	}
	return probe.Validate()
}

// prefixed re-roots a validation error under parent.
func prefixed(parent string, err error) error {
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		return referral.Invalid(parent+"."+ve.Field, ve.Problem)
	}
	return err
}

// Len returns the number of services in the snapshot.
func (s *Snapshot) Len() int { return len(s.services) }

// Resolution returns the H3 resolution of the snapshot's geo index.
func (s *Snapshot) Resolution() int { return s.opts.Resolution }

// Service returns the service with id as it was loaded.
func (s *Snapshot) Service(id referral.ID) (referral.Service, bool) {
	i, ok := s.byID[id]
	if !ok {
		return referral.Service{}, false
	}
	return s.record(int(i)), true
}

// record returns a deep copy of the i-th service with its current capacity, which
// capacity updates keep only in the capacity table.
func (s *Snapshot) record(i int) referral.Service {
	out := s.source[i].Clone()
	c := s.caps.at(int32(i)).capacity()
	if c != nil && out.Capacity != nil { // keep what the table does not hold
		out.Capacity.Available, out.Capacity.Waitlist = c.Available, c.Waitlist
		c = out.Capacity
	}
	out.Capacity = c
	return out
}

// Services returns a copy of every service in the snapshot, sorted by id.
func (s *Snapshot) Services() []referral.Service {
	out := make([]referral.Service, len(s.source))
	for i := range s.source {
		out[i] = s.record(i)
	}
	return out
}

// Rules returns the number of distinct compiled rule programs in the snapshot.
func (s *Snapshot) Rules() int { return len(s.programs) }

// scratch is per-request working memory, pooled per snapshot: a generation-stamped
// slot per service (so deduplicating the scan's and explanations' candidates
// needs no map; the explain-off path, which decides a few dozen services, keeps
// them in the small set decided), per rule program and per language list (so
// each is evaluated at most once per request), and the slices a request fills,
// reused so the steady state allocates little.
type scratch struct {
	gen     uint32
	seen    []stamp
	ruleGen []uint32
	ruleOut []ruleOutcome
	langGen []uint32
	langVal []float64

	q            query
	langs, needs []string
	ranks        []int
	near         []uint64
	cut          cut
	decided      decided
	spans        []span
	levels       []level
	lists        []kindList
	cursors      []cursor
	cands        []candidate
	top, maybe   topK
	matched      []*candidate
	possible     []*candidate
	excluded     []*candidate
	kmBuf        []byte
	kmEnds       []int
	kms          []string
	reasons      []Reason
	reasonEnds   []int
	keys         []uint64
	// touched is where gatherPoints puts what it reads ahead, so that the
	// reads are kept.
	touched float64
}

func newScratch(services, rules, langSets int) *scratch {
	return &scratch{
		seen:    make([]stamp, services),
		ruleGen: make([]uint32, rules), ruleOut: make([]ruleOutcome, rules),
		langGen: make([]uint32, langSets), langVal: make([]float64, langSets),
		langs: make([]string, 0, 4), needs: make([]string, 0, 4),
	}
}

func (sc *scratch) next() {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.seen)
		clear(sc.ruleGen)
		clear(sc.langGen)
		sc.gen = 1
	}
	sc.cands = sc.cands[:0]
}

// stamp marks a service as offered in the request of generation gen, as the
// candidate at slot; one record, so checking a service costs one memory read.
type stamp struct {
	gen  uint32
	slot int32
}

// release drops what the scratch still references of the request and of its
// result before the scratch goes back to the pool: a pooled scratch must not keep
// a person's data, or a caller's result, alive.
func (sc *scratch) release() {
	clear(sc.langs)
	clear(sc.needs)
	clear(sc.kms)
	clear(sc.reasons)
	clear(sc.matched)
	clear(sc.possible)
	clear(sc.excluded)
	if sc.q.req.Explain {
		for i := range sc.cands {
			sc.cands[i].reason = nil
		}
	}
	sc.q = query{urgency: sc.q.urgency[:0]}
}
