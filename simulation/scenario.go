package simulation

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// Limits on a scenario, so that a hostile or mistyped file cannot ask for more
// than a machine can hold.
const (
	MaxPopulation  = 5_000_000
	MaxSites       = 1_000
	MaxServices    = 100_000
	MaxLocations   = 1_000_000
	MaxHorizon     = 10 * 365 * 24 * time.Hour
	MaxArrivals    = 50_000_000
	MaxRereferrals = 20
)

// Scenario describes a referral network to simulate: who lives where, how they
// are screened, where they present, which services exist with what capacity, how
// partners behave and which policies apply. Times of day are UTC.
type Scenario struct {
	Name string `json:"name"`
	// Start is the virtual time the simulation begins.
	Start time.Time `json:"start"`
	// Duration is how long people keep arriving.
	Duration Duration `json:"duration"`
	// Warmup is excluded from utilisation and waiting-time measures, so they
	// describe the steady state rather than an empty system filling up.
	Warmup Duration `json:"warmup,omitempty"`
	// Drain is how long after Duration open referrals may run to their end; what is
	// still open then is reported by its status. Zero means 365 days.
	Drain      Duration    `json:"drain,omitempty"`
	Population Population  `json:"population"`
	Screening  Screening   `json:"screening"`
	Sites      []Site      `json:"sites"`
	Services   []Service   `json:"services,omitempty"`
	Synthetic  *Synthetic  `json:"synthetic_directory,omitempty"`
	Partners   Partners    `json:"partners"`
	Policy     Policy      `json:"policy"`
	points     []placement // read from Population.PointsFile
}

// Population is the people who may present at the referring sites.
type Population struct {
	// Size is the number of distinct people; each arrival is one of them, drawn
	// uniformly, so a person may present more than once.
	Size int `json:"size"`
	// Centres scatter people around places (a normal distribution of SDKM
	// kilometres per axis); PointsFile instead names a CSV file of
	// latitude,longitude[,state,county,zip] rows (relative to the scenario file)
	// people are placed at. Exactly one of the two.
	Centres    []Centre `json:"centres,omitempty"`
	PointsFile string   `json:"points_file,omitempty"`
	// Age in years.
	Age Dist `json:"age"`
	// HouseholdSize is rounded to a whole number of at least 1.
	HouseholdSize Dist `json:"household_size"`
	// Income: either FPLPercent (income as a percent of the HHS poverty guideline
	// for the household size) or IncomeAnnual (US dollars), or neither (unknown).
	FPLPercent   *Dist `json:"fpl_percent,omitempty"`
	IncomeAnnual *Dist `json:"income_annual,omitempty"`
	// Languages are weighted lists of BCP 47 tags in order of preference.
	Languages []LanguageChoice `json:"languages,omitempty"`
	// Insurance values are host codes ("medicaid", "uninsured").
	Insurance []Choice `json:"insurance,omitempty"`
	// Probabilities of being a veteran, disabled, pregnant.
	Veteran  float64 `json:"veteran,omitempty"`
	Disabled float64 `json:"disabled,omitempty"`
	Pregnant float64 `json:"pregnant,omitempty"`
}

// Centre is a place people live around.
type Centre struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	SDKM      float64 `json:"sd_km"`
	Weight    float64 `json:"weight"`
	State     string  `json:"state,omitempty"`
	County    string  `json:"county,omitempty"`
	Zip       string  `json:"zip,omitempty"`
}

// LanguageChoice is one weighted set of languages.
type LanguageChoice struct {
	Languages []string `json:"languages"`
	Weight    float64  `json:"weight"`
}

