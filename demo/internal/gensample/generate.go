package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// directory is the file's shape: one network and its records.
type directory struct {
	Network       referral.Network        `json:"network"`
	Organizations []referral.Organization `json:"organizations"`
	Services      []referral.Service      `json:"services"`
}

// Fixed inputs that make the output reproducible.
const (
	contentSeed1, contentSeed2 = 0x0c01_0b05, 0x0043_215
	idSeed1, idSeed2           = 0x1d5_0001, 0x1d5_0002
	timezone                   = "America/New_York"
)

// epoch is the id clock's start and every record's created and updated time.
var epoch = time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC)

// bounds of the Columbus metro; every location falls inside.
const minLat, maxLat, minLon, maxLon = 39.80, 40.15, -83.20, -82.80

// inactivePercent of services are listed as inactive.
const inactivePercent = 3

// Shares of services, drawn per service.
const (
	trackedShare      = 0.50 // of services that can be visited (not virtual)
	poolRuleShare     = 0.12 // of services without a rule of their own
	mobileShare       = 0.50 // of services that can go mobile, served by zip area instead of a site
	extraAreaShare    = 0.15 // of located services, also given a county area
	extraLangShare    = 0.45 // per language a kind names
	multilingualShare = 0.70 // the same, for kinds that name more than three
	spanishAnywhere   = 0.20 // for kinds that name no languages
)

// pcgReader turns a seeded PCG into the entropy reader the id generator wants.
type pcgReader struct{ src *rand.PCG }

func (r pcgReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := r.src.Uint64()
		for j := i; j < len(p) && j < i+8; j++ {
			p[j] = byte(v)
			v >>= 8
		}
	}
	return len(p), nil
}

// generator holds the random source and the state shared across records.
type generator struct {
	r        *rand.Rand
	ids      *referral.IDGenerator
	network  referral.ID
	prefixes []string
	phones   []int
	orgs     int
}

// site is one address an organization works from.
type site struct {
	place place
	lat   float64
	lon   float64
	addr  referral.Address
}

// org is an organization with its sites, before its services are made.
type org struct {
	rec   referral.Organization
	kind  *kind
	sites []site
	// anchored organizations sit at one of the kind's homes and offer its anchor
	// templates.
	anchored bool
}

func newGenerator() *generator {
	tick := 0
	clock := func() time.Time {
		t := epoch.Add(time.Duration(tick) * time.Millisecond)
		tick++
		return t
	}
	g := &generator{
		r:   rand.New(rand.NewPCG(contentSeed1, contentSeed2)),
		ids: referral.NewIDGenerator(clock, pcgReader{rand.NewPCG(idSeed1, idSeed2)}),
	}
	for _, p := range namePrefixes {
		for _, s := range nameSuffixes {
			g.prefixes = append(g.prefixes, p+" "+s)
		}
	}
	g.r.Shuffle(len(g.prefixes), func(i, j int) { g.prefixes[i], g.prefixes[j] = g.prefixes[j], g.prefixes[i] })
	g.phones = g.r.Perm(100)
	return g
}

// generate builds the whole directory and checks it as the demo will load it.
func generate() (directory, error) {
	g := newGenerator()
	g.network = g.ids.MustNew()
	d := directory{Network: referral.Network{ID: g.network, Name: "Columbus Sample Referral Network", Created: epoch}}

	var orgs []org
	for ki := range kinds {
		k := &kinds[ki]
		for i := range k.count {
			o, err := g.organization(k, i)
			if err != nil {
				return directory{}, err
			}
			orgs = append(orgs, o)
			d.Organizations = append(d.Organizations, o.rec)
		}
	}
	var others []int // services that are not anchors, by index
	for _, o := range orgs {
		for _, t := range g.offer(o) {
			if !(o.anchored && t.anchor) {
				others = append(others, len(d.Services))
			}
			d.Services = append(d.Services, g.service(o, t))
		}
	}
	// A fixed share is inactive, drawn once over the directory so the share does
	// not drift with the draws above; anchors stay active.
	for _, i := range g.r.Perm(len(others))[:len(d.Services)*inactivePercent/100] {
		d.Services[others[i]].Status = referral.ServiceInactive
	}
	return d, check(d)
}

