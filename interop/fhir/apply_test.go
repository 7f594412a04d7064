package fhir_test

import (
	"context"
	"encoding/json"
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

func outcome(code, text string) []fhir.TaskOutput {
	return []fhir.TaskOutput{{
		Type:                 fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSDOHCC, Code: "resulting-activity"}}},
		ValueCodeableConcept: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemOutcome, Code: code}}, Text: text},
	}}
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	accept := func(n *network, id referral.ID) {
		_, err := n.engine.Accept(ctx, n.foodBank, id, "")
		must(err)
	}
	start := func(n *network, id referral.ID) {
		accept(n, id)
		_, err := n.engine.Start(ctx, n.foodBank, id)
		must(err)
	}
	hold := func(n *network, id referral.ID) {
		start(n, id)
		_, err := n.engine.Hold(ctx, n.foodBank, id, "waitlisted", "")
		must(err)
	}
	complete := func(n *network, id referral.ID) {
		accept(n, id)
		_, err := n.engine.Complete(ctx, n.foodBank, id, referral.Outcome{Code: "got-help"})
		must(err)
	}
	tests := []struct {
		name    string
		setup   func(n *network, id referral.ID)
		actor   func(n *network) referral.Actor
		edit    func(task *fhir.Task)
		status  referral.Status
		reason  string
		outcome *referral.Outcome
		note    string
		event   referral.EventType
		err     error
	}{
		{name: "accept", edit: func(task *fhir.Task) { task.Status = "accepted" }, status: referral.StatusAccepted, event: referral.EventAccepted},
		{name: "acknowledge", edit: func(task *fhir.Task) { task.Status = "received" }, status: referral.StatusReceived, event: referral.EventAcknowledged},
		{name: "decline with reason", edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "rejected", reason("no-capacity", "Pantry is full until April.")
		}, status: referral.StatusRejected, reason: "no-capacity", note: "Pantry is full until April.", event: referral.EventDeclined},
		{name: "decline with businessStatus only", edit: func(task *fhir.Task) {
			task.Status, task.BusinessStatus = "rejected", reason("not-eligible", "")
		}, status: referral.StatusRejected, reason: "not-eligible", event: referral.EventDeclined},
		{name: "start", setup: accept, edit: func(task *fhir.Task) { task.Status = "in-progress" }, status: referral.StatusInProgress, event: referral.EventStarted},
		{name: "hold", setup: start, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "on-hold", reason("awaiting-documents", "awaiting-documents")
		}, status: referral.StatusOnHold, reason: "awaiting-documents", event: referral.EventHeld},
		{name: "resume", setup: hold, edit: func(task *fhir.Task) { task.Status = "in-progress" }, status: referral.StatusInProgress, event: referral.EventResumed},
		{name: "complete with outcome", setup: start, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("got-help", "Enrolled in the weekly pantry.")
		}, status: referral.StatusCompleted, outcome: &referral.Outcome{Code: "got-help", Note: "Enrolled in the weekly pantry."}, note: "Enrolled in the weekly pantry.", event: referral.EventCompleted},
		{name: "fail", setup: accept, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "failed", reason("unable-to-contact", "unable-to-contact")
		}, status: referral.StatusFailed, reason: "unable-to-contact", event: referral.EventFailed},
		{name: "cancel by the sender", actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) {
			task.Status, task.StatusReason = "cancelled", reason("need-met-elsewhere", "")
		}, status: referral.StatusCancelled, reason: "need-met-elsewhere", event: referral.EventCancelled},
		{name: "enter in error", edit: func(task *fhir.Task) { task.Status = "entered-in-error" }, status: referral.StatusEnteredInError, event: referral.EventEnteredInError},

		// Illegal transitions: rejected with the lifecycle's reason.
		{name: "complete before accepting", edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("got-help", "")
		}, err: referral.ErrInvalidTransition},
		{name: "start before accepting", edit: func(task *fhir.Task) { task.Status = "in-progress" }, err: referral.ErrInvalidTransition},
		{name: "back to draft", edit: func(task *fhir.Task) { task.Status = "draft" }, err: referral.ErrInvalidTransition},
		{name: "reopen a completed referral", setup: complete, edit: func(task *fhir.Task) { task.Status = "in-progress"; task.Output = nil }, err: referral.ErrInvalidTransition},
		{name: "redelivered update", edit: func(task *fhir.Task) { task.Status = "accepted" }, setup: accept, status: referral.StatusAccepted},

		// Guards: reasons and outcomes the code lists do not allow.
		{name: "decline without reason", edit: func(task *fhir.Task) { task.Status = "rejected" }, err: referral.ErrInvalid},
		{name: "decline with an unknown reason", edit: func(task *fhir.Task) { task.Status, task.StatusReason = "rejected", reason("too-busy", "too-busy") }, err: referral.ErrInvalid},
		{name: "complete without outcome", setup: accept, edit: func(task *fhir.Task) { task.Status = "completed" }, err: referral.ErrInvalid},
		{name: "outcome in another system", setup: accept, edit: func(task *fhir.Task) {
			task.Status, task.Output = "completed", outcome("got-help", "")
			task.Output[0].ValueCodeableConcept.Coding[0].System = "http://snomed.info/sct"
		}, err: referral.ErrInvalid},
		{name: "reasons disagree", edit: func(task *fhir.Task) {
			task.Status, task.StatusReason, task.BusinessStatus = "rejected", reason("no-capacity", "x"), reason("duplicate", "")
		}, err: referral.ErrInvalid},

		// Access: the actor is the host's, and the lifecycle decides.
		{name: "sender cannot accept", actor: func(n *network) referral.Actor { return n.clinic }, edit: func(task *fhir.Task) { task.Status = "accepted" }, err: referral.ErrForbidden},
		{name: "receiver cannot cancel", edit: func(task *fhir.Task) { task.Status, task.StatusReason = "cancelled", reason("other", "") }, err: referral.ErrForbidden},
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
		{name: "another patient", edit: func(n *fhir.Task) { n.Status = "accepted"; n.For.Reference = "Patient/" + referral.NewID().String() }, err: referral.ErrInvalid},
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
			if tc.event == "" {
				require.Equal(t, before.Version, got.Version, "an update in the current status changes nothing")
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
	task.Status = "received"
	_, err = n.x.Apply(ctx, n.foodBank, marshal(t, task))
	var te *lifecycle.TransitionError
	require.ErrorAs(t, err, &te)
	require.Equal(t, referral.StatusAccepted, te.Status)
	require.Equal(t, lifecycle.TriggerAcknowledge, te.Trigger)

	task.Status = "draft"
	_, err = n.x.Apply(ctx, n.foodBank, marshal(t, task))
	var se *fhir.StatusChangeError
	require.ErrorAs(t, err, &se)
	require.Equal(t, referral.StatusDraft, se.To)
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
		{"missing intent", `{"resourceType":"Task","status":"accepted",` + focus + `}`, "task.intent"},
		{"plan intent", `{"resourceType":"Task","status":"accepted","intent":"plan",` + focus + `}`, "task.intent"},
		{"other code", `{"resourceType":"Task","status":"accepted","intent":"order","code":{"coding":[{"system":"http://hl7.org/fhir/CodeSystem/task-code","code":"abort"}]},` + focus + `}`, "task.code"},
		{"missing focus", `{"resourceType":"Task","status":"accepted","intent":"order"}`, "task.focus"},
		{"focus on a patient", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"Patient/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`, "task.focus"},
		{"focus not a refkit id", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"ServiceRequest/123"}}`, "task.focus"},
		{"focus with a lookalike type", `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"XServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`, "task.focus"},
		{"bad version", `{"resourceType":"Task","meta":{"versionId":"v2"},"status":"accepted","intent":"order",` + focus + `}`, "task.meta.versionId"},
		{"bundle without task", `{"resourceType":"Bundle","type":"collection","entry":[]}`, "bundle.entry"},
		{"bundle with two tasks", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `}},{"resource":{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `}}]}`, "bundle.entry"},
		{"bundle with a broken task", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Task","status":[]}}]}`, "bundle"},
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

func TestParseTaskAbsoluteFocus(t *testing.T) {
	task, err := fhir.ParseTask([]byte(`{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"https://ehr.example.org/fhir/ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab/_history/3"}}`))
	require.NoError(t, err)
	id, err := task.ReferralID()
	require.NoError(t, err)
	require.Equal(t, "0190a6f0-8a4b-7c3d-9e2f-0123456789ab", id.String())
}

func TestApplyMalformed(t *testing.T) {
	n := newNetwork()
	n.refer()
	_, err := n.x.Apply(context.Background(), n.foodBank, []byte(`{"resourceType":"Task"`))
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = n.x.ApplyTask(context.Background(), n.foodBank, &fhir.Task{ResourceType: "Task", Status: "accepted", Intent: "order"})
	require.ErrorIs(t, err, referral.ErrInvalid)
}
