package api_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
)

// TestOpenAPIDocument: the served document is valid OpenAPI 3.1, names every
// route of the table with its method, and says which roles may call it.
func TestOpenAPIDocument(t *testing.T) {
	hs := newHarness(t)
	ok, errs := hs.v.ValidateDocument()
	require.True(t, ok, "%v", errs)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(hs.h.OpenAPI(), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	count := 0
	for _, rt := range hs.h.Routes() {
		op, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		require.True(t, ok, "%s %s is not in the document", rt.Method, rt.Pattern)
		require.Equal(t, rt.OperationID, op["operationId"])
		if len(rt.Roles) > 0 {
			require.Len(t, op["x-refkit-roles"], len(rt.Roles))
		}
		count++
	}
	documented := 0
	for _, methods := range doc.Paths {
		documented += len(methods)
	}
	require.Equal(t, count, documented, "the document has no operation the table lacks")
	served := hs.must(200, "", "GET", "/openapi.json", nil)
	require.JSONEq(t, string(hs.h.OpenAPI()), string(served.body))
}

// TestProblemTypesDocumented: docs/serve.md lists every problem type the API
// can answer, with its status; the document's default response names them.
func TestProblemTypesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/serve.md")
	require.NoError(t, err)
	hs := newHarness(t)
	for _, p := range api.ProblemTypes() {
		require.Contains(t, string(doc), "| `"+p.Type+"` | "+strconv.Itoa(p.Status)+" |", "docs/serve.md does not list %s", p.Type)
		require.Contains(t, string(hs.h.OpenAPI()), p.Type)
	}
}
