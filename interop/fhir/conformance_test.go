package fhir_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// step is one lifecycle command a scenario runs.
type step func(n *network, id referral.ID) error

// steps by name: who runs them is whoever may.
var steps = map[string]step{
	"acknowledge": func(n *network, id referral.ID) error {
		_, err := n.engine.Acknowledge(ctx0, n.foodBank, id)
		return err
	},
	"accept": func(n *network, id referral.ID) error {
		_, err := n.engine.Accept(ctx0, n.foodBank, id, "")
		return err
	},
	"waitlist": func(n *network, id referral.ID) error {
		_, err := n.engine.Waitlist(ctx0, n.foodBank, id, "")
		return err
	},
	"schedule": func(n *network, id referral.ID) error {
		_, err := n.engine.Schedule(ctx0, n.foodBank, id, "Tuesday")
		return err
	},
	"no-show": func(n *network, id referral.ID) error {
		_, err := n.engine.NoShow(ctx0, n.foodBank, id, "")
		return err
	},
	"start": func(n *network, id referral.ID) error { _, err := n.engine.Start(ctx0, n.foodBank, id); return err },
	"hold": func(n *network, id referral.ID) error {
		_, err := n.engine.Hold(ctx0, n.foodBank, id, "awaiting-documents", "")
		return err
	},
	"request-cancel": func(n *network, id referral.ID) error {
		_, err := n.engine.RequestCancel(ctx0, n.clinic, id, "need-met-elsewhere", "")
		return err
	},
	"confirm-cancel": func(n *network, id referral.ID) error {
		_, err := n.engine.ConfirmCancel(ctx0, n.foodBank, id, "")
		return err
	},
	"refuse-cancel": func(n *network, id referral.ID) error {
		_, err := n.engine.RefuseCancel(ctx0, n.foodBank, id, "Underway.")
		return err
	},
	"decline": func(n *network, id referral.ID) error {
		_, err := n.engine.Decline(ctx0, n.foodBank, id, "no-capacity", "Full until April.")
		return err
	},
	"cancel": func(n *network, id referral.ID) error {
		_, err := n.engine.Cancel(ctx0, n.clinic, id, "no-longer-needed", "")
		return err
	},
	"expire": func(n *network, id referral.ID) error {
		_, err := n.engine.Expire(ctx0, referral.Actor{Network: n.clinic.Network, Role: referral.RoleSystem}, id)
		return err
	},
	"fail": func(n *network, id referral.ID) error {
		_, err := n.engine.Fail(ctx0, n.foodBank, id, "no-show", "")
		return err
	},
	"enter-in-error": func(n *network, id referral.ID) error {
		_, err := n.engine.EnterInError(ctx0, n.clinic, id, "")
		return err
	},
	"complete got-help": func(n *network, id referral.ID) error {
		_, err := n.engine.Complete(ctx0, n.foodBank, id, referral.Outcome{Code: "got-help", Note: "Weekly pantry."})
		return err
	},
	"complete enrolled": func(n *network, id referral.ID) error {
		_, err := n.engine.Complete(ctx0, n.foodBank, id, referral.Outcome{Code: "enrolled"})
		return err
	},
	"complete on-waitlist": func(n *network, id referral.ID) error {
		_, err := n.engine.Complete(ctx0, n.foodBank, id, referral.Outcome{Code: "on-waitlist", Note: "About two months."})
		return err
	},
	"complete need-met-elsewhere": func(n *network, id referral.ID) error {
		_, err := n.engine.Complete(ctx0, n.foodBank, id, referral.Outcome{Code: "need-met-elsewhere"})
		return err
	},
}

var ctx0 = context.Background()

