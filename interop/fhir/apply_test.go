package fhir_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// currentTask exports the referral as the receiver sees it and returns its Task.
func (n *network) currentTask(t *testing.T, id referral.ID) *fhir.Task {
	b, err := n.x.Export(context.Background(), n.foodBank, id)
	require.NoError(t, err)
	return b.Task()
}

func marshal(t *testing.T, v any) []byte {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

func reason(code, text string) *fhir.CodeableConcept {
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemReason, Code: code}}, Text: text}
}

func business(code string) *fhir.CodeableConcept {
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemBusinessStatus, Code: code}}}
}

func outcome(code, text string) []fhir.TaskOutput {
	return []fhir.TaskOutput{{
		Type:                 fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemOutputType, Code: fhir.OutputOutcome}}},
		ValueCodeableConcept: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemOutcome, Code: code}}, Text: text},
	}}
}

// resultingActivity is the IG's PerformedActivityCode output: a procedure code.
func resultingActivity(system, code string) []fhir.TaskOutput {
	return []fhir.TaskOutput{{
		Type:                 fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSDOHCC, Code: "resulting-activity"}}},
		ValueCodeableConcept: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: system, Code: code}}},
	}}
}

// steps the tests put a referral through before the update.
var (
	acknowledge = func(n *network, id referral.ID) {
		_, err := n.engine.Acknowledge(context.Background(), n.foodBank, id)
		must(err)
	}
	accept = func(n *network, id referral.ID) {
		_, err := n.engine.Accept(context.Background(), n.foodBank, id, "")
		must(err)
	}
	start = func(n *network, id referral.ID) {
		accept(n, id)
		_, err := n.engine.Start(context.Background(), n.foodBank, id)
		must(err)
	}
	hold = func(n *network, id referral.ID) {
		start(n, id)
		_, err := n.engine.Hold(context.Background(), n.foodBank, id, "waitlisted", "")
		must(err)
	}
	schedule = func(n *network, id referral.ID) {
		accept(n, id)
		_, err := n.engine.Schedule(context.Background(), n.foodBank, id, "")
		must(err)
	}
	requestCancel = func(n *network, id referral.ID) {
		start(n, id)
		_, err := n.engine.RequestCancel(context.Background(), n.clinic, id, "need-met-elsewhere", "")
		must(err)
	}
	complete = func(n *network, id referral.ID) {
		accept(n, id)
		_, err := n.engine.Complete(context.Background(), n.foodBank, id, referral.Outcome{Code: "got-help"})
		must(err)
	}
)

