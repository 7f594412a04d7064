package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/sqlite"
)

// outsider is an organization of the network that is party to no referral.
var outsider = referral.MustParseID("01930000-0000-7000-8000-0000000000e1")

// api is the example's handler on a seeded SQLite store, behind httptest.
type api struct {
	srv     *httptest.Server
	store   *sqlite.Store
	done    chan struct{}
	streams *atomic.Int32 // event handlers running now
}

// newAPI serves the example's handler; configure, if given, adjusts the
// http.Server before it starts.
func newAPI(t *testing.T, configure ...func(*http.Server)) *api {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "refkit.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	require.NoError(t, seed(ctx, store))
	require.NoError(t, store.PutOrganization(ctx, referral.Organization{ID: outsider, Network: seeded.Network, Name: "Harbor Housing"}))

	// A clock that moves one minute per reading: deterministic, yet every
	// event has its own time.
	var mu sync.Mutex
	now := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Minute)
		return now
	}
	a := &api{done: make(chan struct{}), streams: new(atomic.Int32), store: store}
	h, err := newServer(ctx, config{Store: store, Network: seeded.Network, Now: clock, Heartbeat: 20 * time.Millisecond, Done: a.done})
	require.NoError(t, err)
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			a.streams.Add(1)
			defer a.streams.Add(-1)
		}
		h.ServeHTTP(w, r)
	}))
	for _, c := range configure {
		c(a.srv.Config)
	}
	a.srv.Start()
	// Close waits for every handler, so a stream that never ends hangs the test.
	t.Cleanup(a.srv.Close)
	return a
}

// Identity headers for each caller.
var (
	clinicStaff   = map[string]string{headerOrganization: seeded.Clinic.String(), headerUser: "nurse-okafor", headerRole: "staff"}
	foodBankStaff = map[string]string{headerOrganization: seeded.FoodBank.String(), headerUser: "intake-desk", headerRole: "staff"}
	outsiderStaff = map[string]string{headerOrganization: outsider.String(), headerUser: "case-worker", headerRole: "staff"}
	networkAdmin  = map[string]string{headerOrganization: outsider.String(), headerUser: "coordinator", headerRole: "admin"}
	delegate      = map[string]string{headerPerson: seeded.Person.String(), headerUser: "sam", headerRole: "delegate"}
)

// call sends one request and returns the status and body.
func (a *api) call(t *testing.T, method, path string, headers map[string]string, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	return resp.StatusCode, data
}

// ok sends a request that must answer want, decoding the body into out.
func (a *api) ok(t *testing.T, want int, method, path string, headers map[string]string, body string, out any) {
	t.Helper()
	status, data := a.call(t, method, path, headers, body)
	require.Equal(t, want, status, string(data))
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out))
	}
}

func withKey(h map[string]string, key string) map[string]string {
	out := map[string]string{"Idempotency-Key": key}
	for k, v := range h {
		out[k] = v
	}
	return out
}

const hungerAnswers = `{"person_id":"` + "01930000-0000-7000-8000-0000000000a1" +
	`","instrument":"hunger-vital-sign","answers":{"88122-7":"Often true","88123-5":"Sometimes true"}}`

const matchBody = `{"person":{"household_size":3,"income_annual":28000,"state":"IL","languages":["es"]},` +
	`"needs":[{"domain":"food-insecurity","urgency":"routine"}],"near":{"latitude":42.3636,"longitude":-87.8447},"radius_m":10000,` +
	`"as_of":"2026-03-02T09:00:00Z"}`

func createBody(needs []referral.Need) string {
	b, _ := json.Marshal(map[string]any{
		"person_id": seeded.Person, "receiver_id": seeded.FoodBank, "service_id": seeded.Service,
		"needs": needs, "send": true, "note": "Family of three.",
	})
	return string(b)
}

var foodNeed = []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}