// check validates every record and compiles the directory as the demo does, so
// a bad table entry fails here rather than in the demo.
func check(d directory) error {
	if err := d.Network.Validate(); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	for _, o := range d.Organizations {
		if err := o.Validate(); err != nil {
			return fmt.Errorf("organization %s: %w", o.ID, err)
		}
	}
	for _, s := range d.Services {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("service %s: %w", s.ID, err)
		}
	}
	if _, err := matching.New(context.Background(), d.Services, matching.Options{}); err != nil {
		return fmt.Errorf("matching: %w", err)
	}
	return nil
}

// encode writes the directory as 2-space indented JSON with a trailing newline.
// HTML escaping is off so that rules read as written ("age >= 60").
func encode(d directory) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (g *generator) organization(k *kind, i int) (org, error) {
	if g.orgs >= len(g.prefixes) {
		return org{}, fmt.Errorf("gensample: %d name prefixes are too few for the organizations", len(g.prefixes))
	}
	if g.orgs >= 200 {
		return org{}, fmt.Errorf("gensample: fictional 555-01xx numbers in two area codes run out at 200 organizations")
	}
	name := g.prefixes[g.orgs] + " " + k.nouns[g.r.IntN(len(k.nouns))]
	home := g.weightedPlace()
	if i < len(k.homes) {
		p, ok := placeNamed(k.homes[i])
		if !ok {
			return org{}, fmt.Errorf("gensample: unknown home %q", k.homes[i])
		}
		home = p
	}
	slug := slugify(name)
	o := org{kind: k, sites: []site{g.site(home)}, anchored: i < len(k.homes)}
	for range pick(g.r, []int{0, 0, 0, 0, 0, 0, 0, 1, 1, 2}) {
		o.sites = append(o.sites, g.site(g.weightedPlace()))
	}
	o.rec = referral.Organization{
		ID:          g.ids.MustNew(),
		Network:     g.network,
		Name:        name,
		Description: fmt.Sprintf(k.about, home.phrase),
		Email:       "info@" + slug + ".example.org",
		Website:     "https://" + slug + ".example.org",
		Phone:       g.phone(),
		Created:     epoch,
		Updated:     epoch,
	}
	g.orgs++
	return o, nil
}

// phone returns a fictional 555-01xx number: 614 for the first hundred
// organizations, then Columbus's overlay code 380, so no two share a number.
func (g *generator) phone() string {
	area := 614 + (380-614)*(g.orgs/100)
	return fmt.Sprintf("%d-555-01%02d", area, g.phones[g.orgs%100])
}

func (g *generator) site(p place) site {
	lat := clamp(p.lat+(g.r.Float64()*2-1)*0.008, minLat, maxLat)
	lon := clamp(p.lon+(g.r.Float64()*2-1)*0.010, minLon, maxLon)
	return site{
		place: p,
		lat:   round6(lat),
		lon:   round6(lon),
		addr: referral.Address{
			Address1:      fmt.Sprintf("%d %s", 100+g.r.IntN(3800), pick(g.r, p.streets)),
			City:          p.city,
			Region:        p.county,
			StateProvince: "OH",
			PostalCode:    p.zip,
			Country:       "US",
		},
	}
}

// offer chooses the templates an organization offers: its kind's anchors if it
// is anchored, then others at random, perOrg in all.
func (g *generator) offer(o org) []*template {
	k := o.kind
	n := min(k.perOrg[0]+g.r.IntN(k.perOrg[1]-k.perOrg[0]+1), len(k.templates))
	var chosen []*template
	if o.anchored {
		for i := range k.templates {
			if k.templates[i].anchor {
				chosen = append(chosen, &k.templates[i])
			}
		}
	}
	for _, i := range g.r.Perm(len(k.templates)) {
		if len(chosen) >= n {
			break
		}
		if t := &k.templates[i]; !slices.Contains(chosen, t) {
			chosen = append(chosen, t)
		}
	}
	return chosen
}

