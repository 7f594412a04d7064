package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// network is one network's ids and the actor names registered for it.
type network struct {
	id, clinic, foodbank, shelter, person, other referral.ID
	admin, sender, receiver, third, delegate     string
}

// newNetwork registers actors for a new network (nothing is stored yet).
func (hs *harness) newNetwork(prefix string) network {
	id := hs.ids.MustNew
	n := network{id: id(), clinic: id(), foodbank: id(), shelter: id(), person: id(), other: id(),
		admin: prefix + "-admin", sender: prefix + "-clinic", receiver: prefix + "-foodbank", third: prefix + "-shelter", delegate: prefix + "-delegate"}
	hs.actors[n.admin] = referral.Actor{Network: n.id, Organization: n.clinic, User: "admin", Role: referral.RoleAdmin}
	hs.actors[n.sender] = referral.Actor{Network: n.id, Organization: n.clinic, User: "dr-lee", Role: referral.RoleStaff}
	hs.actors[n.receiver] = referral.Actor{Network: n.id, Organization: n.foodbank, User: "intake", Role: referral.RoleStaff}
	hs.actors[n.third] = referral.Actor{Network: n.id, Organization: n.shelter, User: "case", Role: referral.RoleStaff}
	hs.actors[n.delegate] = referral.Actor{Network: n.id, Person: n.person, User: "guardian", Role: referral.RoleDelegate}
	return n
}

// seed creates the network, its organizations, a person with a consent for
// the food bank, and the food bank's service, all through the API.
func (hs *harness) seed(n network) referral.Service {
	t := hs.t
	hs.must(200, n.admin, "PUT", "/network", map[string]any{"name": "County network"})
	for _, o := range []struct {
		id   referral.ID
		name string
	}{{n.clinic, "Clinic"}, {n.foodbank, "Food Bank"}, {n.shelter, "Shelter"}} {
		hs.must(200, n.admin, "PUT", "/organizations/"+o.id.String(), map[string]any{"name": o.name})
	}
	svc := referral.Service{Organization: n.foodbank, Name: "Pantry", Status: referral.ServiceActive,
		Domains:     []referral.Domain{referral.FoodInsecurity},
		Eligibility: "household_size >= 1",
		Locations:   []referral.Location{{ID: hs.ids.MustNew(), Name: "Main", Latitude: 39.96, Longitude: -83.0}}}
	id := hs.ids.MustNew()
	var stored referral.Service
	hs.must(200, n.receiver, "PUT", "/services/"+id.String(), svc).decode(t, &stored)
	for _, p := range []referral.ID{n.person, n.other} {
		hs.must(200, n.sender, "PUT", "/persons/"+p.String(), map[string]any{
			"given_name": "Pat", "household_size": 2, "location": map[string]any{"latitude": 39.97, "longitude": -83.01}})
	}
	hs.must(200, n.sender, "PUT", "/consents/"+hs.ids.MustNew().String(), referral.Consent{
		Person: n.person, Grantee: n.foodbank, Scope: referral.ScopeReferral,
		Period: referral.Period{Start: hs.clock.Now().Add(-time.Hour)}})
	return stored
}