func TestClosedLoopOverHTTP(t *testing.T) {
	a := newAPI(t)

	var screened struct {
		Screening referral.ID     `json:"screening_id"`
		Needs     []referral.Need `json:"needs"`
		Result    struct {
			Instrument      string            `json:"instrument"`
			Valid           bool              `json:"valid"`
			PositiveDomains []referral.Domain `json:"positive_domains"`
		} `json:"result"`
	}
	a.ok(t, http.StatusCreated, "POST", "/screenings", clinicStaff, hungerAnswers, &screened)
	require.False(t, screened.Screening.IsZero())
	require.Equal(t, "hunger-vital-sign", screened.Result.Instrument)
	require.True(t, screened.Result.Valid)
	require.Equal(t, []referral.Domain{referral.FoodInsecurity}, screened.Result.PositiveDomains)
	require.Len(t, screened.Needs, 1)
	require.Equal(t, screened.Screening, screened.Needs[0].Screening, "needs point back to the stored screening")

	var matched struct {
		Matches []struct {
			Service  referral.ID `json:"service_id"`
			Location referral.ID `json:"location_id"`
		} `json:"matches"`
	}
	a.ok(t, http.StatusOK, "POST", "/matches", clinicStaff, matchBody, &matched)
	require.Len(t, matched.Matches, 1)
	require.Equal(t, seeded.Service, matched.Matches[0].Service)
	require.Equal(t, seeded.Location, matched.Matches[0].Location)

	var created, again referral.Referral
	a.ok(t, http.StatusCreated, "POST", "/referrals", withKey(clinicStaff, "visit-1"), createBody(screened.Needs), &created)
	require.Equal(t, referral.StatusRequested, created.Status)
	require.Equal(t, int64(1), created.Version)
	require.Equal(t, seeded.Clinic, created.Sender)
	require.Equal(t, screened.Screening, created.Needs[0].Screening)
	a.ok(t, http.StatusOK, "POST", "/referrals", withKey(clinicStaff, "visit-1"), createBody(screened.Needs), &again)
	require.Equal(t, created.ID, again.ID, "a retry with the same Idempotency-Key returns the first referral")

	path := "/referrals/" + created.ID.String()
	steps := []struct {
		command, body string
		want          referral.Status
	}{
		{"acknowledge", "", referral.StatusRequested},
		{"note", `{"note":"Can Sam come on Thursday?"}`, referral.StatusRequested},
		{"accept", `{"version":3,"note":"Booked for Thursday."}`, referral.StatusAccepted},
		{"start", "", referral.StatusInProgress},
		{"complete", `{"outcome":{"code":"got-help","note":"Enrolled in the weekly pantry."}}`, referral.StatusCompleted},
	}
	for i, s := range steps {
		var r referral.Referral
		a.ok(t, http.StatusOK, "POST", path+"/"+s.command, foodBankStaff, s.body, &r)
		require.Equal(t, s.want, r.Status, s.command)
		require.Equal(t, int64(i+2), r.Version, s.command)
	}

	var got referral.Referral
	a.ok(t, http.StatusOK, "GET", path, clinicStaff, "", &got)
	require.Equal(t, referral.StatusCompleted, got.Status)
	require.Equal(t, "got-help", got.Outcome.Code)

	var history struct {
		Events []referral.Event `json:"events"`
	}
	a.ok(t, http.StatusOK, "GET", path+"/history", clinicStaff, "", &history)
	var types []referral.EventType
	for _, ev := range history.Events {
		types = append(types, ev.Type)
	}
	require.Equal(t, []referral.EventType{
		referral.EventCreated, referral.EventAcknowledged, referral.EventNote,
		referral.EventAccepted, referral.EventStarted, referral.EventCompleted,
	}, types)
	require.Equal(t, "intake-desk", history.Events[5].Actor.User)

	var listed struct {
		Referrals []referral.Referral `json:"referrals"`
		Next      referral.ID         `json:"next"`
	}
	a.ok(t, http.StatusOK, "GET", "/referrals?status=completed,cancelled", foodBankStaff, "", &listed)
	require.Len(t, listed.Referrals, 1)
	require.Equal(t, created.ID, listed.Referrals[0].ID)
	require.True(t, listed.Next.IsZero())
	a.ok(t, http.StatusOK, "GET", "/referrals?status=requested", foodBankStaff, "", &listed)
	require.Empty(t, listed.Referrals)
}