func (g *generator) service(o org, t *template) referral.Service {
	anchor := o.anchored && t.anchor
	name := pick(g.r, t.names)
	s := referral.Service{
		ID:           g.ids.MustNew(),
		Network:      g.network,
		Organization: o.rec.ID,
		Name:         name,
		Description:  t.about,
		URL:          o.rec.Website + "/" + slugify(name),
		Status:       referral.ServiceActive,
		Domains:      slices.Clone(t.domains),
		MinimumAge:   t.minAge,
		MaximumAge:   t.maxAge,
		Languages:    g.languages(o.kind, anchor),
		Created:      epoch,
		Updated:      epoch,
	}
	switch {
	case t.rule.text != "":
		s.Eligibility, s.EligibilityDescription = t.rule.text, t.rule.about
	case !t.open && !anchor && g.r.Float64() < poolRuleShare:
		r := pick(g.r, rulePool)
		s.Eligibility, s.EligibilityDescription = r.text, r.about
	}
	switch {
	case t.reach == virtualOnly:
		s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaVirtual}}
	case t.reach == countyOnly:
		s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaCounty, Values: []string{"Franklin"}}}
	case t.mobile != "" && !anchor && g.r.Float64() < mobileShare:
		s.Name = t.mobile
		s.URL = o.rec.Website + "/" + slugify(s.Name)
		s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaZip, Values: nearZips(o.sites[0].place, 3+g.r.IntN(3))}}
	default:
		s.Locations = g.locations(o)
		if g.r.Float64() < extraAreaShare {
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaCounty, Values: pick(g.r, [][]string{
				{"Franklin"}, {"Franklin"}, {"Franklin", "Delaware"}, {"Franklin", "Licking", "Fairfield"}, {"Franklin", "Madison", "Union"},
			})}}
		}
	}
	switch {
	case anchor:
		s.Capacity = &referral.Capacity{Available: 3 + g.r.IntN(23)}
	case t.reach != virtualOnly && g.r.Float64() < trackedShare:
		s.Capacity = g.capacity()
	}
	s.Schedules = g.schedules(t.hours)
	return s
}

func (g *generator) locations(o org) []referral.Location {
	n := min(len(o.sites), pick(g.r, []int{1, 1, 1, 1, 1, 1, 1, 2, 2, 3}))
	locs := make([]referral.Location, 0, n)
	for _, st := range o.sites[:n] {
		addr := st.addr
		locs = append(locs, referral.Location{
			ID:        g.ids.MustNew(),
			Name:      o.rec.Name + " (" + st.place.name + ")",
			Latitude:  st.lat,
			Longitude: st.lon,
			Address:   &addr,
		})
	}
	return locs
}

// languages always starts with English, then adds some of the kind's languages
// (all of them for an anchor) in the kind's order.
func (g *generator) languages(k *kind, anchor bool) []string {
	langs := []string{"en"}
	if anchor {
		return append(langs, k.langs...)
	}
	if len(k.langs) == 0 {
		if g.r.Float64() < spanishAnywhere {
			langs = append(langs, "es")
		}
		return langs
	}
	// Agencies built around many language communities staff most of them.
	share := extraLangShare
	if len(k.langs) > 3 {
		share = multilingualShare
	}
	for _, l := range k.langs {
		if g.r.Float64() < share {
			langs = append(langs, l)
		}
	}
	return langs
}

