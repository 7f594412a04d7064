package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is an API over a memory store, with bearer tokens that name
// actors, a validator built from the API's own OpenAPI document, and a record
// of every route a request reached.
type harness struct {
	t      testing.TB
	store  storage.Store
	clock  *clock
	ids    *referral.IDGenerator
	h      *api.Handler
	v      validator.Validator
	done   chan struct{}
	actors map[string]referral.Actor

	mu     sync.Mutex
	routes map[string]bool
	infos  []api.RequestInfo
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	hs := &harness{
		t: t, store: memory.New(), clock: &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		done: make(chan struct{}), actors: map[string]referral.Actor{}, routes: map[string]bool{},
	}
	hs.ids = referral.NewIDGenerator(hs.clock.Now, nil)
	engine, err := lifecycle.New(hs.store, hs.store, lifecycle.Options{Now: hs.clock.Now, IDs: hs.ids,
		Deadlines: lifecycle.Deadlines{Acknowledge: 48 * time.Hour}})
	require.NoError(t, err)
	hs.h, err = api.New(hs.store, engine, api.Options{
		Now: hs.clock.Now, IDs: hs.ids, Done: hs.done, Heartbeat: 20 * time.Millisecond,
		Authenticator: api.AuthenticatorFunc(hs.authenticate),
		Observe: func(_ context.Context, info api.RequestInfo) {
			hs.mu.Lock()
			defer hs.mu.Unlock()
			if info.Route != "" {
				hs.routes[info.Route] = true
			}
			hs.infos = append(hs.infos, info)
		},
	})
	require.NoError(t, err)
	doc, err := libopenapi.NewDocument(hs.h.OpenAPI())
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	hs.v = v
	t.Cleanup(func() { hs.store.Close() })
	return hs
}

// authenticate maps "Bearer NAME" to the actor registered as NAME.
func (hs *harness) authenticate(r *http.Request) (referral.Actor, error) {
	name, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return referral.Actor{}, api.ErrUnauthenticated
	}
	a, ok := hs.actors[name]
	if !ok {
		return referral.Actor{}, api.ErrUnauthenticated
	}
	return a, nil
}

// result is one answered request.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), string(r.body))
}

// problem decodes a problem response and checks its shape.
func (r result) problem(t testing.TB) api.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), string(r.body))
	var p api.Problem
	r.decode(t, &p)
	require.Equal(t, r.status, p.Status)
	require.True(t, strings.HasPrefix(p.Type, api.ProblemType), p.Type)
	require.NotEmpty(t, p.RequestID)
	return p
}

// do sends a request as the named actor ("" for none) and checks the
// response against the OpenAPI document. body is JSON-encoded unless it is
// a string, sent as is.
func (hs *harness) do(as, method, path string, body any, headers ...string) result {
	hs.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(hs.t, err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if as != "" {
		req.Header.Set("Authorization", "Bearer "+as)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	resp := rec.Result()
	got, err := io.ReadAll(resp.Body)
	require.NoError(hs.t, err)
	resp.Body = io.NopCloser(bytes.NewReader(got))
	hs.mu.Lock()
	routed := hs.infos[len(hs.infos)-1].Route != ""
	hs.mu.Unlock()
	vreq := httptest.NewRequest(method, path, bytes.NewReader(raw))
	vreq.Header = req.Header.Clone()
	// A path no route matches is in no document; its problem is checked by
	// the caller.
	if ok, verrs := hs.v.ValidateHttpResponse(vreq, resp); routed && !ok {
		msgs := make([]string, len(verrs))
		for i, e := range verrs {
			msgs[i] = e.Error()
		}
		require.Failf(hs.t, "the response does not validate against the OpenAPI document",
			"%s %s -> %d\n%s\n%s", method, path, resp.StatusCode, strings.Join(msgs, "\n"), got)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: got}
}

// must sends a request and requires the status.
func (hs *harness) must(status int, as, method, path string, body any, headers ...string) result {
	hs.t.Helper()
	r := hs.do(as, method, path, body, headers...)
	require.Equal(hs.t, status, r.status, "%s %s: %s", method, path, r.body)
	return r
}
