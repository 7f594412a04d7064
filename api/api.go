package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
)

// Defaults of Options.
const (
	// DefaultMaxBody bounds a request body: the largest legitimate ones, a
	// FHIR QuestionnaireResponse or a service with many locations, are tens
	// of kilobytes.
	DefaultMaxBody = 256 << 10
	// DefaultHeartbeat is how often an idle event stream gets a comment line.
	DefaultHeartbeat = 15 * time.Second
	// DefaultIndexMaxAge is how long a network's matching index is used before
	// it is rebuilt from the store, which bounds how stale another process's
	// directory writes can make it.
	DefaultIndexMaxAge = 30 * time.Second
	// MaxIndexes bounds how many networks' matching indexes are cached.
	MaxIndexes = 1024
)

// Options configure a Handler. The zero value is usable with an
// Authenticator.
type Options struct {
	// Authenticator says who makes each request; required.
	Authenticator Authenticator
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// IDs mints record and request ids; nil uses a generator on Now.
	IDs *referral.IDGenerator
	// Instruments are the screening instruments POST /screenings scores;
	// nil uses screening.Default().
	Instruments *screening.Registry
	// MaxBody bounds request bodies in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// Heartbeat is how often an idle event stream gets a comment line, so
	// proxies see it alive; zero means DefaultHeartbeat.
	Heartbeat time.Duration
	// IndexMaxAge bounds how long a network's matching index is reused
	// before it is rebuilt from the store; zero means DefaultIndexMaxAge.
	// Services written through this Handler update it at once.
	IndexMaxAge time.Duration
	// Done, when closed, ends every event stream and makes /readyz answer
	// 503: the host is shutting down.
	Done <-chan struct{}
	// Directory, when set, is mounted at /directory/ behind authentication
	// (ActorFrom gives it the actor), for a directory API such as an HSDS
	// handler. The services routes stay either way.
	Directory http.Handler
	// FHIRBaseURL is the base of fullUrls in FHIR bundles (see fhir.Options).
	FHIRBaseURL string
	// Observe, when set, is called once per request after it is answered,
	// with what a log line or a metric may say about it: nothing personal.
	Observe func(ctx context.Context, info RequestInfo)
}

// RequestInfo describes one answered request for logs and metrics. It holds
// ids, the route pattern and the outcome: never a body, a query value or a
// path value, any of which could be personal.
type RequestInfo struct {
	RequestID string
	Method    string
	// Route is the pattern that matched ("POST /referrals/{id}/accept"), or
	// "" when none did.
	Route    string
	Status   int
	Duration time.Duration
	// Network, Organization and Role are the actor's, when one was
	// authenticated.
	Network      referral.ID
	Organization referral.ID
	Role         referral.Role
	// Problem is the problem type's slug when the answer was an error.
	Problem string
	// Err is the error behind a server-side failure (5xx) or a refused
	// authentication, for the operator; refkit errors hold no personal data.
	Err error
}

// Handler is the refkit HTTP API: an http.Handler a host mounts in its own
// server. It is safe for concurrent use.
type Handler struct {
	store       storage.Store
	engine      *lifecycle.Engine
	exchange    *fhir.Exchange
	auth        Authenticator
	instruments *screening.Registry
	ids         *referral.IDGenerator
	now         func() time.Time
	maxBody     int64
	heartbeat   time.Duration
	done        <-chan struct{}
	directory   http.Handler
	observe     func(context.Context, RequestInfo)
	indexes     *indexes
	mux         *http.ServeMux
	routes      map[string]*Route
	doc         []byte
}

