package synth

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/synth/internal/rulemix"
	"github.com/refkit/refkit/referral"
)

// Domains are the 14 SDOH domains the synthetic directory uses.
var Domains = []referral.Domain{
	referral.FoodInsecurity, referral.HousingInstability, referral.Homelessness, referral.InadequateHousing,
	referral.TransportationInsecurity, referral.UtilityInsecurity, referral.FinancialInsecurity,
	referral.EmploymentStatus, referral.InterpersonalSafety, referral.Stress, referral.SocialConnection,
	referral.EducationalAttainment, referral.HealthLiteracy, referral.VeteranStatus,
}

// Directory generates a synthetic national directory with about locations service
// locations clustered around US metros in proportion to population, plus a few
// statewide and virtual services. The same seed gives the same directory.
func Directory(seed uint64, locations int) []referral.Service {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ids := idGenerator(seed)
	total := 0
	for _, t := range rulemix.Templates {
		total += t.Weight
	}
	var out []referral.Service
	placed := 0
	for placed < locations {
		m := pickMetro(r)
		s := referral.Service{
			ID: ids.MustNew(), Organization: ids.MustNew(), Name: "service",
			Status: referral.ServiceActive,
		}
		if r.IntN(20) == 0 {
			s.Status = referral.ServiceInactive
		}
		for _, d := range r.Perm(len(Domains))[:1+r.IntN(3)] {
			s.Domains = append(s.Domains, Domains[d])
		}
		pick := r.IntN(total)
		for _, t := range rulemix.Templates {
			if pick < t.Weight {
				s.Eligibility = t.Text(m.county)
				break
			}
			pick -= t.Weight
		}
		if r.IntN(10) == 0 {
			s.MinimumAge = 18
		}
		s.Languages = []string{"en"}
		if r.IntN(3) == 0 {
			s.Languages = append(s.Languages, "es")
		}
		if r.IntN(5) < 3 {
			s.Capacity = &referral.Capacity{Available: r.IntN(4), Waitlist: r.IntN(3)}
		}
		switch x := r.IntN(200); {
		case x == 0:
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaVirtual}}
		case x < 4:
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaState, Values: []string{m.state}}}
		}
		if len(s.ServiceAreas) == 0 || r.IntN(2) == 0 {
			n := 1
			if r.IntN(10) == 0 {
				n = 2
			}
			for range n {
				lat, lon := scatter(r, m)
				s.Locations = append(s.Locations, referral.Location{ID: ids.MustNew(), Latitude: lat, Longitude: lon})
				placed++
			}
		}
		out = append(out, s)
	}
	return out
}

// Requests generates n requests from people drawn from the same population
// distribution: 10 km radius, one or two needs, top 20.
func Requests(seed uint64, n int, explain bool) []matching.Request {
	r := rand.New(rand.NewPCG(seed, 0x9e0))
	out := make([]matching.Request, n)
	asOf := time.Date(2026, time.March, 4, 17, 0, 0, 0, time.UTC)
	for i := range out {
		m := pickMetro(r)
		lat, lon := scatter(r, m)
		income := math.Round(r.Float64() * 90000)
		p := referral.Person{
			BirthDate:     referral.Date{Year: 1940 + r.IntN(66), Month: time.Month(1 + r.IntN(12)), Day: 1 + r.IntN(28)},
			HouseholdSize: 1 + r.IntN(6), IncomeAnnual: &income, State: m.state, County: m.county,
			Veteran: referral.Known(r.IntN(12) == 0), Pregnant: referral.Known(r.IntN(30) == 0), Disabled: referral.Known(r.IntN(10) == 0),
			Languages: []string{"en"},
		}
		if r.IntN(4) == 0 {
			p.Languages = []string{"es", "en"}
		}
		req := matching.Request{
			Person: p, Near: &referral.Point{Latitude: lat, Longitude: lon},
			RadiusM: 10000, Limit: 20, Explain: explain, AsOf: asOf,
		}
		for _, d := range r.Perm(len(Domains))[:1+r.IntN(2)] {
			req.Needs = append(req.Needs, referral.Need{Domain: Domains[d], Urgency: []referral.Urgency{referral.Routine, referral.Urgent, referral.Emergent}[r.IntN(3)]})
		}
		out[i] = req
	}
	return out
}

var cumulative = func() []float64 {
	c := make([]float64, len(metros))
	sum := 0.0
	for i, m := range metros {
		sum += m.pop
		c[i] = sum
	}
	return c
}()

func pickMetro(r *rand.Rand) metro {
	x := r.Float64() * cumulative[len(cumulative)-1]
	for i, c := range cumulative {
		if x < c {
			return metros[i]
		}
	}
	return metros[len(metros)-1]
}

// scatter places a point around a metro: Gaussian, wider for larger metros.
func scatter(r *rand.Rand, m metro) (float64, float64) {
	sigmaKm := 6 + 5*math.Sqrt(m.pop)
	lat := m.lat + r.NormFloat64()*sigmaKm/111.2
	lon := m.lon + r.NormFloat64()*sigmaKm/(111.2*math.Cos(m.lat*math.Pi/180))
	return math.Max(-89.9, math.Min(89.9, lat)), lon
}

func idGenerator(seed uint64) *referral.IDGenerator {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	src := rand.NewChaCha8(key)
	t := time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)
	return referral.NewIDGenerator(func() time.Time { return t }, src)
}