func TestStatusCodes(t *testing.T) {
	a := newAPI(t)
	var r referral.Referral
	a.ok(t, http.StatusCreated, "POST", "/referrals", clinicStaff, createBody(foodNeed), &r)
	path := "/referrals/" + r.ID.String()
	unknown := "/referrals/01930000-0000-7000-8000-00000000dead"

	tests := []struct {
		name, method, path string
		headers            map[string]string
		body               string
		want               int
		field              string
	}{
		{"no actor headers", "GET", path, nil, "", http.StatusUnauthorized, ""},
		{"unknown role", "GET", path, map[string]string{headerOrganization: seeded.Clinic.String(), headerUser: "x", headerRole: "boss"}, "", http.StatusUnauthorized, ""},
		{"system role over HTTP", "GET", path, map[string]string{headerUser: "cron", headerRole: "system"}, "", http.StatusUnauthorized, ""},
		{"organization not in the network", "GET", path, map[string]string{headerOrganization: "01930000-0000-7000-8000-0000000000ff", headerUser: "x", headerRole: "staff"}, "", http.StatusUnauthorized, ""},
		{"malformed organization id", "GET", path, map[string]string{headerOrganization: "clinic", headerUser: "x", headerRole: "staff"}, "", http.StatusUnauthorized, ""},
		{"unknown referral", "GET", unknown, clinicStaff, "", http.StatusNotFound, ""},
		{"unknown referral command", "POST", unknown + "/acknowledge", foodBankStaff, "", http.StatusNotFound, ""},
		{"malformed referral id", "GET", "/referrals/42", clinicStaff, "", http.StatusBadRequest, "id"},
		{"unknown command", "POST", path + "/teleport", foodBankStaff, "", http.StatusNotFound, ""},
		{"no body", "POST", "/matches", clinicStaff, "", http.StatusBadRequest, "body"},
		{"bad JSON", "POST", "/referrals", clinicStaff, `{"person_id":`, http.StatusBadRequest, "body"},
		{"two JSON values", "POST", path + "/acknowledge", foodBankStaff, `{} {}`, http.StatusBadRequest, "body"},
		{"unknown field", "POST", "/referrals", clinicStaff, `{"colour":"blue"}`, http.StatusBadRequest, "colour"},
		{"wrong JSON type", "POST", "/matches", clinicStaff, `{"radius_m":"far"}`, http.StatusBadRequest, "radius_m"},
		{"body too large", "POST", "/matches", clinicStaff, `{"needs":[` + strings.Repeat(`{"domain":"food-insecurity"},`, 4000) + `{}]}`, http.StatusRequestEntityTooLarge, ""},
		{"missing receiver", "POST", "/referrals", clinicStaff, `{"person_id":"` + seeded.Person.String() + `"}`, http.StatusBadRequest, "receiver_id"},
		{"invalid screening answer", "POST", "/screenings", clinicStaff, strings.Replace(hungerAnswers, "Often true", "Daily", 1), http.StatusBadRequest, "answers.88122-7"},
		{"screening an unknown person", "POST", "/screenings", clinicStaff, strings.Replace(hungerAnswers, seeded.Person.String(), "01930000-0000-7000-8000-0000000000a2", 1), http.StatusNotFound, ""},
		{"unknown instrument", "POST", "/screenings", clinicStaff, strings.Replace(hungerAnswers, "hunger-vital-sign", "tarot", 1), http.StatusBadRequest, "instrument"},
		{"match without a place", "POST", "/matches", clinicStaff, `{"needs":[{"domain":"food-insecurity","urgency":"routine"}],"radius_m":1000}`, http.StatusBadRequest, "near"},
		{"bad status filter", "GET", "/referrals?status=lost", clinicStaff, "", http.StatusBadRequest, "statuses[0]"},
		{"repeated status filter", "GET", "/referrals?status=requested,requested", clinicStaff, "", http.StatusBadRequest, "statuses[1]"},
		{"status filter longer than the statuses", "GET", "/referrals?status=" + strings.Repeat("requested,", 40000) + "requested", clinicStaff, "", http.StatusBadRequest, "statuses"},
		{"invalid transition", "POST", path + "/start", foodBankStaff, "", http.StatusConflict, ""},
		{"stale version", "POST", path + "/acknowledge", foodBankStaff, `{"version":5}`, http.StatusConflict, ""},
		{"version zero", "POST", path + "/acknowledge", foodBankStaff, `{"version":0}`, http.StatusBadRequest, "version"},
		{"decline without a reason", "POST", path + "/decline", foodBankStaff, `{"note":"sorry"}`, http.StatusBadRequest, "reason"},
		{"decline with an unknown reason", "POST", path + "/decline", foodBankStaff, `{"reason":"busy"}`, http.StatusBadRequest, "reason"},
		{"sender may not accept", "POST", path + "/accept", clinicStaff, "", http.StatusForbidden, ""},
		{"service of another organization", "POST", "/referrals", clinicStaff, strings.Replace(createBody(foodNeed), seeded.FoodBank.String(), outsider.String(), 1), http.StatusBadRequest, "service_id"},
		{"organization not party reads", "GET", path, outsiderStaff, "", http.StatusNotFound, ""},
		{"organization not party acts", "POST", path + "/acknowledge", outsiderStaff, "", http.StatusNotFound, ""},
		{"organization not party history", "GET", path + "/history", outsiderStaff, "", http.StatusNotFound, ""},
		{"bad after", "GET", "/events?after=-1", foodBankStaff, "", http.StatusBadRequest, "after"},
		{"bad Last-Event-ID", "GET", "/events", withHeader(foodBankStaff, "Last-Event-ID", "seven"), "", http.StatusBadRequest, "Last-Event-ID"},
		{"delegate of another person", "GET", path, map[string]string{headerPerson: "01930000-0000-7000-8000-0000000000a2", headerUser: "guardian", headerRole: "delegate"}, "", http.StatusUnauthorized, ""},
		{"delegate may not screen", "POST", "/screenings", delegate, hungerAnswers, http.StatusForbidden, ""},
		{"wrong method", "DELETE", path, clinicStaff, "", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, a.srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := a.srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.want, resp.StatusCode, string(data))
			if tt.want == http.StatusMethodNotAllowed {
				return // the mux's own answer
			}
			var body errorBody
			require.NoError(t, json.Unmarshal(data, &body), string(data))
			require.NotEmpty(t, body.Error)
			require.Equal(t, tt.field, body.Field)
			require.NotContains(t, string(data), "Rivera", "no personal data in errors")
		})
	}

	// Every refusal above left the referral as it was.
	var after referral.Referral
	a.ok(t, http.StatusOK, "GET", path, clinicStaff, "", &after)
	require.Equal(t, r.Version, after.Version)
	require.Equal(t, referral.StatusRequested, after.Status)
}

