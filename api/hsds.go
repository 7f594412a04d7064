package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// HSDSSpec is the HSDS API specification the /hsds/ routes serve, which the
// OpenAPI document links to rather than repeating: the records' schemas are
// HSDS's own.
const HSDSSpec = "https://docs.openreferral.org/en/latest/hsds/api_reference.html"

// hsdsResources are the HSDS API's resources, each a listing and a record
// by id.
var hsdsResources = []string{"services", "organizations", "service_at_locations", "taxonomies", "taxonomy_terms"}

// hsdsRoutes are the routes of the HSDS mount: what the API is, listings (by
// GET, or POST to keep a search out of URLs and logs) and records.
func (h *Handler) hsdsRoutes() []*Route {
	resource := Param{Name: "resource", Kind: "string", Enum: hsdsResources, Description: "an HSDS resource"}
	record := Param{Name: "id", Kind: "string", Description: "the record's HSDS id"}
	fullService := Param{Name: "full_service", Kind: "string", Description: "true for organizations with their whole services"}
	hsdsQuery := []Param{
		{Name: "search", Kind: "string", Description: "case-insensitive text in names and descriptions (POST keeps it out of URLs)"},
		{Name: "page", Kind: "integer", Description: "page number, from 1"},
		{Name: "per_page", Kind: "integer", Description: "page size (HSDS's bound applies)"},
		{Name: "format", Kind: "string", Description: "json (the only format served)"},
		{Name: "organization_id", Kind: "string", Description: "services or sites of this organization"},
		{Name: "taxonomy_term_id", Kind: "string", Description: "records with this taxonomy term"},
		{Name: "taxonomy_id", Kind: "string", Description: "records with a term of this taxonomy"},
		{Name: "modified_after", Kind: "string", Description: "records changed after this time"},
		{Name: "full", Kind: "string", Description: "true for whole records"},
		fullService,
		{Name: "minimal", Kind: "string", Description: "true for one-to-one fields only"},
		{Name: "postcode", Kind: "string", Description: "sites with an address in this postcode"},
		{Name: "parent_id", Kind: "string", Description: "taxonomy terms under this one"},
		{Name: "top_only", Kind: "string", Description: "true for top-level taxonomy terms only"},
	}
	answer := func(what string) []Response {
		return []Response{{Status: 200, Description: what + ", as HSDS 3.x JSON (see the HSDS API reference)", Body: json.RawMessage(nil)}}
	}
	return []*Route{
		{Method: "GET", Pattern: "/hsds/{$}", OperationID: "hsdsAbout", Summary: "what the HSDS API of the caller's network serves", Tag: "hsds",
			ExternalDocs: HSDSSpec, Responses: answer("the HSDS version and profile"), handler: h.serveHSDS},
		{Method: "GET", Pattern: "/hsds/{resource}", OperationID: "hsdsList", Summary: "list HSDS records of the caller's network", Tag: "hsds",
			ExternalDocs: HSDSSpec, PathParams: []Param{resource}, Query: hsdsQuery, Responses: answer("a page of records"), handler: h.serveHSDS},
		{Method: "POST", Pattern: "/hsds/{resource}", OperationID: "hsdsSearch", Summary: "list HSDS records, the parameters in the body", Tag: "hsds",
			ExternalDocs: HSDSSpec, PathParams: []Param{resource}, Body: json.RawMessage(nil), BodyOptional: true,
			Responses: answer("a page of records"), handler: h.serveHSDS},
		{Method: "GET", Pattern: "/hsds/{resource}/{id}", OperationID: "hsdsGet", Summary: "read one HSDS record of the caller's network", Tag: "hsds",
			ExternalDocs: HSDSSpec, PathParams: []Param{resource, record}, Query: []Param{fullService}, Responses: answer("the record"), handler: h.serveHSDS},
	}
}

// serveHSDS answers an HSDS request from the caller's network's catalog:
// the network is the actor's, so no request reaches another network's
// directory. The HSDS handler's own problems are answered as this API's
// (same shape, request id, problem types).
func (h *Handler) serveHSDS(w http.ResponseWriter, r *http.Request, c *call) error {
	handler, err := h.live.hsdsHandler(r.Context(), c.actor.Network)
	if err != nil {
		return err
	}
	hw := &hsdsWriter{w: w, header: http.Header{}}
	r = r.WithContext(withActor(r.Context(), c.actor))
	http.StripPrefix("/hsds", handler).ServeHTTP(hw, r)
	if hw.failed {
		if allow := hw.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		return hw.problem()
	}
	if !hw.wrote {
		hw.WriteHeader(http.StatusOK)
	}
	return nil
}

// hsdsWriter passes a successful HSDS answer through and keeps an error
// answer (a problem) for serveHSDS to answer in this API's shape.
type hsdsWriter struct {
	w      http.ResponseWriter
	header http.Header
	wrote  bool
	failed bool
	status int
	body   bytes.Buffer
}

// maxHSDSProblem bounds how much of an HSDS problem is kept.
const maxHSDSProblem = 4 << 10

func (hw *hsdsWriter) Header() http.Header { return hw.header }

func (hw *hsdsWriter) WriteHeader(code int) {
	if hw.wrote || hw.failed {
		return
	}
	if code >= 400 {
		hw.failed, hw.status = true, code
		return
	}
	hw.wrote = true
	dst := hw.w.Header()
	for k, v := range hw.header {
		dst[k] = v
	}
	hw.w.WriteHeader(code)
}

func (hw *hsdsWriter) Write(b []byte) (int, error) {
	if !hw.wrote && !hw.failed {
		hw.WriteHeader(http.StatusOK)
	}
	if hw.failed {
		if room := maxHSDSProblem - hw.body.Len(); room > 0 {
			hw.body.Write(b[:min(len(b), room)])
		}
		return len(b), nil
	}
	return hw.w.Write(b)
}

// hsdsProblem is an HSDS handler's error answer, as this API answers it.
type hsdsProblem struct {
	kind   problemKind
	detail string
}

func (p *hsdsProblem) Error() string { return "hsds: " + p.detail }

// problem maps the HSDS answer's status to this API's problem kinds; its
// detail, which the HSDS handler never makes from the request's values, is
// kept.
func (hw *hsdsWriter) problem() error {
	var got struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(hw.body.Bytes(), &got)
	detail := strings.TrimSpace(got.Detail)
	k := probInternal
	switch hw.status {
	case http.StatusBadRequest, http.StatusRequestURITooLong:
		k = probInvalid
	case http.StatusNotFound:
		k = probNotFound
	case http.StatusMethodNotAllowed:
		k = probMethod
	case http.StatusRequestEntityTooLarge:
		k = probTooLarge
	case http.StatusUnsupportedMediaType:
		k = probUnsupportedMedia
	case http.StatusServiceUnavailable:
		k = probUnavailable
	case http.StatusUnauthorized:
		k = probUnauthenticated
	}
	if detail == "" {
		detail = k.title
	}
	return &hsdsProblem{kind: k, detail: detail}
}

// asHSDSProblem finds an HSDS problem in err.
func asHSDSProblem(err error) (*hsdsProblem, bool) {
	var p *hsdsProblem
	ok := errors.As(err, &p)
	return p, ok
}
