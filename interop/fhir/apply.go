package fhir

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// ParseTask reads a Task update: a FHIR R4 Task (JSON), or a Bundle holding
// exactly one Task. It checks the Task's own shape (the elements the
// TaskForReferralManagement profile requires of an update: status, intent
// order, code fulfill when given, focus on a ServiceRequest); whether the
// update fits the referral is Apply's business. Errors wrap referral.ErrInvalid.
func ParseTask(data []byte) (*Task, error) {
	if len(data) > maxResource {
		return nil, referral.Invalid("task", "is larger than 4 MiB")
	}
	// One decode serves the common case, a bare Task; a Bundle is decoded again
	// as such.
	t := new(Task)
	if err := decodeOne(data, t); err != nil {
		return nil, referral.Invalid("task", "is not a well-formed FHIR JSON resource")
	}
	switch t.ResourceType {
	case "Task":
	case "Bundle":
		b, err := ParseBundle(data)
		if err != nil {
			return nil, err
		}
		tasks := all[*Task](b)
		if len(tasks) != 1 {
			return nil, referral.Invalid("bundle.entry", "must hold exactly one Task")
		}
		t = tasks[0]
	default:
		return nil, referral.Invalid("resourceType", "must be Task or Bundle")
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// check validates what an update must carry.
func (t *Task) check() error {
	if err := referral.Status(t.Status).Validate(); err != nil {
		return referral.Invalid("task.status", "is not a FHIR Task status")
	}
	if t.Intent != "order" {
		return referral.Invalid("task.intent", "must be order")
	}
	if t.Code != nil && !hasCoding(t.Code, SystemTaskCode, codeFulfill) {
		return referral.Invalid("task.code", "must be fulfill ("+SystemTaskCode+")")
	}
	if t.Focus == nil {
		return referral.Invalid("task.focus", "is required")
	}
	if _, err := referenceID(t.Focus, "ServiceRequest", "task.focus"); err != nil {
		return err
	}
	if t.Meta != nil && t.Meta.VersionID != "" {
		if v, err := strconv.ParseInt(t.Meta.VersionID, 10, 64); err != nil || v < 1 {
			return referral.Invalid("task.meta.versionId", "must be a positive integer")
		}
	}
	return nil
}

// ReferralID returns the referral a Task is about: the id of its focus ServiceRequest.
func (t *Task) ReferralID() (referral.ID, error) {
	if t.Focus == nil {
		return referral.NilID, referral.Invalid("task.focus", "is required")
	}
	return referenceID(t.Focus, "ServiceRequest", "task.focus")
}

// referenceID reads the refkit id from a literal reference "Type/id", relative
// or absolute (".../Type/id", optionally followed by "/_history/n").
func referenceID(r *Reference, kind, field string) (referral.ID, error) {
	s := r.Reference
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	k := strings.LastIndex(s, kind+"/")
	if k < 0 || (k > 0 && s[k-1] != '/') {
		return referral.NilID, referral.Invalid(field, "must reference a "+kind)
	}
	id, err := referral.ParseID(s[k+len(kind)+1:])
	if err != nil {
		return referral.NilID, referral.Invalid(field, "must reference a "+kind+" by its refkit id")
	}
	return id, nil
}

func hasCoding(c *CodeableConcept, system, code string) bool {
	for _, cd := range c.Coding {
		if cd.System == system && cd.Code == code {
			return true
		}
	}
	return false
}

// StatusChangeError says a Task asks for a status no lifecycle command leads
// to from the referral's status (back to draft, say). It wraps
// referral.ErrInvalidTransition; changes a command exists for but whose guards
// refuse come back as lifecycle's errors.
type StatusChangeError struct {
	From, To referral.Status
}

func (e *StatusChangeError) Error() string {
	return fmt.Sprintf("refkit: a Task update cannot move a referral from %s to %s", e.From, e.To)
}

// Unwrap makes errors.Is(err, referral.ErrInvalidTransition) hold.
func (e *StatusChangeError) Unwrap() error { return referral.ErrInvalidTransition }

// Apply parses a Task update (see ParseTask) and applies it to the referral its
// focus names, as actor, through the lifecycle engine. The actor is who the
// host authenticated as the sender of the update; nothing in the Task is
// trusted as identity. It returns the referral as it stands afterwards.
//
// A Task in the referral's current status changes nothing. A Task carrying
// meta.versionId other than the referral's version is stale: ErrConflict. Its
// for, owner and requester, when present, must be the referral's person,
// receiver and sender. The reason comes from a statusReason or businessStatus
// coding in SystemReason (or without a system), the outcome from an output
// of type resulting-activity whose value codes it in SystemOutcome; a
// statusReason.text or outcome text other than the bare code becomes the
// event's note.
func (x *Exchange) Apply(ctx context.Context, actor referral.Actor, data []byte) (referral.Referral, error) {
	t, err := ParseTask(data)
	if err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: %w", err)
	}
	return x.ApplyTask(ctx, actor, t)
}

// ApplyTask is Apply for a Task already parsed with ParseTask.
func (x *Exchange) ApplyTask(ctx context.Context, actor referral.Actor, t *Task) (referral.Referral, error) {
	if err := t.check(); err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: %w", err)
	}
	id, _ := t.ReferralID()
	if t.ID != "" && t.ID != id.String() {
		return referral.Referral{}, fmt.Errorf("fhir apply: %w", referral.Invalid("task.id", "is not the id of the referral its focus names"))
	}
	r, err := x.engine.Get(ctx, actor, id)
	if err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: %w", err)
	}
	if err := matches(t, r); err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: %w", err)
	}
	target := referral.Status(t.Status)
	if target == r.Status {
		return r, nil
	}
	trigger, cmd, err := command(r.Status, t)
	if err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: referral %s: %w", id, err)
	}
	// The trigger was chosen from the status just read, and the Task's version
	// checked against it: a write landing in between must refuse the update.
	cmd.IfVersion = r.Version
	out, err := x.engine.Do(ctx, actor, id, trigger, cmd)
	if err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: %w", err)
	}
	return out, nil
}