// places are the statuses and business statuses the lifecycle reaches, each
// with the commands that reach it from a sent referral ("draft" is never sent).
var places = []struct {
	name   string
	status referral.Status
	path   []string
}{
	{"draft", referral.StatusDraft, nil},
	{"requested", referral.StatusRequested, nil},
	{"requested/acknowledged", referral.StatusRequested, []string{"acknowledge"}},
	{"accepted", referral.StatusAccepted, []string{"accept"}},
	{"accepted/waitlisted", referral.StatusAccepted, []string{"waitlist"}},
	{"accepted/scheduled", referral.StatusAccepted, []string{"accept", "schedule"}},
	{"accepted/no-show", referral.StatusAccepted, []string{"accept", "schedule", "no-show"}},
	{"accepted/cancel-requested", referral.StatusAccepted, []string{"accept", "request-cancel"}},
	{"accepted/cancel-refused", referral.StatusAccepted, []string{"accept", "request-cancel", "refuse-cancel"}},
	{"in-progress", referral.StatusInProgress, []string{"accept", "start"}},
	{"in-progress/scheduled", referral.StatusInProgress, []string{"accept", "start", "schedule"}},
	{"in-progress/no-show", referral.StatusInProgress, []string{"accept", "start", "schedule", "no-show"}},
	{"in-progress/cancel-requested", referral.StatusInProgress, []string{"accept", "start", "request-cancel"}},
	{"in-progress/cancel-refused", referral.StatusInProgress, []string{"accept", "start", "request-cancel", "refuse-cancel"}},
	{"on-hold", referral.StatusOnHold, []string{"accept", "start", "hold"}},
	{"on-hold/cancel-requested", referral.StatusOnHold, []string{"accept", "start", "hold", "request-cancel"}},
	{"on-hold/cancel-refused", referral.StatusOnHold, []string{"accept", "start", "hold", "request-cancel", "refuse-cancel"}},
	{"completed with a procedure", referral.StatusCompleted, []string{"accept", "start", "complete got-help"}},
	{"completed enrolled", referral.StatusCompleted, []string{"accept", "complete enrolled"}},
	{"completed on a waiting list", referral.StatusCompleted, []string{"waitlist", "complete on-waitlist"}},
	{"completed, need met elsewhere", referral.StatusCompleted, []string{"accept", "complete need-met-elsewhere"}},
	{"rejected", referral.StatusRejected, []string{"acknowledge", "decline"}},
	{"cancelled", referral.StatusCancelled, []string{"cancel"}},
	{"cancelled on request", referral.StatusCancelled, []string{"accept", "start", "request-cancel", "confirm-cancel"}},
	{"cancelled by the deadline sweep", referral.StatusCancelled, []string{"expire"}},
	{"failed", referral.StatusFailed, []string{"acknowledge", "fail"}},
	{"failed after a no-show", referral.StatusFailed, []string{"accept", "schedule", "no-show", "fail"}},
	{"entered in error", referral.StatusEnteredInError, []string{"enter-in-error"}},
}

// modes are the bundle shapes Export writes.
var modes = []struct {
	name string
	opts func(n *network) fhir.Options
}{
	{"base URL", func(n *network) fhir.Options { return fhir.Options{Now: n.now, BaseURL: baseURL} }},
	{"urn:uuid", func(n *network) fhir.Options { return fhir.Options{Now: n.now} }},
	{"transaction", func(n *network) fhir.Options { return fhir.Options{Now: n.now, Transaction: true} }},
}

// reach makes a referral at a place and returns it.
func reach(t testing.TB, n *network, path []string, draft bool) referral.Referral {
	t.Helper()
	r, err := n.engine.Create(ctx0, n.clinic, lifecycle.CreateRequest{Person: n.person, Receiver: n.foodBank.Organization, Needs: n.needs, Send: !draft})
	require.NoError(t, err)
	for _, s := range path {
		n.advance(time.Hour)
		require.NoError(t, steps[s](n, r.ID), s)
	}
	got, err := n.engine.Get(ctx0, n.clinic, r.ID)
	require.NoError(t, err)
	return got
}

// exportJSON exports a referral with options and returns the bundle and its JSON.
func exportJSON(t testing.TB, n *network, opts fhir.Options, id referral.ID) (*fhir.Bundle, []byte) {
	t.Helper()
	x, err := fhir.New(n.engine, n.store, n.store, opts)
	require.NoError(t, err)
	b, err := x.Export(ctx0, n.clinic, id)
	require.NoError(t, err)
	data, err := json.Marshal(b)
	require.NoError(t, err)
	return b, data
}

func requireConformant(t testing.TB, data []byte, skip ...string) {
	t.Helper()
	vs, err := check(data, skip...)
	require.NoError(t, err)
	require.Empty(t, vs, "violations")
}