// Screening says which instrument screens people and how they answer it.
type Screening struct {
	// Instrument is a built-in instrument id ("ahc-hrsn", "hunger-vital-sign").
	Instrument string `json:"instrument"`
	// Coverage is the share of arrivals screened (1 screens everyone). Needs of
	// people not screened go unmet with the reason "not-screened".
	Coverage float64 `json:"coverage"`
	// Prevalence gives, per domain, the probability that a person answers so that
	// the instrument finds the domain positive.
	Prevalence []DomainRate `json:"prevalence,omitempty"`
	// Answers gives per-item answer distributions (option codes and weights); they
	// override Prevalence for the items they name. Items named by neither are
	// answered with the instrument's lowest-risk option.
	Answers []ItemAnswers `json:"answers,omitempty"`
}

// DomainRate is the prevalence of one domain.
type DomainRate struct {
	Domain referral.Domain `json:"domain"`
	P      float64         `json:"p"`
}

// ItemAnswers is the answer distribution of one item.
type ItemAnswers struct {
	Item    string   `json:"item"`
	Options []Choice `json:"options"`
}

// Site is a referring organization where people present (a clinic, an ED).
// Arrivals are Poisson at RatePerDay; with Hourly (24 multipliers by UTC hour of
// day) the rate during hour h is RatePerDay × Hourly[h], so a day brings
// RatePerDay × the multipliers' mean arrivals on average.
type Site struct {
	Name       string    `json:"name"`
	Latitude   float64   `json:"latitude"`
	Longitude  float64   `json:"longitude"`
	RatePerDay float64   `json:"rate_per_day"`
	Hourly     []float64 `json:"hourly,omitempty"`
}

// Service is one service in the scenario's directory, with one location.
type Service struct {
	Name        string            `json:"name"`
	Latitude    float64           `json:"latitude"`
	Longitude   float64           `json:"longitude"`
	Domains     []referral.Domain `json:"domains"`
	Eligibility string            `json:"eligibility,omitempty"`
	MinimumAge  int               `json:"minimum_age,omitempty"`
	MaximumAge  int               `json:"maximum_age,omitempty"`
	Languages   []string          `json:"languages,omitempty"`
	// Capacity nil means unlimited: everyone accepted starts at once.
	Capacity *Capacity `json:"capacity,omitempty"`
	// ServiceTime is how long one person occupies a slot, in hours.
	ServiceTime Dist `json:"service_time"`
	// Partner overrides the scenario's partner behaviour for this service.
	Partner *Partners `json:"partner,omitempty"`
}

// Capacity is a service's room: Slots people served at once, and a waitlist of at
// most Waitlist people (nil: unlimited; 0: none, so a full service declines
// with "no-capacity").
type Capacity struct {
	Slots    int  `json:"slots"`
	Waitlist *int `json:"waitlist,omitempty"`
}

// Synthetic adds a generated national directory (package matching/synth) of
// about Locations service locations. Services that publish capacity get their
// published open slots plus one as Slots and their waitlist as Waitlist; the
// rest are unlimited.
type Synthetic struct {
	Seed        uint64 `json:"seed"`
	Locations   int    `json:"locations"`
	ServiceTime Dist   `json:"service_time"`
}

// Partners is how receiving organizations and the people referred behave.
// Times are hours.
type Partners struct {
	// AcknowledgeAfter is from sending to acknowledgement.
	AcknowledgeAfter Dist `json:"acknowledge_after"`
	// DecideAfter is from acknowledgement to accepting or declining.
	DecideAfter Dist `json:"decide_after"`
	// Decline lists the probability of declining for each reason (codes from
	// lifecycle.DefaultCodes().Decline); the probabilities add up to at most 1.
	// A full service without waitlist room declines with "no-capacity" regardless.
	Decline []ReasonRate `json:"decline,omitempty"`
	// ContactAfter is from acceptance to reaching (or giving up on) the person.
	ContactAfter Dist `json:"contact_after"`
	// Reach is the probability the person is reached; otherwise the referral fails
	// with "unable-to-contact".
	Reach float64 `json:"reach"`
	// NoShow is the probability a reached person does not come when their slot is
	// ready (failed, "no-show").
	NoShow float64 `json:"no_show,omitempty"`
	// FollowThrough makes showing up less likely the farther the service is:
	// the person comes with probability Base × 2^(−distance/HalfDistanceKM).
	FollowThrough *FollowThrough `json:"follow_through,omitempty"`
}

