package simulation

import (
	"bytes"
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
	MaxScenarioBytes = 16 << 20
	MaxPopulation    = 5_000_000
	MaxSites         = 1_000
	MaxServices      = 100_000
	MaxLocations     = 1_000_000
	MaxHorizon       = 10 * 365 * 24 * time.Hour
	MaxArrivals      = 50_000_000
	MaxRereferrals   = 20
	// MaxChanges is the most dated changes a scenario may list.
	MaxChanges = 1_000
	// MaxPathways is the most pathways a scenario may list, and MaxPathwayDepth
	// the longest chain of needs one arrival's need can lead to through them.
	MaxPathways     = 100
	MaxPathwayDepth = 10
	// MaxBuckets bounds the time-series buckets over the arrival period.
	MaxBuckets = 10_000
	// MaxCatchmentKM is the widest site catchment.
	MaxCatchmentKM = 500
)

// Scenario describes a referral network to simulate: who lives where, how they
// are screened, where they present, which services exist with what capacity, how
// partners behave, which policies apply, and how all that changes over time.
type Scenario struct {
	Name string `json:"name"`
	// Start is the virtual time the simulation begins.
	Start time.Time `json:"start"`
	// TimeZone is the IANA time zone (e.g. "America/Chicago") whose local hour,
	// weekday and month the sites' arrival profiles follow; empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Duration is how long people keep arriving.
	Duration Duration `json:"duration"`
	// Warmup is excluded from utilisation and waiting-time measures, so they
	// describe the steady state rather than an empty system filling up.
	Warmup Duration `json:"warmup,omitempty"`
	// Drain is how long after Duration open referrals may run to their end; what is
	// still open then is reported by its status. Zero means 365 days.
	Drain      Duration   `json:"drain,omitempty"`
	Population Population `json:"population"`
	Screening  Screening  `json:"screening"`
	Sites      []Site     `json:"sites"`
	Services   []Service  `json:"services,omitempty"`
	Synthetic  *Synthetic `json:"synthetic_directory,omitempty"`
	Partners   Partners   `json:"partners"`
	Policy     Policy     `json:"policy"`
	// Pathways send people on: completing a service for one need leads, with a
	// probability, to a referral for another.
	Pathways []Pathway `json:"pathways,omitempty"`
	// Changes are dated changes to the world: a service's capacity changes or it
	// closes, a site's arrival rate steps, a policy changes.
	Changes []Change `json:"changes,omitempty"`
	// Calibration describes where a calibrated scenario came from (package
	// simulation/calibrate writes it); the simulation ignores it.
	Calibration *Calibration `json:"calibration,omitempty"`
	points      []placement  // read from Population.PointsFile
}

