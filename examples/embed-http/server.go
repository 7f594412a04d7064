package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
)

// config is what the host hands its API: the store, the network this
// deployment serves, and the knobs a test turns.
type config struct {
	Store   storage.Store
	Network referral.ID
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Heartbeat is how often an idle event stream gets a comment line, so that
	// proxies and clients see the connection alive; zero means 15 seconds.
	Heartbeat time.Duration
	// Done, when closed, ends every event stream (the server is shutting down).
	Done <-chan struct{}
	// Log receives server-side failures; nil discards them.
	Log *slog.Logger
}

// server holds the refkit values the handlers share. All of them are safe for
// concurrent use, so one server serves every request.
type server struct {
	store       storage.Store
	network     referral.ID
	engine      *lifecycle.Engine
	instruments *screening.Registry
	index       *matching.Index
	ids         *referral.IDGenerator
	now         func() time.Time
	heartbeat   time.Duration
	done        <-chan struct{}
	log         *slog.Logger
}

// newServer builds the handler: the lifecycle engine, the built-in screening
// instruments, and a matching index of the network's services as they are now.
// A host whose directory changes while it runs feeds the changes to
// matching.Index.Update; readers are never blocked by it.
func newServer(ctx context.Context, cfg config) (http.Handler, error) {
	s := &server{
		store: cfg.Store, network: cfg.Network, now: cfg.Now, heartbeat: cfg.Heartbeat,
		done: cfg.Done, log: cfg.Log, instruments: screening.Default(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.heartbeat == 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ids = referral.NewIDGenerator(s.now, nil)
	engine, err := lifecycle.New(cfg.Store, cfg.Store, lifecycle.Options{Now: s.now, IDs: s.ids})
	if err != nil {
		return nil, err
	}
	s.engine = engine
	services, err := storage.AllServices(ctx, cfg.Store, cfg.Network)
	if err != nil {
		return nil, err
	}
	if s.index, err = matching.New(ctx, services, matching.Options{Now: s.now}); err != nil {
		return nil, err
	}

	// Go 1.22 patterns route on method and path, and the mux answers a wrong
	// method with 405 by itself.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /screenings", s.handle(s.screen))
	mux.HandleFunc("POST /matches", s.handle(s.match))
	mux.HandleFunc("POST /referrals", s.handle(s.create))
	mux.HandleFunc("GET /referrals", s.handle(s.list))
	mux.HandleFunc("GET /referrals/{id}", s.handle(s.get))
	mux.HandleFunc("GET /referrals/{id}/history", s.handle(s.history))
	mux.HandleFunc("POST /referrals/{id}/{command}", s.handle(s.command))
	mux.HandleFunc("GET /events", s.handle(s.events))
	return mux, nil
}

// handlerFunc is a handler that has an authenticated actor and returns its
// error instead of writing it, so that errors are mapped in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request, actor referral.Actor) error

// handle authenticates the request, runs h, and writes h's error if any.
func (s *server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, err := s.actor(r)
		if err == nil {
			err = h(w, r, actor)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

// screenRequest is the body of POST /screenings. Answers are kept raw and
// handed to screening.ParseAnswers, which checks them against the instrument.
type screenRequest struct {
	Person     referral.ID     `json:"person_id"`
	Instrument string          `json:"instrument"`
	Answers    json.RawMessage `json:"answers"`
}

// screenResponse returns the scored result and the stored screening's id; its
// needs point back to that id, ready for /matches and /referrals.
type screenResponse struct {
	Screening referral.ID      `json:"screening_id"`
	Needs     []referral.Need  `json:"needs"`
	Result    screening.Result `json:"result"`
}

func (s *server) screen(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	if actor.Role != referral.RoleStaff {
		return fmt.Errorf("screening: only organization staff screen: %w", referral.ErrForbidden)
	}
	var req screenRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	if err := req.Person.Require("person_id"); err != nil {
		return err
	}
	if req.Instrument == "" {
		return referral.Invalid("instrument", "is required")
	}
	if len(req.Answers) == 0 {
		return referral.Invalid("answers", "is required")
	}
	in, err := s.instruments.Lookup(req.Instrument)
	if errors.Is(err, referral.ErrNotFound) {
		return referral.Invalid("instrument", "is not a known instrument")
	}
	if err != nil {
		return err
	}
	resp, err := screening.ParseAnswers(in, append(append([]byte(`{"answers":`), req.Answers...), '}'))
	if err != nil {
		return err
	}
	res := resp.Score()
	id, err := s.ids.New()
	if err != nil {
		return err
	}
	stored := res.Screening(id, s.network, req.Person, s.now())
	if err := s.store.PutScreening(r.Context(), stored); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, screenResponse{Screening: id, Needs: stored.Needs, Result: res})
	return nil
}

func (s *server) match(w http.ResponseWriter, r *http.Request, _ referral.Actor) error {
	var req matching.Request
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	res, err := s.index.Match(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// createRequest is the body of POST /referrals. The idempotency key comes from
// the Idempotency-Key header, so a client retrying after a timeout sends the
// same request and gets the same referral back.
type createRequest struct {
	Person   referral.ID      `json:"person_id"`
	Receiver referral.ID      `json:"receiver_id"`
	Service  referral.ID      `json:"service_id"`
	Location referral.ID      `json:"location_id"`
	Needs    []referral.Need  `json:"needs"`
	Priority referral.Urgency `json:"priority"`
	Send     bool             `json:"send"`
	Replaces referral.ID      `json:"replaces"`
	Note     string           `json:"note"`
}

func (s *server) create(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	var req createRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	// lifecycle names this field receiver_organization_id; the body calls it
	// receiver_id, so check it here to name the field the client sent.
	if err := req.Receiver.Require("receiver_id"); err != nil {
		return err
	}
	ref, created, err := s.engine.CreateOnce(r.Context(), actor, lifecycle.CreateRequest{
		Person: req.Person, Receiver: req.Receiver, Service: req.Service, Location: req.Location,
		Needs: req.Needs, Priority: req.Priority, Send: req.Send, Replaces: req.Replaces, Note: req.Note,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	// A retry with the same Idempotency-Key gets the first referral back,
	// with 200 rather than 201, so the client knows nothing new was made.
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/referrals/"+ref.ID.String())
	writeJSON(w, status, ref)
	return nil
}

// commands maps the last path segment of POST /referrals/{id}/{command} to a
// lifecycle trigger. Send, fail, expire, enter-in-error and the business-status
// steps (waitlist, schedule, no-show) exist in lifecycle too; a host exposes
// the ones its users need. Cancel withdraws a referral the receiver has not
// taken on; one it accepted is cancelled in two steps (request-cancel, then
// the receiver's confirm-cancel or refuse-cancel).
var commands = map[string]lifecycle.Trigger{
	"acknowledge":    lifecycle.TriggerAcknowledge,
	"accept":         lifecycle.TriggerAccept,
	"decline":        lifecycle.TriggerDecline,
	"start":          lifecycle.TriggerStart,
	"hold":           lifecycle.TriggerHold,
	"resume":         lifecycle.TriggerResume,
	"complete":       lifecycle.TriggerComplete,
	"cancel":         lifecycle.TriggerCancel,
	"request-cancel": lifecycle.TriggerRequestCancel,
	"confirm-cancel": lifecycle.TriggerConfirmCancel,
	"refuse-cancel":  lifecycle.TriggerRefuseCancel,
	"note":           lifecycle.TriggerNote,
}

// commandRequest is the optional body of a referral command. Version, when
// given, makes the command conditional: a client that read the referral at
// version 3 and sends {"version": 3} gets 409 if someone changed it since,
// instead of overwriting a decision it never saw.
type commandRequest struct {
	Reason  string            `json:"reason"`
	Note    string            `json:"note"`
	Outcome *referral.Outcome `json:"outcome"`
	Version *int64            `json:"version"`
}

func (s *server) command(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	trigger, ok := commands[r.PathValue("command")]
	if !ok {
		return fmt.Errorf("unknown referral command: %w", referral.ErrNotFound)
	}
	id, err := referral.ParseID(r.PathValue("id"))
	if err != nil {
		return err
	}
	var req commandRequest
	if err := decode(w, r, &req, true); err != nil {
		return err
	}
	cmd := lifecycle.Command{Reason: req.Reason, Note: req.Note, Outcome: req.Outcome}
	if cmd.Note == "" && req.Outcome != nil {
		// As lifecycle.Engine.Complete does: the outcome's note is the message.
		cmd.Note = req.Outcome.Note
	}
	if req.Version != nil {
		// Zero would mean "unconditional" to lifecycle: refuse it rather than
		// silently dropping the condition the client asked for.
		if *req.Version < 1 {
			return referral.Invalid("version", "must be at least 1")
		}
		cmd.IfVersion = *req.Version
	}
	ref, err := s.engine.Do(r.Context(), actor, id, trigger, cmd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ref)
	return nil
}

func (s *server) get(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	id, err := referral.ParseID(r.PathValue("id"))
	if err != nil {
		return err
	}
	ref, err := s.engine.Get(r.Context(), actor, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ref)
	return nil
}

func (s *server) history(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	id, err := referral.ParseID(r.PathValue("id"))
	if err != nil {
		return err
	}
	events, err := s.engine.History(r.Context(), actor, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Events []referral.Event `json:"events"`
	}{events})
	return nil
}

// list answers GET /referrals?status=requested,accepted&limit=50&after=ID.
// The next page's cursor comes back as "next" (absent on the last page).
func (s *server) list(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	q := r.URL.Query()
	var lq lifecycle.ListQuery
	for _, v := range q["status"] {
		for st := range strings.SplitSeq(v, ",") {
			lq.Statuses = append(lq.Statuses, referral.Status(st))
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return referral.Invalid("limit", "must be a whole number")
		}
		lq.Page.Limit = n
	}
	if v := q.Get("after"); v != "" {
		id, err := referral.ParseID(v)
		if err != nil {
			return referral.Invalid("after", "must be a referral id")
		}
		lq.Page.After = id
	}
	page, next, err := s.engine.List(r.Context(), actor, lq)
	if err != nil {
		return err
	}
	if page == nil {
		page = []referral.Referral{}
	}
	writeJSON(w, http.StatusOK, struct {
		Referrals []referral.Referral `json:"referrals"`
		Next      referral.ID         `json:"next,omitzero"`
	}{page, next})
	return nil
}