func TestReferralLoop(t *testing.T) {
	hs := newHarness(t)
	a, b := hs.newNetwork("a"), hs.newNetwork("b")
	svc := hs.seed(a)
	hs.seed(b)

	// Reads of the network's records.
	hs.must(200, a.sender, "GET", "/network", nil)
	var orgs struct{ Organizations []referral.Organization }
	hs.must(200, a.third, "GET", "/organizations?limit=2", nil).decode(t, &orgs)
	require.Len(t, orgs.Organizations, 2)
	hs.must(200, a.sender, "GET", "/organizations/"+a.foodbank.String(), nil)
	hs.must(200, a.sender, "GET", "/services", nil)
	hs.must(200, a.sender, "GET", "/services/"+svc.ID.String(), nil)
	hs.must(404, b.sender, "GET", "/services/"+svc.ID.String(), nil)
	hs.must(200, a.delegate, "GET", "/persons/"+a.person.String(), nil)
	hs.must(404, a.delegate, "GET", "/persons/"+a.other.String(), nil)
	var consents struct{ Consents []referral.Consent }
	hs.must(200, a.delegate, "GET", "/persons/"+a.person.String()+"/consents", nil).decode(t, &consents)
	require.Len(t, consents.Consents, 1)
	hs.must(200, a.sender, "GET", "/consents/"+consents.Consents[0].ID.String(), nil)

	// Screen with answers and with a FHIR QuestionnaireResponse.
	var screened struct {
		ScreeningID referral.ID     `json:"screening_id"`
		Needs       []referral.Need `json:"needs"`
	}
	res := hs.must(201, a.sender, "POST", "/screenings", map[string]any{
		"person_id": a.person, "instrument": "hunger-vital-sign",
		"answers": map[string]string{"88122-7": "Often true", "88123-5": "Never true"}})
	res.decode(t, &screened)
	require.Equal(t, "/screenings/"+screened.ScreeningID.String(), res.header.Get("Location"))
	require.Equal(t, referral.FoodInsecurity, screened.Needs[0].Domain)
	hs.must(201, a.sender, "POST", "/screenings", map[string]any{
		"person_id": a.person, "instrument": "hunger-vital-sign",
		"questionnaire_response": map[string]any{"resourceType": "QuestionnaireResponse", "status": "completed", "item": []any{
			map[string]any{"linkId": "/88122-7", "answer": []any{map[string]any{"valueCoding": map[string]any{"system": "http://loinc.org", "code": "LA28398-8"}}}},
			map[string]any{"linkId": "/88123-5", "answer": []any{map[string]any{"valueString": "Often true"}}},
		}}})
	hs.must(200, a.delegate, "GET", "/screenings/"+screened.ScreeningID.String(), nil)
	var screenings struct{ Screenings []referral.Screening }
	hs.must(200, a.sender, "GET", "/persons/"+a.person.String()+"/screenings", nil).decode(t, &screenings)
	require.Len(t, screenings.Screenings, 2)

	// Match the need to the food bank's pantry.
	var found matching.Result
	hs.must(200, a.sender, "POST", "/matches", map[string]any{"person_id": a.person, "needs": screened.Needs, "radius_m": 10000}).decode(t, &found)
	require.Len(t, found.Matches, 1)
	require.Equal(t, svc.ID, found.Matches[0].Service)

	// Create and send, idempotently.
	create := map[string]any{"person_id": a.person, "receiver_organization_id": found.Matches[0].Organization,
		"service_id": found.Matches[0].Service, "needs": screened.Needs, "send": true}
	var ref referral.Referral
	res = hs.must(201, a.sender, "POST", "/referrals", create, "Idempotency-Key", "visit-1")
	res.decode(t, &ref)
	require.Equal(t, `"1"`, res.header.Get("ETag"))
	require.Equal(t, referral.StatusRequested, ref.Status)
	var again referral.Referral
	hs.must(200, a.sender, "POST", "/referrals", create, "Idempotency-Key", "visit-1").decode(t, &again)
	require.Equal(t, ref.ID, again.ID, "the same key returns the first referral")
	path := "/referrals/" + ref.ID.String()

	// 404 across networks and for organizations with no part in it; 403 for
	// a party running the other party's command.
	hs.must(404, b.sender, "GET", path, nil)
	hs.must(404, b.admin, "GET", path, nil)
	hs.must(404, a.third, "GET", path, nil)
	hs.must(403, a.sender, "POST", path+"/accept", nil)
	hs.must(200, a.admin, "GET", path, nil)

	// Conditional commands: If-Match, a replayed retry, a stale version.
	hs.must(200, a.receiver, "POST", path+"/acknowledge", nil, "If-Match", `"1"`, "Idempotency-Key", "ack-1")
	var replay referral.Referral
	res = hs.must(200, a.receiver, "POST", path+"/acknowledge", nil, "If-Match", `"1"`, "Idempotency-Key", "ack-1")
	res.decode(t, &replay)
	require.Equal(t, int64(2), replay.Version, "the retry is answered with the referral the first attempt made")
	require.Equal(t, api.ProblemType+"precondition-failed", hs.must(412, a.receiver, "POST", path+"/accept", nil, "If-Match", `"1"`).problem(t).Type)
	hs.must(400, a.receiver, "POST", path+"/accept", nil, "If-Match", `W/"2"`)
	hs.must(200, a.receiver, "POST", path+"/accept", map[string]any{"note": "see you Tuesday"}, "If-Match", `"2"`)
	hs.must(200, a.receiver, "POST", path+"/start", nil)
	hs.must(200, a.sender, "POST", path+"/note", map[string]any{"note": "thanks"})
	res = hs.must(200, a.receiver, "POST", path+"/complete", map[string]any{"outcome": map[string]any{"code": "got-help"}})
	require.Equal(t, `"6"`, res.header.Get("ETag"))
	hs.must(409, a.receiver, "POST", path+"/accept", nil)
	require.Equal(t, "reason", hs.must(400, a.receiver, "POST", path+"/start", map[string]any{"reason": "nope"}).problem(t).Field)

	var history struct{ Events []referral.Event }
	hs.must(200, a.delegate, "GET", path+"/history", nil).decode(t, &history)
	require.Len(t, history.Events, 6)

	// The other commands, on referrals of their own.
	draft := func() string {
		var r referral.Referral
		body := map[string]any{"person_id": a.person, "receiver_organization_id": a.foodbank, "needs": screened.Needs}
		hs.must(201, a.sender, "POST", "/referrals", body).decode(t, &r)
		return "/referrals/" + r.ID.String()
	}
	declined := draft()
	hs.must(200, a.sender, "POST", declined+"/send", nil)
	hs.must(200, a.receiver, "POST", declined+"/decline", map[string]any{"reason": "no-capacity"})
	held := draft()
	hs.must(200, a.sender, "POST", held+"/send", nil)
	hs.must(200, a.receiver, "POST", held+"/accept", nil)
	hs.must(200, a.receiver, "POST", held+"/hold", map[string]any{"reason": "waitlisted"})
	hs.must(200, a.receiver, "POST", held+"/resume", nil)
	hs.must(200, a.receiver, "POST", held+"/fail", map[string]any{"reason": "no-show"})
	cancelled := draft()
	hs.must(200, a.sender, "POST", cancelled+"/send", nil)
	hs.must(200, a.delegate, "POST", cancelled+"/cancel", map[string]any{"reason": "no-longer-needed"})
	hs.must(200, a.sender, "POST", draft()+"/enter-in-error", map[string]any{"note": "wrong person"})

	// Lists, the feed, the report.
	var page struct {
		Referrals []referral.Referral
		Next      referral.ID
	}
	hs.must(200, a.receiver, "GET", "/referrals?status=completed,rejected&limit=1", nil).decode(t, &page)
	require.Len(t, page.Referrals, 1)
	require.False(t, page.Next.IsZero())
	hs.must(400, a.receiver, "GET", "/referrals?status="+strings.Repeat("draft,", 12), nil)
	var feed struct {
		Events []referral.Event
		Last   int64
	}
	hs.must(200, b.sender, "GET", "/events", nil).decode(t, &feed)
	require.Empty(t, feed.Events, "network b has no referrals")
	hs.must(200, a.receiver, "GET", "/events?limit=3", nil).decode(t, &feed)
	require.Len(t, feed.Events, 3)
	var report lifecycle.Report
	from, to := hs.clock.Now().Add(-time.Hour).Format(time.RFC3339), hs.clock.Now().Add(time.Hour).Format(time.RFC3339)
	hs.must(200, a.admin, "GET", "/reports/loop-closure?from="+from+"&to="+to, nil).decode(t, &report)
	require.Equal(t, 5, report.Total, "%+v", report.ByStatus)
	require.Equal(t, 1, report.Outcomes["got-help"])
	hs.must(400, a.admin, "GET", "/reports/loop-closure?from="+from, nil)

	// FHIR: the bundle, the Task, and a partner's Task update.
	var bundle fhir.Bundle
	res = hs.must(200, a.sender, "GET", path+"/fhir", nil)
	require.Equal(t, "application/fhir+json", res.header.Get("Content-Type"))
	res.decode(t, &bundle)
	require.Equal(t, "Bundle", bundle.ResourceType)
	update := draft()
	hs.must(200, a.sender, "POST", update+"/send", nil)
	updateID := strings.TrimPrefix(update, "/referrals/")
	var task map[string]any
	hs.must(200, a.receiver, "GET", "/fhir/Task/"+updateID, nil).decode(t, &task)
	task["status"] = "accepted"
	var applied fhir.Task
	hs.must(200, a.receiver, "PUT", "/fhir/Task/"+updateID, task).decode(t, &applied)
	require.Equal(t, "accepted", applied.Status)
	hs.must(400, a.receiver, "PUT", "/fhir/Task/"+strings.TrimPrefix(declined, "/referrals/"), task)

	// Erasure keeps the referral and its metrics, removes the person's data.
	hs.must(403, a.sender, "POST", "/persons/"+a.person.String()+"/erase", nil)
	var erasure storage.Erasure
	hs.must(200, a.admin, "POST", "/persons/"+a.person.String()+"/erase", nil).decode(t, &erasure)
	require.Equal(t, 2, erasure.Screenings)
	var erased referral.Person
	hs.must(200, a.sender, "GET", "/persons/"+a.person.String(), nil).decode(t, &erased)
	require.Empty(t, erased.GivenName)
	require.False(t, erased.Erased.IsZero())
	hs.must(409, a.sender, "PUT", "/persons/"+a.person.String(), map[string]any{"given_name": "Pat"})
	hs.must(409, a.sender, "POST", "/screenings", map[string]any{"person_id": a.person, "instrument": "hunger-vital-sign",
		"answers": map[string]string{"88122-7": "Often true"}})
	var after lifecycle.Report
	hs.must(200, a.admin, "GET", "/reports/loop-closure?from="+from+"&to="+to, nil).decode(t, &after)
	require.Equal(t, report.Total+1, after.Total, "the referral the Task update accepted, and nothing lost")
	require.Equal(t, report.Outcomes, after.Outcomes)

	// Directory writes: staff only for their own organization's services, and
	// a rule beyond the limits is refused before it is stored.
	hs.must(403, a.sender, "PUT", "/services/"+svc.ID.String(), svc)
	bad := svc
	bad.ID = referral.NilID
	bad.Eligibility = "age >"
	hs.must(400, a.receiver, "PUT", "/services/"+hs.ids.MustNew().String(), bad)
	hs.must(403, a.sender, "DELETE", "/services/"+svc.ID.String(), nil)
	hs.must(204, a.receiver, "DELETE", "/services/"+svc.ID.String(), nil)
	hs.must(200, a.sender, "POST", "/matches", map[string]any{"person_id": a.other, "needs": screened.Needs, "radius_m": 10000}).decode(t, &found)
	require.Empty(t, found.Matches, "the deleted service left the index at once")
	hs.must(403, a.sender, "PUT", "/organizations/"+a.clinic.String(), map[string]any{"name": "x"})

	// Operations.
	hs.must(200, "", "GET", "/healthz", nil)
	hs.must(200, "", "GET", "/readyz", nil)
	hs.must(200, "", "GET", "/openapi.json", nil)

	// Every route in the table was exercised, and every response above
	// validated against the document.
	for _, rt := range hs.h.Routes() {
		if rt.Pattern == "/events/stream" {
			continue // TestEventStream
		}
		require.True(t, hs.routes[rt.Method+" "+rt.Pattern], "no test reached %s %s", rt.Method, rt.Pattern)
	}
}