// Population is the people who may present at the referring sites.
type Population struct {
	// Size is the number of distinct people; each arrival is one of them, drawn
	// uniformly (among those in the site's catchment, if it has one), so a person
	// may present more than once.
	Size int `json:"size"`
	// Centres scatter people around places (a normal distribution of SDKM
	// kilometres per axis); PointsFile instead names a CSV file, relative to the
	// scenario file, of the places people live: see Load for its columns.
	// Exactly one of the two.
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

// Screening says how people's needs are found: screened with a built-in
// instrument (Instrument, with Prevalence or Answers), or, for a network whose
// screening is not modelled (a calibrated twin), drawn directly (Needs).
type Screening struct {
	// Instrument is a built-in instrument id ("ahc-hrsn", "hunger-vital-sign").
	Instrument string `json:"instrument,omitempty"`
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
	// Needs, instead of an instrument, gives each arrival each domain's need
	// with its probability, independently, as a routine need.
	Needs []DomainRate `json:"needs,omitempty"`
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
// Arrivals are a Poisson process whose rate per day is RatePerDay times the
// multipliers of the local hour of day (Hourly, 24 values), day of the week
// (Weekday, 7 values from Monday) and month (Monthly, 12 values from January),
// those given, times 1 + TrendPerYear × the years since the start (never below
// 0), with steps from the scenario's dated changes. So with Hourly alone a day
// brings RatePerDay × the multipliers' mean arrivals on average. The rate is
// held constant within each local hour.
type Site struct {
	Name         string    `json:"name"`
	Latitude     float64   `json:"latitude"`
	Longitude    float64   `json:"longitude"`
	RatePerDay   float64   `json:"rate_per_day"`
	Hourly       []float64 `json:"hourly,omitempty"`
	Weekday      []float64 `json:"weekday,omitempty"`
	Monthly      []float64 `json:"monthly,omitempty"`
	TrendPerYear float64   `json:"trend_per_year,omitempty"`
	// CatchmentKM, when above 0, makes the people arriving at the site those of
	// the population who live within this distance of it; 0 draws from everyone.
	CatchmentKM float64 `json:"catchment_km,omitempty"`
}

// Service is one service in the scenario's directory, with one location.
// Names are unique: dated changes and overrides name services by them.
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
	// Policy overrides the network's deadlines and waitlist limit for this
	// service.
	Policy *ServicePolicy `json:"policy,omitempty"`
}

// Capacity is a service's room: Slots people served at once, and a waitlist of at
// most Waitlist people (nil: unlimited; 0: none, so a full service declines
// with "no-capacity").
type Capacity struct {
	Slots    int  `json:"slots"`
	Waitlist *int `json:"waitlist,omitempty"`
}

// ServicePolicy is what one service decides differently from the network: its
// deadlines (nil: the network's; "0s": none) and how long a person may stay on
// its waitlist (nil: the network's).
type ServicePolicy struct {
	AcknowledgeWithin *Duration `json:"acknowledge_within,omitempty"`
	AcceptWithin      *Duration `json:"accept_within,omitempty"`
	MaxWait           *Duration `json:"max_wait,omitempty"`
}

// Synthetic adds a generated national directory (package matching/synth) of
// about Locations service locations. Services that publish capacity get their
// published open slots plus one as Slots and their waitlist as Waitlist; the
// rest are unlimited. They are reported by readable made-up names ("Food
// pantry 00042 (Chicago)").
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
	// A service without room declines with "no-capacity" regardless (see
	// Policy.Acceptance).
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
	// Patience is how long, in hours, a person waits on a waitlist before giving
	// up (failed, "abandoned"; the need goes unmet); nil: people wait for ever.
	Patience *Dist `json:"patience,omitempty"`
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

// Acceptance rules (Policy.Acceptance).
const (
	// AcceptanceHolds: accepting a referral holds a place for the person, a
	// free slot if there is one and otherwise a waitlist place, until they are
	// reached and start or join the waitlist (or are not reached, or do not
	// come). A service with neither declines "no-capacity". No referral then
	// fails for capacity after being accepted.
	AcceptanceHolds = "hold"
	// AcceptanceNoHold: accepting holds nothing; room is looked for when the
	// person is reached, and a referral accepted when there was room may fail
	// "no-capacity" then, if slots and waitlist have filled meanwhile. This is
	// how refkit simulated before holding existed.
	AcceptanceNoHold = "none"
)

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
	// Acceptance is AcceptanceHolds ("hold", the default when empty) or
	// AcceptanceNoHold ("none").
	Acceptance string `json:"acceptance,omitempty"`
	// AcknowledgeWithin, AcceptWithin and ExpireAfter are the lifecycle deadlines
	// (lifecycle.Deadlines); zero sets none. Services may set their own.
	AcknowledgeWithin Duration `json:"acknowledge_within,omitempty"`
	AcceptWithin      Duration `json:"accept_within,omitempty"`
	ExpireAfter       Duration `json:"expire_after,omitempty"`
	// SweepEvery is how often the deadline sweep runs; required with deadlines.
	SweepEvery Duration `json:"sweep_every,omitempty"`
	// MaxWait is how long a person may stay on a waitlist: then the referral
	// fails "waitlist-expired" and the need is re-referred (0: no limit).
	MaxWait Duration `json:"max_wait,omitempty"`
	// MaxRereferrals is how many times a need is re-referred, to the next best
	// service not yet tried, after a decline, an expiry or a waitlist expiry.
	MaxRereferrals int `json:"max_rereferrals,omitempty"`
	// AreaResolution is the H3 resolution unmet needs are counted by area at
	// (0 means 6, cells of about 36 km²).
	AreaResolution int `json:"area_resolution,omitempty"`
	// CapacityRefresh is how often the directory's published capacity reaches the
	// matcher. Zero updates it before every search, so matches always see the
	// live capacity; a period models a directory fed by daily (or hourly)
	// capacity reports. Partners still decline for capacity when full.
	CapacityRefresh Duration `json:"capacity_refresh,omitempty"`
	// ClosureBucket is the width of the time-series buckets: closure rate by
	// creation time, occupancy and queues (0: 1 day).
	ClosureBucket Duration `json:"closure_bucket,omitempty"`
}