// TestConformance exports a referral in every status and business status the
// lifecycle reaches, in every bundle shape, and holds each to every rule of
// the checker; the library's own Validate agrees.
func TestConformance(t *testing.T) {
	for _, p := range places {
		for _, m := range modes {
			t.Run(p.name+"/"+m.name, func(t *testing.T) {
				n := newNetwork()
				r := reach(t, n, p.path, p.name == "draft")
				require.Equal(t, p.status, r.Status)
				b, data := exportJSON(t, n, m.opts(n), r.ID)
				requireConformant(t, data)
				require.NoError(t, b.Validate())
				require.Equal(t, string(r.Status), b.Task().Status)
			})
		}
	}
}

// TestConformancePeople: a person the host knows little about (no name,
// gender or identifier), and one it knows well, with organizations carrying
// identifiers US Core constrains, all export conformant.
func TestConformancePeople(t *testing.T) {
	tests := []struct {
		name   string
		person func(p *referral.Person)
		org    func(o *referral.Organization)
		opts   func(o *fhir.Options)
		check  func(t *testing.T, b *fhir.Bundle)
	}{
		{"nothing known", func(p *referral.Person) { p.GivenName, p.FamilyName, p.Gender, p.Identifiers = "", "", "", nil }, nil, nil,
			func(t *testing.T, b *fhir.Bundle) {
				pat := b.Patient()
				require.Equal(t, "unknown", pat.Gender)
				require.Equal(t, "http://hl7.org/fhir/StructureDefinition/data-absent-reason", pat.Name[0].Extension[0].URL)
				require.Equal(t, "unknown", pat.Name[0].Extension[0].ValueCode)
				require.Equal(t, fhir.SystemRFC3986, pat.Identifier[0].System)
			}},
		{"the host's own person identifier system", func(p *referral.Person) { p.Identifiers = nil }, nil,
			func(o *fhir.Options) { o.PersonIdentifierSystem = "https://ehr.example.org/refkit-person" },
			func(t *testing.T, b *fhir.Bundle) {
				pat := b.Patient()
				require.Equal(t, "https://ehr.example.org/refkit-person", pat.Identifier[0].System)
				require.Len(t, pat.Identifier, 1)
			}},
		{"well known", func(p *referral.Person) {
			p.Gender = referral.GenderFemale
			p.Identifiers = []referral.Identifier{{System: "http://hospital.example.org/mrn", Value: "1032702", Type: "MR"}, {System: "urn:x:member", Value: "A-1", Type: "member number"}}
		}, func(o *referral.Organization) {
			o.Identifiers = []referral.Identifier{{System: "http://hl7.org/fhir/sid/us-npi", Value: "1234567893", Type: "NPI"}, {System: "urn:oid:2.16.840.1.113883.4.7", Value: "12D3456789"}}
			o.Phone, o.Email, o.Website = "+1 555 0100", "intake@food.example.org", "https://food.example.org"
		}, nil, func(t *testing.T, b *fhir.Bundle) {
			pat := b.Patient()
			require.Equal(t, "female", pat.Gender)
			require.Len(t, pat.Identifier, 2, "the host's identifiers, without refkit's")
			require.Equal(t, "MR", pat.Identifier[0].Type.Coding[0].Code)
			require.Equal(t, "member number", pat.Identifier[1].Type.Text)
			var receiver *fhir.Organization
			for _, o := range b.Organizations() {
				if o.Name == "North Food Bank" {
					receiver = o
				}
			}
			require.Equal(t, "1234567893", receiver.Identifier[0].Value)
			require.Len(t, receiver.Telecom, 3)
		}},
	}
	for _, tc := range tests {
		for _, m := range modes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				n := newNetwork()
				p, err := n.store.GetPerson(ctx0, n.clinic.Network, n.person)
				require.NoError(t, err)
				tc.person(&p)
				require.NoError(t, n.store.PutPerson(ctx0, p))
				if tc.org != nil {
					o, err := n.store.GetOrganization(ctx0, n.clinic.Network, n.foodBank.Organization)
					require.NoError(t, err)
					tc.org(&o)
					require.NoError(t, n.store.PutOrganization(ctx0, o))
				}
				r := n.refer()
				opts := m.opts(n)
				if tc.opts != nil {
					tc.opts(&opts)
				}
				b, data := exportJSON(t, n, opts, r.ID)
				requireConformant(t, data)
				tc.check(t, b)
			})
		}
	}
}