// TestProblems: errors are RFC 9457 problems with a stable type per cause.
func TestProblems(t *testing.T) {
	hs := newHarness(t)
	a := hs.newNetwork("a")
	hs.seed(a)
	big := `{"name":"` + strings.Repeat("x", api.DefaultMaxBody) + `"}`
	tests := []struct {
		name         string
		as           string
		method, path string
		body         any
		headers      []string
		status       int
		slug         string
	}{
		{"no token", "", "GET", "/network", nil, nil, 401, "unauthenticated"},
		{"unknown token", "nobody", "GET", "/network", nil, nil, 401, "unauthenticated"},
		{"no route", a.sender, "GET", "/nope", nil, nil, 404, "not-found"},
		{"wrong method", a.sender, "DELETE", "/network", nil, nil, 405, "method-not-allowed"},
		{"role", a.sender, "PUT", "/network", map[string]any{"name": "x"}, nil, 403, "forbidden"},
		{"bad id", a.sender, "GET", "/referrals/not-a-uuid", nil, nil, 400, "invalid"},
		{"unknown field", a.admin, "PUT", "/network", map[string]any{"nme": "x"}, nil, 400, "invalid"},
		{"two values", a.admin, "PUT", "/network", `{"name":"x"} {}`, nil, 400, "invalid"},
		{"not json", a.admin, "PUT", "/network", `{`, nil, 400, "invalid"},
		{"too large", a.admin, "PUT", "/network", big, nil, 413, "too-large"},
		{"media type", a.admin, "PUT", "/network", `{"name":"x"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported-media-type"},
		{"no consent", a.sender, "POST", "/referrals", map[string]any{"person_id": a.other, "receiver_organization_id": a.foodbank,
			"needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}, "send": true}, nil, 403, "no-consent"},
		{"long idempotency key", a.sender, "POST", "/referrals", map[string]any{}, []string{"Idempotency-Key", strings.Repeat("k", 201)}, 400, "invalid"},
		{"report period", a.admin, "GET", "/reports/loop-closure?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", nil, nil, 400, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs.t = t
			r := hs.do(tc.as, tc.method, tc.path, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.status, string(r.body))
			p := r.problem(t)
			require.Equal(t, api.ProblemType+tc.slug, p.Type)
			if tc.status == http.StatusUnauthorized {
				require.Equal(t, `Bearer realm="refkit"`, r.header.Get("WWW-Authenticate"))
			}
			if tc.status == http.StatusMethodNotAllowed {
				require.Contains(t, r.header.Get("Allow"), "GET")
			}
		})
	}
}

// TestUnavailableStore: a closed store makes commands 503 with Retry-After
// and /readyz 503, while /healthz stays 200.
func TestUnavailableStore(t *testing.T) {
	hs := newHarness(t)
	a := hs.newNetwork("a")
	hs.seed(a)
	require.NoError(t, hs.store.Close())
	r := hs.must(503, a.sender, "GET", "/network", nil)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Equal(t, api.ProblemType+"unavailable", r.problem(t).Type)
	hs.must(503, "", "GET", "/readyz", nil)
	hs.must(200, "", "GET", "/healthz", nil)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	last := hs.infos[len(hs.infos)-2]
	require.ErrorIs(t, last.Err, storage.ErrClosed, "the operator's log gets the cause")
}
