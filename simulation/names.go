package simulation

import (
	"fmt"
	"math"

	"github.com/refkit/refkit/referral"
)

// namer gives a generated directory's services readable made-up names: what
// the service does, a number, and the nearest large city, "Food pantry 00042
// (Chicago)". Reports and charts then say something a reader can follow.
type namer struct{ n int }

func newNamer() *namer { return &namer{} }

// serviceNouns says what a service for a domain is called.
var serviceNouns = map[referral.Domain]string{
	referral.FoodInsecurity:           "Food pantry",
	referral.HousingInstability:       "Housing help",
	referral.Homelessness:             "Shelter",
	referral.InadequateHousing:        "Home repair",
	referral.TransportationInsecurity: "Rides",
	referral.UtilityInsecurity:        "Utility help",
	referral.FinancialInsecurity:      "Financial coaching",
	referral.EmploymentStatus:         "Job centre",
	referral.InterpersonalSafety:      "Safety line",
	referral.Stress:                   "Counselling",
	referral.SocialConnection:         "Community centre",
	referral.EducationalAttainment:    "Adult education",
	referral.HealthLiteracy:           "Health navigation",
	referral.VeteranStatus:            "Veteran services",
}

// cities are large US cities, to say roughly where a generated service is.
var cities = []struct {
	name     string
	lat, lon float64
}{
	{"New York", 40.71, -74.01}, {"Los Angeles", 34.05, -118.24}, {"Chicago", 41.88, -87.63},
	{"Dallas", 32.78, -96.80}, {"Houston", 29.76, -95.37}, {"Washington", 38.91, -77.04},
	{"Philadelphia", 39.95, -75.17}, {"Miami", 25.76, -80.19}, {"Atlanta", 33.75, -84.39},
	{"Boston", 42.36, -71.06}, {"Phoenix", 33.45, -112.07}, {"San Francisco", 37.77, -122.42},
	{"Riverside", 33.95, -117.40}, {"Detroit", 42.33, -83.05}, {"Seattle", 47.61, -122.33},
	{"Minneapolis", 44.98, -93.27}, {"San Diego", 32.72, -117.16}, {"Tampa", 27.95, -82.46},
	{"Denver", 39.74, -104.99}, {"Baltimore", 39.29, -76.61}, {"St. Louis", 38.63, -90.20},
	{"Orlando", 28.54, -81.38}, {"Charlotte", 35.23, -80.84}, {"San Antonio", 29.42, -98.49},
	{"Portland", 45.52, -122.68}, {"Sacramento", 38.58, -121.49}, {"Pittsburgh", 40.44, -80.00},
	{"Austin", 30.27, -97.74}, {"Las Vegas", 36.17, -115.14}, {"Cincinnati", 39.10, -84.51},
	{"Kansas City", 39.10, -94.58}, {"Columbus", 39.96, -83.00}, {"Indianapolis", 39.77, -86.16},
	{"Cleveland", 41.50, -81.69}, {"Nashville", 36.16, -86.78}, {"San Jose", 37.34, -121.89},
	{"Salt Lake City", 40.76, -111.89}, {"Albuquerque", 35.08, -106.65}, {"New Orleans", 29.95, -90.07},
	{"Anchorage", 61.22, -149.90}, {"Honolulu", 21.31, -157.86},
}

func (nm *namer) name(svc referral.Service) string {
	nm.n++
	noun := "Service"
	if len(svc.Domains) > 0 {
		if v, ok := serviceNouns[svc.Domains[0]]; ok {
			noun = v
		} else if info, ok := referral.LookupDomain(svc.Domains[0]); ok {
			noun = info.Display + " service"
		}
	}
	if len(svc.Locations) == 0 {
		where := "area-wide"
		if len(svc.ServiceAreas) > 0 {
			switch a := svc.ServiceAreas[0]; {
			case a.Kind == referral.AreaVirtual:
				where = "virtual"
			case a.Kind == referral.AreaState && len(a.Values) > 0:
				where = a.Values[0] + " statewide"
			}
		}
		return fmt.Sprintf("%s %05d (%s)", noun, nm.n, where)
	}
	return fmt.Sprintf("%s %05d (%s)", noun, nm.n, nearestCity(svc.Locations[0].Latitude, svc.Locations[0].Longitude))
}

func nearestCity(lat, lon float64) string {
	best, bestD := "", math.Inf(1)
	for _, c := range cities {
		dlat := lat - c.lat
		dlon := (lon - c.lon) * math.Cos(lat*math.Pi/180)
		if d := dlat*dlat + dlon*dlon; d < bestD {
			best, bestD = c.name, d
		}
	}
	return best
}
