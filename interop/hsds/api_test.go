package hsds_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// apiEnv is a store holding the sample and the shelter, a catalog of them and
// the API over it. Requests say who they are in the X-Test-Actor header: an
// organization's id (its staff), "system", "other-network", or "bad"
// (rejected credentials); none is the public.
type apiEnv struct {
	t       testing.TB
	store   *memory.Store
	catalog *directory.Catalog
	handler http.Handler
	shelter referral.Organization
	loaded  time.Time
}

func newAPIEnv(t testing.TB) *apiEnv {
	t.Helper()
	ctx := context.Background()
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.PutNetwork(ctx, referral.Network{ID: network, Name: "Test network"}))
	loaded := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func() time.Time { return loaded }
	_, err := hsds.Load(ctx, s, network, readSampleJSON(t, hsds.Options{Network: network}), directory.LoadOptions{Now: at})
	require.NoError(t, err)
	shelter := readShelter(t)
	_, err = hsds.Load(ctx, s, network, shelter, directory.LoadOptions{Now: at, Partial: true})
	require.NoError(t, err)
	c, err := directory.NewCatalog(ctx, s, network)
	require.NoError(t, err)
	h, err := hsds.NewAPI(c, hsds.APIOptions{Authenticate: testActor, MaxPerPage: 20, OpenAPIURL: "https://example.org/openapi.json"})
	require.NoError(t, err)
	return &apiEnv{t: t, store: s, catalog: c, handler: h, shelter: shelter.Organizations[0], loaded: loaded}
}

var errBadCredentials = errors.New("bad credentials")