// New returns the API over store, running referral commands through engine
// (built on the same store, with the host's deadlines, codes and consent
// policy). It fails with referral.ErrInvalid if a required argument or
// option is missing.
func New(store storage.Store, engine *lifecycle.Engine, opts Options) (*Handler, error) {
	switch {
	case store == nil:
		return nil, referral.Invalid("store", "is required")
	case engine == nil:
		return nil, referral.Invalid("engine", "is required")
	case opts.Authenticator == nil:
		return nil, referral.Invalid("authenticator", "is required")
	case opts.MaxBody < 0:
		return nil, referral.Invalid("max_body", "must not be negative")
	case opts.Heartbeat < 0:
		return nil, referral.Invalid("heartbeat", "must not be negative")
	case opts.IndexMaxAge < 0:
		return nil, referral.Invalid("index_max_age", "must not be negative")
	}
	h := &Handler{
		store: store, engine: engine, auth: opts.Authenticator, instruments: opts.Instruments,
		ids: opts.IDs, now: opts.Now, maxBody: opts.MaxBody, heartbeat: opts.Heartbeat,
		done: opts.Done, directory: opts.Directory, observe: opts.Observe,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ids == nil {
		h.ids = referral.NewIDGenerator(h.now, nil)
	}
	if h.instruments == nil {
		h.instruments = screening.Default()
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.heartbeat == 0 {
		h.heartbeat = DefaultHeartbeat
	}
	maxAge := opts.IndexMaxAge
	if maxAge == 0 {
		maxAge = DefaultIndexMaxAge
	}
	h.indexes = newIndexes(store, h.now, maxAge)
	x, err := fhir.New(engine, store, store, fhir.Options{Instruments: h.instruments, Now: h.now, BaseURL: opts.FHIRBaseURL})
	if err != nil {
		return nil, err
	}
	h.exchange = x
	h.mux = http.NewServeMux()
	h.routes = make(map[string]*Route)
	for _, rt := range h.table() {
		h.routes[rt.Method+" "+rt.Pattern] = rt
		h.mux.Handle(rt.Method+" "+rt.Pattern, h.wrap(rt))
	}
	if h.directory != nil {
		rt := &Route{Method: "", Pattern: "/directory/", handler: func(w http.ResponseWriter, r *http.Request, c *call) error {
			http.StripPrefix("/directory", h.directory).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, c.actor)))
			return nil
		}}
		h.mux.Handle("/directory/", h.wrap(rt))
	}
	doc, err := document(h.table())
	if err != nil {
		return nil, err
	}
	h.doc = doc
	return h, nil
}

// OpenAPI returns the OpenAPI 3.1 document of the API (served at
// /openapi.json): generated from the same route table that registers the
// handlers, so it cannot name a route the API lacks or miss one it has.
func (h *Handler) OpenAPI() []byte { return slices.Clone(h.doc) }

// state is what a request carries through the handler for RequestInfo.
type state struct {
	route string
	actor referral.Actor
	authd bool
	prob  string
	err   error
}

type stateKey struct{}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		if n, err := h.ids.New(); err == nil {
			id = n.String()
		} else {
			id = ""
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	if id != "" {
		sw.Header().Set("X-Request-Id", id)
	}
	st := &state{}
	ctx := context.WithValue(context.WithValue(r.Context(), stateKey{}, st), requestIDKey{}, id)
	r = r.WithContext(ctx)
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.unrouted(sw, r, id, st)
	} else {
		h.mux.ServeHTTP(sw, r)
	}
	if h.observe == nil {
		return
	}
	info := RequestInfo{
		RequestID: id, Method: r.Method, Route: st.route, Status: sw.status(),
		Duration: h.now().Sub(start), Problem: st.prob, Err: st.err,
	}
	if st.authd {
		info.Network, info.Organization, info.Role = st.actor.Network, st.actor.Organization, st.actor.Role
	}
	h.observe(ctx, info)
}

type requestIDKey struct{}

// RequestID returns the id of the request whose context ctx is.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts a caller's X-Request-Id only if it is short and
// plain, since it is echoed and logged.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// unrouted answers a request no route matched with the problem for what the
// mux would have said: 404, or 405 with its Allow header.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request, id string, st *state) {
	handler, _ := h.mux.Handler(r)
	rec := &headerRecorder{header: http.Header{}}
	handler.ServeHTTP(rec, r)
	k := probNotFound
	detail := "no route matches the request's path"
	if rec.code == http.StatusMethodNotAllowed {
		k, detail = probMethod, "the path does not take this method"
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
	}
	st.prob = k.slug
	writeProblem(w, Problem{Type: ProblemType + k.slug, Title: k.title, Status: k.status, Detail: detail, RequestID: id})
}

// headerRecorder keeps the status and headers the mux's own answer sets.
type headerRecorder struct {
	header http.Header
	code   int
}

func (r *headerRecorder) Header() http.Header { return r.header }
func (r *headerRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
func (r *headerRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

// statusWriter records the status a handler wrote. Unwrap lets
// http.ResponseController reach the server's writer (flushing, deadlines).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// call is what a route's handler gets besides the request.
type call struct {
	actor     referral.Actor
	requestID string
}

// handlerFunc is a route's handler: it writes its success itself and returns
// its error, which the wrapper answers as a problem.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// wrap authenticates (unless the route is public), checks the role and runs
// the route's handler.
func (h *Handler) wrap(rt *Route) http.Handler {
	pattern := strings.TrimSpace(rt.Method + " " + rt.Pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(stateKey{}).(*state)
		if st == nil {
			st = &state{}
		}
		st.route = pattern
		c := &call{requestID: RequestID(r.Context())}
		err := h.authorize(r, rt, c, st)
		if err == nil {
			err = rt.handler(w, r, c)
		}
		if err == nil {
			return
		}
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; there is nobody to answer.
			st.prob = "canceled"
			return
		}
		p := problemFor(err, c.requestID)
		st.prob = strings.TrimPrefix(p.Type, ProblemType)
		if _, internal := classify(err); internal {
			st.err = err
		}
		writeProblem(w, p)
	})
}