func TestApply(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		setup    func(n *network, id referral.ID)
		actor    func(n *network) referral.Actor
		edit     func(task *fhir.Task)
		status   referral.Status
		business referral.BusinessStatus
		reason   string
		outcome  *referral.Outcome
		note     string
		event    referral.EventType
		err      error
	}{
		{name: "accept", edit: func(task *fhir.Task) { task.Status = "accepted" }, status: referral.StatusAccepted, event: referral.EventAccepted},
		{name: "acknowledge", edit: func(task *fhir.Task) { task.BusinessStatus = business("acknowledged") },
			status: referral.StatusRequested, business: referral.BusinessAcknowledged, event: referral.EventAcknowledged},
		{name: "acknowledge with a bare code", edit: func(task *fhir.Task) {
			task.BusinessStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{Code: "acknowledged"}}}
		}, status: referral.StatusRequested, business: referral.BusinessAcknowledged, event: referral.EventAcknowledged},
		{name: "accept from acknowledged, the exported business status restated", setup: acknowledge, edit: func(task *fhir.Task) { task.Status = "accepted" },
			status: referral.StatusAccepted, event: referral.EventAccepted},
		{name: "waitlist", edit: func(task *fhir.Task) { task.Status, task.BusinessStatus = "accepted", business("waitlisted") },
			status: referral.StatusAccepted, business: referral.BusinessWaitlisted, event: referral.EventWaitlisted},
		{name: "schedule", setup: accept, edit: func(task *fhir.Task) { task.BusinessStatus = business("scheduled") },
			status: referral.StatusAccepted, business: referral.BusinessScheduled, event: referral.EventScheduled},
		{name: "no-show", setup: schedule, edit: func(task *fhir.Task) { task.BusinessStatus = business("no-show") },
			status: referral.StatusAccepted, business: referral.BusinessNoShow, event: referral.EventNoShow},
		{name: "a partner's own business status is left alone", setup: accept, edit: func(task *fhir.Task) {
			task.BusinessStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "https://cbo.example.org/status", Code: "intake-booked"}}}
		}, status: referral.StatusAccepted},
		{name: "decline with reason", edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "rejected", reason("no-capacity", "Pantry is full until April.")
		}, status: referral.StatusRejected, reason: "no-capacity", note: "Pantry is full until April.", event: referral.EventDeclined},
		{name: "decline with the IG's no-capacity code", edit: func(task *fhir.Task) {
			task.Status = "rejected"
			task.StatusReason = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSDOHCC, Code: "no-capacity"}}, Text: "At capacity"}
		}, status: referral.StatusRejected, reason: "no-capacity", note: "At capacity", event: referral.EventDeclined},
		{name: "decline with the reason in a legacy businessStatus", edit: func(task *fhir.Task) {
			task.Status, task.BusinessStatus = "rejected", reason("not-eligible", "")
		}, status: referral.StatusRejected, reason: "not-eligible", event: referral.EventDeclined},
		{name: "start", setup: accept, edit: func(task *fhir.Task) { task.Status = "in-progress" }, status: referral.StatusInProgress, event: referral.EventStarted},
		{name: "hold", setup: start, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "on-hold", reason("awaiting-documents", "awaiting-documents")
		}, status: referral.StatusOnHold, reason: "awaiting-documents", event: referral.EventHeld},
		{name: "resume", setup: hold, edit: func(task *fhir.Task) { task.Status, task.StatusReason = "in-progress", nil }, status: referral.StatusInProgress, event: referral.EventResumed},
		{name: "complete with refkit's outcome", setup: start, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("got-help", "Enrolled in the weekly pantry.")
		}, status: referral.StatusCompleted, outcome: &referral.Outcome{Code: "got-help", Note: "Enrolled in the weekly pantry."}, note: "Enrolled in the weekly pantry.", event: referral.EventCompleted},
		{name: "complete with the outcome as refkit wrote it before", setup: start, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("partially-helped", "")
			task.Output[0].Type.Coding[0] = fhir.Coding{System: fhir.SystemSDOHCC, Code: "resulting-activity"}
		}, status: referral.StatusCompleted, outcome: &referral.Outcome{Code: "partially-helped", Note: ""}, event: referral.EventCompleted},
		{name: "complete with an IG procedure code", setup: start, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", resultingActivity(fhir.SystemSNOMED, "710925007")
		}, status: referral.StatusCompleted, outcome: &referral.Outcome{Code: "got-help"}, event: referral.EventCompleted},
		{name: "fail", setup: accept, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "failed", reason("unable-to-contact", "unable-to-contact")
		}, status: referral.StatusFailed, reason: "unable-to-contact", event: referral.EventFailed},
		{name: "cancel by the sender before it is taken on", actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "cancelled", reason("need-met-elsewhere", "")
		}, status: referral.StatusCancelled, reason: "need-met-elsewhere", event: referral.EventCancelled},
		{name: "request to cancel", setup: start, actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) {
			task.BusinessStatus, task.StatusReason = business("cancel-requested"), reason("need-met-elsewhere", "Housed by the county.")
		}, status: referral.StatusInProgress, business: referral.BusinessCancelRequested, note: "Housed by the county.", event: referral.EventCancelRequested},
		{name: "confirm the cancellation", setup: requestCancel, edit: func(task *fhir.Task) { task.Status, task.BusinessStatus = "cancelled", nil },
			status: referral.StatusCancelled, reason: "need-met-elsewhere", event: referral.EventCancelled},
		{name: "refuse the cancellation", setup: requestCancel, edit: func(task *fhir.Task) {
			task.BusinessStatus, task.StatusReason = business("cancel-refused"), &fhir.CodeableConcept{Text: "The first delivery is on its way."}
		}, status: referral.StatusInProgress, business: referral.BusinessCancelRefused, note: "The first delivery is on its way.", event: referral.EventCancelRefused},
		{name: "enter in error", edit: func(task *fhir.Task) { task.Status = "entered-in-error" }, status: referral.StatusEnteredInError, event: referral.EventEnteredInError},

		// Illegal transitions: rejected with the lifecycle's reason.
		{name: "complete before accepting", edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("got-help", "")
		}, err: referral.ErrInvalidTransition},
		{name: "start before accepting", edit: func(task *fhir.Task) { task.Status = "in-progress" }, err: referral.ErrInvalidTransition},
		{name: "back to draft", edit: func(task *fhir.Task) { task.Status = "draft" }, err: referral.ErrInvalidTransition},
		{name: "reopen a completed referral", setup: complete, edit: func(task *fhir.Task) { task.Status = "in-progress"; task.Output = nil }, err: referral.ErrInvalidTransition},
		{name: "cancel a started referral at once", setup: start, actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "cancelled", reason("other", "other")
		}, err: referral.ErrInvalidTransition},
		{name: "schedule a requested referral", edit: func(task *fhir.Task) { task.BusinessStatus = business("scheduled") }, err: referral.ErrInvalidTransition},
		{name: "redelivered update", edit: func(task *fhir.Task) { task.Status = "accepted" }, setup: accept, status: referral.StatusAccepted},
		{name: "redelivered business status", edit: func(task *fhir.Task) { task.BusinessStatus = business("scheduled") }, setup: schedule,
			status: referral.StatusAccepted, business: referral.BusinessScheduled},
		{name: "status and business status in one update", setup: accept, edit: func(task *fhir.Task) {
			task.Status, task.BusinessStatus = "in-progress", business("scheduled")
		}, err: referral.ErrInvalid},
		{name: "unknown business status", edit: func(task *fhir.Task) { task.BusinessStatus = business("pending") }, err: referral.ErrInvalid},

		// Guards: reasons and outcomes the code lists do not allow.
		{name: "decline without reason", edit: func(task *fhir.Task) { task.Status = "rejected" }, err: referral.ErrInvalid},
		{name: "decline with an unknown reason", edit: func(task *fhir.Task) { task.Status, task.StatusReason = "rejected", reason("too-busy", "too-busy") }, err: referral.ErrInvalid},
		{name: "complete without outcome", setup: accept, edit: func(task *fhir.Task) { task.Status = "completed" }, err: referral.ErrInvalid},
		{name: "outcome output without a refkit code", setup: accept, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("got-help", "")
			task.Output[0].ValueCodeableConcept.Coding[0].System = "http://example.org/outcomes"
		}, err: referral.ErrInvalid},
		{name: "procedure code no table maps", setup: accept, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", resultingActivity(fhir.SystemSNOMED, "1234567")
		}, err: referral.ErrInvalid},
		{name: "procedure reference without the procedure", setup: accept, edit: func(task *fhir.Task) {
			task.Status = "completed"
			task.Output = []fhir.TaskOutput{{Type: fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSDOHCC, Code: "resulting-activity"}}},
				ValueReference: &fhir.Reference{Reference: "Procedure/p1"}}}
		}, err: referral.ErrInvalid},
		{name: "reasons disagree", edit: func(task *fhir.Task) {
			task.Status, task.StatusReason, task.BusinessStatus = "rejected", reason("no-capacity", "x"), reason("duplicate", "")
		}, err: referral.ErrInvalid},
		{name: "confirm with another reason", setup: requestCancel, edit: func(task *fhir.Task) {
			task.Status, task.BusinessStatus, task.StatusReason = "cancelled", nil, reason("other", "other")
		}, err: referral.ErrInvalid},
		{name: "request to cancel without a reason", setup: start, actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) {
			task.BusinessStatus = business("cancel-requested")
		}, err: referral.ErrInvalid},

		// Access: the actor is the host's, and the lifecycle decides.
		{name: "sender cannot accept", actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) { task.Status = "accepted" }, err: referral.ErrForbidden},
		{name: "receiver cannot cancel", edit: func(task *fhir.Task) { task.Status, task.StatusReason = "cancelled", reason("other", "") }, err: referral.ErrForbidden},
		{name: "receiver cannot request to cancel", setup: start, edit: func(task *fhir.Task) {
			task.BusinessStatus, task.StatusReason = business("cancel-requested"), reason("other", "")
		}, err: referral.ErrForbidden},
		{name: "sender cannot confirm its own request", setup: requestCancel, actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) {
			task.Status, task.BusinessStatus = "cancelled", nil
		}, err: referral.ErrForbidden},
		{name: "outsider sees nothing", actor: func(n *network) referral.Actor {
			return referral.Actor{Network: n.clinic.Network, Organization: n.otherOrg, Role: referral.RoleStaff}
		}, edit: func(task *fhir.Task) { task.Status = "accepted" }, err: referral.ErrNotFound},
		{name: "admin runs no commands", actor: func(n *network) referral.Actor {
			return referral.Actor{Network: n.clinic.Network, Organization: n.otherOrg, Role: referral.RoleAdmin}
		}, edit: func(task *fhir.Task) { task.Status = "accepted" }, err: referral.ErrForbidden},

		// The Task must be about this referral, in this version.
		{name: "current version", setup: accept, edit: func(task *fhir.Task) { task.Status = "in-progress"; task.Meta.VersionID = "2" }, status: referral.StatusInProgress, event: referral.EventStarted},
		{name: "older version", setup: accept, edit: func(task *fhir.Task) { task.Status = "in-progress"; task.Meta.VersionID = "1" }, err: referral.ErrConflict},
		{name: "another owner", edit: func(n *fhir.Task) {
			n.Status = "accepted"
			n.Owner.Reference = "Organization/" + referral.NewID().String()
		}, err: referral.ErrInvalid},
		{name: "owner a practitioner role", edit: func(n *fhir.Task) {
			n.Status = "accepted"
			n.Owner.Reference = "PractitionerRole/intake-desk"
		}, status: referral.StatusAccepted, event: referral.EventAccepted},
		{name: "owner another service", edit: func(n *fhir.Task) {
			n.Status = "accepted"
			n.Owner.Reference = "HealthcareService/" + referral.NewID().String()
		}, err: referral.ErrInvalid},
		{name: "another patient", edit: func(n *fhir.Task) { n.Status = "accepted"; n.For.Reference = "Patient/" + referral.NewID().String() }, err: referral.ErrInvalid},
		{name: "another patient by urn", edit: func(n *fhir.Task) { n.Status = "accepted"; n.For.Reference = "urn:uuid:" + referral.NewID().String() }, err: referral.ErrInvalid},
		{name: "another id", edit: func(n *fhir.Task) { n.Status = "accepted"; n.ID = referral.NewID().String() }, err: referral.ErrInvalid},
		{name: "another referral", edit: func(n *fhir.Task) {
			n.Status, n.ID = "accepted", ""
			n.Focus.Reference = "ServiceRequest/" + referral.NewID().String()
		}, err: referral.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork()
			r := n.refer()
			if tc.setup != nil {
				tc.setup(n, r.ID)
			}
			actor := n.foodBank
			if tc.actor != nil {
				actor = tc.actor(n)
			}
			before, err := n.engine.Get(ctx, n.clinic, r.ID)
			require.NoError(t, err)
			task := n.currentTask(t, r.ID)
			tc.edit(task)
			got, err := n.x.Apply(ctx, actor, marshal(t, task))
			after, gerr := n.engine.Get(ctx, n.clinic, r.ID)
			require.NoError(t, gerr)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Equal(t, before, after, "a rejected update writes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, after, got)
			require.Equal(t, tc.status, got.Status)
			require.Equal(t, tc.business, got.BusinessStatus)
			if tc.event == "" {
				require.Equal(t, before.Version, got.Version, "an update in the current state changes nothing")
				return
			}
			require.Equal(t, before.Version+1, got.Version)
			require.Equal(t, tc.reason, got.Reason)
			require.Equal(t, tc.outcome, got.Outcome)
			events, err := n.engine.History(ctx, n.clinic, r.ID)
			require.NoError(t, err)
			last := events[len(events)-1]
			require.Equal(t, tc.event, last.Type)
			require.Equal(t, actor, last.Actor)
			require.Equal(t, tc.note, last.Note)
		})
	}
}