// Pathway is a referral that follows a completed one: completing a service
// for a need in domain From (at service FromService, when set) leads, with
// probability P, to a referral for a need in domain To, made by the service's
// organization After hours later (nil: at once).
type Pathway struct {
	From        referral.Domain `json:"from"`
	FromService string          `json:"from_service,omitempty"`
	To          referral.Domain `json:"to"`
	P           float64         `json:"p"`
	After       *Dist           `json:"after,omitempty"`
}

// Change is a dated change to the world, at time At. Its target is a service
// (Service names it: Capacity, Closed or Policy's deadlines and max_wait), a
// site (Site names it: RatePerDay) or, with neither, the network (Policy).
//
// A closed service is not offered by the matcher; referrals waiting for its
// decision are declined "service-not-offered", and people it has accepted are
// still served. Fewer slots preempt nobody: people in service finish, and new
// ones start when a slot frees under the new number. Deadlines apply to
// referrals sent from the change on.
type Change struct {
	At         time.Time     `json:"at"`
	Service    string        `json:"service,omitempty"`
	Site       string        `json:"site,omitempty"`
	Capacity   *Capacity     `json:"capacity,omitempty"`
	Closed     *bool         `json:"closed,omitempty"`
	RatePerDay *float64      `json:"rate_per_day,omitempty"`
	Policy     *PolicyChange `json:"policy,omitempty"`
}

// PolicyChange changes the policy fields it sets.
type PolicyChange struct {
	RadiusKM          *float64       `json:"radius_km,omitempty"`
	WhenFull          *matching.Full `json:"when_full,omitempty"`
	AcknowledgeWithin *Duration      `json:"acknowledge_within,omitempty"`
	AcceptWithin      *Duration      `json:"accept_within,omitempty"`
	ExpireAfter       *Duration      `json:"expire_after,omitempty"`
	MaxWait           *Duration      `json:"max_wait,omitempty"`
	MaxRereferrals    *int           `json:"max_rereferrals,omitempty"`
}