// capacity: most tracked services have room, about one in ten is full.
func (g *generator) capacity() *referral.Capacity {
	switch x := g.r.Float64(); {
	case x < 0.10:
		return &referral.Capacity{Available: 0, Waitlist: pick(g.r, []int{0, 0, 5, 10, 25})}
	case x < 0.18:
		return &referral.Capacity{Available: 1 + g.r.IntN(2)}
	default:
		return &referral.Capacity{Available: 3 + g.r.IntN(23), Waitlist: pick(g.r, []int{0, 0, 0, 10})}
	}
}

var weekdays = []string{"MO", "TU", "WE", "TH", "FR"}

func (g *generator) schedules(h hours) []referral.Schedule {
	week := func(days []string, opens, closes string) referral.Schedule {
		return referral.Schedule{ByDay: days, OpensAt: opens, ClosesAt: closes, Timezone: timezone}
	}
	switch h {
	case officeHours:
		out := []referral.Schedule{pick(g.r, []referral.Schedule{
			week(weekdays, "09:00", "17:00"),
			week(weekdays, "08:30", "16:30"),
			week([]string{"MO", "TU", "WE", "TH"}, "10:00", "18:00"),
			week([]string{"MO", "WE", "FR"}, "09:00", "15:00"),
		})}
		switch x := g.r.Float64(); {
		case x < 0.12:
			out = append(out, week([]string{"SA"}, "10:00", "13:00"))
		case x < 0.22:
			out = append(out, week([]string{"TU", "TH"}, "17:00", "20:00"))
		}
		return out
	case pantryHours:
		days := g.someWeekdays(2)
		out := []referral.Schedule{week(days, pick(g.r, []string{"10:00", "11:00", "16:00"}), pick(g.r, []string{"19:00"}))}
		if out[0].OpensAt != "16:00" {
			out[0].ClosesAt = "14:00"
		}
		if g.r.Float64() < 0.5 {
			out = append(out, week([]string{"SA"}, "09:00", "12:00"))
		}
		return out
	case saturdayHours:
		return []referral.Schedule{week([]string{"SA"}, "08:30", "11:30")}
	case eveningHours:
		return []referral.Schedule{week(g.someWeekdays(1+g.r.IntN(2)), "18:00", "20:00")}
	case mealHours:
		return []referral.Schedule{week(weekdays, "11:30", "13:00")}
	case sundayHours:
		return []referral.Schedule{week([]string{"SU"}, "08:00", "10:00")}
	case allDay:
		return []referral.Schedule{week([]string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}, "00:00", "23:59")}
	default:
		return nil
	}
}

// someWeekdays returns n distinct weekdays in week order.
func (g *generator) someWeekdays(n int) []string {
	idx := g.r.Perm(len(weekdays))[:n]
	slices.Sort(idx)
	days := make([]string, n)
	for i, j := range idx {
		days[i] = weekdays[j]
	}
	return days
}

// weightedPlace draws a place by weight, so sites cluster in the central city.
func (g *generator) weightedPlace() place {
	total := 0
	for _, p := range places {
		total += p.weight
	}
	n := g.r.IntN(total)
	for _, p := range places {
		if n < p.weight {
			return p
		}
		n -= p.weight
	}
	return places[len(places)-1]
}

func placeNamed(name string) (place, bool) {
	for _, p := range places {
		if p.name == name {
			return p, true
		}
	}
	return place{}, false
}

// nearZips returns the n distinct zips whose places are nearest to p, p's own
// first, in ascending order.
func nearZips(p place, n int) []string {
	byDist := slices.Clone(places)
	slices.SortStableFunc(byDist, func(a, b place) int {
		return cmp.Compare(matching.DistanceM(p.lat, p.lon, a.lat, a.lon), matching.DistanceM(p.lat, p.lon, b.lat, b.lon))
	})
	var zips []string
	for _, q := range byDist {
		if len(zips) == n {
			break
		}
		if !slices.Contains(zips, q.zip) {
			zips = append(zips, q.zip)
		}
	}
	slices.Sort(zips)
	return zips
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// slugify makes a host name or path segment from a name.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case c == '\'':
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