// TestStoreUnavailable: when the store cannot work (here it is closed, as when
// the server shuts down under a request), the client gets 503 with
// Retry-After and no internals.
func TestStoreUnavailable(t *testing.T) {
	a := newAPI(t)
	require.NoError(t, a.store.Close())
	req, err := http.NewRequest("GET", a.srv.URL+"/referrals", nil)
	require.NoError(t, err)
	for k, v := range clinicStaff {
		req.Header.Set(k, v)
	}
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(data))
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	var body errorBody
	require.NoError(t, json.Unmarshal(data, &body))
	require.Equal(t, "storage is unavailable; retry later", body.Error)
}

// TestRoles checks that the actor from the headers is the one refkit applies
// its access rules to.
func TestRoles(t *testing.T) {
	a := newAPI(t)
	var r referral.Referral
	a.ok(t, http.StatusCreated, "POST", "/referrals", clinicStaff, createBody(foodNeed), &r)
	path := "/referrals/" + r.ID.String()
	tests := []struct {
		name    string
		headers map[string]string
		sees    int
	}{
		{"sender", clinicStaff, 1},
		{"receiver", foodBankStaff, 1},
		{"outsider", outsiderStaff, 0},
		{"network admin", networkAdmin, 1},
		{"the person's delegate", delegate, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var listed struct {
				Referrals []referral.Referral `json:"referrals"`
			}
			a.ok(t, http.StatusOK, "GET", "/referrals", tt.headers, "", &listed)
			require.Len(t, listed.Referrals, tt.sees)
		})
	}
	// The person's delegate may cancel on their behalf.
	var cancelled referral.Referral
	a.ok(t, http.StatusOK, "POST", path+"/cancel", delegate, `{"reason":"no-longer-needed"}`, &cancelled)
	require.Equal(t, referral.StatusCancelled, cancelled.Status)
	require.Equal(t, "no-longer-needed", cancelled.Reason)
}

