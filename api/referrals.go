package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// matchRequest is a matching.Request, plus person_id: when it is set, the
// stored person's facts are what eligibility rules read, and the request's
// person is ignored.
type matchRequest struct {
	matching.Request
	PersonID referral.ID `json:"person_id,omitzero"`
}

func (h *Handler) match(w http.ResponseWriter, r *http.Request, c *call) error {
	var req matchRequest
	if err := h.decode(w, r, &req, false); err != nil {
		return err
	}
	if !req.PersonID.IsZero() {
		p, err := h.store.GetPerson(r.Context(), c.actor.Network, req.PersonID)
		if err != nil {
			return err
		}
		req.Person = p
	}
	ix, err := h.indexes.get(r.Context(), c.actor.Network)
	if err != nil {
		return err
	}
	res, err := ix.Match(r.Context(), req.Request)
	if err != nil {
		return err
	}
	if res.Matches == nil {
		res.Matches = []matching.Match{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// createRequest is the body of POST /referrals; the idempotency key is the
// Idempotency-Key header.
type createRequest struct {
	Person   referral.ID      `json:"person_id"`
	Receiver referral.ID      `json:"receiver_organization_id"`
	Service  referral.ID      `json:"service_id,omitzero"`
	Location referral.ID      `json:"location_id,omitzero"`
	Needs    []referral.Need  `json:"needs"`
	Priority referral.Urgency `json:"priority,omitempty"`
	Send     bool             `json:"send,omitempty"`
	Replaces referral.ID      `json:"replaces,omitzero"`
	Note     string           `json:"note,omitempty"`
}

// MaxReportPeriod bounds a loop-closure report's period: the report reads
// every referral created in it, so the period bounds its cost.
const MaxReportPeriod = 366 * 24 * time.Hour

// maxKey bounds an Idempotency-Key (the store's limit).
const maxKey = 200

func (h *Handler) createReferral(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createRequest
	if err := h.decode(w, r, &req, false); err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxKey {
		return referral.Invalid("Idempotency-Key", "must be at most 200 characters")
	}
	ref, created, err := h.engine.CreateOnce(r.Context(), c.actor, lifecycle.CreateRequest{
		Person: req.Person, Receiver: req.Receiver, Service: req.Service, Location: req.Location,
		Needs: req.Needs, Priority: req.Priority, Send: req.Send, Replaces: req.Replaces, Note: req.Note,
		IdempotencyKey: key,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/referrals/"+ref.ID.String())
	writeReferral(w, status, ref)
	return nil
}

// writeReferral answers a referral with its version as its ETag.
func writeReferral(w http.ResponseWriter, status int, ref referral.Referral) {
	w.Header().Set("ETag", etag(ref.Version))
	writeJSON(w, status, ref)
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads the If-Match header: the version it names, 0 when absent
// or "*" (no condition). Versions start at 1; a weak or malformed tag, or a
// list of several, is invalid: a command runs against one version.
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	if len(v) < 3 || len(v) > 22 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, referral.Invalid("If-Match", `must be one strong ETag such as "3"`)
	}
	n, err := strconv.ParseInt(v[1:len(v)-1], 10, 64)
	if err != nil || n < 1 {
		return 0, referral.Invalid("If-Match", `must be one strong ETag such as "3"`)
	}
	return n, nil
}

// commandRequest is the optional body of a referral command.
type commandRequest struct {
	Reason  string            `json:"reason,omitempty"`
	Note    string            `json:"note,omitempty"`
	Outcome *referral.Outcome `json:"outcome,omitempty"`
}

// command runs one lifecycle command. With If-Match it is conditional: a
// referral at another version is 412. With If-Match and Idempotency-Key, a
// retry whose first attempt took effect is recognised instead: the event
// right after the named version is this command by this actor, so the
// current referral is answered with 200, as the first attempt was. Nothing
// about the key itself is stored for commands; version, actor and command
// identify the attempt.
func (h *Handler) command(w http.ResponseWriter, r *http.Request, c *call, trigger lifecycle.Trigger) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var req commandRequest
	if err := h.decode(w, r, &req, true); err != nil {
		return err
	}
	cmd := lifecycle.Command{Reason: req.Reason, Note: req.Note, Outcome: req.Outcome, IfVersion: version}
	if cmd.Note == "" && req.Outcome != nil {
		// As lifecycle.Engine.Complete does: the outcome's note is the message.
		cmd.Note = req.Outcome.Note
	}
	ref, err := h.engine.Do(r.Context(), c.actor, id, trigger, cmd)
	if err != nil && version != 0 && errors.Is(err, referral.ErrConflict) {
		if r.Header.Get("Idempotency-Key") != "" {
			if replay, ok := h.replayed(r, c.actor, id, trigger, version); ok {
				writeReferral(w, http.StatusOK, replay)
				return nil
			}
		}
		return fmt.Errorf("%w: %w", errPrecondition, err)
	}
	if err != nil {
		return err
	}
	writeReferral(w, http.StatusOK, ref)
	return nil
}

// commandEvents is the event each exposed command records.
var commandEvents = map[lifecycle.Trigger]referral.EventType{
	lifecycle.TriggerSend: referral.EventSent, lifecycle.TriggerAcknowledge: referral.EventAcknowledged,
	lifecycle.TriggerAccept: referral.EventAccepted, lifecycle.TriggerDecline: referral.EventDeclined,
	lifecycle.TriggerStart: referral.EventStarted, lifecycle.TriggerHold: referral.EventHeld,
	lifecycle.TriggerResume: referral.EventResumed, lifecycle.TriggerComplete: referral.EventCompleted,
	lifecycle.TriggerFail: referral.EventFailed, lifecycle.TriggerCancel: referral.EventCancelled,
	lifecycle.TriggerEnterInError: referral.EventEnteredInError, lifecycle.TriggerNote: referral.EventNote,
}

// replayed reports whether the write after version was this command by this
// actor, and returns the referral as it is now.
func (h *Handler) replayed(r *http.Request, actor referral.Actor, id referral.ID, t lifecycle.Trigger, version int64) (referral.Referral, bool) {
	events, err := h.engine.History(r.Context(), actor, id)
	if err != nil || int64(len(events)) <= version {
		return referral.Referral{}, false
	}
	e := events[version] // sequence version+1
	if e.Type != commandEvents[t] || e.Actor.Organization != actor.Organization || e.Actor.User != actor.User ||
		e.Actor.Role != actor.Role || e.Actor.Person != actor.Person {
		return referral.Referral{}, false
	}
	ref, err := h.engine.Get(r.Context(), actor, id)
	return ref, err == nil
}

func (h *Handler) getReferral(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ref, err := h.engine.Get(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	writeReferral(w, http.StatusOK, ref)
	return nil
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	events, err := h.engine.History(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventList{Events: nonNil(events)})
	return nil
}

// listReferrals answers GET /referrals?status=requested,received&limit=50.
func (h *Handler) listReferrals(w http.ResponseWriter, r *http.Request, c *call) error {
	var q lifecycle.ListQuery
	if v := r.URL.Query().Get("status"); v != "" {
		parts := strings.SplitN(v, ",", storage.MaxStatuses+1)
		if len(parts) > storage.MaxStatuses {
			return referral.Invalid("status", "has more entries than there are statuses")
		}
		for _, st := range parts {
			q.Statuses = append(q.Statuses, referral.Status(st))
		}
	}
	var err error
	for _, f := range []struct {
		name string
		id   *referral.ID
	}{{"sender", &q.Sender}, {"receiver", &q.Receiver}, {"person", &q.Person}} {
		if *f.id, err = queryID(r, f.name); err != nil {
			return err
		}
	}
	if q.CreatedFrom, err = queryTime(r, "created_from"); err != nil {
		return err
	}
	if q.CreatedTo, err = queryTime(r, "created_to"); err != nil {
		return err
	}
	if q.Page, err = pageOf(r); err != nil {
		return err
	}
	page, next, err := h.engine.List(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, referralPage{Referrals: nonNil(page), Next: next})
	return nil
}

func (h *Handler) loopClosure(w http.ResponseWriter, r *http.Request, c *call) error {
	from, err := queryTime(r, "from")
	if err != nil {
		return err
	}
	to, err := queryTime(r, "to")
	if err != nil {
		return err
	}
	if from.IsZero() {
		return referral.Invalid("from", "is required")
	}
	if to.IsZero() {
		return referral.Invalid("to", "is required")
	}
	if to.Sub(from) > MaxReportPeriod {
		return referral.Invalid("to", "must be at most 366 days after from")
	}
	rep, err := h.engine.Metrics(r.Context(), c.actor, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
