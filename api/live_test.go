package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// waitFor polls cond until it holds or the deadline passes: what the
// followers do in the background is waited for, never slept for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			require.FailNow(t, "gave up waiting", what)
		case <-tick.C:
		}
	}
}

// matchIDs are the services a match finds for the network's person.
func (hs *harness) matchIDs(n network) []referral.ID {
	hs.t.Helper()
	var res matching.Result
	hs.must(200, n.sender, "POST", "/matches", map[string]any{"person_id": n.person,
		"needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}, "radius_m": 10000}).decode(hs.t, &res)
	var ids []referral.ID
	for _, m := range res.Matches {
		ids = append(ids, m.Service)
	}
	return ids
}

// TestIndexFollowsTheFeed: a service written through one API (another
// serve process on the same database) is matched through the other as soon
// as its index applies the directory feed, and a deletion leaves it the
// same way, with the clock standing still: nothing waits for an index to
// age. Through the API that wrote it, a write is matched at once.
func TestIndexFollowsTheFeed(t *testing.T) {
	first := newHarness(t)
	a := first.newNetwork("a")
	seeded := first.seed(a)
	second := first.second()
	require.Equal(t, []referral.ID{seeded.ID}, first.matchIDs(a), "the first API's index is built")
	require.Equal(t, []referral.ID{seeded.ID}, second.matchIDs(a), "and the second's")
	start := first.clock.Now()

	tests := []struct {
		name   string
		writer *harness
		reader *harness
	}{
		{"written elsewhere", second, first},
		{"written here", first, first},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.writer.t, tc.reader.t = t, t
			svc := seeded
			svc.ID, svc.Created, svc.Updated = first.ids.MustNew(), time.Time{}, time.Time{}
			svc.Name = "Pantry " + tc.name
			tc.writer.must(200, a.receiver, "PUT", "/services/"+svc.ID.String(), svc)
			found := func() bool { return len(tc.reader.matchIDs(a)) == 2 }
			if tc.writer == tc.reader {
				require.True(t, found(), "a write through the same API is matched at once")
			} else {
				waitFor(t, "the service to be matched through the other API", found)
			}
			tc.writer.must(204, a.receiver, "DELETE", "/services/"+svc.ID.String(), nil)
			gone := func() bool { return len(tc.reader.matchIDs(a)) == 1 }
			if tc.writer == tc.reader {
				require.True(t, gone())
			} else {
				waitFor(t, "the deleted service to leave the other API's index", gone)
			}
		})
	}
	require.Equal(t, start, first.clock.Now(), "the clock never moved")
}

