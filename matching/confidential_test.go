package matching_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

var (
	shelterNetwork = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000ee")
	shelterOrg     = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000c1")
	hotlineOrg     = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000c2")
	clinicOrg      = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000c3")
)

// The shelter's exact place. Its decimal forms are what no result for a
// viewer without the right may contain.
const shelterLat, shelterLon = 37.81234, -122.26789

// shelterDirectory is a confidential shelter with a second, open location
// farther out, an open food pantry near the request, and a shelter beyond the
// radius (within ExplainFactor of it).
func shelterDirectory() []referral.Service {
	shelter := referral.Service{
		ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000011"), Network: shelterNetwork, Organization: shelterOrg,
		Name: "Safe Harbor", Status: referral.ServiceActive, Domains: []referral.Domain{referral.InterpersonalSafety},
		Capacity: &referral.Capacity{Available: 2},
		Locations: []referral.Location{
			{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000d1"), Latitude: shelterLat, Longitude: shelterLon, Confidential: true},
			{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000d2"), Latitude: 37.90, Longitude: -122.30},
		},
	}
	pantry := referral.Service{
		ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000012"), Network: shelterNetwork, Organization: clinicOrg,
		Name: "Pantry", Status: referral.ServiceActive, Domains: []referral.Domain{referral.InterpersonalSafety, referral.FoodInsecurity},
		Locations: []referral.Location{{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000d3"), Latitude: 37.8050, Longitude: -122.2720}},
	}
	far := referral.Service{
		ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000013"), Network: shelterNetwork, Organization: shelterOrg,
		Name: "Safe Harbor North", Status: referral.ServiceActive, Domains: []referral.Domain{referral.InterpersonalSafety},
		Locations: []referral.Location{{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000d4"), Latitude: 37.8900, Longitude: -122.2700, Confidential: true}},
	}
	return []referral.Service{shelter, pantry, far}
}

func shelterRequest(viewer *referral.Actor) matching.Request {
	return matching.Request{
		Needs:   []referral.Need{{Domain: referral.InterpersonalSafety, Urgency: referral.Emergent}},
		Near:    &referral.Point{Latitude: 37.8000, Longitude: -122.2700},
		RadiusM: 9000, Explain: true, Viewer: viewer,
	}
}

// TestConfidentialLocationsInResults: a viewer the shelter does not disclose
// to sees its vicinity and a rounded distance, ranked and scored by it; one it
// discloses to sees the exact distance. Both paths agree.
func TestConfidentialLocationsInResults(t *testing.T) {
	ctx := context.Background()
	dir := shelterDirectory()
	grants := func(viewer referral.Actor, org referral.ID) bool {
		return viewer.Organization == org || (org == shelterOrg && viewer.Organization == hotlineOrg)
	}
	plain, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	granting, err := matching.New(ctx, dir, matching.Options{Disclose: grants})
	require.NoError(t, err)
	staff := func(org referral.ID) *referral.Actor {
		return &referral.Actor{Network: shelterNetwork, Organization: org, Role: referral.RoleStaff}
	}
	exact := matching.DistanceM(37.8, -122.27, shelterLat, shelterLon)
	farExact := matching.DistanceM(37.8, -122.27, 37.89, -122.27)
	cell := h3.LatLngToCell(h3.NewLatLng(shelterLat, shelterLon), matching.VicinityResolution).String()
	farCell := h3.LatLngToCell(h3.NewLatLng(37.89, -122.27), matching.VicinityResolution).String()
	tests := []struct {
		name    string
		ix      *matching.Index
		viewer  *referral.Actor
		exactly bool
	}{
		{"the public", plain, nil, false},
		{"another organization's staff", plain, staff(clinicOrg), false},
		{"the shelter's staff", plain, staff(shelterOrg), true},
		{"the shelter's admin", plain, &referral.Actor{Network: shelterNetwork, Organization: shelterOrg, Role: referral.RoleAdmin}, true},
		{"a system actor", plain, &referral.Actor{Network: shelterNetwork, Role: referral.RoleSystem}, true},
		{"the shelter's staff in another network", plain,
			&referral.Actor{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000ef"), Organization: shelterOrg, Role: referral.RoleStaff}, false},
		{"a delegate", plain, &referral.Actor{Network: shelterNetwork, Person: clinicOrg, Role: referral.RoleDelegate}, false},
		{"a granted hotline without the grant", plain, staff(hotlineOrg), false},
		{"a granted hotline", granting, staff(hotlineOrg), true},
		{"others under the host's policy", granting, staff(clinicOrg), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := shelterRequest(tc.viewer)
			res, err := tc.ix.Match(ctx, req)
			require.NoError(t, err)
			scan, err := tc.ix.Snapshot().Scan(ctx, req)
			require.NoError(t, err)
			require.Equal(t, res, scan, "the index and the scan agree")

			m := findMatch(t, res, dir[0].ID)
			require.Equal(t, dir[0].Locations[0].ID, m.Location, "the nearest location is still found")
			x := findExclusion(t, res, dir[2].ID)
			want, wantFar, wantCell, wantFarCell := math.Round(exact*10)/10, math.Round(farExact*10)/10, "", ""
			if !tc.exactly {
				want, wantFar, wantCell, wantFarCell = math.Round(exact/1000)*1000, math.Round(farExact/1000)*1000, cell, farCell
			}
			require.Equal(t, want, *m.DistanceM)
			require.Equal(t, wantCell, m.Vicinity)
			require.Equal(t, wantFar, *x.DistanceM)
			require.Equal(t, wantFarCell, x.Vicinity)
			require.Equal(t, matching.ReasonWithinRadius, m.Reasons[0].Code)
			require.Equal(t, strconv.FormatFloat(want/1000, 'f', 2, 64)+" km", m.Reasons[0].Detail)
			require.Equal(t, matching.ReasonOutOfRadius, x.Reasons[0].Code)
			require.Equal(t, strconv.FormatFloat(wantFar/1000, 'f', 2, 64)+" km", x.Reasons[0].Detail)
			w := matching.DefaultWeights()
			delta := 1e-9
			if tc.exactly {
				delta = w.Distance * 0.05 / req.RadiusM // DistanceM is to 0.1 m
			}
			require.InDelta(t, w.Distance*(1-want/req.RadiusM), m.Breakdown.Distance, delta, "scored by what is shown")
			require.Equal(t, m.Breakdown.Total(), m.Score)

			pantry := findMatch(t, res, dir[1].ID)
			require.Empty(t, pantry.Vicinity, "an open location is shown as it is")
			require.Equal(t, math.Round(matching.DistanceM(37.8, -122.27, 37.805, -122.272)*10)/10, *pantry.DistanceM)

			if !tc.exactly {
				out, err := json.Marshal(res)
				require.NoError(t, err)
				noExactPlace(t, string(out)+fmt.Sprintf("%+v", res), exact, farExact)
			}
		})
	}
}

// noExactPlace fails when text holds the shelters' coordinates or their exact
// distances, to the metre.
func noExactPlace(t *testing.T, text string, distances ...float64) {
	t.Helper()
	for _, secret := range []string{"37.81234", "122.26789", "37.89", "12234", "26789"} {
		require.NotContains(t, text, secret)
	}
	for _, d := range distances {
		for _, form := range []string{
			strconv.FormatFloat(math.Round(d*10)/10, 'f', -1, 64), strconv.FormatFloat(math.Floor(d), 'f', 0, 64),
			strconv.FormatFloat(d/1000, 'f', 2, 64) + " km",
		} {
			if form != strconv.FormatFloat(math.Round(d/1000), 'f', 2, 64)+" km" {
				require.NotContains(t, text, form, "the exact distance %.1f m", d)
			}
		}
	}
}

// TestConfidentialAfterCapacityUpdate: a capacity-only update keeps what the
// snapshot knows of confidential locations.
func TestConfidentialAfterCapacityUpdate(t *testing.T) {
	ctx := context.Background()
	dir := shelterDirectory()
	ix, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	require.NoError(t, ix.Update(ctx, matching.SetCapacity(dir[0].ID, &referral.Capacity{Available: 1})))
	res, err := ix.Match(ctx, shelterRequest(nil))
	require.NoError(t, err)
	require.NotEmpty(t, findMatch(t, res, dir[0].ID).Vicinity)
	require.NoError(t, ix.Update(ctx, matching.Put(dir[1])))
	res, err = ix.Match(ctx, shelterRequest(nil))
	require.NoError(t, err)
	require.NotEmpty(t, findMatch(t, res, dir[0].ID).Vicinity, "and a rebuild knows them again")
}

// TestRequestViewer: the viewer is the host's to set, never a request body's;
// a malformed one is refused.
func TestRequestViewer(t *testing.T) {
	var req matching.Request
	body := `{"needs":[{"domain":"interpersonal-safety","urgency":"emergent"}],"near":{"latitude":37.8,"longitude":-122.27},` +
		`"radius_m":8000,"viewer":{"network_id":"` + shelterNetwork.String() + `","organization_id":"` + shelterOrg.String() + `","role":"staff"}}`
	require.NoError(t, json.Unmarshal([]byte(body), &req))
	require.Nil(t, req.Viewer, "a request body cannot claim a viewer")
	out, err := json.Marshal(shelterRequest(&referral.Actor{Network: shelterNetwork, Role: referral.RoleSystem}))
	require.NoError(t, err)
	require.NotContains(t, string(out), "viewer")

	bad := shelterRequest(&referral.Actor{Network: shelterNetwork, Role: "owner"})
	err = bad.Validate()
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "viewer.role", ve.Field)
	ix, err := matching.New(context.Background(), shelterDirectory(), matching.Options{})
	require.NoError(t, err)
	_, err = ix.Match(context.Background(), bad)
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func findMatch(t *testing.T, res matching.Result, id referral.ID) matching.Match {
	t.Helper()
	for _, m := range res.Matches {
		if m.Service == id {
			return m
		}
	}
	t.Fatalf("no match for %s among %d", id, len(res.Matches))
	return matching.Match{}
}

func findExclusion(t *testing.T, res matching.Result, id referral.ID) matching.Exclusion {
	t.Helper()
	for _, x := range res.Excluded {
		if x.Service == id {
			return x
		}
	}
	ids := make([]string, len(res.Excluded))
	for i, x := range res.Excluded {
		ids[i] = x.Service.String()
	}
	t.Fatalf("no exclusion for %s among %s", id, strings.Join(ids, ", "))
	return matching.Exclusion{}
}