// TestNoConsent sends to an organization the person gave no consent for.
func TestNoConsent(t *testing.T) {
	a := newAPI(t)
	body := `{"person_id":"` + seeded.Person.String() + `","receiver_id":"` + outsider.String() +
		`","needs":[{"domain":"food-insecurity","urgency":"routine"}],"send":true}`
	status, data := a.call(t, "POST", "/referrals", clinicStaff, body)
	require.Equal(t, http.StatusForbidden, status, string(data))
	// Without send it is a draft, which needs no consent yet.
	status, data = a.call(t, "POST", "/referrals", clinicStaff, strings.Replace(body, `"send":true`, `"send":false`, 1))
	require.Equal(t, http.StatusCreated, status, string(data))
}

// frame is one server-sent event.
type frame struct {
	id    int64
	event string
	data  string
}

// stream is an open GET /events.
type stream struct {
	frames     chan frame
	heartbeats *atomic.Int32
	ended      chan struct{}
	cancel     context.CancelFunc
}

func (a *api) follow(t *testing.T, headers map[string]string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/events", nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	s := &stream{frames: make(chan frame, 100), heartbeats: new(atomic.Int32), ended: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.event != "" {
					s.frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, ":"):
				s.heartbeats.Add(1)
			case strings.HasPrefix(line, "id: "):
				f.id, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				f.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// next returns the next frame, checking that its data is the event it names.
func (s *stream) next(t *testing.T) (frame, referral.Event) {
	t.Helper()
	select {
	case f := <-s.frames:
		var ev referral.Event
		require.NoError(t, json.Unmarshal([]byte(f.data), &ev))
		require.Equal(t, f.id, ev.Position)
		require.Equal(t, f.event, string(ev.Type))
		return f, ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
		return frame{}, referral.Event{}
	}
}

