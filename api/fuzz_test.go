package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRequests: whatever path, If-Match header and body a client sends to
// the API, the answer is never a server failure, and every error is a problem
// document. The cost is bounded by the body limit and the stores' checks.
func FuzzRequests(f *testing.F) {
	hs := newHarness(f)
	a := hs.newNetwork("a")
	f.Add("POST", "/referrals/0190a6f0-8a4b-7c3d-9e2f-000000000001/accept", `"1"`, `{"note":"x"}`)
	f.Add("PUT", "/network", "", `{"name":"n"}`)
	f.Add("POST", "/screenings", "", `{"person_id":"0190a6f0-8a4b-7c3d-9e2f-000000000001","instrument":"ahc-hrsn","answers":{}}`)
	f.Add("POST", "/matches", "", `{"needs":[{"domain":"food-insecurity","urgency":"routine"}],"radius_m":1e9}`)
	f.Add("GET", "/referrals?status=draft,,draft&limit=-1", `W/"1"`, ``)
	f.Add("PUT", "/fhir/Task/0190a6f0-8a4b-7c3d-9e2f-000000000001", "*", `{"resourceType":"Task"}`)
	f.Fuzz(func(t *testing.T, method, path, ifMatch, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || strings.HasPrefix(path, "/events/stream") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // no client can send it: net/http refuses it before any handler
		}
		switch method {
		case "GET", "PUT", "POST", "DELETE":
		default:
			return
		}
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.admin)
		req.Header.Set("Content-Type", "application/json")
		if ifMatch != "" && !strings.ContainsAny(ifMatch, "\r\n") {
			req.Header.Set("If-Match", ifMatch)
		}
		rec := httptest.NewRecorder()
		hs.h.ServeHTTP(rec, req)
		require.Less(t, rec.Code, http.StatusInternalServerError, rec.Body.String())
		if rec.Code >= 400 {
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		}
	})
}
