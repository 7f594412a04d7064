package matching

import (
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// Options configure an index. The zero value is usable.
type Options struct {
	// Resolution is the H3 resolution locations are indexed at, 5 to 9. Default 7
	// (hexagons of about 5 km², right for radii of a few to tens of kilometres).
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
func (d domainSet) empty() bool               { return d[0]|d[1] == 0 }
func (d domainSet) count() int                { return bits.OnesCount64(d[0]) + bits.OnesCount64(d[1]) }
func (d *domainSet) set(i int)                { d[i/64] |= 1 << (i % 64) }
func (d domainSet) has(i int) bool            { return d[i/64]&(1<<(i%64)) != 0 }

// maxDomains is how many distinct domains one snapshot's services may use.
const maxDomains = 128

// window is one opening window of a schedule, resolved once at load.
type window struct {
	loc         *time.Location
	days        uint8
	open, close int
}

// svc is a service as the matcher reads it: flattened, with its rule compiled.
type svc struct {
	id       referral.ID
	active   bool
	status   referral.ServiceStatus
	domains  domainSet
	rule     int32 // index into Snapshot.rules, -1 for none
	minAge   int
	maxAge   int
	langs    []string
	capacity *referral.Capacity
	windows  []window
	// areas, for the linear scan and for explanations.
	counties, zips, states []string
	polygon                map[h3.Cell]struct{}
	virtual                bool
	hasArea                bool
	locations              []referral.ID
}

// site is one service location in the geo index.
type site struct {
	p point
	// domains and active are copied from the service so the hot loop filters
	// without touching the service table.
	domains domainSet
	active  bool
	svc     int32
	loc     int32
}

type span struct{ start, end int32 }

// Snapshot is an immutable index of a directory: safe for any number of concurrent
// readers. Index.Update builds a new one and swaps it in.
type Snapshot struct {
	opts     Options
	rules    *rules
	source   []referral.Service // sorted by id, as loaded
	services []svc              // parallel to source
	byID     map[referral.ID]int32
	domains  map[referral.Domain]int
	programs []*rule

	edgeAvg float64
	cells   map[h3.Cell]span
	order   []h3.Cell // occupied cells, for walks when the disk would be too large
	sites   []site

	counties map[string][]int32
	zips     map[string][]int32
	states   map[string][]int32
	polygons map[h3.Cell][]int32
	virtual  []int32

	scratch sync.Pool
}

// build makes a snapshot of services. Services are validated for what matching
// reads; rules compile through rs, so texts compiled before are reused.
func build(services []referral.Service, opts Options, rs *rules) (*Snapshot, error) {
	src := slices.Clone(services)
	slices.SortFunc(src, func(a, b referral.Service) int { return a.ID.Compare(b.ID) })
	s := &Snapshot{
		opts:     opts,
		rules:    rs,
		source:   src,
		services: make([]svc, len(src)),
		byID:     make(map[referral.ID]int32, len(src)),
		domains:  map[referral.Domain]int{},
		edgeAvg:  h3.HexagonEdgeLengthAvgM(opts.Resolution),
		counties: map[string][]int32{},
		zips:     map[string][]int32{},
		states:   map[string][]int32{},
		polygons: map[h3.Cell][]int32{},
	}
	ruleIdx := map[*rule]int32{}
	type cellSite struct {
		cell h3.Cell
		site site
	}
	var placed []cellSite
	for i := range src {
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
		if strings.TrimSpace(sv.Eligibility) != "" {
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
		for _, l := range sv.Languages {
			e.langs = append(e.langs, strings.ToLower(l))
		}
		if sv.Capacity != nil {
			c := *sv.Capacity
			e.capacity = &c
		}
		for _, sc := range sv.Schedules {
			e.windows = append(e.windows, resolveWindow(sc))
		}
		firstSite := len(placed)
		for j, l := range sv.Locations {
			e.locations = append(e.locations, l.ID)
			cell := h3.LatLngToCell(h3.NewLatLng(l.Latitude, l.Longitude), opts.Resolution)
			placed = append(placed, cellSite{cell, site{p: newPoint(l.Latitude, l.Longitude), svc: int32(i), loc: int32(j)}})
		}
		for _, a := range sv.ServiceAreas {
			e.hasArea = true
			switch a.Kind {
			case referral.AreaCounty:
				for _, v := range a.Values {
					e.counties = append(e.counties, normalize(v))
					s.counties[normalize(v)] = append(s.counties[normalize(v)], int32(i))
				}
			case referral.AreaZip:
				for _, v := range a.Values {
					e.zips = append(e.zips, normalize(v))
					s.zips[normalize(v)] = append(s.zips[normalize(v)], int32(i))
				}
			case referral.AreaState:
				for _, v := range a.Values {
					e.states = append(e.states, v)
					s.states[v] = append(s.states[v], int32(i))
				}
			case referral.AreaVirtual:
				if !e.virtual {
					e.virtual = true
					s.virtual = append(s.virtual, int32(i))
				}
			case referral.AreaPolygon:
				if e.polygon == nil {
					e.polygon = map[h3.Cell]struct{}{}
				}
				for _, c := range polyfill(a.Polygon, opts.Resolution) {
					if _, seen := e.polygon[c]; !seen {
						e.polygon[c] = struct{}{}
						s.polygons[c] = append(s.polygons[c], int32(i))
					}
				}
			}
		}
		s.services[i] = e
		for k := range placed[firstSite:] {
			placed[firstSite+k].site.domains = e.domains
			placed[firstSite+k].site.active = e.active
		}
	}
	for _, list := range []map[string][]int32{s.counties, s.zips, s.states} {
		for k, v := range list {
			list[k] = dedupe(v)
		}
	}
	slices.SortFunc(placed, func(a, b cellSite) int {
		switch {
		case a.cell < b.cell:
			return -1
		case a.cell > b.cell:
			return 1
		}
		if a.site.svc != b.site.svc {
			return int(a.site.svc - b.site.svc)
		}
		return int(a.site.loc - b.site.loc)
	})
	s.sites = make([]site, len(placed))
	s.cells = make(map[h3.Cell]span, len(placed)/2+1)
	for i, p := range placed {
		s.sites[i] = p.site
		sp, ok := s.cells[p.cell]
		if !ok {
			sp.start = int32(i)
			s.order = append(s.order, p.cell)
		}
		sp.end = int32(i + 1)
		s.cells[p.cell] = sp
	}
	n := len(s.services)
	s.scratch.New = func() any { return newScratch(n, len(s.programs)) }
	return s, nil
}

func dedupe(v []int32) []int32 {
	slices.Sort(v)
	return slices.Compact(v)
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

// resolveWindow parses a validated schedule once, so matching never loads a zone.
func resolveWindow(sc referral.Schedule) window {
	w := window{loc: time.UTC}
	if sc.Timezone != "" {
		if loc, err := time.LoadLocation(sc.Timezone); err == nil {
			w.loc = loc
		}
	}
	days := map[string]time.Weekday{"SU": 0, "MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6}
	for _, d := range sc.ByDay {
		w.days |= 1 << days[d]
	}
	w.open = clockMinutes(sc.OpensAt)
	w.close = clockMinutes(sc.ClosesAt)
	return w
}

func clockMinutes(s string) int {
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	return h*60 + m
}

func (w window) openAt(t time.Time) bool {
	local := t.In(w.loc)
	minute := local.Hour()*60 + local.Minute()
	return w.days&(1<<local.Weekday()) != 0 && minute >= w.open && minute < w.close
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
// capacity updates keep only in the service table.
func (s *Snapshot) record(i int) referral.Service {
	out := s.source[i].Clone()
	out.Capacity = nil
	if c := s.services[i].capacity; c != nil {
		cp := *c
		out.Capacity = &cp
	}
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
// slot per service (so deduplicating candidates needs no map) and a slot per rule.
type scratch struct {
	gen     uint32
	seen    []uint32
	slot    []int32
	ruleGen []uint32
	ruleOut []ruleOutcome
	cands   []candidate
	matched []*candidate
}

func newScratch(services, rules int) *scratch {
	return &scratch{
		seen: make([]uint32, services), slot: make([]int32, services),
		ruleGen: make([]uint32, rules), ruleOut: make([]ruleOutcome, rules),
	}
}

func (sc *scratch) next() {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.seen)
		clear(sc.ruleGen)
		sc.gen = 1
	}
	sc.cands = sc.cands[:0]
}