// Calibration records where a calibrated scenario's parameters came from and
// how well they fit; package simulation/calibrate writes it, the simulation
// ignores it.
type Calibration struct {
	Source    string    `json:"source"`
	Network   string    `json:"network"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Referrals int       `json:"referrals"`
	// Arrivals is the goodness of fit of the sites' hour-of-day × weekday
	// arrival profiles (a chi-square test of the counts in the 168 hours of the
	// week against the fitted multiplicative profile).
	Arrivals *ChiSquare `json:"arrivals,omitempty"`
	// Estimates lists each estimated rate or probability with its 95% interval.
	Estimates []Estimate `json:"estimates,omitempty"`
	// Notes say what could not be estimated and what was assumed instead.
	Notes []string `json:"notes,omitempty"`
}

// ChiSquare is a chi-square goodness-of-fit test.
type ChiSquare struct {
	Statistic float64 `json:"statistic"`
	DF        int     `json:"df"`
	PValue    float64 `json:"p_value"`
}

// Estimate is one estimated parameter, named by its path in the scenario, with
// its 95% confidence interval (Wilson for probabilities) and the number of
// observations it rests on.
type Estimate struct {
	Parameter string  `json:"parameter"`
	Value     float64 `json:"value"`
	Low       float64 `json:"ci95_low"`
	High      float64 `json:"ci95_high"`
	N         int     `json:"n"`
}

// Parse decodes a scenario strictly (unknown fields and trailing data are
// errors), applies the overrides in order (see Set) and validates it. A
// scenario naming a points file must be read with Load.
func Parse(data []byte, sets ...Set) (*Scenario, error) {
	s, err := decode(data, sets)
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

// Load reads a scenario file (at most MaxScenarioBytes), decodes it strictly,
// applies the overrides in order (see Set), reads the points file it names,
// relative to the scenario's directory, and validates the whole.
//
// A points file is CSV, at most MaxPointsBytes and MaxPopulation rows. Without
// a header its columns are latitude,longitude[,state,county,zip]. A header
// names the columns instead, in any order: latitude and longitude, or h3_cell
// (people are placed uniformly within the cell); and optionally weight (people
// are placed at a row with probability proportional to it; 1 without), state,
// county and zip.
func Load(path string, sets ...Set) (*Scenario, error) {
	data, err := readBounded(path, MaxScenarioBytes)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s, err := decode(data, sets)
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
		s.points, err = readPoints(f, MaxPointsBytes)
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

// errTooLarge marks input over its size limit.
var errTooLarge = errors.New("is larger than its limit")

// readBounded reads a file of at most limit bytes, reading no more than
// limit+1 whatever its size.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %w of %d MiB: %w", filepath.Base(path), errTooLarge, limit>>20, referral.ErrInvalid)
	}
	return data, nil
}

func decode(data []byte, sets []Set) (*Scenario, error) {
	if len(data) > MaxScenarioBytes {
		return nil, referral.Invalid("scenario", "is larger than 16 MiB")
	}
	if len(sets) > 0 {
		var err error
		if data, err = apply(data, sets); err != nil {
			return nil, err
		}
	}
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

// horizon is the arrival period and the drain after it.
func (s *Scenario) horizon() time.Duration {
	drain := time.Duration(s.Drain)
	if drain == 0 {
		drain = 365 * 24 * time.Hour
	}
	return time.Duration(s.Duration) + drain
}

// location is the scenario's time zone; Validate has checked it loads.
func (s *Scenario) location() *time.Location {
	if s.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
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
		{"policy.max_wait", s.Policy.MaxWait},
		{"policy.capacity_refresh", s.Policy.CapacityRefresh}, {"policy.closure_bucket", s.Policy.ClosureBucket},
	} {
		if err := checkDuration(d.field, d.d); err != nil {
			return err
		}
	}
	if s.Start.IsZero() {
		return referral.Invalid("start", "is required")
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil || len(s.TimeZone) > 64 {
			return referral.Invalid("time_zone", "is not an IANA time zone this machine knows")
		}
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
	if err := s.validateSites(); err != nil {
		return err
	}
	if len(s.Services) == 0 && s.Synthetic == nil {
		return referral.Invalid("services", "needs at least one service or a synthetic_directory")
	}
	if len(s.Services) > MaxServices {
		return referral.Invalid("services", "has more than 100,000 services")
	}
	names := make(map[string]bool, len(s.Services))
	for i := range s.Services {
		f := idx("services", i)
		if err := s.Services[i].validate(f); err != nil {
			return err
		}
		if names[s.Services[i].Name] {
			return referral.Invalid(f+".name", "is used by another service")
		}
		names[s.Services[i].Name] = true
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
	if err := s.Policy.validate(); err != nil {
		return err
	}
	if err := s.validatePathways(); err != nil {
		return err
	}
	if err := s.validateChanges(); err != nil {
		return err
	}
	if s.needsSweep() && s.Policy.SweepEvery < Duration(time.Minute) {
		return referral.Invalid("policy.sweep_every", "must be at least 1m when deadlines are set")
	}
	bucket := s.bucket()
	if n := (time.Duration(s.Duration) + bucket - 1) / bucket; n > MaxBuckets {
		return referral.Invalid("policy.closure_bucket", "makes more than 10,000 buckets over the duration")
	}
	return nil
}

// bucket is the width of the time-series buckets.
func (s *Scenario) bucket() time.Duration {
	if b := time.Duration(s.Policy.ClosureBucket); b > 0 {
		return b
	}
	return 24 * time.Hour
}

// needsSweep reports whether any deadline is set anywhere, now or later.
func (s *Scenario) needsSweep() bool {
	set := func(d *Duration) bool { return d != nil && *d > 0 }
	if s.Policy.AcknowledgeWithin > 0 || s.Policy.AcceptWithin > 0 {
		return true
	}
	for _, sv := range s.Services {
		if p := sv.Policy; p != nil && (set(p.AcknowledgeWithin) || set(p.AcceptWithin)) {
			return true
		}
	}
	for _, c := range s.Changes {
		if p := c.Policy; p != nil && (set(p.AcknowledgeWithin) || set(p.AcceptWithin)) {
			return true
		}
	}
	return false
}

func multipliers(field string, ms []float64, n int, what string) (peak float64, err error) {
	if len(ms) == 0 {
		return 1, nil
	}
	if len(ms) != n {
		return 0, referral.Invalid(field, "needs "+strconv.Itoa(n)+" multipliers, "+what)
	}
	for i, m := range ms {
		if math.IsNaN(m) || math.IsInf(m, 0) || m < 0 || m > 1000 {
			return 0, referral.Invalid(idx(field, i), "must be between 0 and 1000")
		}
		peak = max(peak, m)
	}
	if peak == 0 {
		return 0, referral.Invalid(field, "must not all be 0")
	}
	return peak, nil
}

func (s *Scenario) validateSites() error {
	if len(s.Sites) == 0 || len(s.Sites) > MaxSites {
		return referral.Invalid("sites", "needs between 1 and 1000 sites")
	}
	names := make(map[string]bool, len(s.Sites))
	expected := 0.0
	years := s.Duration.years()
	for i, site := range s.Sites {
		f := idx("sites", i)
		if site.Name == "" {
			return referral.Invalid(f+".name", "is required")
		}
		if names[site.Name] {
			return referral.Invalid(f+".name", "is used by another site")
		}
		names[site.Name] = true
		if err := point(f, site.Latitude, site.Longitude); err != nil {
			return err
		}
		if math.IsNaN(site.RatePerDay) || site.RatePerDay <= 0 || math.IsInf(site.RatePerDay, 0) {
			return referral.Invalid(f+".rate_per_day", "must be above 0")
		}
		peak := 1.0
		for _, m := range []struct {
			field string
			ms    []float64
			n     int
			what  string
		}{
			{f + ".hourly", site.Hourly, 24, "one per local hour"},
			{f + ".weekday", site.Weekday, 7, "one per day from Monday"},
			{f + ".monthly", site.Monthly, 12, "one per month from January"},
		} {
			p, err := multipliers(m.field, m.ms, m.n, m.what)
			if err != nil {
				return err
			}
			peak *= p
		}
		if err := finiteIn(f+".trend_per_year", site.TrendPerYear, -1, 10); err != nil {
			return err
		}
		if site.CatchmentKM != 0 {
			if err := finiteIn(f+".catchment_km", site.CatchmentKM, 0.1, MaxCatchmentKM); err != nil {
				return err
			}
		}
		rate := site.RatePerDay
		for _, c := range s.Changes {
			if c.Site == site.Name && c.RatePerDay != nil && !math.IsNaN(*c.RatePerDay) {
				rate = max(rate, *c.RatePerDay)
			}
		}
		expected += rate * peak * max(1, 1+site.TrendPerYear*years) * years * 365
	}
	if expected > MaxArrivals {
		return referral.Invalid("sites", "ask for more than 50,000,000 arrivals")
	}
	return nil
}

func (d Duration) years() float64 { return time.Duration(d).Hours() / 24 / 365 }

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
	if err := probability("screening.coverage", sc.Coverage); err != nil {
		return err
	}
	if len(sc.Needs) > 0 {
		if sc.Instrument != "" || len(sc.Prevalence) > 0 || len(sc.Answers) > 0 {
			return referral.Invalid("screening.needs", "cannot be combined with an instrument, prevalence or answers")
		}
		return domainRates("screening.needs", sc.Needs)
	}
	in, err := instrument(sc.Instrument)
	if err != nil {
		return err
	}
	if len(sc.Prevalence) == 0 && len(sc.Answers) == 0 {
		return referral.Invalid("screening.prevalence", "needs prevalence or answers")
	}
	if err := domainRates("screening.prevalence", sc.Prevalence); err != nil {
		return err
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

func domainRates(field string, rates []DomainRate) error {
	seen := map[referral.Domain]bool{}
	for i, d := range rates {
		f := idx(field, i)
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
	return nil
}

func instrument(id string) (*screening.Instrument, error) {
	if id == "" {
		return nil, referral.Invalid("screening.instrument", "is required (or needs)")
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
	if len(sv.Name) > 300 {
		return referral.Invalid(f+".name", "is longer than 300 bytes")
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
		if err := c.validate(f + ".capacity"); err != nil {
			return err
		}
	}
	if err := sv.ServiceTime.validate(f+".service_time", true); err != nil {
		return err
	}
	if p := sv.Policy; p != nil {
		for _, d := range []struct {
			name string
			d    *Duration
		}{{"acknowledge_within", p.AcknowledgeWithin}, {"accept_within", p.AcceptWithin}, {"max_wait", p.MaxWait}} {
			if d.d == nil {
				continue
			}
			if err := checkDuration(f+".policy."+d.name, *d.d); err != nil {
				return err
			}
			if *d.d < 0 || time.Duration(*d.d) > MaxHorizon {
				return referral.Invalid(f+".policy."+d.name, "must be between 0 and 10 years")
			}
		}
	}
	if sv.Partner != nil {
		return sv.Partner.validate(f + ".partner")
	}
	return nil
}

func (c *Capacity) validate(f string) error {
	if c.Slots < 1 || c.Slots > 1_000_000 {
		return referral.Invalid(f+".slots", "must be between 1 and 1,000,000")
	}
	if c.Waitlist != nil && (*c.Waitlist < 0 || *c.Waitlist > 1_000_000) {
		return referral.Invalid(f+".waitlist", "must be between 0 and 1,000,000")
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
	if p.Patience != nil {
		if err := p.Patience.validate(f+".patience", true); err != nil {
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

func radius(field string, km float64) error {
	if math.IsNaN(km) || km <= 0 || km*1000 > matching.MaxRadiusM {
		return referral.Invalid(field, "must be above 0 and at most 1000")
	}
	return nil
}

func whenFull(field string, f matching.Full) error {
	switch f {
	case matching.Exclude, matching.RankDown:
		return nil
	}
	return referral.Invalid(field, "must be exclude or rank")
}

func (p *Policy) validate() error {
	if err := radius("policy.radius_km", p.RadiusKM); err != nil {
		return err
	}
	if p.Limit < 0 || p.Limit > matching.MaxLimit {
		return referral.Invalid("policy.limit", "must be between 0 and 1000")
	}
	if err := whenFull("policy.when_full", p.WhenFull); err != nil {
		return err
	}
	switch p.Acceptance {
	case "", AcceptanceHolds, AcceptanceNoHold:
	default:
		return referral.Invalid("policy.acceptance", "must be hold or none")
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{{"acknowledge_within", p.AcknowledgeWithin}, {"accept_within", p.AcceptWithin}, {"max_wait", p.MaxWait}} {
		if d.d < 0 || time.Duration(d.d) > MaxHorizon {
			return referral.Invalid("policy."+d.name, "must be between 0 and 10 years")
		}
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

func (s *Scenario) validatePathways() error {
	if len(s.Pathways) > MaxPathways {
		return referral.Invalid("pathways", "has more than 100 pathways")
	}
	for i, p := range s.Pathways {
		f := idx("pathways", i)
		if err := p.From.Validate(); err != nil {
			return referral.Invalid(f+".from", "is not a registered domain")
		}
		if err := p.To.Validate(); err != nil {
			return referral.Invalid(f+".to", "is not a registered domain")
		}
		if p.FromService != "" && s.service(p.FromService) < 0 {
			return referral.Invalid(f+".from_service", "names no service of the scenario")
		}
		if err := probability(f+".p", p.P); err != nil {
			return err
		}
		if p.After != nil {
			if err := p.After.validate(f+".after", true); err != nil {
				return err
			}
		}
	}
	return nil
}

// service returns the index of the named scenario service, or -1.
func (s *Scenario) service(name string) int {
	for i := range s.Services {
		if s.Services[i].Name == name {
			return i
		}
	}
	return -1
}

func (s *Scenario) site(name string) int {
	for i := range s.Sites {
		if s.Sites[i].Name == name {
			return i
		}
	}
	return -1
}

func (s *Scenario) validateChanges() error {
	if len(s.Changes) > MaxChanges {
		return referral.Invalid("changes", "has more than 1,000 changes")
	}
	end := s.Start.Add(s.horizon())
	for i, c := range s.Changes {
		f := idx("changes", i)
		if c.At.Before(s.Start) || c.At.After(end) {
			return referral.Invalid(f+".at", "must be between start and the end of the drain")
		}
		switch {
		case c.Service != "" && c.Site != "":
			return referral.Invalid(f+".site", "cannot be combined with service: a change has one target")
		case c.Service != "":
			k := s.service(c.Service)
			if k < 0 {
				return referral.Invalid(f+".service", "names no service of the scenario")
			}
			if c.RatePerDay != nil {
				return referral.Invalid(f+".rate_per_day", "applies to a site, not a service")
			}
			if c.Capacity == nil && c.Closed == nil && c.Policy == nil {
				return referral.Invalid(f, "changes nothing: give capacity, closed or policy")
			}
			if c.Capacity != nil {
				if s.Services[k].Capacity == nil {
					return referral.Invalid(f+".capacity", "cannot limit a service of unlimited capacity: give the service a capacity")
				}
				if err := c.Capacity.validate(f + ".capacity"); err != nil {
					return err
				}
			}
			if p := c.Policy; p != nil {
				if p.RadiusKM != nil || p.WhenFull != nil || p.ExpireAfter != nil || p.MaxRereferrals != nil {
					return referral.Invalid(f+".policy", "of a service may change only acknowledge_within, accept_within and max_wait")
				}
				if err := p.validate(f + ".policy"); err != nil {
					return err
				}
			}
		case c.Site != "":
			if s.site(c.Site) < 0 {
				return referral.Invalid(f+".site", "names no site of the scenario")
			}
			if c.Capacity != nil || c.Closed != nil || c.Policy != nil {
				return referral.Invalid(f, "of a site may change only rate_per_day")
			}
			if c.RatePerDay == nil {
				return referral.Invalid(f+".rate_per_day", "is required for a site")
			}
			if err := finiteIn(f+".rate_per_day", *c.RatePerDay, 0, 1e9); err != nil {
				return err
			}
		default:
			if c.Capacity != nil || c.Closed != nil || c.RatePerDay != nil {
				return referral.Invalid(f, "names no service or site: only policy applies to the network")
			}
			if c.Policy == nil {
				return referral.Invalid(f+".policy", "is required for a change of the network")
			}
			if err := c.Policy.validate(f + ".policy"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *PolicyChange) validate(f string) error {
	if p.RadiusKM != nil {
		if err := radius(f+".radius_km", *p.RadiusKM); err != nil {
			return err
		}
	}
	if p.WhenFull != nil {
		if err := whenFull(f+".when_full", *p.WhenFull); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		d    *Duration
	}{{"acknowledge_within", p.AcknowledgeWithin}, {"accept_within", p.AcceptWithin}, {"expire_after", p.ExpireAfter}, {"max_wait", p.MaxWait}} {
		if d.d == nil {
			continue
		}
		if err := checkDuration(f+"."+d.name, *d.d); err != nil {
			return err
		}
		if (*d.d < 0 && d.name != "expire_after") || time.Duration(*d.d) > MaxHorizon || time.Duration(*d.d) < -MaxHorizon {
			return referral.Invalid(f+"."+d.name, "must be between 0 and 10 years")
		}
	}
	if p.MaxRereferrals != nil && (*p.MaxRereferrals < 0 || *p.MaxRereferrals > MaxRereferrals) {
		return referral.Invalid(f+".max_rereferrals", "must be between 0 and 20")
	}
	return nil
}