// ReasonRate is the probability of one decline reason.
type ReasonRate struct {
	Reason string  `json:"reason"`
	P      float64 `json:"p"`
}

// FollowThrough decays the chance of showing up with distance.
type FollowThrough struct {
	Base           float64 `json:"base"`
	HalfDistanceKM float64 `json:"half_distance_km"`
}

// Policy is what the network decides: how to search, how long partners have,
// and how often to re-refer.
type Policy struct {
	RadiusKM float64 `json:"radius_km"`
	// Limit is how many candidates a search returns (0: matching.DefaultLimit).
	Limit int `json:"limit,omitempty"`
	// Weights tune ranking (nil: matching.DefaultWeights).
	Weights *matching.Weights `json:"weights,omitempty"`
	// WhenFull is "exclude" (full services are not offered) or "rank" (they are,
	// ranked down, and will decline for capacity).
	WhenFull matching.Full `json:"when_full"`
	// AcknowledgeWithin, AcceptWithin and ExpireAfter are the lifecycle deadlines
	// (lifecycle.Deadlines); zero sets none.
	AcknowledgeWithin Duration `json:"acknowledge_within,omitempty"`
	AcceptWithin      Duration `json:"accept_within,omitempty"`
	ExpireAfter       Duration `json:"expire_after,omitempty"`
	// SweepEvery is how often the deadline sweep runs; required with deadlines.
	SweepEvery Duration `json:"sweep_every,omitempty"`
	// MaxRereferrals is how many times a need is re-referred, to the next best
	// service not yet tried, after a decline or an expiry.
	MaxRereferrals int `json:"max_rereferrals,omitempty"`
	// AreaResolution is the H3 resolution unmet needs are counted by area at
	// (0 means 6, cells of about 36 km²).
	AreaResolution int `json:"area_resolution,omitempty"`
	// CapacityRefresh is how often the directory's published capacity reaches the
	// matcher. Zero updates it before every search, so matches always see the
	// live capacity; a period models a directory fed by daily (or hourly)
	// capacity reports. Partners still decline for capacity when full.
	CapacityRefresh Duration `json:"capacity_refresh,omitempty"`
	// ClosureBucket is the width of the closure-rate-over-time buckets (0: 1 day).
	ClosureBucket Duration `json:"closure_bucket,omitempty"`
}

// placement is one place a person can live.
type placement struct {
	lat, lon           float64
	state, county, zip string
}