// authorize authenticates the request for a non-public route and checks the
// actor's role against the route's.
func (h *Handler) authorize(r *http.Request, rt *Route, c *call, st *state) error {
	if rt.Public {
		return nil
	}
	actor, err := h.auth.Authenticate(r)
	if err != nil {
		if errors.Is(err, referral.ErrUnavailable) {
			return err
		}
		if !errors.Is(err, ErrUnauthenticated) {
			err = fmt.Errorf("%w: %w", ErrUnauthenticated, err)
		}
		return err
	}
	if err := actor.Validate(); err != nil {
		return fmt.Errorf("%w: the authenticator's actor: %w", ErrUnauthenticated, err)
	}
	c.actor, st.actor, st.authd = actor, actor, true
	if len(rt.Roles) > 0 && !slices.Contains(rt.Roles, actor.Role) {
		return fmt.Errorf("the %s role may not %s: %w", actor.Role, rt.Summary, referral.ErrForbidden)
	}
	return nil
}

// writeJSON writes v as the whole response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeTyped(w, status, "application/json", v)
}

func writeTyped(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// The status is sent; a failed write means the client went away.
	_ = enc.Encode(v)
}

// decode reads the request body into v strictly: a JSON media type (or
// none), one JSON value, no unknown fields, at most the handler's MaxBody
// bytes. An empty body is allowed when optional. encoding/json's messages can
// quote the input, so only field names are kept.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return fmt.Errorf("the body must be JSON (application/json): %w", errUnsupportedMedia)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if optional {
			return nil
		}
		return referral.Invalid("body", "is required")
	}
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return err
			}
			return referral.Invalid("body", "must hold one JSON value")
		}
		return nil
	}
	return jsonError(err)
}

// readBody reads a raw JSON body of at most MaxBody bytes.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return nil, fmt.Errorf("the body must be JSON: %w", errUnsupportedMedia)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, referral.Invalid("body", "is required")
	}
	return data, nil
}

// jsonError turns encoding/json's errors into refkit's shape.
func jsonError(err error) error {
	var (
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig), errors.Is(err, referral.ErrInvalid):
		return err
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return referral.Invalid("body", "has the wrong JSON type")
		}
		return referral.Invalid(typeErr.Field, "has the wrong JSON type")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one; the field name is the
		// client's own key, bounded by the body size.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if len(field) > 64 {
			field = field[:64]
		}
		return referral.Invalid(field, "is not a known field")
	}
	return referral.Invalid("body", "is not valid JSON")
}

// pathID parses the {name} path value as an id.
func pathID(r *http.Request, name string) (referral.ID, error) {
	id, err := referral.ParseID(r.PathValue(name))
	if err != nil {
		return referral.NilID, referral.Invalid(name, "must be a UUID")
	}
	return id, nil
}

// queryInt reads an optional whole-number query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || len(v) > 12 {
		return 0, referral.Invalid(name, "must be a whole number")
	}
	return n, nil
}

// queryID reads an optional id query parameter.
func queryID(r *http.Request, name string) (referral.ID, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return referral.NilID, nil
	}
	id, err := referral.ParseID(v)
	if err != nil {
		return referral.NilID, referral.Invalid(name, "must be a UUID")
	}
	return id, nil
}

// queryTime reads an optional RFC 3339 time query parameter.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, referral.Invalid(name, "must be an RFC 3339 time")
	}
	return t, nil
}

// LogAttrs returns the attributes a log line for the request carries: ids,
// the route pattern, status, duration, problem and server-side error. Hosts
// pass them to slog.Logger.LogAttrs.
func (i RequestInfo) LogAttrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("request_id", i.RequestID), slog.String("method", i.Method), slog.String("route", i.Route),
		slog.Int("status", i.Status), slog.Duration("duration", i.Duration),
	}
	if !i.Network.IsZero() {
		attrs = append(attrs, slog.String("network_id", i.Network.String()), slog.String("role", string(i.Role)))
	}
	if !i.Organization.IsZero() {
		attrs = append(attrs, slog.String("organization_id", i.Organization.String()))
	}
	if i.Problem != "" {
		attrs = append(attrs, slog.String("problem", i.Problem))
	}
	if i.Err != nil {
		attrs = append(attrs, slog.String("error", i.Err.Error()))
	}
	return attrs
}
