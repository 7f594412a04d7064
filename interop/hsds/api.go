package hsds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
)

// APIOptions configure the HSDS API handler. The zero value serves HSDS 3.1
// to everyone as the public.
type APIOptions struct {
	// Authenticate says who makes a request, from the request (its bearer
	// token, its session): the actor, or nil for the public, who reads the
	// directory without what it keeps confidential. An error is answered 401
	// without its text; an actor of another network than the catalog's is
	// answered 404 for everything, as if the directory did not exist for them.
	// Nil serves everyone as the public. What an actor sees of confidential
	// locations, phones and contacts follows referral.Organization.Discloses.
	Authenticate func(r *http.Request) (*referral.Actor, error)
	// Version is the HSDS version served: Version31 when empty.
	Version Version
	// DefaultPerPage is the page size when a request gives none (50 when 0);
	// MaxPerPage the largest a request may ask for (500 when 0, at most
	// 1,000). A larger per_page is a 400.
	DefaultPerPage, MaxPerPage int
	// MaxBodyBytes bounds the body of a POST search (16 KiB when 0, at most
	// 1 MiB).
	MaxBodyBytes int64
	// Profile and OpenAPIURL, when set, are what GET / says of the API (HSDS's
	// profile and openapi_url): absolute URLs.
	Profile, OpenAPIURL string
}

// Limits of the API on what one request may ask.
const (
	// maxQueryBytes bounds the query string (and a POST body's parameters).
	maxQueryBytes = 8 << 10
	// maxSearch bounds the search text, in bytes.
	maxSearch = 200
	// maxIDBytes bounds an id a request names.
	maxIDBytes = 300
	// maxPage bounds the page number: page × per_page stays far from overflow.
	maxPage = 1_000_000
)

// NewAPI returns an http.Handler serving the HSDS API, read-only, for the
// network catalog follows: GET / (what the API is), /services,
// /services/{id}, /organizations, /organizations/{id},
// /service_at_locations, /service_at_locations/{id}, /taxonomies,
// /taxonomies/{id}, /taxonomy_terms and /taxonomy_terms/{id}, the listings
// also by POST (their parameters in a form or JSON body, so that a search
// stays out of URLs and logs). Listings page (page, per_page, with HSDS's
// page envelope), filter (organization_id, taxonomy_term_id, taxonomy_id,
// modified_after on the record's Updated time, which the API writes as
// last_modified; postcode for service_at_locations; parent_id and top_only for
// taxonomy_terms) and search (case-insensitive, in names and descriptions),
// and answer in part (minimal) or whole (full, full_service).
//
// Every record is written as its viewer may see it (see APIOptions.Authenticate
// and Dataset.Viewer), and filters and searches read only what the viewer may
// see, so no answer, count or order tells a viewer what is kept from them.
// Bad input (an unknown or repeated parameter, a malformed value, a page too
// large, a body too long, an unsupported format or proximity search) is an
// RFC 9457 problem (application/problem+json) that never quotes the input;
// an unknown record is a 404 problem, another method a 405.
//
// The handler reads only the catalog: the host keeps it current (Catalog.Run)
// and mounts the handler where it likes (http.StripPrefix for a prefix).
func NewAPI(catalog *directory.Catalog, opts APIOptions) (http.Handler, error) {
	if catalog == nil {
		return nil, referral.Invalid("catalog", "is required")
	}
	switch opts.Version {
	case "":
		opts.Version = Version31
	case Version30, Version31:
	default:
		return nil, referral.Invalid("version", "must be 3.0 or 3.1")
	}
	switch {
	case opts.MaxPerPage == 0:
		opts.MaxPerPage = 500
	case opts.MaxPerPage < 1 || opts.MaxPerPage > 1000:
		return nil, referral.Invalid("max_per_page", "must be between 1 and 1000")
	}
	switch {
	case opts.DefaultPerPage == 0:
		opts.DefaultPerPage = min(50, opts.MaxPerPage)
	case opts.DefaultPerPage < 1 || opts.DefaultPerPage > opts.MaxPerPage:
		return nil, referral.Invalid("default_per_page", "must be between 1 and max_per_page")
	}
	switch {
	case opts.MaxBodyBytes == 0:
		opts.MaxBodyBytes = 16 << 10
	case opts.MaxBodyBytes < 0 || opts.MaxBodyBytes > 1<<20:
		return nil, referral.Invalid("max_body_bytes", "must be between 0 and 1 MiB")
	}
	for _, u := range []struct{ name, v string }{{"profile", opts.Profile}, {"openapi_url", opts.OpenAPIURL}} {
		if p, err := url.Parse(u.v); u.v != "" && (err != nil || !p.IsAbs()) {
			return nil, referral.Invalid(u.name, "must be an absolute URL")
		}
	}
	return &api{c: catalog, opts: opts}, nil
}

