package referral

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Status is a referral's status: the FHIR R4 Task status codes the SDOH
// Clinical Care IG allows for a referral Task (value set
// SDOHCCValueSetReferralTaskStatus, which leaves out received and ready). It
// encodes in JSON as the FHIR code. Finer states within a status are its
// BusinessStatus.
type Status string

// Statuses.
const (
	StatusDraft          Status = "draft"
	StatusRequested      Status = "requested"
	StatusAccepted       Status = "accepted"
	StatusRejected       Status = "rejected"
	StatusCancelled      Status = "cancelled"
	StatusInProgress     Status = "in-progress"
	StatusOnHold         Status = "on-hold"
	StatusFailed         Status = "failed"
	StatusCompleted      Status = "completed"
	StatusEnteredInError Status = "entered-in-error"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{
		StatusDraft, StatusRequested, StatusAccepted, StatusInProgress, StatusOnHold,
		StatusCompleted, StatusRejected, StatusCancelled, StatusFailed, StatusEnteredInError,
	}
}

// Validate rejects unknown status codes, including the FHIR Task statuses the
// IG excludes from referrals (received, ready).
func (s Status) Validate() error {
	switch s {
	case StatusDraft, StatusRequested, StatusAccepted, StatusRejected, StatusCancelled,
		StatusInProgress, StatusOnHold, StatusFailed, StatusCompleted, StatusEnteredInError:
		return nil
	}
	return invalid("status", "is not a referral Task status")
}

// Terminal reports whether no further work can happen on a referral in this status.
// Completed, rejected, cancelled, failed and entered-in-error are terminal.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusRejected, StatusCancelled, StatusFailed, StatusEnteredInError:
		return true
	}
	return false
}

// BusinessStatus is a referral's finer state within its Status: a workflow
// step the FHIR Task status does not name, exported as Task.businessStatus.
// The lifecycle sets it; empty means none. Each is possible in some statuses
// only (see Within).
type BusinessStatus string

// Business statuses.
const (
	// BusinessAcknowledged: the receiver has seen a requested referral and not
	// yet decided (what FHIR's excluded "received" status would say).
	BusinessAcknowledged BusinessStatus = "acknowledged"
	// BusinessWaitlisted: the receiver accepted the person onto its waiting
	// list; service starts when a place frees up.
	BusinessWaitlisted BusinessStatus = "waitlisted"
	// BusinessScheduled: an appointment is booked.
	BusinessScheduled BusinessStatus = "scheduled"
	// BusinessNoShow: the person missed the booked appointment.
	BusinessNoShow BusinessStatus = "no-show"
	// BusinessCancelRequested: the sender (or the person's delegate) asked to
	// cancel a referral the receiver had accepted or started; the receiver has
	// yet to confirm or refuse.
	BusinessCancelRequested BusinessStatus = "cancel-requested"
	// BusinessCancelRefused: the receiver refused a request to cancel and goes
	// on serving the person.
	BusinessCancelRefused BusinessStatus = "cancel-refused"
)

// BusinessStatuses lists every business status.
func BusinessStatuses() []BusinessStatus {
	return []BusinessStatus{
		BusinessAcknowledged, BusinessWaitlisted, BusinessScheduled, BusinessNoShow,
		BusinessCancelRequested, BusinessCancelRefused,
	}
}

// Within reports whether b is a business status a referral in status s may
// have. No business status (empty) fits every status.
func (b BusinessStatus) Within(s Status) bool {
	switch b {
	case "":
		return true
	case BusinessAcknowledged:
		return s == StatusRequested
	case BusinessWaitlisted:
		return s == StatusAccepted
	case BusinessScheduled, BusinessNoShow:
		return s == StatusAccepted || s == StatusInProgress
	case BusinessCancelRequested, BusinessCancelRefused:
		return s == StatusAccepted || s == StatusInProgress || s == StatusOnHold
	}
	return false
}

// Validate rejects unknown business statuses; empty is valid.
func (b BusinessStatus) Validate() error {
	if b == "" || slices.Contains(BusinessStatuses(), b) {
		return nil
	}
	return invalid("business_status", "is not a business status")
}

// Outcome is how a referral ended for the person: recorded on completion, it is
// what closes the loop (FHIR Task.output).
type Outcome struct {
	// Code is from the lifecycle's outcome code list ("got-help", ...).
	Code string `json:"code"`
	Note string `json:"note,omitempty"`
}

// Validate checks the outcome's fields; the code list is checked by lifecycle.
func (o Outcome) Validate() error {
	if err := validCode("code", o.Code); err != nil {
		return err
	}
	return optionalText("note", o.Note, 10000)
}

