package hsds_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzAPI sends hostile requests to the API: any method, path, query, body and
// content type. Every answer is a well-formed JSON document: a 200 or a
// problem with a client error status (never a 500), and a problem never
// quotes the request.
func FuzzAPI(f *testing.F) {
	for _, seed := range []struct{ method, target, body, contentType string }{
		{"GET", "/services?page=2&per_page=3", "", ""},
		{"GET", "/services?full=true&search=harbor", "", ""},
		{"POST", "/services", `{"search":"legal","per_page":2}`, "application/json"},
		{"POST", "/organizations", "search=safe&full=true", "application/x-www-form-urlencoded"},
		{"GET", "/service_at_locations?postcode=43215&modified_after=2026-01-01T00:00:00Z", "", ""},
		{"GET", "/taxonomy_terms?top_only=true&parent_id=x", "", ""},
		{"GET", "/services/%00", "", ""},
		{"POST", "/services", `{"page":-1}`, "application/json; charset=utf-8"},
		{"DELETE", "/taxonomies", "", ""},
	} {
		f.Add(seed.method, seed.target, seed.body, seed.contentType)
	}
	e := newAPIEnv(f)
	f.Fuzz(func(t *testing.T, method, target, body, contentType string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") || len(method) == 0 || strings.ContainsAny(method, " \r\n") {
			return // not a request line an HTTP server would hand a handler
		}
		req, err := http.NewRequest(method, "http://example.org"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		require.NotEqual(t, http.StatusInternalServerError, rec.Code, "%s %s: %s", method, target, rec.Body.String())
		if method == http.MethodHead && rec.Code == http.StatusOK {
			return
		}
		require.True(t, json.Valid(rec.Body.Bytes()), rec.Body.String())
		if rec.Code != http.StatusOK {
			require.GreaterOrEqual(t, rec.Code, 400)
			require.Less(t, rec.Code, 500)
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			if len(body) >= 8 {
				require.NotContains(t, rec.Body.String(), body)
			}
		}
	})
}