// api is the handler.
type api struct {
	c    *directory.Catalog
	opts APIOptions
	// index is the taxonomy and service_at_location index of the catalog's
	// current revision, built when a request first needs it.
	mu    sync.Mutex
	index *apiIndex
}

// problem is an RFC 9457 problem detail.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// fail writes a problem. detail never holds a value from the request.
func fail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	w.Write(append(body, '\n'))
}

// badRequest is an error that is the request's fault: a 400 with its text.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// route is one resource of the API: a listing, or a record by id.
type route struct {
	list   func(a *api, q *query) (any, error)
	byID   func(a *api, q *query, id string) (any, error)
	params []string // the listing's parameters
	// idParams are the parameters a record by id takes.
	idParams []string
}

var routes = map[string]route{
	"services": {list: (*api).services, byID: (*api).service,
		params: []string{"search", "page", "per_page", "format", "taxonomy_term_id", "taxonomy_id", "organization_id", "modified_after", "minimal", "full"}},
	"organizations": {list: (*api).organizations, byID: (*api).organization, idParams: []string{"full_service"},
		params: []string{"search", "full_service", "full", "taxonomy_term_id", "taxonomy_id", "page", "per_page", "format"}},
	"service_at_locations": {list: (*api).siteList, byID: (*api).site,
		params: []string{"search", "taxonomy_term_id", "taxonomy_id", "organization_id", "modified_after", "full", "page", "per_page", "format", "postcode", "proximity"}},
	"taxonomies": {list: (*api).taxonomies, byID: (*api).taxonomy,
		params: []string{"search", "page", "per_page", "format"}},
	"taxonomy_terms": {list: (*api).terms, byID: (*api).term,
		params: []string{"search", "page", "per_page", "format", "taxonomy_id", "top_only", "parent_id"}},
}

// ServeHTTP routes a request, after bounding it and learning who makes it.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > maxQueryBytes || len(r.URL.EscapedPath()) > 1024 {
		fail(w, http.StatusRequestURITooLong, "the request's URL is too long")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var (
		rt     route
		id     string
		params []string
		isList bool
	)
	switch {
	case len(parts) == 1 && parts[0] == "":
	case len(parts) <= 2:
		var ok bool
		if rt, ok = routes[parts[0]]; !ok {
			fail(w, http.StatusNotFound, "no such resource")
			return
		}
		isList, params = len(parts) == 1, rt.params
		if !isList {
			id, params = parts[1], rt.idParams
		}
	default:
		fail(w, http.StatusNotFound, "no such resource")
		return
	}
	allowed := []string{http.MethodGet, http.MethodHead}
	if isList {
		allowed = append(allowed, http.MethodPost)
	}
	if !slices.Contains(allowed, r.Method) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		fail(w, http.StatusMethodNotAllowed, "the API is read-only; "+strings.Join(allowed, " and ")+" are allowed here")
		return
	}
	q, status, err := a.newQuery(r, params)
	if err != nil {
		fail(w, status, err.Error())
		return
	}
	var out any
	switch {
	case len(parts) == 1 && parts[0] == "":
		out = a.about()
	case isList:
		out, err = rt.list(a, q)
	default:
		if len(id) > maxIDBytes || !utf8.ValidString(id) || id == "" {
			fail(w, http.StatusNotFound, "no such record")
			return
		}
		out, err = rt.byID(a, q, id)
	}
	var bad badRequest
	switch {
	case errors.As(err, &bad):
		fail(w, http.StatusBadRequest, string(bad))
		return
	case errors.Is(err, referral.ErrNotFound):
		fail(w, http.StatusNotFound, "no such record")
		return
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusServiceUnavailable, "the request ended before its answer was ready")
		return
	case err != nil:
		fail(w, http.StatusInternalServerError, "the directory could not be written")
		return
	}
	body, ok := out.([]byte)
	if !ok {
		body, err = json.Marshal(out)
		if err != nil {
			fail(w, http.StatusInternalServerError, "the directory could not be written")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if q.viewer != nil {
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Add("Vary", "Authorization")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(body, '\n'))
	}
}

