package matching_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// These tests cover how the index reads the directory model: services kept
// although unmatchable, locations without coordinates, virtual locations, the
// areas, languages and hours of locations, and schedules it cannot evaluate.

func id(n int) referral.ID {
	return referral.MustParseID(fmt.Sprintf("0190a6f0-8a4b-7c3d-9e2f-0000000c%04x", n))
}

func pantryAt(n int, lat, lon float64) referral.Service {
	return referral.Service{
		ID: id(n), Organization: id(0xa00), Name: "Pantry", Status: referral.ServiceActive,
		Domains:   []referral.Domain{referral.FoodInsecurity},
		Locations: []referral.Location{{ID: id(0xb00 + n), Latitude: lat, Longitude: lon}},
	}
}

func bothPaths(t *testing.T, ix *matching.Index, req matching.Request) matching.Result {
	t.Helper()
	got, err := ix.Match(context.Background(), req)
	require.NoError(t, err)
	ref, err := ix.Snapshot().Scan(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, ref, got, "the index and the scan agree")
	return got
}

func reasonsOf(res matching.Result, svc referral.ID) []matching.Reason {
	for _, x := range res.Excluded {
		if x.Service == svc {
			return x.Reasons
		}
	}
	return nil
}

func TestUnmatchableServicesAreKeptAndExplained(t *testing.T) {
	noDomain := pantryAt(1, 37.8010, -122.2710)
	noDomain.Domains = nil
	nowhere := pantryAt(2, 0, 0)
	nowhere.Locations[0].Latitude, nowhere.Locations[0].Longitude, nowhere.Locations[0].Unplaced = 0, 0, true
	elsewhere := pantryAt(3, 0, 0)
	elsewhere.Locations[0].Unplaced, elsewhere.Domains = true, []referral.Domain{referral.TransportationInsecurity}
	good := pantryAt(4, 37.8020, -122.2720)
	good.Locations = append(good.Locations, referral.Location{ID: id(0xbff), Unplaced: true})
	ix, err := matching.New(context.Background(), []referral.Service{noDomain, nowhere, elsewhere, good}, matching.Options{})
	require.NoError(t, err, "unmatchable services are valid directory records")

	req := exampleRequest()
	req.Explain = false
	res := bothPaths(t, ix, req)
	require.Len(t, res.Matches, 1)
	require.Equal(t, good.ID, res.Matches[0].Service)
	require.Equal(t, good.Locations[0].ID, res.Matches[0].Location, "the unplaced location is never offered")

	req.Explain = true
	res = bothPaths(t, ix, req)
	require.Len(t, res.Matches, 1)
	require.Equal(t, []matching.Reason{{Code: matching.ReasonUnmatchable, Detail: "no SDOH domain"}}, reasonsOf(res, noDomain.ID))
	require.Equal(t, []matching.Reason{{Code: matching.ReasonUnmatchable, Detail: "no location with coordinates and no service area"}}, reasonsOf(res, nowhere.ID))
	require.Nil(t, reasonsOf(res, elsewhere.ID), "a service without a place is named only to requests for its domains")
}

func TestLocationsTypesAreasAndLanguages(t *testing.T) {
	online := pantryAt(1, 0, 0)
	online.Locations[0] = referral.Location{ID: id(0xb01), Type: referral.LocationVirtual, Unplaced: true, Languages: []string{"es"}}
	postal := pantryAt(2, 37.8001, -122.2701)
	postal.Locations[0].Type = referral.LocationPostal
	site := pantryAt(3, 0, 0)
	site.Locations[0].Unplaced, site.Locations[0].Latitude, site.Locations[0].Longitude = true, 0, 0
	site.Locations[0].ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaState, Values: []string{"CA"}}}
	unread := pantryAt(4, 0, 0)
	unread.Locations = nil
	unread.ServiceAreas = []referral.ServiceArea{{Name: "The whole bay", Extent: "the bay", ExtentType: "text"}}
	ix, err := matching.New(context.Background(), []referral.Service{online, postal, site, unread}, matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Explain = false
	res := bothPaths(t, ix, req)
	got := map[referral.ID]matching.Match{}
	for _, m := range res.Matches {
		got[m.Service] = m
	}
	require.Contains(t, got, online.ID)
	require.Equal(t, referral.AreaVirtual, got[online.ID].Area, "a virtual location serves anywhere")
	require.Contains(t, got[online.ID].Reasons, matching.Reason{Code: matching.ReasonLanguage, Detail: "es"}, "languages come from the location")
	require.NotContains(t, got, postal.ID, "a postal location is not a place of service")
	require.Equal(t, referral.AreaState, got[site.ID].Area, "a service_at_location's area counts")
	require.NotContains(t, got, unread.ID, "an area refkit could not read is never matched")
}