// TestConformanceApplyDirection: updates shaped as the IG's profiles want
// (the partner's Task, completed with an SDOHCC Procedure beside it, or a
// request to cancel) pass the checker themselves, apply, and leave a referral
// whose export passes too.
func TestConformanceApplyDirection(t *testing.T) {
	procedure := func(b *fhir.Bundle, procURL string, subject fhir.Reference) {
		b.Entry = append(b.Entry, fhir.Entry{FullURL: procURL, Resource: &fhir.Procedure{
			ResourceType: "Procedure", ID: strings.TrimPrefix(procURL, baseURL+"/Procedure/"),
			Meta:     &fhir.Meta{Profile: []string{fhir.ProfileProcedure}},
			Text:     &fhir.Narrative{Status: "generated", Div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>Provision of food</p></div>`},
			Status:   "completed",
			Category: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSNOMED, Code: "410606002"}, {System: fhir.SystemSDOHCC, Code: "food-insecurity"}}},
			Code:     &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSNOMED, Code: "710925007", Display: "Provision of food"}}},
			Subject:  &subject, PerformedDateTime: "2026-03-03T10:00:00Z",
		}})
	}
	tests := []struct {
		name   string
		setup  []string
		actor  func(n *network) referral.Actor
		edit   func(b *fhir.Bundle)
		status referral.Status
	}{
		{"completed with the IG's Procedure", []string{"accept", "start"}, nil, func(b *fhir.Bundle) {
			task := b.Task()
			task.Status = "completed"
			procedure(b, baseURL+"/Procedure/p1", *task.For)
			task.Output = []fhir.TaskOutput{{
				Type:           fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSDOHCC, Code: "resulting-activity"}}},
				ValueReference: &fhir.Reference{Reference: "Procedure/p1"},
			}}
		}, referral.StatusCompleted},
		{"accepted and scheduled in turn", []string{"accept"}, nil, func(b *fhir.Bundle) {
			b.Task().BusinessStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemBusinessStatus, Code: "scheduled"}}}
		}, referral.StatusAccepted},
		{"a request to cancel", []string{"accept"}, func(n *network) referral.Actor { return n.clinic }, func(b *fhir.Bundle) {
			task := b.Task()
			task.BusinessStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemBusinessStatus, Code: "cancel-requested"}}}
			task.StatusReason = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemReason, Code: "client-declined"}}, Text: "client-declined"}
		}, referral.StatusAccepted},
		{"rejected for want of capacity", nil, nil, func(b *fhir.Bundle) {
			task := b.Task()
			task.Status = "rejected"
			task.StatusReason = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemSDOHCC, Code: "no-capacity"}}, Text: "At capacity"}
		}, referral.StatusRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork()
			r := reach(t, n, tc.setup, false)
			b, err := n.x.Export(ctx0, n.foodBank, r.ID)
			require.NoError(t, err)
			tc.edit(b)
			update, err := json.Marshal(b)
			require.NoError(t, err)
			requireConformant(t, update)
			actor := n.foodBank
			if tc.actor != nil {
				actor = tc.actor(n)
			}
			got, err := n.x.Apply(ctx0, actor, update)
			require.NoError(t, err)
			require.Equal(t, tc.status, got.Status)
			_, data := exportJSON(t, n, fhir.Options{Now: n.now}, r.ID)
			requireConformant(t, data)
		})
	}
}

// mutation breaks one rule in an export.
type mutation struct {
	rule   string
	base   string
	mutate func(t *testing.T, b obj)
}

// resource returns the first resource of kind in a bundle whose test passes.
func resource(t *testing.T, b obj, kind string, test func(obj) bool) obj {
	t.Helper()
	for _, e := range objs(b, "entry") {
		res := objOf(e["resource"])
		if str(res, "resourceType") == kind && (test == nil || test(res)) {
			return res
		}
	}
	t.Fatalf("no %s in the bundle", kind)
	return nil
}

func taskOf(t *testing.T, b obj) obj { return resource(t, b, "Task", nil) }

func patientRef(t *testing.T, b obj) any { return objOf(taskOf(t, b)["for"])["reference"] }

// item is a screening Observation of one question (not the panel).
func item(res obj) bool { return isOSR(res) && res["hasMember"] == nil }

func panel(res obj) bool { return isOSR(res) && res["hasMember"] != nil }

// mutations break each rule of the checker at least once.
var mutations = []mutation{
	{"bundle-fullurl", "procedure", func(_ *testing.T, b obj) { delete(objs(b, "entry")[0], "fullUrl") }},
	{"bdl-7", "procedure", func(_ *testing.T, b obj) { objs(b, "entry")[1]["fullUrl"] = objs(b, "entry")[0]["fullUrl"] }},
	{"bdl-8", "procedure", func(_ *testing.T, b obj) {
		e := objs(b, "entry")[2]
		e["fullUrl"] = str(e, "fullUrl") + "/_history/1"
	}},
	{"bdl-3", "procedure", func(_ *testing.T, b obj) {
		objs(b, "entry")[0]["request"] = obj{"method": "PUT", "url": "ServiceRequest?identifier=x"}
	}},
	{"fullurl-matches-id", "procedure", func(_ *testing.T, b obj) { objOf(objs(b, "entry")[4]["resource"])["id"] = "someone-else" }},
	{"references-resolve", "procedure", func(t *testing.T, b obj) { objOf(taskOf(t, b)["for"])["reference"] = "Patient/absent" }},
	{"transaction-request", "transaction", func(_ *testing.T, b obj) { objOf(objs(b, "entry")[0]["request"])["method"] = "GET" }},
	{"resource-id", "enrollment", func(t *testing.T, b obj) { resource(t, b, "Patient", nil)["id"] = "not an id!" }},
	{"dom-6", "procedure", func(t *testing.T, b obj) { delete(taskOf(t, b), "text") }},
	{"txt-1", "procedure", func(t *testing.T, b obj) {
		objOf(resource(t, b, "Patient", nil)["text"])["div"] = `<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>`
	}},
	{"meta-profile", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Organization", nil), "meta") }},
	{"task-status-binding", "procedure", func(t *testing.T, b obj) { taskOf(t, b)["status"] = "received" }},
	{"task-intent", "procedure", func(t *testing.T, b obj) { taskOf(t, b)["intent"] = "plan" }},
	{"task-code", "procedure", func(t *testing.T, b obj) { codings(objOf(taskOf(t, b)["code"]))[0]["code"] = "approve" }},
	{"task-focus", "procedure", func(t *testing.T, b obj) { delete(taskOf(t, b), "focus") }},
	{"task-for", "procedure", func(t *testing.T, b obj) { delete(taskOf(t, b), "for") }},
	{"task-authoredOn", "procedure", func(t *testing.T, b obj) { delete(taskOf(t, b), "authoredOn") }},
	{"task-requester", "procedure", func(t *testing.T, b obj) { objOf(taskOf(t, b)["requester"])["reference"] = patientRef(t, b) }},
	{"task-statusReason-text", "rejected", func(t *testing.T, b obj) { delete(objOf(taskOf(t, b)["statusReason"]), "text") }},
	{"task-statusReason-when", "rejected", func(t *testing.T, b obj) { delete(taskOf(t, b), "statusReason") }},
	{"task-output-activity-reference", "procedure", func(t *testing.T, b obj) {
		objOf(objs(taskOf(t, b), "output")[0]["valueReference"])["reference"] = patientRef(t, b)
	}},
	{"task-output-activity-code", "procedure", func(t *testing.T, b obj) {
		codings(objOf(objs(taskOf(t, b), "output")[1]["valueCodeableConcept"]))[0]["system"] = "http://example.org/activities"
	}},
	{"task-output-additional-content", "enrollment", func(t *testing.T, b obj) {
		for _, o := range objs(taskOf(t, b), "output") {
			if hasCode(objOf(o["type"]), csSDOHCC, "additional-content") {
				objOf(o["valueReference"])["reference"] = objOf(taskOf(t, b)["requester"])["reference"]
			}
		}
	}},
	{"inv-1", "procedure", func(t *testing.T, b obj) { taskOf(t, b)["lastModified"] = "2000-01-01T00:00:00Z" }},
	{"task-priority", "procedure", func(t *testing.T, b obj) { taskOf(t, b)["priority"] = "whenever" }},
	{"task-businessStatus", "procedure", func(t *testing.T, b obj) {
		taskOf(t, b)["businessStatus"] = obj{"coding": []any{obj{"system": csRefkitBS, "code": "scheduled"}}}
	}},
	{"sr-status", "procedure", func(t *testing.T, b obj) { resource(t, b, "ServiceRequest", nil)["status"] = "requested" }},
	{"sr-intent", "procedure", func(t *testing.T, b obj) { resource(t, b, "ServiceRequest", nil)["intent"] = "wish" }},
	{"sr-code", "procedure", func(t *testing.T, b obj) { resource(t, b, "ServiceRequest", nil)["code"] = obj{"text": "a referral"} }},
	{"sr-subject", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "ServiceRequest", nil), "subject") }},
	{"sr-category-sdohcc", "procedure", func(t *testing.T, b obj) {
		codings(objs(resource(t, b, "ServiceRequest", nil), "category")[1])[0]["code"] = "hunger"
	}},
	{"sr-priority", "procedure", func(t *testing.T, b obj) { resource(t, b, "ServiceRequest", nil)["priority"] = "soon" }},
	{"sr-reasonReference", "procedure", func(t *testing.T, b obj) {
		objs(resource(t, b, "ServiceRequest", nil), "reasonReference")[0]["reference"] = patientRef(t, b)
	}},
	{"sr-supportingInfo", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "meta") }},
	{"sr-specimen-bodySite", "procedure", func(t *testing.T, b obj) {
		resource(t, b, "ServiceRequest", nil)["bodySite"] = []any{obj{"text": "arm"}}
	}},
	{"consent-status", "procedure", func(t *testing.T, b obj) { resource(t, b, "Consent", nil)["status"] = "granted" }},
	{"consent-scope", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "scope") }},
	{"consent-category-idscl", "procedure", func(t *testing.T, b obj) { resource(t, b, "Consent", nil)["category"] = []any{} }},
	{"consent-patient", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "patient") }},
	{"consent-dateTime", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "dateTime") }},
	{"consent-organization", "procedure", func(t *testing.T, b obj) { resource(t, b, "Consent", nil)["organization"] = []any{} }},
	{"consent-source", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "sourceAttachment") }},
	{"ppc-1", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "policyRule") }},
	{"ppc-2", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Consent", nil), "patient") }},
	{"patient-identifier", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Patient", nil), "identifier") }},
	{"patient-identifier-system-value", "procedure", func(t *testing.T, b obj) {
		delete(objs(resource(t, b, "Patient", nil), "identifier")[0], "system")
	}},
	{"patient-name", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Patient", nil), "name") }},
	{"us-core-6", "procedure", func(t *testing.T, b obj) { resource(t, b, "Patient", nil)["name"] = []any{obj{"use": "official"}} }},
	{"patient-gender", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Patient", nil), "gender") }},
	{"patient-birthDate", "procedure", func(t *testing.T, b obj) { resource(t, b, "Patient", nil)["birthDate"] = "4 May 1980" }},
	{"organization-active", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Organization", nil), "active") }},
	{"organization-name", "procedure", func(t *testing.T, b obj) { resource(t, b, "Organization", nil)["name"] = " " }},
	{"us-core-16-17", "procedure", func(t *testing.T, b obj) {
		org := resource(t, b, "Organization", nil)
		org["identifier"] = append(list(org, "identifier"), obj{"system": csNPI, "value": "1234567890"})
	}},
	{"us-core-18", "procedure", func(t *testing.T, b obj) {
		org := resource(t, b, "Organization", nil)
		org["identifier"] = append(list(org, "identifier"), obj{"system": csCLIA, "value": "12345"})
	}},
	{"us-core-19", "procedure", func(t *testing.T, b obj) {
		org := resource(t, b, "Organization", nil)
		org["identifier"] = append(list(org, "identifier"), obj{"system": csNAIC, "value": "12"})
	}},
	{"osr-status", "procedure", func(t *testing.T, b obj) { resource(t, b, "Observation", item)["status"] = "preliminary" }},
	{"osr-category-count", "procedure", func(t *testing.T, b obj) {
		o := resource(t, b, "Observation", item)
		o["category"] = list(o, "category")[:1]
	}},
	{"ussa-category-survey", "procedure", func(t *testing.T, b obj) {
		o := resource(t, b, "Observation", item)
		o["category"] = list(o, "category")[1:]
	}},
	{"SDOH-Obs-4", "procedure", func(t *testing.T, b obj) {
		o := resource(t, b, "Observation", item)
		o["category"] = []any{list(o, "category")[0], list(o, "category")[2]}
	}},
	{"osr-category-sdohcc", "procedure", func(t *testing.T, b obj) {
		codings(objs(resource(t, b, "Observation", item), "category")[2])[0]["code"] = "hunger"
	}},
	{"osr-code", "procedure", func(t *testing.T, b obj) {
		codings(objOf(resource(t, b, "Observation", item)["code"]))[0]["system"] = "urn:x:local"
	}},
	{"ussa-subject", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Observation", item), "subject") }},
	{"us-core-1", "procedure", func(t *testing.T, b obj) { resource(t, b, "Observation", item)["effectiveDateTime"] = "2026" }},
	{"us-core-2", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Observation", item), "valueCodeableConcept") }},
	{"us-core-3", "procedure", func(t *testing.T, b obj) {
		o := resource(t, b, "Observation", item)
		delete(o, "valueCodeableConcept")
		o["valueQuantity"] = obj{"value": 1, "system": "http://example.org/units", "code": "x"}
	}},
	{"osr-bodySite-specimen", "procedure", func(t *testing.T, b obj) {
		resource(t, b, "Observation", item)["bodySite"] = obj{"text": "arm"}
	}},
	{"ussa-hasMember", "procedure", func(t *testing.T, b obj) {
		objs(resource(t, b, "Observation", panel), "hasMember")[0]["reference"] = patientRef(t, b)
	}},
	{"ussa-derivedFrom", "procedure", func(t *testing.T, b obj) {
		objs(resource(t, b, "Observation", item), "derivedFrom")[0]["reference"] = patientRef(t, b)
	}},
	{"osr-derivedFrom-qr", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Observation", item), "derivedFrom") }},
	{"enrollment-category-sdoh", "enrollment", func(t *testing.T, b obj) {
		o := resource(t, b, "Observation", isEnrollment)
		o["category"] = list(o, "category")[1:]
	}},
	{"enrollment-category", "enrollment", func(t *testing.T, b obj) {
		o := resource(t, b, "Observation", isEnrollment)
		o["category"] = list(o, "category")[:1]
	}},
	{"enrollment-value", "enrollment", func(t *testing.T, b obj) {
		codings(objOf(resource(t, b, "Observation", isEnrollment)["valueCodeableConcept"]))[0]["code"] = "graduated"
	}},
	{"enrollment-subject", "enrollment", func(t *testing.T, b obj) { delete(resource(t, b, "Observation", isEnrollment), "subject") }},
	{"enrollment-status", "enrollment", func(t *testing.T, b obj) { resource(t, b, "Observation", isEnrollment)["status"] = "done" }},
	{"qr-questionnaire", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "QuestionnaireResponse", nil), "questionnaire") }},
	{"qr-status", "procedure", func(t *testing.T, b obj) { resource(t, b, "QuestionnaireResponse", nil)["status"] = "finished" }},
	{"qr-subject", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "QuestionnaireResponse", nil), "subject") }},
	{"qr-authored", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "QuestionnaireResponse", nil), "authored") }},
	{"qr-items", "procedure", func(t *testing.T, b obj) {
		qr := resource(t, b, "QuestionnaireResponse", nil)
		qr["item"] = append(list(qr, "item"), list(qr, "item")[0])
	}},
	{"procedure-status", "procedure", func(t *testing.T, b obj) { resource(t, b, "Procedure", nil)["status"] = "done" }},
	{"procedure-code", "procedure", func(t *testing.T, b obj) {
		codings(objOf(resource(t, b, "Procedure", nil)["code"]))[0]["code"] = "012"
	}},
	{"procedure-subject", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Procedure", nil), "subject") }},
	{"us-core-7", "procedure", func(t *testing.T, b obj) { delete(resource(t, b, "Procedure", nil), "performedDateTime") }},
	{"procedure-category-sdohcc", "procedure", func(t *testing.T, b obj) {
		codings(objOf(resource(t, b, "Procedure", nil)["category"]))[1]["code"] = "hunger"
	}},
	{"procedure-basedOn", "procedure", func(t *testing.T, b obj) {
		objs(resource(t, b, "Procedure", nil), "basedOn")[0]["reference"] = patientRef(t, b)
	}},
	{"hcs-capacity-status", "capacity", func(t *testing.T, b obj) { delete(resource(t, b, "HealthcareService", nil), "extension") }},
	{"hcs-active", "capacity", func(t *testing.T, b obj) { resource(t, b, "HealthcareService", nil)["active"] = false }},
	{"hcs-category", "capacity", func(t *testing.T, b obj) {
		h := resource(t, b, "HealthcareService", nil)
		cc := objs(h, "category")[0]
		cc["coding"] = list(cc, "coding")[1:]
	}},
	{"hcs-category-sdohcc", "capacity", func(t *testing.T, b obj) {
		codings(objs(resource(t, b, "HealthcareService", nil), "category")[0])[1]["code"] = "hunger"
	}},
	{"hcs-type", "capacity", func(t *testing.T, b obj) { resource(t, b, "HealthcareService", nil)["type"] = []any{} }},
	{"hcs-name", "capacity", func(t *testing.T, b obj) { delete(resource(t, b, "HealthcareService", nil), "name") }},
	{"hcs-providedBy", "capacity", func(t *testing.T, b obj) {
		objOf(resource(t, b, "HealthcareService", nil)["providedBy"])["reference"] = objs(b, "entry")[0]["fullUrl"]
	}},
}

// bases are the exports the mutations start from.
func bases(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	n := newNetwork()
	r := reach(t, n, []string{"accept", "start", "complete got-help"}, false)
	_, out["procedure"] = exportJSON(t, n, fhir.Options{Now: n.now, BaseURL: baseURL}, r.ID)
	r = reach(t, n, []string{"accept", "complete enrolled"}, false)
	_, out["enrollment"] = exportJSON(t, n, fhir.Options{Now: n.now}, r.ID)
	r = reach(t, n, []string{"decline"}, false)
	_, out["rejected"] = exportJSON(t, n, fhir.Options{Now: n.now, BaseURL: baseURL}, r.ID)
	r = reach(t, n, nil, false)
	_, out["transaction"] = exportJSON(t, n, fhir.Options{Now: n.now, Transaction: true}, r.ID)
	svc := n.service(&referral.Capacity{Available: 2})
	b, err := n.x.Capacity(ctx0, n.clinic, svc)
	require.NoError(t, err)
	out["capacity"], err = json.Marshal(b)
	require.NoError(t, err)
	return out
}

// TestCheckerCatchesEveryRule mutation-tests the checker: every rule has a
// broken export that violates it, and the checker reports it; the unbroken
// bases pass.
func TestCheckerCatchesEveryRule(t *testing.T) {
	base := bases(t)
	for name, data := range base {
		vs, err := check(data)
		require.NoError(t, err)
		require.Empty(t, vs, "base %s", name)
	}
	covered := map[string]bool{}
	for _, m := range mutations {
		covered[m.rule] = true
		t.Run(m.rule, func(t *testing.T) {
			var b obj
			require.NoError(t, json.Unmarshal(base[m.base], &b))
			m.mutate(t, b)
			vs := checkBundle(b, false)
			require.True(t, slices.ContainsFunc(vs, func(v violation) bool { return v.rule == m.rule }), "%s not reported; got %v", m.rule, vs)
		})
	}
	for _, r := range rules {
		require.True(t, covered[r.id], "rule %s has no mutation", r.id)
		require.NotEmpty(t, r.source, r.id)
	}
}

// TestCheckerRulesAreCited lists the rules and their sources, so a reviewer
// can read the checker as a table.
func TestCheckerRulesAreCited(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.id] {
			continue
		}
		seen[r.id] = true
		require.Regexp(t, `(input/|US-Core|FHIR R4|refkit|R4 )`, r.source, r.id)
		t.Logf("%-32s %s", r.id, r.source)
	}
	require.GreaterOrEqual(t, len(seen), 80)
}