// about is GET /: what the API serves.
func (a *api) about() any {
	out := map[string]string{"version": string(a.opts.Version)}
	if a.opts.Profile != "" {
		out["profile"] = a.opts.Profile
	}
	if a.opts.OpenAPIURL != "" {
		out["openapi_url"] = a.opts.OpenAPIURL
	}
	return out
}

// query is one request's viewer and parameters, checked.
type query struct {
	ctx    context.Context
	viewer *referral.Actor
	values map[string]string
	// page and per are the page asked for (from 1) and its size.
	page, per int
	search    string
}

// newQuery authenticates r and reads its parameters (the query string, and a
// POST's body), allowing those named.
func (a *api) newQuery(r *http.Request, allowed []string) (*query, int, error) {
	q := &query{ctx: r.Context(), values: map[string]string{}}
	if a.opts.Authenticate != nil {
		viewer, err := a.opts.Authenticate(r)
		if err != nil || (viewer != nil && viewer.Validate() != nil) {
			return nil, http.StatusUnauthorized, errors.New("the request's credentials were not accepted")
		}
		if viewer != nil && viewer.Network != a.c.Network() {
			return nil, http.StatusNotFound, errors.New("no such resource")
		}
		q.viewer = viewer
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, http.StatusBadRequest, errors.New("the query string is malformed")
	}
	if err := q.add(query, allowed); err != nil {
		return nil, http.StatusBadRequest, err
	}
	if r.Method == http.MethodPost {
		body, status, err := a.body(r)
		if err != nil {
			return nil, status, err
		}
		if err := q.add(body, allowed); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	q.page, q.per = 1, a.opts.DefaultPerPage
	if v, ok := q.values["page"]; ok {
		if q.page, err = strconv.Atoi(v); err != nil || q.page < 1 || q.page > maxPage {
			return nil, http.StatusBadRequest, errors.New("page must be a whole number from 1 to 1000000")
		}
	}
	if v, ok := q.values["per_page"]; ok {
		if q.per, err = strconv.Atoi(v); err != nil || q.per < 1 || q.per > a.opts.MaxPerPage {
			return nil, http.StatusBadRequest, errors.New("per_page must be a whole number from 1 to " + strconv.Itoa(a.opts.MaxPerPage))
		}
	}
	if v, ok := q.values["format"]; ok && v != "json" {
		return nil, http.StatusBadRequest, errors.New("format must be json: other formats are not served")
	}
	if _, ok := q.values["proximity"]; ok {
		return nil, http.StatusBadRequest, errors.New("proximity is not supported: this API has no postcode centroids")
	}
	if v, ok := q.values["search"]; ok {
		if len(v) > maxSearch || !utf8.ValidString(v) {
			return nil, http.StatusBadRequest, errors.New("search must be text of at most 200 bytes")
		}
		q.search = strings.ToLower(strings.TrimSpace(v))
	}
	for _, k := range []string{"minimal", "full", "full_service", "top_only"} {
		if v, ok := q.values[k]; ok && v != "true" && v != "false" {
			return nil, http.StatusBadRequest, errors.New(k + " must be true or false")
		}
	}
	for _, k := range []string{"taxonomy_term_id", "taxonomy_id", "organization_id", "parent_id", "postcode"} {
		if v, ok := q.values[k]; ok && (len(v) > maxIDBytes || !utf8.ValidString(v) || v == "") {
			return nil, http.StatusBadRequest, errors.New(k + " must be an id of at most 300 bytes")
		}
	}
	if v, ok := q.values["modified_after"]; ok {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, http.StatusBadRequest, errors.New("modified_after must be an RFC 3339 date and time")
		}
	}
	return q, 0, nil
}