func TestEventStream(t *testing.T) {
	a := newAPI(t)
	first := a.follow(t, foodBankStaff)

	var r referral.Referral
	a.ok(t, http.StatusCreated, "POST", "/referrals", clinicStaff, createBody(foodNeed), &r)
	path := "/referrals/" + r.ID.String()
	a.ok(t, http.StatusOK, "POST", path+"/acknowledge", foodBankStaff, "", nil)
	a.ok(t, http.StatusOK, "POST", path+"/accept", foodBankStaff, "", nil)

	var frames []frame
	for _, want := range []referral.EventType{referral.EventCreated, referral.EventAcknowledged, referral.EventAccepted} {
		f, ev := first.next(t)
		require.Equal(t, want, ev.Type)
		require.Equal(t, r.ID, ev.Referral)
		if len(frames) > 0 {
			require.Greater(t, f.id, frames[len(frames)-1].id, "positions increase")
		}
		frames = append(frames, f)
	}
	require.Eventually(t, func() bool { return first.heartbeats.Load() > 0 }, 5*time.Second, 10*time.Millisecond,
		"an idle stream gets heartbeats")

	// A client that reconnects with the last id it saw gets only what followed.
	resumed := a.follow(t, withHeader(foodBankStaff, "Last-Event-ID", strconv.FormatInt(frames[0].id, 10)))
	for _, want := range frames[1:] {
		f, _ := resumed.next(t)
		require.Equal(t, want, f)
	}
	a.ok(t, http.StatusOK, "POST", path+"/note", clinicStaff, `{"note":"Thanks!"}`, nil)
	_, ev := resumed.next(t)
	require.Equal(t, referral.EventNote, ev.Type, "nothing else came in between")

	// An organization that is party to nothing sees nothing of it, even live.
	blind := a.follow(t, outsiderStaff)
	select {
	case f := <-blind.frames:
		t.Fatalf("outsider saw %v", f)
	case <-time.After(100 * time.Millisecond):
	}

	// The handler returns when its client goes away...
	require.Eventually(t, func() bool { return a.streams.Load() == 3 }, 5*time.Second, 10*time.Millisecond)
	first.cancel()
	require.Eventually(t, func() bool { return a.streams.Load() == 2 }, 5*time.Second, 10*time.Millisecond)
	// ...and every stream ends when the server shuts down.
	close(a.done)
	for _, s := range []*stream{resumed, blind} {
		select {
		case <-s.ended:
		case <-time.After(5 * time.Second):
			t.Fatal("stream still open after shutdown began")
		}
	}
	require.Eventually(t, func() bool { return a.streams.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestStreamOutlivesServerTimeouts: a server's ReadTimeout and WriteTimeout
// are right for ordinary requests, and must not cut an event stream.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	const timeout = 100 * time.Millisecond
	a := newAPI(t, func(s *http.Server) { s.ReadTimeout, s.WriteTimeout = timeout, timeout })
	s := a.follow(t, foodBankStaff)
	time.Sleep(4 * timeout)
	seen := s.heartbeats.Load()
	require.Eventually(t, func() bool { return s.heartbeats.Load() > seen }, 5*time.Second, 10*time.Millisecond,
		"heartbeats still arrive after both timeouts passed")
	select {
	case <-s.ended:
		t.Fatal("the stream was cut")
	default:
	}
}

func withHeader(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for hk, hv := range h {
		out[hk] = hv
	}
	return out
}

// lockedBuffer collects what run and its server goroutines write to stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRun(t *testing.T) {
	kept := filepath.Join(t.TempDir(), "kept.db")
	tests := []struct{ name, db string }{
		{"temporary database", ""},
		{"kept database", kept},
		{"kept database seeded again", kept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			base := "http://" + ln.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stderr lockedBuffer
			result := make(chan error, 1)
			go func() { result <- run(ctx, ln, tt.db, &stderr) }()

			get := func(path string) *http.Response {
				req, err := http.NewRequest("GET", base+path, nil)
				require.NoError(t, err)
				for k, v := range clinicStaff {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				return resp
			}
			get("/referrals").Body.Close()
			// An open event stream must not hold up shutdown.
			sresp := get("/events")
			defer sresp.Body.Close()

			cancel()
			select {
			case err := <-result:
				require.NoError(t, err)
			case <-time.After(shutdownGrace / 2):
				t.Fatal("run did not return after its context was cancelled")
			}
			_, err = io.ReadAll(sresp.Body)
			require.NoError(t, err, "the stream ended cleanly")
			out := stderr.String()
			require.Contains(t, out, "listening on "+base)
			require.Contains(t, out, "FOODBANK=(-H 'Refkit-Organization: "+seeded.FoodBank.String()+"'")
			require.Contains(t, out, "shutting down")
			if tt.db != "" {
				require.FileExists(t, tt.db)
			}
		})
	}
}
