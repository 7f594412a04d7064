package fhir

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// ParseTask reads a Task update: a FHIR R4 Task (JSON), or a Bundle holding
// exactly one Task, within the parsers' limits (see ParseBundle). It checks
// the Task's own shape (the elements the TaskForReferralManagement profile
// requires of an update: a status from the IG's referral Task statuses,
// intent order, code fulfill when given, focus on a ServiceRequest, an id of
// FHIR's id syntax when given); whether the update fits the referral is
// Apply's business. Errors wrap referral.ErrInvalid.
func ParseTask(data []byte) (*Task, error) {
	t, _, err := parseUpdate(data)
	return t, err
}

// parseUpdate reads a Task update and, when it came in a Bundle, the bundle,
// whose other entries may hold the resources the Task's outputs reference.
func parseUpdate(data []byte) (*Task, *Bundle, error) {
	// One decode serves the common case, a bare Task; a Bundle is decoded again
	// as such.
	t := new(Task)
	if err := decode(data, "task", t); err != nil {
		return nil, nil, err
	}
	var b *Bundle
	switch t.ResourceType {
	case "Task":
	case "Bundle":
		var err error
		if b, err = ParseBundle(data); err != nil {
			return nil, nil, err
		}
		tasks := all[*Task](b)
		if len(tasks) != 1 {
			return nil, nil, referral.Invalid("bundle.entry", "must hold exactly one Task")
		}
		t = tasks[0]
	default:
		return nil, nil, referral.Invalid("resourceType", "must be Task or Bundle")
	}
	if err := t.check(); err != nil {
		return nil, nil, err
	}
	return t, b, nil
}