func testActor(r *http.Request) (*referral.Actor, error) {
	switch v := r.Header.Get("X-Test-Actor"); v {
	case "":
		return nil, nil
	case "bad":
		return nil, errBadCredentials
	case "system":
		return &referral.Actor{Network: network, Role: referral.RoleSystem}, nil
	case "other-network":
		return &referral.Actor{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000ff"), Role: referral.RoleSystem}, nil
	default:
		org, err := referral.ParseID(v)
		if err != nil {
			return nil, err
		}
		return &referral.Actor{Network: network, Organization: org, Role: referral.RoleStaff}, nil
	}
}

// do makes a request and returns the status, content type and body.
func (e *apiEnv) do(method, target, actor string, body io.Reader, contentType string) (int, string, string) {
	e.t.Helper()
	req := httptest.NewRequest(method, target, body)
	if actor != "" {
		req.Header.Set("X-Test-Actor", actor)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

// get fetches a page or record and decodes it, failing on any status but 200.
func (e *apiEnv) get(target, actor string) map[string]any {
	e.t.Helper()
	status, ct, body := e.do(http.MethodGet, target, actor, nil, "")
	require.Equal(e.t, http.StatusOK, status, "%s: %s", target, body)
	require.Equal(e.t, "application/json", ct)
	var out map[string]any
	require.NoError(e.t, json.Unmarshal([]byte(body), &out))
	return out
}

// contents returns a page's records, checking its envelope.
func (e *apiEnv) contents(page map[string]any) []map[string]any {
	e.t.Helper()
	for _, k := range []string{"total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"} {
		require.Contains(e.t, page, k)
	}
	var out []map[string]any
	for _, c := range page["contents"].([]any) {
		out = append(out, c.(map[string]any))
	}
	require.Equal(e.t, float64(len(out)), page["size"])
	require.Equal(e.t, len(out) == 0, page["empty"])
	return out
}

func names(records []map[string]any) []string {
	var out []string
	for _, r := range records {
		out = append(out, r["name"].(string))
	}
	return out
}

func TestAPIRoot(t *testing.T) {
	e := newAPIEnv(t)
	require.Equal(t, map[string]any{"version": "3.1", "openapi_url": "https://example.org/openapi.json"}, e.get("/", ""))
	status, _, body := e.do(http.MethodHead, "/services", "", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, body, "HEAD has no body")
}

// TestAPIServices covers /services: paging, the three levels of detail,
// filters, search, and POST.
func TestAPIServices(t *testing.T) {
	e := newAPIEnv(t)
	all, _, err := e.store.ListServices(context.Background(), network, storage.Page{Limit: storage.MaxLimit})
	require.NoError(t, err)
	total := len(all)

	// Paging through every service, 7 at a time.
	var seen []string
	for page := 1; ; page++ {
		p := e.get("/services?per_page=7&page="+strconv.Itoa(page), "")
		require.Equal(t, float64(total), p["total_items"])
		require.Equal(t, float64((total+6)/7), p["total_pages"])
		require.Equal(t, float64(page), p["page_number"])
		require.Equal(t, page == 1, p["first_page"])
		for _, c := range e.contents(p) {
			seen = append(seen, c["id"].(string))
			for k, v := range c {
				_, isList := v.([]any)
				require.False(t, isList, "a listing holds one-to-one fields only: %s", k)
			}
			require.Contains(t, c, "organization", "with its organization")
			require.Contains(t, c, "last_modified")
		}
		if p["last_page"] == true {
			break
		}
	}
	slices.Sort(seen)
	require.Len(t, slices.Compact(seen), total, "each once")
	past := e.contents(e.get("/services?page=99", ""))
	require.Empty(t, past)

	full := e.contents(e.get("/services?full=true&per_page=20", ""))
	require.Contains(t, full[0], "service_at_locations")
	minimal := e.contents(e.get("/services?minimal=true", ""))
	for _, m := range minimal {
		keys := slices.Sorted(mapsKeys(m))
		require.Equal(t, []string{"id", "last_modified", "name", "status"}, keys)
	}

	// Filters and search.
	shelter := e.contents(e.get("/services?organization_id="+shelterOrg, ""))
	require.Empty(t, e.contents(e.get("/services?organization_id="+e.shelter.ID.String(), "")), "records are named by their HSDS ids")
	require.ElementsMatch(t, []string{"Safe Harbor Emergency Shelter", "Safe Harbor Legal Clinic"}, names(shelter))
	require.Empty(t, e.contents(e.get("/services?organization_id=nobody", "")))
	found := e.contents(e.get("/services?search=HARBOR%20legal", ""))
	require.Equal(t, []string{"Safe Harbor Legal Clinic"}, names(found))
	byOrgName := e.contents(e.get("/services?search=safe+harbor", ""))
	require.Len(t, byOrgName, 2, "the organization's name is searched too")
	term := e.contents(e.get("/services?taxonomy_term_id=c1d2e3f4-0000-4000-8000-000000000001", ""))
	require.ElementsMatch(t, []string{"Safe Harbor Emergency Shelter", "Safe Harbor Legal Clinic"}, names(term))
	taxonomy := e.contents(e.get("/services?per_page=20&taxonomy_id="+safetyTaxonomy(e), ""))
	require.Subset(t, names(taxonomy), []string{"Safe Harbor Emergency Shelter", "Safe Harbor Legal Clinic"},
		"every service with a domain has a term of refkit's domain taxonomy")
	require.Empty(t, e.contents(e.get("/services?taxonomy_id=none", "")))

	// modified_after: a change after the load is all that is newer.
	svc := byName(t, readShelter(t), "Safe Harbor Legal Clinic")
	stored, err := e.store.GetService(context.Background(), network, svc.ID)
	require.NoError(t, err)
	stored.Description = "Protection orders and custody."
	stored.Updated = e.loaded.Add(time.Hour)
	require.NoError(t, e.store.PutService(context.Background(), stored))
	_, err = e.catalog.Sync(context.Background())
	require.NoError(t, err)
	changed := e.contents(e.get("/services?modified_after="+url.QueryEscape(e.loaded.Add(time.Minute).Format(time.RFC3339)), ""))
	require.Equal(t, []string{"Safe Harbor Legal Clinic"}, names(changed))
	require.Len(t, e.contents(e.get("/services?per_page=20&modified_after="+url.QueryEscape(e.loaded.Format(time.RFC3339)), "")), 20,
		"on or after")

	// POST: the same parameters in a JSON or form body.
	status, _, body := e.do(http.MethodPost, "/services", "", strings.NewReader(`{"search":"harbor legal","per_page":5,"full":true}`), "application/json")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Safe Harbor Legal Clinic")
	require.Contains(t, body, `"service_at_locations"`)
	status, _, body = e.do(http.MethodPost, "/services?per_page=3", "", strings.NewReader("search=emergency+shelter"), "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Safe Harbor Emergency Shelter")

	// One service, by its HSDS id.
	one := e.get("/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3e01", "")
	require.Equal(t, "Safe Harbor Emergency Shelter", one["name"])
	require.Contains(t, one, "organization")
	require.Contains(t, one, "service_at_locations")
	status, ct, body := e.do(http.MethodGet, "/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3eff", "", nil, "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "application/problem+json", ct)
	require.Contains(t, body, `"status":404`)
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// safetyTaxonomy is the id of the taxonomy of the interpersonal-safety term.
func safetyTaxonomy(e *apiEnv) string {
	e.t.Helper()
	t := e.get("/taxonomy_terms/c1d2e3f4-0000-4000-8000-000000000001", "")
	for _, tax := range e.contents(e.get("/taxonomies?per_page=20", "")) {
		if tax["name"] == t["taxonomy"] {
			return tax["id"].(string)
		}
	}
	e.t.Fatal("no taxonomy for the safety term")
	return ""
}

func TestAPIOrganizations(t *testing.T) {
	e := newAPIEnv(t)
	list := e.contents(e.get("/organizations?per_page=20", ""))
	require.Contains(t, names(list), "Safe Harbor")
	for _, o := range list {
		require.NotContains(t, o, "services")
	}
	id := url.PathEscape(shelterOrg)
	full := e.get("/organizations/"+id, "")
	services := full["services"].([]any)
	require.Len(t, services, 2)
	for _, s := range services {
		require.NotContains(t, s, "service_at_locations", "services are simple without full_service")
	}
	whole := e.get("/organizations/"+id+"?full_service=true", "")
	require.Contains(t, whole["services"].([]any)[0], "service_at_locations")
	found := e.contents(e.get("/organizations?search=safe&full=true", ""))
	require.Len(t, found, 1)
	require.Len(t, found[0]["services"], 2)
	require.Len(t, e.contents(e.get("/organizations?taxonomy_term_id=c1d2e3f4-0000-4000-8000-000000000001", "")), 1,
		"an organization offering a service with the term")
	status, _, _ := e.do(http.MethodGet, "/organizations/nobody", "", nil, "")
	require.Equal(t, http.StatusNotFound, status)
}

func TestAPIServiceAtLocations(t *testing.T) {
	e := newAPIEnv(t)
	p := e.get("/service_at_locations?per_page=5", "")
	require.Greater(t, p["total_items"], float64(5))
	for _, s := range e.contents(p) {
		require.Contains(t, s, "id")
		require.Contains(t, s, "location")
	}
	open := e.contents(e.get("/service_at_locations?postcode=43215", ""))
	require.Len(t, open, 1)
	require.Equal(t, "5a100000-0000-4000-8000-000000000002", open[0]["id"])
	require.Empty(t, e.contents(e.get("/service_at_locations?postcode=43299", e.shelter.ID.String())),
		"a confidential site's address is nobody's filter")
	one := e.get("/service_at_locations/5a100000-0000-4000-8000-000000000002", "")
	require.Equal(t, "Downtown Justice Center", one["location"].(map[string]any)["name"])
	require.Equal(t, "Safe Harbor Legal Clinic", one["service"].(map[string]any)["name"])
	byOrg := e.contents(e.get("/service_at_locations?full=true&organization_id="+shelterOrg, ""))
	require.Len(t, byOrg, 2)
}

func TestAPITaxonomies(t *testing.T) {
	e := newAPIEnv(t)
	terms := e.contents(e.get("/taxonomy_terms?per_page=20", ""))
	require.NotEmpty(t, terms)
	for _, term := range terms {
		require.Contains(t, term, "id")
		require.Contains(t, term, "name")
	}
	tax := safetyTaxonomy(e)
	inTax := e.contents(e.get("/taxonomy_terms?taxonomy_id="+tax, ""))
	require.NotEmpty(t, inTax)
	for _, term := range inTax {
		require.Equal(t, "https://refkit.dev/fhir/CodeSystem/domain", term["taxonomy"])
	}
	require.Equal(t, tax, e.get("/taxonomies/"+tax, "")["id"])
	top := e.contents(e.get("/taxonomy_terms?top_only=true&per_page=20", ""))
	for _, term := range top {
		require.NotContains(t, term, "parent_id")
	}
	require.Empty(t, e.contents(e.get("/taxonomy_terms?parent_id=none", "")))
	require.NotEmpty(t, e.contents(e.get("/taxonomy_terms?search=interpersonal", "")))
	status, _, _ := e.do(http.MethodGet, "/taxonomies/nope", "", nil, "")
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = e.do(http.MethodGet, "/taxonomy_terms/nope", "", nil, "")
	require.Equal(t, http.StatusNotFound, status)
}

// TestAPIRefusesBadInput: every malformed request is a problem that says what
// is wrong without quoting the input.
func TestAPIRefusesBadInput(t *testing.T) {
	e := newAPIEnv(t)
	const secret = "SENTINEL-7Q3"
	long := strings.Repeat("x", 9000)
	tests := []struct {
		name        string
		method      string
		target      string
		actor       string
		body        string
		contentType string
		status      int
	}{
		{"unknown parameter", "GET", "/services?" + secret + "=1", "", "", "", 400},
		{"repeated parameter", "GET", "/services?page=1&page=2", "", "", "", 400},
		{"page zero", "GET", "/services?page=0", "", "", "", 400},
		{"page not a number", "GET", "/services?page=" + secret, "", "", "", 400},
		{"page too far", "GET", "/services?page=1000001", "", "", "", 400},
		{"page too large", "GET", "/services?per_page=21", "", "", "", 400},
		{"boolean", "GET", "/services?full=" + secret, "", "", "", 400},
		{"modified_after", "GET", "/services?modified_after=" + secret, "", "", "", 400},
		{"format", "GET", "/services?format=ndjson", "", "", "", 400},
		{"proximity", "GET", "/service_at_locations?postcode=43215&proximity=1000", "", "", "", 400},
		{"search too long", "GET", "/services?search=" + strings.Repeat("a", 201), "", "", "", 400},
		{"query too long", "GET", "/services?search=" + long, "", "", "", 414},
		{"parameter of another resource", "GET", "/taxonomies?organization_id=x", "", "", "", 400},
		{"parameter on a record", "GET", "/services/x?full=true", "", "", "", 400},
		{"empty id parameter", "GET", "/services?organization_id=", "", "", "", 400},
		{"body too large", "POST", "/services", "", `{"search":"` + strings.Repeat("a", 17<<10) + `"}`, "application/json", 413},
		{"body not JSON", "POST", "/services", "", "{" + secret, "application/json", 400},
		{"body not an object", "POST", "/services", "", `["` + secret + `"]`, "application/json", 400},
		{"body with nested values", "POST", "/services", "", `{"search":{"a":"` + secret + `"}}`, "application/json", 400},
		{"body of another type", "POST", "/services", "", secret, "text/plain", 415},
		{"parameter in query and body", "POST", "/services?page=1", "", `{"page":2}`, "application/json", 400},
		{"a write", "DELETE", "/services", "", "", "", 405},
		{"a post to a record", "POST", "/services/x", "", "", "", 405},
		{"unknown resource", "GET", "/" + secret, "", "", "", 404},
		{"too deep", "GET", "/services/a/b", "", "", "", 404},
		{"rejected credentials", "GET", "/services", "bad", "", "", 401},
		{"another network", "GET", "/services", "other-network", "", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			status, ct, out := e.do(tc.method, tc.target, tc.actor, body, tc.contentType)
			require.Equal(t, tc.status, status, out)
			require.Equal(t, "application/problem+json", ct)
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &p))
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, http.StatusText(tc.status), p.Title)
			require.NotEmpty(t, p.Detail)
			require.NotContains(t, out, secret, "a problem never quotes the input")
			require.NotContains(t, out, errBadCredentials.Error())
		})
	}
	req := httptest.NewRequest(http.MethodDelete, "/services", nil)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	require.Equal(t, "GET, HEAD, POST", rec.Header().Get("Allow"))
}

// TestAPIConfidential: no answer of the API gives the public (or anyone the
// shelter does not disclose to) the confidential site's address, coordinates
// or directions, or the confidential numbers and names, on any route; the
// shelter's staff and those it grants get them.
func TestAPIConfidential(t *testing.T) {
	e := newAPIEnv(t)
	targets := []string{
		"/services?full=true&per_page=20&page=1", "/services?full=true&per_page=20&page=2",
		"/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3e01",
		"/organizations?full=true&full_service=true&per_page=20", "/organizations/" + shelterOrg + "?full_service=true",
		"/service_at_locations?full=true&per_page=20&page=1", "/service_at_locations?full=true&per_page=20&page=2",
		"/service_at_locations/5a100000-0000-4000-8000-000000000001",
		"/taxonomy_terms?per_page=20", "/taxonomies?per_page=20",
	}
	everything := func(actor string) string {
		var all strings.Builder
		for _, target := range targets {
			status, _, body := e.do(http.MethodGet, target, actor, nil, "")
			require.Equal(t, http.StatusOK, status, "%s: %s", target, body)
			all.WriteString(body)
		}
		return all.String()
	}
	for _, actor := range []string{"", "0190a6f0-8a4b-7c3d-9e2f-00000000f0aa"} {
		out := everything(actor)
		require.Contains(t, out, "Safe Harbor House", "the site is listed")
		for _, secret := range shelterSecrets {
			require.NotContains(t, out, secret)
		}
	}
	for _, actor := range []string{e.shelter.ID.String(), "system"} {
		out := everything(actor)
		for _, secret := range shelterSecrets {
			require.Contains(t, out, secret, "%s sees everything", actor)
		}
	}
	// A grant the store holds reaches the API once the catalog follows it.
	hotline := "0190a6f0-8a4b-7c3d-9e2f-00000000f0aa"
	o, err := e.store.GetOrganization(context.Background(), network, e.shelter.ID)
	require.NoError(t, err)
	o.ConfidentialAccess = []referral.ID{referral.MustParseID(hotline)}
	require.NoError(t, e.store.PutOrganization(context.Background(), o))
	_, err = e.catalog.Sync(context.Background())
	require.NoError(t, err)
	require.Contains(t, everything(hotline), "Hidden Lane")
	_, _, body := e.do(http.MethodGet, "/services?per_page=20&full=true", hotline, nil, "")
	require.Contains(t, body, "Hidden Lane")
	status, _, _ := e.do(http.MethodGet, "/services", hotline, nil, "")
	require.Equal(t, http.StatusOK, status)
}

func TestNewAPIRefuses(t *testing.T) {
	e := newAPIEnv(t)
	for name, opts := range map[string]hsds.APIOptions{
		"version":          {Version: "2.0"},
		"max per page":     {MaxPerPage: 1001},
		"default per page": {DefaultPerPage: 600},
		"body":             {MaxBodyBytes: 2 << 20},
		"profile":          {Profile: "not a url"},
		"openapi url":      {OpenAPIURL: "/relative"},
	} {
		_, err := hsds.NewAPI(e.catalog, opts)
		require.ErrorIs(t, err, referral.ErrInvalid, name)
	}
	_, err := hsds.NewAPI(nil, hsds.APIOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	h, err := hsds.NewAPI(e.catalog, hsds.APIOptions{Version: hsds.Version30})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.JSONEq(t, `{"version":"3.0"}`, rec.Body.String())
}