// TestApplyIGOutcomes: a completed Task the IG's way, a Procedure or an
// enrollment Observation in the Bundle beside it, maps back to the outcome
// its Codes row names; a code no row maps is an error naming the code and
// the table to extend.
func TestApplyIGOutcomes(t *testing.T) {
	ctx := context.Background()
	procedure := func(code string) string {
		return `{"fullUrl":"urn:uuid:3f1c7f1e-0d5a-4b8e-9a43-1c2b3d4e5f60","resource":{"resourceType":"Procedure","id":"p1","status":"completed",
		  "code":{"coding":[{"system":"http://snomed.info/sct","code":"` + code + `"}]},"note":[{"text":"Two bags of groceries."}]}}`
	}
	enrollment := func(code string) string {
		return `{"fullUrl":"https://cbo.example.org/fhir/Observation/e1","resource":{"resourceType":"Observation","id":"e1","status":"final",
		  "category":[{"coding":[{"system":"http://hl7.org/fhir/us/core/CodeSystem/us-core-category","code":"sdoh"}]},
		    {"coding":[{"system":"` + fhir.SystemSDOHCC + `","code":"program-enrollment"}]}],
		  "code":{"text":"SNAP"},"valueCodeableConcept":{"coding":[{"system":"` + fhir.SystemSDOHCC + `","code":"` + code + `"}]}}}`
	}
	output := func(typ, ref string) string {
		return `"output":[{"type":{"coding":[{"system":"` + fhir.SystemSDOHCC + `","code":"` + typ + `"}]},"valueReference":{"reference":"` + ref + `"}}]`
	}
	bundle := func(id referral.ID, output, other string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"collection","entry":[
		  {"resource":{"resourceType":"Task","status":"completed","intent":"order","focus":{"reference":"ServiceRequest/` + id.String() + `"},` + output + `}},` + other + `]}`)
	}
	tests := []struct {
		name    string
		body    func(id referral.ID) []byte
		outcome *referral.Outcome
		err     string
	}{
		{"procedure by urn", func(id referral.ID) []byte {
			return bundle(id, output("resulting-activity", "urn:uuid:3f1c7f1e-0d5a-4b8e-9a43-1c2b3d4e5f60"), procedure("710925007"))
		}, &referral.Outcome{Code: "got-help", Note: "Two bags of groceries."}, ""},
		{"procedure by type and id", func(id referral.ID) []byte {
			return bundle(id, output("resulting-activity", "Procedure/p1"), procedure("410606002"))
		}, &referral.Outcome{Code: "got-help", Note: "Two bags of groceries."}, ""},
		{"enrolled", func(id referral.ID) []byte {
			return bundle(id, output("additional-content", "https://cbo.example.org/fhir/Observation/e1"), enrollment("enrolled"))
		}, &referral.Outcome{Code: "enrolled"}, ""},
		{"on the waiting list", func(id referral.ID) []byte {
			return bundle(id, output("additional-content", "Observation/e1"), enrollment("not-enrolled-on-waitlist"))
		}, &referral.Outcome{Code: "on-waitlist"}, ""},
		{"procedure no row maps", func(id referral.ID) []byte {
			return bundle(id, output("resulting-activity", "Procedure/p1"), procedure("1234567"))
		}, nil, `task.output[0].valueReference codes procedure "http://snomed.info/sct|1234567", which no row of fhir.Codes.Procedures maps to an outcome`},
		{"enrollment status no row maps", func(id referral.ID) []byte {
			return bundle(id, output("additional-content", "Observation/e1"), enrollment("graduated"))
		}, nil, `which no row of fhir.Codes.Enrollments maps to an outcome`},
		{"reference to something else", func(id referral.ID) []byte {
			return bundle(id, output("resulting-activity", "Observation/e1"), enrollment("enrolled"))
		}, nil, "must reference a Procedure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork()
			r := n.refer()
			accept(n, r.ID)
			got, err := n.x.Apply(ctx, n.foodBank, tc.body(r.ID))
			if tc.err != "" {
				require.ErrorIs(t, err, referral.ErrInvalid)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, referral.StatusCompleted, got.Status)
			require.Equal(t, tc.outcome, got.Outcome)

			// ApplyBundle reads the same from a parsed bundle.
			b, err := fhir.ParseBundle(tc.body(r.ID))
			require.NoError(t, err)
			again, err := n.x.ApplyBundle(ctx, n.foodBank, b)
			require.NoError(t, err, "a redelivered update is harmless")
			require.Equal(t, got, again)
		})
	}
}

// TestApplyCodesTable: a host extends Codes to map its partners' procedure
// codes; New refuses a row whose outcome the engine does not close with.
func TestApplyCodesTable(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	codes := fhir.DefaultCodes()
	codes.Procedures = append(codes.Procedures, fhir.ProcedureCode{Outcome: "partially-helped", Procedure: fhir.Coding{System: fhir.SystemSNOMED, Code: "1234567"}})
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Now: n.now, Codes: codes})
	require.NoError(t, err)
	r := n.refer()
	accept(n, r.ID)
	task := n.currentTask(t, r.ID)
	task.Status, task.Output = "completed", resultingActivity(fhir.SystemSNOMED, "1234567")
	got, err := x.Apply(ctx, n.foodBank, marshal(t, task))
	require.NoError(t, err)
	require.Equal(t, "partially-helped", got.Outcome.Code)

	for _, bad := range []struct {
		name  string
		edit  func(c *fhir.Codes)
		field string
	}{
		{"unknown outcome", func(c *fhir.Codes) { c.Procedures[0].Outcome = "cured" }, "codes.procedures[0].outcome"},
		{"not a procedure system", func(c *fhir.Codes) { c.Procedures[0].Procedure.System = "http://example.org" }, "codes.procedures[0].procedure.system"},
		{"not a SNOMED CT id", func(c *fhir.Codes) { c.Procedures[0].Procedure.Code = "x1" }, "codes.procedures[0].procedure.code"},
		{"unknown enrollment status", func(c *fhir.Codes) { c.Enrollments[0].Status = "graduated" }, "codes.enrollments[0].status"},
		{"enrollment of an unknown outcome", func(c *fhir.Codes) { c.Enrollments[1].Outcome = "cured" }, "codes.enrollments[1].outcome"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			c := fhir.DefaultCodes()
			bad.edit(&c)
			_, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Codes: c})
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, bad.field, ve.Field)
		})
	}
}

func TestApplyBundle(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	b, err := n.x.Export(ctx, n.foodBank, r.ID)
	require.NoError(t, err)
	b.Task().Status = "accepted"
	got, err := n.x.Apply(ctx, n.foodBank, marshal(t, b))
	require.NoError(t, err)
	require.Equal(t, referral.StatusAccepted, got.Status)

	// The transition error names the statuses and the command.
	task := n.currentTask(t, r.ID)
	task.BusinessStatus = business("acknowledged")
	_, err = n.x.Apply(ctx, n.foodBank, marshal(t, task))
	var te *lifecycle.TransitionError
	require.ErrorAs(t, err, &te)
	require.Equal(t, referral.StatusAccepted, te.Status)
	require.Equal(t, lifecycle.TriggerAcknowledge, te.Trigger)

	task.BusinessStatus = nil
	task.Status = "draft"
	_, err = n.x.Apply(ctx, n.foodBank, marshal(t, task))
	var se *fhir.StatusChangeError
	require.ErrorAs(t, err, &se)
	require.Equal(t, referral.StatusDraft, se.To)

	_, err = n.x.ApplyBundle(ctx, n.foodBank, &fhir.Bundle{ResourceType: "Bundle", Type: "collection"})
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestParseTaskErrors(t *testing.T) {
	focus := `"focus":{"reference":"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}`
	tests := []struct {
		name, body, field string
	}{
		{"not json", `{`, "task"},
		{"trailing data", `{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `} {}`, "task"},
		{"wrong resource", `{"resourceType":"Patient"}`, "resourceType"},
		{"no resource type", `{"status":"accepted"}`, "resourceType"},
		{"wrong field type", `{"resourceType":"Task","status":1}`, "task"},
		{"unknown status", `{"resourceType":"Task","status":"done","intent":"order",` + focus + `}`, "task.status"},
		{"received is not a referral status", `{"resourceType":"Task","status":"received","intent":"order",` + focus + `}`, "task.status"},
		{"ready is not a referral status", `{"resourceType":"Task","status":"ready","intent":"order",` + focus + `}`, "task.status"},
		{"missing intent", `{"resourceType":"Task","status":"accepted",` + focus + `}`, "task.intent"},
		{"plan intent", `{"resourceType":"Task","status":"accepted","intent":"plan",` + focus + `}`, "task.intent"},
		{"other code", `{"resourceType":"Task","status":"accepted","intent":"order","code":{"coding":[{"system":"http://hl7.org/fhir/CodeSystem/task-code","code":"abort"}]},` + focus + `}`, "task.code"},
		{"missing focus", `{"resourceType":"Task","status":"accepted","intent":"order"}`, "task.focus"},
		{"focus on a patient", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"Patient/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`, "task.focus"},
		{"focus not a refkit id", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"ServiceRequest/123"}}`, "task.focus"},
		{"focus urn not a uuid", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"urn:uuid:123"}}`, "task.focus"},
		{"focus with a lookalike type", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"XServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`, "task.focus"},
		{"bad version", `{"resourceType":"Task","meta":{"versionId":"v2"},"status":"accepted","intent":"order",` + focus + `}`, "task.meta.versionId"},
		{"invalid UTF-8", "{\"resourceType\":\"Task\",\"status\":\"accepted\",\"intent\":\"order\",\"note\":\"\xff\"," + focus + "}", "task"},
		{"larger than 4 MiB", `{"resourceType":"Task","x":"` + strings.Repeat("a", 4<<20) + `"}`, "task"},
		{"bundle without task", `{"resourceType":"Bundle","type":"collection","entry":[]}`, "bundle.entry"},
		{"bundle with two tasks", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `}},{"resource":{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `}}]}`, "bundle.entry"},
		{"bundle with a broken task", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Task","status":[]}}]}`, "bundle"},
		{"bundle too deep", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Goal","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}]}`, "task"},
		{"bundle with too many entries", `{"resourceType":"Bundle","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Goal"}},`, 1000) + `{"resource":{"resourceType":"Goal"}}]}`, "bundle.entry"},
		{"NaN", `{"resourceType":"Task","status":"accepted","intent":"order","priority":NaN,` + focus + `}`, "task"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fhir.ParseTask([]byte(tc.body))
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
			require.NotContains(t, err.Error(), "0190a6f0")
		})
	}
}

func TestParseTaskReferences(t *testing.T) {
	for _, ref := range []string{
		"https://ehr.example.org/fhir/ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab/_history/3",
		"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab",
		"urn:uuid:0190a6f0-8a4b-7c3d-9e2f-0123456789ab",
	} {
		task, err := fhir.ParseTask([]byte(`{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"` + ref + `"}}`))
		require.NoError(t, err, ref)
		id, err := task.ReferralID()
		require.NoError(t, err)
		require.Equal(t, "0190a6f0-8a4b-7c3d-9e2f-0123456789ab", id.String())
	}
}

func TestApplyMalformed(t *testing.T) {
	n := newNetwork()
	n.refer()
	_, err := n.x.Apply(context.Background(), n.foodBank, []byte(`{"resourceType":"Task"`))
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = n.x.ApplyTask(context.Background(), n.foodBank, &fhir.Task{ResourceType: "Task", Status: "accepted", Intent: "order"})
	require.ErrorIs(t, err, referral.ErrInvalid)
}

// TestDefaultCodesFollowTheEngine: with the host's own outcome list, the
// default tables keep the rows of the outcomes the engine has.
func TestDefaultCodesFollowTheEngine(t *testing.T) {
	n := newNetwork()
	codes := lifecycle.DefaultCodes()
	codes.Outcome = []string{"got-help", "enrolled"}
	engine, err := lifecycle.New(n.store, n.store, lifecycle.Options{Codes: codes})
	require.NoError(t, err)
	x, err := fhir.New(engine, n.store, n.store, fhir.Options{})
	require.NoError(t, err)
	got := x.Codes()
	for _, p := range got.Procedures {
		require.Equal(t, "got-help", p.Outcome)
	}
	require.Equal(t, []fhir.EnrollmentCode{{Outcome: "enrolled", Status: "enrolled"}}, got.Enrollments)
}