// TestCapacityKept: with KeepCapacity, accepting a referral to a service
// takes one of its places and completing it frees the place, as published
// by GET /services/{id} and read by matching, whichever API ran the command.
func TestCapacityKept(t *testing.T) {
	first := newHarness(t)
	a := first.newNetwork("a")
	svc := first.seed(a)
	svc.Capacity = &referral.Capacity{Available: 2, Maximum: 2}
	first.must(200, a.receiver, "PUT", "/services/"+svc.ID.String(), svc)
	second := first.second()
	available := func(hs *harness) int {
		var got referral.Service
		hs.must(200, a.sender, "GET", "/services/"+svc.ID.String(), nil).decode(hs.t, &got)
		return got.Capacity.Available
	}
	// matched is the capacity matching publishes: "N open", or "" when the
	// service is full and so not matched.
	matched := func(hs *harness) string {
		var res matching.Result
		hs.must(200, a.sender, "POST", "/matches", map[string]any{"person_id": a.person,
			"needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}, "radius_m": 10000}).decode(hs.t, &res)
		for _, m := range res.Matches {
			for _, r := range m.Reasons {
				if r.Code == matching.ReasonCapacity {
					return r.Detail
				}
			}
		}
		return ""
	}
	tests := []struct {
		name      string
		hs        *harness
		available int
		published string
	}{
		{"accepted", first, 1, "1 open"},
		{"accepted elsewhere", second, 0, ""},
		{"the first completed", first, 1, "1 open"},
		{"the second cancelled in two steps", second, 2, "2 open"},
	}
	var refs []string
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.hs.t = t
			switch i {
			case 0, 1:
				var ref referral.Referral
				tc.hs.must(201, a.sender, "POST", "/referrals", map[string]any{"person_id": a.person, "receiver_organization_id": a.foodbank,
					"service_id": svc.ID, "needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}, "send": true}).decode(t, &ref)
				refs = append(refs, "/referrals/"+ref.ID.String())
				tc.hs.must(200, a.receiver, "POST", refs[i]+"/accept", nil)
			case 2:
				tc.hs.must(200, a.receiver, "POST", refs[0]+"/complete", map[string]any{"outcome": map[string]any{"code": "got-help"}})
			case 3:
				tc.hs.must(200, a.sender, "POST", refs[1]+"/request-cancel", map[string]any{"reason": "referred-elsewhere"})
				tc.hs.must(200, a.receiver, "POST", refs[1]+"/confirm-cancel", nil)
			}
			for _, hs := range []*harness{first, second} {
				hs.t = t
				waitFor(t, "the capacity to follow the referral", func() bool { return available(hs) == tc.available })
				waitFor(t, "matching to publish it", func() bool { return matched(hs) == tc.published })
			}
		})
	}
}

// TestHSDSMount: /hsds/ serves the HSDS API of the caller's network only,
// to authenticated callers, with confidential locations shown as the
// caller's organization may see them, and problems in the API's shape.
func TestHSDSMount(t *testing.T) {
	hs := newHarness(t)
	a, b := hs.newNetwork("a"), hs.newNetwork("b")
	svcA, svcB := hs.seed(a), hs.seed(b)
	shelter := referral.Service{Organization: a.shelter, Name: "Safe house", Status: referral.ServiceActive,
		Domains: []referral.Domain{referral.Homelessness},
		Locations: []referral.Location{{ID: hs.ids.MustNew(), Name: "House", Latitude: 39.95, Longitude: -83.02, Confidential: true,
			Address: &referral.Address{Address1: "12 Hidden Lane", City: "Columbus", StateProvince: "OH", PostalCode: "43215", Country: "US"}}}}
	shelterID := hs.ids.MustNew()
	hs.must(200, a.third, "PUT", "/services/"+shelterID.String(), shelter)

	type page struct {
		TotalItems int `json:"total_items"`
		Contents   []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"contents"`
	}
	list := func(as string) []string {
		var p page
		hs.must(200, as, "GET", "/hsds/services?per_page=50", nil).decode(t, &p)
		var ids []string
		for _, c := range p.Contents {
			ids = append(ids, c.ID)
		}
		return ids
	}
	require.ElementsMatch(t, []string{svcA.ID.String(), shelterID.String()}, list(a.sender))
	require.Equal(t, []string{svcB.ID.String()}, list(b.sender), "network b sees its own directory only")

	tests := []struct {
		name   string
		as     string
		method string
		path   string
		body   any
		status int
		slug   string
	}{
		{"about", a.sender, "GET", "/hsds/", nil, 200, ""},
		{"a record", a.sender, "GET", "/hsds/services/" + svcA.ID.String(), nil, 200, ""},
		{"an organization", a.delegate, "GET", "/hsds/organizations/" + a.foodbank.String(), nil, 200, ""},
		{"a search by POST", a.sender, "POST", "/hsds/services", map[string]any{"search": "pantry"}, 200, ""},
		{"sites", a.receiver, "GET", "/hsds/service_at_locations", nil, 200, ""},
		{"taxonomies", a.receiver, "GET", "/hsds/taxonomy_terms", nil, 200, ""},
		{"another network's record", b.sender, "GET", "/hsds/services/" + svcA.ID.String(), nil, 404, "not-found"},
		{"another network's organization", b.admin, "GET", "/hsds/organizations/" + a.foodbank.String(), nil, 404, "not-found"},
		{"no token", "", "GET", "/hsds/services", nil, 401, "unauthenticated"},
		{"no token for the about", "", "GET", "/hsds/", nil, 401, "unauthenticated"},
		{"an unknown token", "nobody", "GET", "/hsds/services/" + svcA.ID.String(), nil, 401, "unauthenticated"},
		{"an unknown parameter", a.sender, "GET", "/hsds/services?colour=red", nil, 400, "invalid"},
		{"a page too large", a.sender, "GET", "/hsds/services?per_page=100000", nil, 400, "invalid"},
		{"an unknown resource", a.sender, "GET", "/hsds/people", nil, 404, "not-found"},
		{"an unknown record", a.sender, "GET", "/hsds/services/" + hs.ids.MustNew().String(), nil, 404, "not-found"},
		{"a path too deep", a.sender, "GET", "/hsds/services/x/y", nil, 404, "not-found"},
		{"a write", a.admin, "DELETE", "/hsds/services/" + svcA.ID.String(), nil, 405, "method-not-allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs.t = t
			r := hs.do(tc.as, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, r.status, string(r.body))
			if tc.status != 200 {
				p := r.problem(t)
				require.Equal(t, api.ProblemType+tc.slug, p.Type)
				require.NotContains(t, p.Detail, "colour", "a problem never quotes the request")
				return
			}
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			require.Equal(t, "private, no-store", r.header.Get("Cache-Control"), "an actor's view is not cached for others")
		})
	}

	// The shelter's address: for its own staff, not for the clinic's, nor for
	// a delegate; the clinic sees it once the shelter grants it access.
	address := func(as string) bool {
		hs.t = t
		r := hs.must(200, as, "GET", "/hsds/services/"+shelterID.String(), nil)
		return strings.Contains(string(r.body), "Hidden Lane")
	}
	require.True(t, address(a.third))
	require.False(t, address(a.sender))
	require.False(t, address(a.delegate))
	hs.must(200, a.admin, "PUT", "/organizations/"+a.shelter.String(), map[string]any{"name": "Shelter", "confidential_access": []referral.ID{a.clinic}})
	require.True(t, address(a.sender), "the grant applies at once")
	require.False(t, address(a.receiver))
}

// TestHSDSOptionsChecked: New refuses HSDS options the HSDS API would.
func TestHSDSOptionsChecked(t *testing.T) {
	store := memory.New()
	defer store.Close()
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	auth := api.AuthenticatorFunc(func(*http.Request) (referral.Actor, error) { return referral.Actor{}, api.ErrUnauthenticated })
	_, err = api.New(store, engine, api.Options{Authenticator: auth, HSDS: &hsds.APIOptions{MaxPerPage: 5000}})
	require.ErrorIs(t, err, referral.ErrInvalid)
	h, err := api.New(store, engine, api.Options{Authenticator: auth})
	require.NoError(t, err)
	defer h.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/hsds/services", nil))
	require.Equal(t, http.StatusNotFound, rec.Code, "without the option there is no mount")
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(h.OpenAPI(), &doc))
	require.NotContains(t, doc.Paths, "/hsds/{resource}")
}

// TestClose: after Close, what needs a follower is 503, and closing again
// does nothing.
func TestClose(t *testing.T) {
	hs := newHarness(t)
	a := hs.newNetwork("a")
	hs.seed(a)
	hs.matchIDs(a)
	require.NoError(t, hs.h.Close())
	require.NoError(t, hs.h.Close())
	hs.must(200, a.sender, "GET", "/network", nil)
	require.Equal(t, api.ProblemType+"unavailable", hs.must(503, a.sender, "POST", "/matches", map[string]any{"person_id": a.person,
		"needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}}).problem(t).Type)
	hs.must(503, a.sender, "GET", "/hsds/services", nil)
}