// Parse decodes a scenario strictly (unknown fields and trailing data are errors)
// and validates it. A scenario naming a points file must be read with Load.
func Parse(data []byte) (*Scenario, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if s.Population.PointsFile != "" {
		return nil, referral.Invalid("population.points_file", "needs the scenario to be loaded from a file (Load)")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reads, decodes and validates a scenario file, and the points file it
// names, relative to the scenario's directory.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if p := s.Population.PointsFile; p != "" {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("population.points_file: %w", err)
		}
		s.points, err = readPoints(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func decode(data []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		var ve *referral.ValidationError
		if errors.As(err, &ve) {
			return nil, err
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, referral.Invalid(te.Field, "has the wrong type")
		}
		return nil, fmt.Errorf("scenario: %s: %w", err.Error(), referral.ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, referral.Invalid("scenario", "has data after the JSON object")
	}
	return &s, nil
}

// readPoints reads latitude,longitude[,state,county,zip] rows; a first row that is
// not numeric is a header.
func readPoints(r io.Reader) ([]placement, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []placement
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		field := "population.points_file[" + strconv.Itoa(row) + "]"
		if err != nil {
			return nil, referral.Invalid(field, "is not CSV")
		}
		if len(rec) < 2 || len(rec) > 5 {
			return nil, referral.Invalid(field, "needs latitude,longitude[,state,county,zip]")
		}
		lat, err1 := strconv.ParseFloat(rec[0], 64)
		lon, err2 := strconv.ParseFloat(rec[1], 64)
		if err1 != nil || err2 != nil {
			if row == 0 {
				continue
			}
			return nil, referral.Invalid(field, "latitude and longitude must be numbers")
		}
		if err := (referral.Point{Latitude: lat, Longitude: lon}).Validate(); err != nil {
			return nil, referral.Invalid(field, "is not a valid coordinate")
		}
		p := placement{lat: lat, lon: lon}
		if len(rec) > 2 {
			p.state = rec[2]
		}
		if len(rec) > 3 {
			p.county = rec[3]
		}
		if len(rec) > 4 {
			p.zip = rec[4]
		}
		out = append(out, p)
		if len(out) > MaxPopulation {
			return nil, referral.Invalid("population.points_file", "has too many rows")
		}
	}
	if len(out) == 0 {
		return nil, referral.Invalid("population.points_file", "has no rows")
	}
	return out, nil
}

func idx(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

func probability(field string, p float64) error {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return referral.Invalid(field, "must be a probability between 0 and 1")
	}
	return nil
}

func point(field string, lat, lon float64) error {
	if err := (referral.Point{Latitude: lat, Longitude: lon}).Validate(); err != nil {
		return referral.Invalid(field, "is not a valid coordinate")
	}
	return nil
}

// Validate checks the scenario and reports the first problem as a
// *referral.ValidationError naming the field ("services[2].capacity.slots").
func (s *Scenario) Validate() error {
	for _, d := range []struct {
		field string
		d     Duration
	}{
		{"duration", s.Duration}, {"warmup", s.Warmup}, {"drain", s.Drain},
		{"policy.acknowledge_within", s.Policy.AcknowledgeWithin}, {"policy.accept_within", s.Policy.AcceptWithin},
		{"policy.expire_after", s.Policy.ExpireAfter}, {"policy.sweep_every", s.Policy.SweepEvery},
		{"policy.capacity_refresh", s.Policy.CapacityRefresh}, {"policy.closure_bucket", s.Policy.ClosureBucket},
	} {
		if err := checkDuration(d.field, d.d); err != nil {
			return err
		}
	}
	if s.Start.IsZero() {
		return referral.Invalid("start", "is required")
	}
	if s.Duration <= 0 || time.Duration(s.Duration) > MaxHorizon {
		return referral.Invalid("duration", "must be above 0 and at most 10 years")
	}
	if s.Warmup < 0 || s.Warmup >= s.Duration {
		return referral.Invalid("warmup", "must be at least 0 and below duration")
	}
	if s.Drain < 0 || time.Duration(s.Drain) > MaxHorizon {
		return referral.Invalid("drain", "must be between 0 and 10 years")
	}
	if err := s.Population.validate(s.points); err != nil {
		return err
	}
	if err := s.Screening.validate(); err != nil {
		return err
	}
	if len(s.Sites) == 0 || len(s.Sites) > MaxSites {
		return referral.Invalid("sites", "needs between 1 and 1000 sites")
	}
	expected := 0.0
	for i, site := range s.Sites {
		f := idx("sites", i)
		if site.Name == "" {
			return referral.Invalid(f+".name", "is required")
		}
		if err := point(f, site.Latitude, site.Longitude); err != nil {
			return err
		}
		if math.IsNaN(site.RatePerDay) || site.RatePerDay <= 0 || math.IsInf(site.RatePerDay, 0) {
			return referral.Invalid(f+".rate_per_day", "must be above 0")
		}
		peak := 1.0
		if len(site.Hourly) > 0 {
			if len(site.Hourly) != 24 {
				return referral.Invalid(f+".hourly", "needs 24 multipliers, one per UTC hour")
			}
			peak = 0
			for h, m := range site.Hourly {
				if math.IsNaN(m) || math.IsInf(m, 0) || m < 0 || m > 1000 {
					return referral.Invalid(idx(f+".hourly", h), "must be between 0 and 1000")
				}
				peak = max(peak, m)
			}
			if peak == 0 {
				return referral.Invalid(f+".hourly", "must not all be 0")
			}
		}
		expected += site.RatePerDay * peak * time.Duration(s.Duration).Hours() / 24
	}
	if expected > MaxArrivals {
		return referral.Invalid("sites", "ask for more than 50,000,000 arrivals")
	}
	if len(s.Services) == 0 && s.Synthetic == nil {
		return referral.Invalid("services", "needs at least one service or a synthetic_directory")
	}
	if len(s.Services) > MaxServices {
		return referral.Invalid("services", "has more than 100,000 services")
	}
	for i := range s.Services {
		if err := s.Services[i].validate(idx("services", i)); err != nil {
			return err
		}
	}
	if sy := s.Synthetic; sy != nil {
		if sy.Locations <= 0 || sy.Locations > MaxLocations {
			return referral.Invalid("synthetic_directory.locations", "must be between 1 and 1,000,000")
		}
		if err := sy.ServiceTime.validate("synthetic_directory.service_time", true); err != nil {
			return err
		}
	}
	if err := s.Partners.validate("partners"); err != nil {
		return err
	}
	return s.Policy.validate()
}

func (p *Population) validate(points []placement) error {
	if p.Size <= 0 || p.Size > MaxPopulation {
		return referral.Invalid("population.size", "must be between 1 and 5,000,000")
	}
	switch {
	case len(p.Centres) > 0 && p.PointsFile != "":
		return referral.Invalid("population.points_file", "cannot be combined with centres")
	case p.PointsFile != "" && len(points) == 0:
		return referral.Invalid("population.points_file", "has not been read")
	case len(p.Centres) == 0 && p.PointsFile == "":
		return referral.Invalid("population.centres", "needs at least one centre (or a points_file)")
	}
	total := 0.0
	for i, c := range p.Centres {
		f := idx("population.centres", i)
		if err := point(f, c.Latitude, c.Longitude); err != nil {
			return err
		}
		if math.IsNaN(c.SDKM) || c.SDKM < 0 || c.SDKM > 500 {
			return referral.Invalid(f+".sd_km", "must be between 0 and 500")
		}
		if math.IsNaN(c.Weight) || math.IsInf(c.Weight, 0) || c.Weight < 0 {
			return referral.Invalid(f+".weight", "must be a finite number ≥ 0")
		}
		total += c.Weight
	}
	if len(p.Centres) > 0 && total <= 0 {
		return referral.Invalid("population.centres", "weights must add up to more than 0")
	}
	if err := p.Age.validate("population.age", true); err != nil {
		return err
	}
	if err := p.HouseholdSize.validate("population.household_size", true); err != nil {
		return err
	}
	if p.FPLPercent != nil && p.IncomeAnnual != nil {
		return referral.Invalid("population.income_annual", "cannot be combined with fpl_percent")
	}
	if p.FPLPercent != nil {
		if err := p.FPLPercent.validate("population.fpl_percent", true); err != nil {
			return err
		}
	}
	if p.IncomeAnnual != nil {
		if err := p.IncomeAnnual.validate("population.income_annual", true); err != nil {
			return err
		}
	}
	total = 0
	for i, l := range p.Languages {
		f := idx("population.languages", i)
		if len(l.Languages) == 0 {
			return referral.Invalid(f+".languages", "is required")
		}
		for j, tag := range l.Languages {
			if tag == "" || len(tag) > 35 {
				return referral.Invalid(idx(f+".languages", j), "must be a BCP 47 tag")
			}
		}
		if math.IsNaN(l.Weight) || math.IsInf(l.Weight, 0) || l.Weight < 0 {
			return referral.Invalid(f+".weight", "must be a finite number ≥ 0")
		}
		total += l.Weight
	}
	if len(p.Languages) > 0 && total <= 0 {
		return referral.Invalid("population.languages", "weights must add up to more than 0")
	}
	if err := choices(p.Insurance).validate("population.insurance", true); err != nil {
		return err
	}
	for _, pr := range []struct {
		f string
		p float64
	}{{"population.veteran", p.Veteran}, {"population.disabled", p.Disabled}, {"population.pregnant", p.Pregnant}} {
		if err := probability(pr.f, pr.p); err != nil {
			return err
		}
	}
	return nil
}

func (sc *Screening) validate() error {
	in, err := instrument(sc.Instrument)
	if err != nil {
		return err
	}
	if err := probability("screening.coverage", sc.Coverage); err != nil {
		return err
	}
	if len(sc.Prevalence) == 0 && len(sc.Answers) == 0 {
		return referral.Invalid("screening.prevalence", "needs prevalence or answers")
	}
	seen := map[referral.Domain]bool{}
	for i, d := range sc.Prevalence {
		f := idx("screening.prevalence", i)
		if err := d.Domain.Validate(); err != nil {
			return referral.Invalid(f+".domain", "is not a registered domain")
		}
		if seen[d.Domain] {
			return referral.Invalid(f+".domain", "is listed twice")
		}
		seen[d.Domain] = true
		if err := probability(f+".p", d.P); err != nil {
			return err
		}
	}
	items := map[string]bool{}
	for i, a := range sc.Answers {
		f := idx("screening.answers", i)
		it, ok := in.Item(a.Item)
		if !ok {
			return referral.Invalid(f+".item", "is not an item of the instrument")
		}
		if items[it.ID] {
			return referral.Invalid(f+".item", "is listed twice")
		}
		items[it.ID] = true
		if it.Type != "" && it.Type != screening.TypeChoice {
			return referral.Invalid(f+".item", "must be a choice item")
		}
		if len(a.Options) == 0 {
			return referral.Invalid(f+".options", "is required")
		}
		if err := choices(a.Options).validate(f+".options", true); err != nil {
			return err
		}
		for j, o := range a.Options {
			found := false
			for _, opt := range it.Options {
				found = found || opt.Code == o.Value
			}
			if !found {
				return referral.Invalid(idx(f+".options", j)+".value", "is not an option code of the item")
			}
		}
	}
	// The answer model is built here too, so an instrument that cannot produce a
	// listed domain is a scenario error, not a run-time surprise.
	if _, err := newAnswerModel(in, sc); err != nil {
		return err
	}
	return nil
}

func instrument(id string) (*screening.Instrument, error) {
	if id == "" {
		return nil, referral.Invalid("screening.instrument", "is required")
	}
	reg, err := screening.Builtin()
	if err != nil {
		return nil, err
	}
	in, err := reg.Lookup(id)
	if err != nil {
		return nil, referral.Invalid("screening.instrument", "is not a built-in instrument")
	}
	return in, nil
}

func (sv *Service) validate(f string) error {
	if sv.Name == "" {
		return referral.Invalid(f+".name", "is required")
	}
	if err := point(f, sv.Latitude, sv.Longitude); err != nil {
		return err
	}
	if len(sv.Domains) == 0 {
		return referral.Invalid(f+".domains", "needs at least one domain")
	}
	for j, d := range sv.Domains {
		if err := d.Validate(); err != nil {
			return referral.Invalid(idx(f+".domains", j), "is not a registered domain")
		}
	}
	if sv.Eligibility != "" {
		if err := matching.CheckRule(sv.Eligibility); err != nil {
			return referral.Invalid(f+".eligibility", "does not compile: "+err.Error())
		}
	}
	if sv.MinimumAge < 0 || sv.MaximumAge < 0 || (sv.MaximumAge > 0 && sv.MaximumAge < sv.MinimumAge) {
		return referral.Invalid(f+".maximum_age", "must not be negative or below minimum_age")
	}
	if c := sv.Capacity; c != nil {
		if c.Slots < 1 || c.Slots > 1_000_000 {
			return referral.Invalid(f+".capacity.slots", "must be between 1 and 1,000,000")
		}
		if c.Waitlist != nil && (*c.Waitlist < 0 || *c.Waitlist > 1_000_000) {
			return referral.Invalid(f+".capacity.waitlist", "must be between 0 and 1,000,000")
		}
	}
	if err := sv.ServiceTime.validate(f+".service_time", true); err != nil {
		return err
	}
	if sv.Partner != nil {
		return sv.Partner.validate(f + ".partner")
	}
	return nil
}

func (p *Partners) validate(f string) error {
	for _, d := range []struct {
		name string
		d    *Dist
	}{{"acknowledge_after", &p.AcknowledgeAfter}, {"decide_after", &p.DecideAfter}, {"contact_after", &p.ContactAfter}} {
		if err := d.d.validate(f+"."+d.name, true); err != nil {
			return err
		}
	}
	total := 0.0
	seen := map[string]bool{}
	for i, d := range p.Decline {
		g := idx(f+".decline", i)
		if !isDeclineCode(d.Reason) {
			return referral.Invalid(g+".reason", "is not a decline reason code")
		}
		if seen[d.Reason] {
			return referral.Invalid(g+".reason", "is listed twice")
		}
		seen[d.Reason] = true
		if err := probability(g+".p", d.P); err != nil {
			return err
		}
		total += d.P
	}
	if total > 1+1e-9 {
		return referral.Invalid(f+".decline", "probabilities add up to more than 1")
	}
	if err := probability(f+".reach", p.Reach); err != nil {
		return err
	}
	if err := probability(f+".no_show", p.NoShow); err != nil {
		return err
	}
	if ft := p.FollowThrough; ft != nil {
		if err := probability(f+".follow_through.base", ft.Base); err != nil {
			return err
		}
		if math.IsNaN(ft.HalfDistanceKM) || math.IsInf(ft.HalfDistanceKM, 0) || ft.HalfDistanceKM <= 0 {
			return referral.Invalid(f+".follow_through.half_distance_km", "must be above 0")
		}
	}
	return nil
}

func (p *Policy) validate() error {
	if math.IsNaN(p.RadiusKM) || p.RadiusKM <= 0 || p.RadiusKM*1000 > matching.MaxRadiusM {
		return referral.Invalid("policy.radius_km", "must be above 0 and at most 1000")
	}
	if p.Limit < 0 || p.Limit > matching.MaxLimit {
		return referral.Invalid("policy.limit", "must be between 0 and 1000")
	}
	switch p.WhenFull {
	case matching.Exclude, matching.RankDown:
	default:
		return referral.Invalid("policy.when_full", "must be exclude or rank")
	}
	if p.AcknowledgeWithin < 0 {
		return referral.Invalid("policy.acknowledge_within", "must not be negative")
	}
	if p.AcceptWithin < 0 {
		return referral.Invalid("policy.accept_within", "must not be negative")
	}
	if (p.AcknowledgeWithin > 0 || p.AcceptWithin > 0) && p.SweepEvery < Duration(time.Minute) {
		return referral.Invalid("policy.sweep_every", "must be at least 1m when deadlines are set")
	}
	if p.MaxRereferrals < 0 || p.MaxRereferrals > MaxRereferrals {
		return referral.Invalid("policy.max_rereferrals", "must be between 0 and 20")
	}
	if p.AreaResolution < 0 || p.AreaResolution > 15 {
		return referral.Invalid("policy.area_resolution", "must be between 0 and 15")
	}
	if p.CapacityRefresh < 0 || (p.CapacityRefresh > 0 && p.CapacityRefresh < Duration(time.Minute)) {
		return referral.Invalid("policy.capacity_refresh", "must be 0 or at least 1m")
	}
	if p.ClosureBucket < 0 || (p.ClosureBucket > 0 && p.ClosureBucket < Duration(time.Hour)) {
		return referral.Invalid("policy.closure_bucket", "must be at least 1h")
	}
	return nil
}
