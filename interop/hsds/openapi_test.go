package hsds_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// specSchema matches the URLs the specification's openapi.json gives its
// schemas at (raw.githubusercontent.com, branch 3.0): they are read from the
// checkout instead, so the test needs no network and checks the branch it is
// given.
var specSchema = regexp.MustCompile(`^https://raw\.githubusercontent\.com/openreferral/specification/[^/]+/schema/(.+)$`)

// TestAPIOpenAPI checks the API against the HSDS API's own OpenAPI document,
// schema/openapi.json of the specification's branch 3.1-dev, in the checkout
// REFKIT_HSDS_SPEC_31 names (for example, extracted with git archive; the
// specification's files are not part of refkit, and the test is skipped
// without it). Every request the test makes must be one the document allows
// (kin-openapi's request validation), and every answer must be what the
// document says the operation returns (its response validation, which checks
// the bodies against the specification's compiled JSON schemas).
//
// One operation is checked against another schema than the document names:
// GET /service_at_locations/{id} says it returns a "fully nested
// service_at_location", but refers to compiled/service.json, which requires a
// name and a status no service_at_location has. The handler returns the
// service_at_location, and the test validates it against
// compiled/service_at_location.json.
func TestAPIOpenAPI(t *testing.T) {
	dir := os.Getenv("REFKIT_HSDS_SPEC_31")
	if dir == "" {
		t.Skip("REFKIT_HSDS_SPEC_31 names no checkout of the HSDS specification's branch 3.1-dev; skipping the OpenAPI checks")
	}
	ctx := context.Background()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = func(l *openapi3.Loader, u *url.URL) ([]byte, error) {
		if m := specSchema.FindStringSubmatch(u.String()); m != nil {
			return os.ReadFile(filepath.Join(dir, "schema", filepath.FromSlash(m[1])))
		}
		if u.Scheme == "" || u.Scheme == "file" {
			return openapi3.DefaultReadFromURI(l, u)
		}
		return nil, os.ErrNotExist // nothing from the network
	}
	doc, err := loader.LoadFromFile(filepath.Join(dir, "schema", "openapi.json"))
	require.NoError(t, err)
	// The document gives each listing's GET and POST the same operation id,
	// which OpenAPI forbids: the POST ones are renamed (nothing reads them).
	for _, item := range doc.Paths.Map() {
		if item.Post != nil && item.Get != nil && item.Post.OperationID == item.Get.OperationID {
			item.Post.OperationID += "ByPost"
		}
	}
	// The specification's schemas carry keywords of the data package's
	// (constraints, core, the table's name and path), which OpenAPI does not
	// define, and examples their own schemas refuse ("2011" for a number):
	// the document is read allowing both.
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.AllowExtraSiblingFields(
		"name", "core", "constraints", "datapackage_metadata", "datapackage_type", "path", "tabular_required", "definitions"))
	require.NoError(t, err)
	siteSchema := compileSpecSchema(t, filepath.Join(dir, "schema", "compiled", "service_at_location.json"))

	e := newAPIEnv(t)
	shelter := e.shelter.ID.String()
	requests := []struct {
		method, target, body, actor string
	}{
		{"GET", "/", "", ""},
		{"GET", "/services", "", ""},
		{"GET", "/services?page=2&per_page=5", "", ""},
		{"GET", "/services?full=true&per_page=20", "", ""},
		{"GET", "/services?full=true&per_page=20", "", shelter},
		{"GET", "/services?minimal=true", "", ""},
		{"GET", "/services?search=harbor&organization_id=" + shelterOrg, "", ""},
		{"GET", "/services?taxonomy_term_id=c1d2e3f4-0000-4000-8000-000000000001&modified_after=2026-03-01T00:00:00Z", "", ""},
		{"POST", "/services?per_page=3", "search=legal", ""},
		{"GET", "/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3e01", "", ""},
		{"GET", "/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3e01", "", shelter},
		{"GET", "/organizations", "", ""},
		{"GET", "/organizations?full=true&per_page=20", "", ""},
		{"GET", "/organizations?full=true&full_service=true&search=safe", "", ""},
		{"POST", "/organizations", "search=harbor", ""},
		{"GET", "/organizations/" + shelterOrg, "", ""},
		{"GET", "/organizations/" + shelterOrg + "?full_service=true", "", shelter},
		{"GET", "/service_at_locations", "", ""},
		{"GET", "/service_at_locations?full=true&per_page=20", "", ""},
		{"GET", "/service_at_locations?postcode=43215&organization_id=" + shelterOrg, "", ""},
		{"POST", "/service_at_locations", "full=true", ""},
		{"GET", "/service_at_locations/5a100000-0000-4000-8000-000000000001", "", ""},
		{"GET", "/taxonomies", "", ""},
		{"GET", "/taxonomy_terms?per_page=20", "", ""},
		{"GET", "/taxonomy_terms?top_only=true", "", ""},
		{"POST", "/taxonomy_terms", "search=safety", ""},
		{"GET", "/taxonomy_terms/c1d2e3f4-0000-4000-8000-000000000001", "", ""},
	}
	for _, rq := range requests {
		t.Run(rq.method+" "+rq.target, func(t *testing.T) {
			var body io.Reader
			if rq.body != "" {
				body = strings.NewReader(rq.body)
			}
			req := httptest.NewRequest(rq.method, "http://example.org"+rq.target, body)
			if rq.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if rq.actor != "" {
				req.Header.Set("X-Test-Actor", rq.actor)
			}
			route, params, err := router.FindRoute(req)
			require.NoError(t, err, "the document has the operation")
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			// The form body of a POST carries the operation's query
			// parameters; the document gives the operation no request body.
			if rq.body == "" {
				require.NoError(t, openapi3filter.ValidateRequest(ctx, in), "the document allows the request")
			}
			rec := httptest.NewRecorder()
			req.Body = io.NopCloser(strings.NewReader(rq.body))
			e.handler.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			if strings.HasPrefix(rq.target, "/service_at_locations/") {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.Body.Bytes()))
				require.NoError(t, err)
				require.NoError(t, siteSchema.Validate(inst))
				return
			}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
				Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
			out.SetBodyBytes(rec.Body.Bytes())
			require.NoError(t, openapi3filter.ValidateResponse(ctx, out), "the answer is what the document says")
		})
	}

	// The checks can fail: a service without its required name is refused.
	req := httptest.NewRequest("GET", "http://example.org/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3e01", nil)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	broken := bytes.Replace(rec.Body.Bytes(), []byte(`"name":"Safe Harbor Emergency Shelter"`), []byte(`"name":7`), 1)
	require.NotEqual(t, rec.Body.Bytes(), broken)
	out := &openapi3filter.ResponseValidationInput{Status: http.StatusOK, Header: rec.Header(),
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}}
	out.SetBodyBytes(broken)
	require.Error(t, openapi3filter.ValidateResponse(ctx, out))
}

func compileSpecSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(path, doc))
	s, err := c.Compile(path)
	require.NoError(t, err)
	return s
}