func TestHoursInRanking(t *testing.T) {
	asOf := exampleRequest().AsOf // a Monday, 15:00 UTC
	open := referral.Schedule{ByDay: []string{"MO"}, OpensAt: "14:00", ClosesAt: "16:00"}
	closed := referral.Schedule{ByDay: []string{"TU"}}
	unknown := referral.Schedule{Freq: "HOURLY"}
	closure := referral.Schedule{Closed: true, ValidFrom: asOf.Format(time.DateOnly), ValidTo: asOf.Format(time.DateOnly)}
	tests := []struct {
		name     string
		own      []referral.Schedule
		site     []referral.Schedule
		location []referral.Schedule
		open     float64 // the Open value before weighting
		reason   bool
	}{
		{"no schedule", nil, nil, nil, 0.5, false},
		{"open", []referral.Schedule{open}, nil, nil, 1, true},
		{"closed", []referral.Schedule{closed}, nil, nil, 0, false},
		{"cannot be evaluated", []referral.Schedule{unknown}, nil, nil, 0.5, false},
		{"closure", []referral.Schedule{open, closure}, nil, nil, 0, false},
		{"the site's hours", nil, []referral.Schedule{open}, []referral.Schedule{closed}, 1, true},
		{"the location's hours", nil, nil, []referral.Schedule{open}, 1, true},
		{"the service's own hours first", []referral.Schedule{closed}, []referral.Schedule{open}, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pantryAt(1, 37.8010, -122.2710)
			s.Schedules = tc.own
			s.Locations[0].ServiceSchedules, s.Locations[0].Schedules = tc.site, tc.location
			ix, err := matching.New(context.Background(), []referral.Service{s}, matching.Options{})
			require.NoError(t, err)
			req := exampleRequest()
			req.Explain = false
			res := bothPaths(t, ix, req)
			require.Len(t, res.Matches, 1)
			m := res.Matches[0]
			require.Equal(t, matching.DefaultWeights().Open*tc.open, m.Breakdown.Open)
			require.Equal(t, tc.reason, containsCode(m.Reasons, matching.ReasonOpenNow))
		})
	}
}

func containsCode(rs []matching.Reason, code string) bool {
	for _, r := range rs {
		if r.Code == code {
			return true
		}
	}
	return false
}

func TestCapacityRecordKeepsWhatTheTableDoesNotHold(t *testing.T) {
	s := pantryAt(1, 37.8010, -122.2710)
	s.Capacity = &referral.Capacity{Available: 2, Maximum: 40, ID: "cap-1", Unit: &referral.Unit{Name: "Household"}}
	ix, err := matching.New(context.Background(), []referral.Service{s}, matching.Options{})
	require.NoError(t, err)
	require.NoError(t, ix.Update(context.Background(), matching.SetCapacity(s.ID, &referral.Capacity{Available: 0, Waitlist: 3})))
	got, ok := ix.Snapshot().Service(s.ID)
	require.True(t, ok)
	require.Equal(t, &referral.Capacity{Available: 0, Waitlist: 3, Maximum: 40, ID: "cap-1", Unit: &referral.Unit{Name: "Household"}}, got.Capacity)
}