// Referral is a request that a receiving organization serve a person for one or
// more needs, tracked until its loop is closed (FHIR ServiceRequest + Task).
type Referral struct {
	ID      ID     `json:"id"`
	Network ID     `json:"network_id"`
	Person  ID     `json:"person_id"`
	Needs   []Need `json:"needs"`
	// Sender is the referring organization; SenderUser the user who created it.
	Sender     ID     `json:"sender_organization_id"`
	SenderUser string `json:"sender_user,omitempty"`
	// Receiver is the organization asked to serve; Service and Location narrow it.
	Receiver ID      `json:"receiver_organization_id"`
	Service  ID      `json:"service_id,omitzero"`
	Location ID      `json:"location_id,omitzero"`
	Status   Status  `json:"status"`
	Priority Urgency `json:"priority"`
	// BusinessStatus is the finer state within Status (FHIR Task.businessStatus).
	BusinessStatus BusinessStatus `json:"business_status,omitempty"`
	// Reason is the reason code of the last status change ("no-capacity",
	// "unable-to-contact", ...): FHIR Task.statusReason.
	Reason string `json:"reason,omitempty"`
	// CancelReason is the reason a pending request to cancel gave, set while
	// BusinessStatus is BusinessCancelRequested and empty otherwise.
	CancelReason string   `json:"cancel_reason,omitempty"`
	Outcome      *Outcome `json:"outcome,omitempty"`
	// AcknowledgeBy and AcceptBy are the deadlines set when the referral is sent.
	AcknowledgeBy time.Time `json:"acknowledge_by,omitzero"`
	AcceptBy      time.Time `json:"accept_by,omitzero"`
	// Escalated is when a missed deadline was escalated, if it was.
	Escalated time.Time `json:"escalated,omitzero"`
	// NextDeadline is the earliest time the deadline sweep must look at the referral;
	// zero when nothing is pending. Lifecycle maintains it; stores index it.
	NextDeadline time.Time `json:"next_deadline,omitzero"`
	// Milestones, kept on the referral so loop-closure metrics need no event scan.
	Sent         time.Time `json:"sent,omitzero"`
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Accepted     time.Time `json:"accepted,omitzero"`
	Closed       time.Time `json:"closed,omitzero"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	// Version counts the writes to the referral: 1 after create, +1 per event.
	Version int64 `json:"version"`
	// IdempotencyKey makes create safe to retry: per network and sender, a key maps
	// to one referral.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Replaces is the referral this one redirects (after a decline, say).
	Replaces ID `json:"replaces,omitzero"`
}

// Validate checks the referral's fields. The lifecycle validates the status change
// itself; this checks the record is well-formed.
func (r Referral) Validate() error {
	for _, f := range []struct {
		name string
		id   ID
	}{{"id", r.ID}, {"network_id", r.Network}, {"person_id", r.Person}, {"sender_organization_id", r.Sender}, {"receiver_organization_id", r.Receiver}} {
		if err := f.id.required(f.name); err != nil {
			return err
		}
	}
	if len(r.Needs) == 0 {
		return invalid("needs", "needs at least one need")
	}
	if len(r.Needs) > 50 {
		return invalid("needs", "has too many entries")
	}
	for i, n := range r.Needs {
		if err := n.Validate(); err != nil {
			return prefixed("needs["+strconv.Itoa(i)+"]", err)
		}
	}
	if err := r.Status.Validate(); err != nil {
		return err
	}
	if err := r.BusinessStatus.Validate(); err != nil {
		return err
	}
	if !r.BusinessStatus.Within(r.Status) {
		return invalid("business_status", "is not a business status of the referral's status")
	}
	switch {
	case r.BusinessStatus == BusinessCancelRequested:
		if err := validCode("cancel_reason", r.CancelReason); err != nil {
			return err
		}
	case r.CancelReason != "":
		return invalid("cancel_reason", "is only set while a cancellation is requested")
	}
	if err := r.Priority.Validate(); err != nil {
		return invalid("priority", "must be routine, urgent or emergent")
	}
	if r.Reason != "" {
		if err := validCode("reason", r.Reason); err != nil {
			return err
		}
	}
	if r.Outcome != nil {
		if err := r.Outcome.Validate(); err != nil {
			return prefixed("outcome", err)
		}
	}
	if r.Version < 0 {
		return invalid("version", "must not be negative")
	}
	if err := optionalText("sender_user", r.SenderUser, 200); err != nil {
		return err
	}
	return optionalText("idempotency_key", r.IdempotencyKey, 200)
}

// Clone returns a deep copy.
func (r Referral) Clone() Referral {
	r.Needs = slices.Clone(r.Needs)
	if r.Outcome != nil {
		o := *r.Outcome
		r.Outcome = &o
	}
	return r
}

// EventType names what an event records.
type EventType string

// Event types. Status-changing events are named after the command; notes,
// escalations and the business-status steps (acknowledged, scheduled,
// no-show, cancel-requested, cancel-refused) leave the status as it was.
const (
	EventCreated         EventType = "created"
	EventSent            EventType = "sent"
	EventAcknowledged    EventType = "acknowledged"
	EventAccepted        EventType = "accepted"
	EventWaitlisted      EventType = "waitlisted"
	EventScheduled       EventType = "scheduled"
	EventNoShow          EventType = "no-show"
	EventCancelRequested EventType = "cancel-requested"
	EventCancelRefused   EventType = "cancel-refused"
	EventDeclined        EventType = "declined"
	EventStarted         EventType = "started"
	EventHeld            EventType = "held"
	EventResumed         EventType = "resumed"
	EventCompleted       EventType = "completed"
	EventFailed          EventType = "failed"
	EventCancelled       EventType = "cancelled"
	EventExpired         EventType = "expired"
	EventEnteredInError  EventType = "entered-in-error"
	EventNote            EventType = "note"
	EventEscalated       EventType = "escalated"
)

// Event is one append-only record of a change to a referral. Messages between the
// two organizations are events too (EventNote), so the history is the conversation.
type Event struct {
	// Position is the event's place in its network's feed, assigned by the store on
	// append, strictly increasing; feed cursors are positions.
	Position int64 `json:"position"`
	Network  ID    `json:"network_id"`
	Referral ID    `json:"referral_id"`
	// Sequence numbers a referral's events 1, 2, 3...; it equals the referral's
	// Version after the write that appended it.
	Sequence int64     `json:"sequence"`
	Type     EventType `json:"type"`
	Actor    Actor     `json:"actor"`
	At       time.Time `json:"at"`
	From     Status    `json:"from,omitempty"`
	To       Status    `json:"to"`
	Reason   string    `json:"reason,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// known reports whether t is one of the event types above.
func (t EventType) known() bool {
	switch t {
	case EventCreated, EventSent, EventAcknowledged, EventAccepted, EventDeclined, EventStarted, EventHeld,
		EventResumed, EventCompleted, EventFailed, EventCancelled, EventExpired, EventEnteredInError,
		EventNote, EventEscalated, EventWaitlisted, EventScheduled, EventNoShow, EventCancelRequested,
		EventCancelRefused:
		return true
	}
	return false
}

// Validate checks the event's own fields; stores additionally check that it
// continues the referral it is written with.
func (e Event) Validate() error {
	if err := e.Network.required("network_id"); err != nil {
		return err
	}
	if err := e.Referral.required("referral_id"); err != nil {
		return err
	}
	if e.Sequence < 1 {
		return invalid("sequence", "must be at least 1")
	}
	if !e.Type.known() {
		return invalid("type", "is not a known event type")
	}
	if err := e.Actor.Validate(); err != nil {
		return prefixed("actor", err)
	}
	if e.Actor.Network != e.Network {
		return invalid("actor.network_id", "must be the event's network")
	}
	if e.At.IsZero() {
		return invalid("at", "is required")
	}
	if e.From != "" {
		if err := e.From.Validate(); err != nil {
			return invalid("from", "is not a referral Task status")
		}
	}
	if err := e.To.Validate(); err != nil {
		return invalid("to", "is not a referral Task status")
	}
	if e.Reason != "" {
		if err := validCode("reason", e.Reason); err != nil {
			return err
		}
	}
	return ValidateNote(e.Note)
}

// Replay folds a referral's event history and returns the status and version it
// leads to. It fails, wrapping ErrConflict, if the events are out of sequence or a
// From does not continue the previous To: the checks a store's history must pass.
// It is supported API, not a test helper: a host auditing its database (after a
// restore, or a failover) replays each referral's events and compares the result
// with the stored referral, as the storage conformance suite does.
func Replay(events []Event) (Status, int64, error) {
	var status Status
	for i, e := range events {
		if e.Sequence != int64(i+1) {
			return "", 0, &ReplayError{Sequence: e.Sequence, Problem: "sequence is not contiguous from 1"}
		}
		if i > 0 && e.From != status {
			return "", 0, &ReplayError{Sequence: e.Sequence, Problem: "from does not match the previous status"}
		}
		if i > 0 && e.Referral != events[0].Referral {
			return "", 0, &ReplayError{Sequence: e.Sequence, Problem: "belongs to another referral"}
		}
		status = e.To
	}
	return status, int64(len(events)), nil
}

// ReplayError says where an event history breaks.
type ReplayError struct {
	Sequence int64
	Problem  string
}

func (e *ReplayError) Error() string {
	return "refkit: event history breaks at sequence " + strconv.FormatInt(e.Sequence, 10) + ": " + e.Problem
}

// Unwrap makes a broken history an ErrConflict.
func (e *ReplayError) Unwrap() error { return ErrConflict }

// Screening is a stored screening result: what package screening computed from one
// response, kept so needs on a referral can point back to it.
type Screening struct {
	ID         ID        `json:"id"`
	Network    ID        `json:"network_id"`
	Person     ID        `json:"person_id"`
	Instrument string    `json:"instrument"`
	Version    string    `json:"instrument_version,omitempty"`
	At         time.Time `json:"at"`
	// Total is nil when the instrument has no total or it could not be computed.
	Total           *float64 `json:"total"`
	Band            string   `json:"band,omitempty"`
	Valid           bool     `json:"valid"`
	Missing         []string `json:"missing,omitempty"`
	PositiveDomains []Domain `json:"positive_domains,omitempty"`
	Flags           []string `json:"flags,omitempty"`
	Needs           []Need   `json:"needs,omitempty"`
	// Answers maps item ids to the answer codes or values given.
	Answers map[string][]string `json:"answers,omitempty"`
}

// maxScreeningItems bounds the lists in a stored screening: the longest
// standard instruments have well under a hundred items.
const maxScreeningItems = 1000

// Validate checks the screening's fields.
func (s Screening) Validate() error {
	for _, f := range []struct {
		name string
		id   ID
	}{{"id", s.ID}, {"network_id", s.Network}, {"person_id", s.Person}} {
		if err := f.id.required(f.name); err != nil {
			return err
		}
	}
	if err := requiredText("instrument", s.Instrument, 64); err != nil {
		return err
	}
	if s.At.IsZero() {
		return invalid("at", "is required")
	}
	if s.Total != nil && (math.IsNaN(*s.Total) || math.IsInf(*s.Total, 0)) {
		return invalid("total", "must be a finite number")
	}
	// Every string reaches a database: text columns (and PostgreSQL's JSONB)
	// refuse NUL and the like, so such values are invalid input, not storage errors.
	if err := optionalText("instrument_version", s.Version, 64); err != nil {
		return err
	}
	if err := optionalText("band", s.Band, 64); err != nil {
		return err
	}
	for _, list := range []struct {
		field string
		items []string
	}{{"missing", s.Missing}, {"flags", s.Flags}} {
		if len(list.items) > maxScreeningItems {
			return invalid(list.field, "has too many entries")
		}
		for i, v := range list.items {
			if err := requiredText(list.field+"["+strconv.Itoa(i)+"]", v, 128); err != nil {
				return err
			}
		}
	}
	if len(s.Answers) > maxScreeningItems {
		return invalid("answers", "has too many items")
	}
	for item, values := range s.Answers {
		// The item id may be a host's own, so the field name says "an item", not which.
		if err := requiredText("answers", item, 128); err != nil {
			return invalid("answers", "has an item id that is empty, too long or not plain text")
		}
		if len(values) > maxScreeningItems {
			return invalid("answers", "has an item with too many values")
		}
		for _, v := range values {
			if err := optionalText("answers", v, 4096); err != nil {
				return invalid("answers", "has a value that is too long or not plain text")
			}
		}
	}
	for i, d := range s.PositiveDomains {
		if err := d.Validate(); err != nil {
			return invalid("positive_domains["+strconv.Itoa(i)+"]", "is not a registered domain code")
		}
	}
	for i, n := range s.Needs {
		if err := n.Validate(); err != nil {
			return prefixed("needs["+strconv.Itoa(i)+"]", err)
		}
	}
	return nil
}

// Clone returns a deep copy.
func (s Screening) Clone() Screening {
	if s.Total != nil {
		t := *s.Total
		s.Total = &t
	}
	s.Missing = slices.Clone(s.Missing)
	s.PositiveDomains = slices.Clone(s.PositiveDomains)
	s.Flags = slices.Clone(s.Flags)
	s.Needs = slices.Clone(s.Needs)
	if s.Answers != nil {
		m := make(map[string][]string, len(s.Answers))
		for k, v := range s.Answers {
			m[k] = slices.Clone(v)
		}
		s.Answers = m
	}
	return s
}

// ValidateNote checks free text attached to an event: at most 10,000 characters of
// text without control characters.
func ValidateNote(s string) error { return optionalText("note", s, 10000) }