// add takes parameters, refusing unknown and repeated ones.
func (q *query) add(vals url.Values, allowed []string) error {
	for k, vs := range vals {
		if !slices.Contains(allowed, k) {
			return errors.New("an unknown parameter was given; this resource takes " + orNone(allowed))
		}
		if _, seen := q.values[k]; seen || len(vs) != 1 {
			return errors.New("a parameter was given more than once")
		}
		q.values[k] = vs[0]
	}
	return nil
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// body reads a POST's parameters: a form, or a JSON object of strings,
// numbers and booleans. An empty body has none.
func (a *api) body(r *http.Request) (url.Values, int, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, a.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest, errors.New("the body could not be read")
	}
	if int64(len(data)) > a.opts.MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, errors.New("the body is larger than " + strconv.FormatInt(a.opts.MaxBodyBytes, 10) + " bytes")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, 0, nil
	}
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return nil, http.StatusUnsupportedMediaType, errors.New("the body must be application/json or application/x-www-form-urlencoded")
	case media == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("the form body is malformed")
		}
		return vals, 0, nil
	case media == "application/json":
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil || dec.More() {
			return nil, http.StatusBadRequest, errors.New("the body must be one JSON object of parameters")
		}
		vals := url.Values{}
		for k, v := range fields {
			switch x := v.(type) {
			case string:
				vals.Set(k, x)
			case json.Number:
				vals.Set(k, x.String())
			case bool:
				vals.Set(k, strconv.FormatBool(x))
			default:
				return nil, http.StatusBadRequest, errors.New("parameters in a JSON body must be strings, numbers or booleans")
			}
		}
		return vals, 0, nil
	}
	return nil, http.StatusUnsupportedMediaType, errors.New("the body must be application/json or application/x-www-form-urlencoded")
}

func (q *query) flag(name string) bool { return q.values[name] == "true" }

// modifiedAfter returns the modified_after filter, zero when none.
func (q *query) modifiedAfter() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, q.values["modified_after"])
	return t
}

// window returns the slice bounds of the page asked for in n items.
func (q *query) window(n int) (int, int) {
	start := min((q.page-1)*q.per, n)
	return start, min(start+q.per, n)
}

// matches reports whether any of texts holds the search, ignoring case.
func (q *query) matches(texts ...string) bool {
	if q.search == "" {
		return true
	}
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), q.search) {
			return true
		}
	}
	return false
}

// pageOf writes the page envelope around contents, the page's items of
// total, each encoded for table t.
func (a *api) pageOf(q *query, total int, contents []any, t *table) ([]byte, error) {
	pages := 0
	if total > 0 {
		pages = int(math.Ceil(float64(total) / float64(q.per)))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"total_items":%d,"total_pages":%d,"page_number":%d,"size":%d,"first_page":%t,"last_page":%t,"empty":%t,"contents":`,
		total, pages, q.page, len(contents), q.page == 1, q.page >= pages, len(contents) == 0)
	if contents == nil {
		contents = []any{}
	}
	if err := encodeValue(&buf, contents, t, a.opts.Version); err != nil {
		return nil, err
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// one encodes a single record for table t.
func (a *api) one(v any, t *table) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, v, t, a.opts.Version); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