// matches checks that the Task is about this referral, in this version.
func matches(t *Task, r referral.Referral) error {
	if t.Meta != nil && t.Meta.VersionID != "" {
		if v, _ := strconv.ParseInt(t.Meta.VersionID, 10, 64); v != r.Version {
			return fmt.Errorf("task.meta.versionId %s is not the referral's version %d: %w", t.Meta.VersionID, r.Version, referral.ErrConflict)
		}
	}
	for _, c := range []struct {
		ref   *Reference
		kind  string
		want  referral.ID
		field string
	}{{t.For, "Patient", r.Person, "task.for"}, {t.Owner, "Organization", r.Receiver, "task.owner"}, {t.Requester, "Organization", r.Sender, "task.requester"}} {
		if c.ref == nil {
			continue
		}
		got, err := referenceID(c.ref, c.kind, c.field)
		if err != nil {
			return err
		}
		if got != c.want {
			return referral.Invalid(c.field, "is not the referral's")
		}
	}
	return nil
}

// command maps a Task's status onto the lifecycle command that leads there
// from the referral's status.
func command(from referral.Status, t *Task) (lifecycle.Trigger, lifecycle.Command, error) {
	to := referral.Status(t.Status)
	var trig lifecycle.Trigger
	reasoned := false
	switch to {
	case referral.StatusRequested:
		trig = lifecycle.TriggerSend
	case referral.StatusAccepted:
		trig = lifecycle.TriggerAccept
	case referral.StatusRejected:
		trig, reasoned = lifecycle.TriggerDecline, true
	case referral.StatusInProgress:
		trig = lifecycle.TriggerStart
		if from == referral.StatusOnHold {
			trig = lifecycle.TriggerResume
		}
	case referral.StatusOnHold:
		trig, reasoned = lifecycle.TriggerHold, true
	case referral.StatusCompleted:
		trig = lifecycle.TriggerComplete
	case referral.StatusFailed:
		trig, reasoned = lifecycle.TriggerFail, true
	case referral.StatusCancelled:
		trig, reasoned = lifecycle.TriggerCancel, true
	case referral.StatusEnteredInError:
		trig = lifecycle.TriggerEnterInError
	default:
		return "", lifecycle.Command{}, &StatusChangeError{From: from, To: to}
	}
	var cmd lifecycle.Command
	reason, note, err := taskReason(t)
	if err != nil {
		return "", lifecycle.Command{}, err
	}
	if reasoned {
		cmd.Reason = reason
	}
	cmd.Note = note
	if trig == lifecycle.TriggerComplete {
		o, err := taskOutcome(t)
		if err != nil {
			return "", lifecycle.Command{}, err
		}
		if o != nil {
			cmd.Outcome = o
			if o.Note != "" {
				cmd.Note = o.Note
			}
		}
	}
	return trig, cmd, nil
}

// reasonCode returns the refkit reason coded in c, if any.
func reasonCode(c *CodeableConcept) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.Code != "" && (cd.System == SystemReason || cd.System == "") {
			return cd.Code
		}
	}
	return ""
}

// taskReason reads the reason code and the free-text note of a Task.
func taskReason(t *Task) (reason, note string, err error) {
	sr, bs := reasonCode(t.StatusReason), reasonCode(t.BusinessStatus)
	switch {
	case sr != "" && bs != "" && sr != bs:
		return "", "", referral.Invalid("task.businessStatus", "codes another reason than task.statusReason")
	case sr != "":
		reason = sr
	default:
		reason = bs
	}
	if t.StatusReason != nil && t.StatusReason.Text != reason {
		note = t.StatusReason.Text
	}
	return reason, note, nil
}

// taskOutcome reads the outcome from the Task's resulting-activity output.
func taskOutcome(t *Task) (*referral.Outcome, error) {
	for i := range t.Output {
		o := &t.Output[i]
		if !hasCoding(&o.Type, SystemSDOHCC, codeResultingActivity) || o.ValueCodeableConcept == nil {
			continue
		}
		v := o.ValueCodeableConcept
		for _, cd := range v.Coding {
			if cd.Code == "" || (cd.System != SystemOutcome && cd.System != "") {
				continue
			}
			out := &referral.Outcome{Code: cd.Code}
			if v.Text != cd.Code {
				out.Note = v.Text
			}
			return out, nil
		}
		return nil, referral.Invalid("task.output["+strconv.Itoa(i)+"].valueCodeableConcept", "codes no refkit outcome")
	}
	return nil, nil
}