// check validates what an update must carry.
func (t *Task) check() error {
	if t.ID != "" && !isID(t.ID) {
		return referral.Invalid("task.id", "is not a FHIR id (1 to 64 letters, digits, hyphens and dots)")
	}
	if err := referral.Status(t.Status).Validate(); err != nil {
		return referral.Invalid("task.status", "is not in the IG's referral Task status value set (which has no received or ready)")
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
	if len(t.Output) > maxEntries {
		return referral.Invalid("task.output", "has too many entries")
	}
	return nil
}

// isID reports whether s has the syntax of a FHIR resource id.
func isID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ReferralID returns the referral a Task is about: the id of its focus
// ServiceRequest, referenced as ServiceRequest/<id> (relative or absolute) or
// as urn:uuid:<id>, the form Export uses without a base URL.
func (t *Task) ReferralID() (referral.ID, error) {
	if t.Focus == nil {
		return referral.NilID, referral.Invalid("task.focus", "is required")
	}
	return referenceID(t.Focus, "ServiceRequest", "task.focus")
}

// referenceID reads the refkit id from a literal reference: "Type/id",
// relative or absolute (".../Type/id", optionally followed by
// "/_history/n"), or "urn:uuid:<id>".
func referenceID(r *Reference, kind, field string) (referral.ID, error) {
	id, ok, err := referenceTo(r, kind, field)
	if err == nil && !ok {
		err = referral.Invalid(field, "must reference a "+kind)
	}
	return id, err
}

// referenceTo reads the refkit id a reference gives, ok false when it names a
// resource of another type.
func referenceTo(r *Reference, kind, field string) (id referral.ID, ok bool, err error) {
	s := r.Reference
	if u, found := strings.CutPrefix(s, "urn:uuid:"); found {
		id, err := referral.ParseID(u)
		if err != nil {
			return referral.NilID, false, referral.Invalid(field, "must be a urn:uuid holding a refkit id")
		}
		return id, true, nil
	}
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	k := strings.LastIndex(s, kind+"/")
	if k < 0 || (k > 0 && s[k-1] != '/') {
		return referral.NilID, false, nil
	}
	id, err = referral.ParseID(s[k+len(kind)+1:])
	if err != nil {
		return referral.NilID, false, referral.Invalid(field, "must reference a "+kind+" by its refkit id")
	}
	return id, true, nil
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
// trusted as identity. It returns the referral as it stands afterwards. A
// Bundle may carry, beside the Task, the Procedure or enrollment Observation
// its outputs reference.
//
// The Task's status and business status (Task.businessStatus coded in
// SystemBusinessStatus; codes of other systems are a partner's own and left
// alone) name where the sender wants the referral, and Apply runs the one
// command that leads there:
//
//	accepted → Accept (with business status waitlisted: Waitlist)
//	rejected → Decline; in-progress → Start, or Resume from on-hold
//	on-hold → Hold; failed → Fail; requested → Send; entered-in-error → EnterInError
//	completed → Complete, with the outcome read from the outputs (below)
//	cancelled → ConfirmCancel when a cancellation was requested, else Cancel
//	same status, business status acknowledged, waitlisted, scheduled, no-show,
//	cancel-requested or cancel-refused → Acknowledge, Waitlist, Schedule,
//	NoShow, RequestCancel, RefuseCancel
//
// A Task in the referral's current status and business status changes
// nothing, so a redelivered update is harmless; a business status the
// referral already has is not restated. An update that would take two
// commands (a new status and a new business status) is refused: send them
// one at a time.
//
// A Task carrying meta.versionId other than the referral's version is stale:
// ErrConflict. Its for, owner and requester, when they reference a Patient,
// Organization or HealthcareService, must be the referral's person, receiver
// (or its service) and sender. The reason comes from a statusReason coding in
// SystemReason (or without a system; the IG's no-capacity code reads as
// no-capacity); a statusReason.text other than the bare code becomes the
// event's note.
//
// A completed Task's outcome is, in order: refkit's outcome output (type
// OutputOutcome), the outcome Codes.Procedures gives a referenced Procedure's
// code or a resulting-activity code, or the outcome Codes.Enrollments gives a
// referenced enrollment Observation's status. A code no row maps is
// referral.ErrInvalid naming the code and the table to extend; a reference to
// a resource the update does not carry is ErrInvalid too.
func (x *Exchange) Apply(ctx context.Context, actor referral.Actor, data []byte) (referral.Referral, error) {
	ctx, obs := x.tel.begin(ctx, opApply, &actor, referral.NilID)
	t, b, err := parseUpdate(data)
	if err != nil {
		err = fmt.Errorf("fhir apply: %w", err)
		obs.end(ctx, err)
		return referral.Referral{}, err
	}
	return x.applyObserved(ctx, &obs, actor, t, b)
}

// ApplyTask is Apply for a Task already parsed with ParseTask. Its outputs
// can reference no other resource: use ApplyBundle for a completed Task that
// points to a Procedure.
func (x *Exchange) ApplyTask(ctx context.Context, actor referral.Actor, t *Task) (referral.Referral, error) {
	ctx, obs := x.tel.begin(ctx, opApply, &actor, referral.NilID)
	return x.applyObserved(ctx, &obs, actor, t, nil)
}

// ApplyBundle is Apply for a Bundle already parsed with ParseBundle: its one
// Task, with the resources the Task's outputs reference among its entries.
func (x *Exchange) ApplyBundle(ctx context.Context, actor referral.Actor, b *Bundle) (referral.Referral, error) {
	ctx, obs := x.tel.begin(ctx, opApply, &actor, referral.NilID)
	tasks := all[*Task](b)
	if len(tasks) != 1 {
		err := fmt.Errorf("fhir apply: %w", referral.Invalid("bundle.entry", "must hold exactly one Task"))
		obs.end(ctx, err)
		return referral.Referral{}, err
	}
	return x.applyObserved(ctx, &obs, actor, tasks[0], b)
}

// applyObserved is apply, ending obs with its result.
func (x *Exchange) applyObserved(ctx context.Context, obs *call, actor referral.Actor, t *Task, b *Bundle) (referral.Referral, error) {
	r, err := x.apply(ctx, actor, t, b)
	obs.endApply(ctx, &r, err)
	return r, err
}

func (x *Exchange) apply(ctx context.Context, actor referral.Actor, t *Task, b *Bundle) (referral.Referral, error) {
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
	trigger, cmd, err := x.command(r, t, b)
	if err != nil {
		return referral.Referral{}, fmt.Errorf("fhir apply: referral %s: %w", id, err)
	}
	if trigger == "" {
		return r, nil
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
	type want struct {
		kind string
		id   referral.ID
	}
	for _, c := range []struct {
		ref   *Reference
		field string
		want  []want
	}{
		{t.For, "task.for", []want{{"Patient", r.Person}}},
		{t.Owner, "task.owner", []want{{"Organization", r.Receiver}, {"HealthcareService", r.Service}}},
		{t.Requester, "task.requester", []want{{"Organization", r.Sender}}},
	} {
		if c.ref == nil {
			continue
		}
		if strings.ContainsFunc(c.ref.Reference, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return referral.Invalid(c.field, "is not a well-formed reference")
		}
		if strings.HasPrefix(c.ref.Reference, "urn:uuid:") {
			got, _, err := referenceTo(c.ref, "", c.field)
			if err != nil {
				return err
			}
			found := false
			for _, w := range c.want {
				found = found || (!w.id.IsZero() && w.id == got)
			}
			if !found {
				return referral.Invalid(c.field, "is not the referral's")
			}
			continue
		}
		for _, w := range c.want {
			got, ok, err := referenceTo(c.ref, w.kind, c.field)
			if err != nil {
				return err
			}
			// A PractitionerRole requester, say, names no refkit record:
			// identity is the host's actor, not the Task's.
			if ok && got != w.id {
				return referral.Invalid(c.field, "is not the referral's")
			}
			// The Task's subject is always the referral's Patient: one about
			// anything else is not about this referral.
			if !ok && c.field == "task.for" {
				return referral.Invalid(c.field, "must reference the referral's Patient")
			}
		}
	}
	return nil
}

// businessOf reads the refkit business status a Task states, if it states one.
func businessOf(t *Task) (referral.BusinessStatus, bool, error) {
	if t.BusinessStatus == nil {
		return "", false, nil
	}
	for _, cd := range t.BusinessStatus.Coding {
		if cd.System != SystemBusinessStatus && cd.System != "" {
			continue
		}
		b := referral.BusinessStatus(cd.Code)
		if err := b.Validate(); err != nil || b == "" {
			if cd.System == "" {
				// A bare code that is not refkit's is a partner's own.
				continue
			}
			return "", false, referral.Invalid("task.businessStatus", "codes no refkit business status")
		}
		return b, true, nil
	}
	return "", false, nil
}

// command maps a Task onto the lifecycle command that leads there from the
// referral's status and business status; "" when there is nothing to do.
func (x *Exchange) command(r referral.Referral, t *Task, b *Bundle) (lifecycle.Trigger, lifecycle.Command, error) {
	to := referral.Status(t.Status)
	business, stated, err := businessOf(t)
	if err != nil {
		return "", lifecycle.Command{}, err
	}
	if business == r.BusinessStatus {
		// Restating the business status the referral has (as a Task
		// exported earlier does) says nothing new.
		stated = false
	}
	var trig lifecycle.Trigger
	reasoned := false
	if to == r.Status {
		if !stated {
			return "", lifecycle.Command{}, nil
		}
		switch business {
		case referral.BusinessAcknowledged:
			trig = lifecycle.TriggerAcknowledge
		case referral.BusinessWaitlisted:
			trig = lifecycle.TriggerWaitlist
		case referral.BusinessScheduled:
			trig = lifecycle.TriggerSchedule
		case referral.BusinessNoShow:
			trig = lifecycle.TriggerNoShow
		case referral.BusinessCancelRequested:
			trig, reasoned = lifecycle.TriggerRequestCancel, true
		case referral.BusinessCancelRefused:
			trig = lifecycle.TriggerRefuseCancel
		default:
			return "", lifecycle.Command{}, referral.Invalid("task.businessStatus", "must be absent or name the business status to move to")
		}
	} else {
		natural := referral.BusinessStatus("")
		switch to {
		case referral.StatusRequested:
			trig = lifecycle.TriggerSend
		case referral.StatusAccepted:
			trig = lifecycle.TriggerAccept
			if business == referral.BusinessWaitlisted {
				trig, natural = lifecycle.TriggerWaitlist, referral.BusinessWaitlisted
			}
		case referral.StatusRejected:
			trig, reasoned = lifecycle.TriggerDecline, true
		case referral.StatusInProgress:
			trig = lifecycle.TriggerStart
			if r.Status == referral.StatusOnHold {
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
			if r.BusinessStatus == referral.BusinessCancelRequested {
				trig, reasoned = lifecycle.TriggerConfirmCancel, false
			}
		case referral.StatusEnteredInError:
			trig = lifecycle.TriggerEnterInError
		default:
			return "", lifecycle.Command{}, &StatusChangeError{From: r.Status, To: to}
		}
		if stated && business != natural {
			return "", lifecycle.Command{}, referral.Invalid("task.businessStatus",
				"cannot change in the same update as the status: send the status and the business status one at a time")
		}
	}
	var cmd lifecycle.Command
	reason, note, err := taskReason(t)
	if err != nil {
		return "", lifecycle.Command{}, err
	}
	switch {
	case reasoned:
		cmd.Reason = reason
	case trig == lifecycle.TriggerConfirmCancel && reason != "" && reason != r.CancelReason:
		return "", lifecycle.Command{}, referral.Invalid("task.statusReason", "names another reason than the request to cancel")
	}
	cmd.Note = note
	if trig == lifecycle.TriggerComplete {
		o, err := x.taskOutcome(t, b)
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

// reasonCode returns the refkit reason coded in c, if any: a code of
// SystemReason or without a system, or the IG's no-capacity.
func reasonCode(c *CodeableConcept) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.Code != "" && (cd.System == SystemReason || cd.System == "") {
			return cd.Code
		}
	}
	if hasCoding(c, SystemSDOHCC, "no-capacity") {
		return "no-capacity"
	}
	return ""
}

// taskReason reads the reason code and the free-text note of a Task. Exports
// of refkit before business statuses carried the reason in businessStatus
// (SystemReason) too, which is still read when statusReason has none.
func taskReason(t *Task) (reason, note string, err error) {
	sr := reasonCode(t.StatusReason)
	var bs string
	if t.BusinessStatus != nil {
		for _, cd := range t.BusinessStatus.Coding {
			if cd.System == SystemReason && cd.Code != "" {
				bs = cd.Code
			}
		}
	}
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

// taskOutcome reads a completed Task's outcome from its outputs (see Apply).
func (x *Exchange) taskOutcome(t *Task, b *Bundle) (*referral.Outcome, error) {
	// refkit's own outcome output, and the resulting-activity code refkit
	// wrote before the IG's outputs.
	for i := range t.Output {
		o := &t.Output[i]
		if o.ValueCodeableConcept == nil || !(hasCoding(&o.Type, SystemOutputType, OutputOutcome) || hasCoding(&o.Type, SystemSDOHCC, codeResultingActivity)) {
			continue
		}
		v := o.ValueCodeableConcept
		for _, cd := range v.Coding {
			if cd.System != SystemOutcome || cd.Code == "" {
				continue
			}
			out := &referral.Outcome{Code: cd.Code}
			if v.Text != cd.Code {
				out.Note = v.Text
			}
			return out, nil
		}
		if hasCoding(&o.Type, SystemOutputType, OutputOutcome) {
			return nil, referral.Invalid("task.output["+strconv.Itoa(i)+"].valueCodeableConcept", "codes no refkit outcome")
		}
	}
	// The IG's outputs: a Procedure, its code, an enrollment Observation.
	for i := range t.Output {
		o := &t.Output[i]
		at := "task.output[" + strconv.Itoa(i) + "]"
		switch {
		case hasCoding(&o.Type, SystemSDOHCC, codeResultingActivity) && o.ValueReference != nil:
			res, err := resolve(b, o.ValueReference, at+".valueReference")
			if err != nil {
				return nil, err
			}
			p, ok := res.(*Procedure)
			if !ok {
				return nil, referral.Invalid(at+".valueReference", "must reference a Procedure")
			}
			return x.procedureOutcome(p.Code, at+".valueReference", p.Note)
		case hasCoding(&o.Type, SystemSDOHCC, codeResultingActivity) && o.ValueCodeableConcept != nil:
			return x.procedureOutcome(o.ValueCodeableConcept, at+".valueCodeableConcept", nil)
		case hasCoding(&o.Type, SystemSDOHCC, codeAdditionalContent) && o.ValueReference != nil:
			res, err := resolve(b, o.ValueReference, at+".valueReference")
			if err != nil {
				return nil, err
			}
			obs, ok := res.(*Observation)
			if !ok || !slicesHasCategory(obs, SystemSDOHCC, codeProgramEnrollment) {
				// Other additional content (an assessment, a goal) says
				// nothing of the outcome.
				continue
			}
			return x.enrollmentOutcome(obs, at+".valueReference")
		}
	}
	return nil, nil
}

func slicesHasCategory(o *Observation, system, code string) bool {
	for i := range o.Category {
		if hasCoding(&o.Category[i], system, code) {
			return true
		}
	}
	return false
}

// procedureOutcome maps a procedure code through Codes.Procedures.
func (x *Exchange) procedureOutcome(c *CodeableConcept, field string, notes []Annotation) (*referral.Outcome, error) {
	if c == nil || len(c.Coding) == 0 {
		return nil, referral.Invalid(field, "codes no procedure")
	}
	for _, cd := range c.Coding {
		if outcome, ok := x.codes.outcomeOfProcedure(cd); ok {
			out := &referral.Outcome{Code: outcome}
			if len(notes) > 0 {
				out.Note = notes[0].Text
			}
			return out, nil
		}
	}
	cd := c.Coding[0]
	return nil, referral.Invalid(field, "codes procedure "+codeName(cd)+", which no row of fhir.Codes.Procedures maps to an outcome: add one")
}

// enrollmentOutcome maps an enrollment Observation's status through
// Codes.Enrollments.
func (x *Exchange) enrollmentOutcome(o *Observation, field string) (*referral.Outcome, error) {
	if o.ValueCodeableConcept == nil || len(o.ValueCodeableConcept.Coding) == 0 {
		return nil, referral.Invalid(field, "references an enrollment Observation without a status")
	}
	for _, cd := range o.ValueCodeableConcept.Coding {
		if cd.System != SystemSDOHCC {
			continue
		}
		if outcome, ok := x.codes.outcomeOfEnrollment(cd.Code); ok {
			out := &referral.Outcome{Code: outcome}
			if len(o.Note) > 0 {
				out.Note = o.Note[0].Text
			}
			return out, nil
		}
	}
	return nil, referral.Invalid(field, "codes enrollment status "+codeName(o.ValueCodeableConcept.Coding[0])+", which no row of fhir.Codes.Enrollments maps to an outcome: add one")
}

// codeName shows a code in an error: codes are not personal data, but a
// hostile one is cut short and quoted.
func codeName(c Coding) string {
	name := c.System + "|" + c.Code
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200]) + "…"
	}
	return strconv.Quote(name)
}

// resolve finds the resource a reference names among a bundle's entries: by
// fullUrl, else by type and id.
func resolve(b *Bundle, ref *Reference, field string) (any, error) {
	if b == nil || ref.Reference == "" {
		return nil, referral.Invalid(field, "names a resource the update does not carry: send the Task in a Bundle with it")
	}
	for _, e := range b.Entry {
		if e.FullURL != "" && e.FullURL == ref.Reference {
			return e.Resource, nil
		}
	}
	for _, e := range b.Entry {
		kind, id := identity(e.Resource)
		if kind == "" || id == "" {
			continue
		}
		if ref.Reference == kind+"/"+id || strings.HasSuffix(ref.Reference, "/"+kind+"/"+id) {
			return e.Resource, nil
		}
	}
	return nil, referral.Invalid(field, "names a resource the update does not carry: send the Task in a Bundle with it")
}
