package fhir_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
)

func TestExportRequested(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	b, err := n.x.Export(ctx, n.clinic, r.ID)
	require.NoError(t, err)
	require.NoError(t, b.Validate())

	sr := b.ServiceRequest()
	require.NotNil(t, sr)
	require.Equal(t, r.ID.String(), sr.ID)
	require.Equal(t, "active", sr.Status)
	require.Equal(t, "order", sr.Intent)
	require.Equal(t, "routine", sr.Priority)
	require.Equal(t, []fhir.CodeableConcept{
		{Coding: []fhir.Coding{{System: fhir.SystemSNOMED, Code: "410606002", Display: "Social service procedure"}}},
		{Coding: []fhir.Coding{{System: referral.SystemSDOHCC, Code: "food-insecurity", Display: "Food Insecurity"}}},
	}, sr.Category)
	require.Equal(t, "3457005", sr.Code.Coding[0].Code)
	require.Equal(t, "Referral for Food Insecurity", sr.Code.Text)
	require.Equal(t, "Patient/"+n.person.String(), sr.Subject.Reference)
	require.Equal(t, "Organization/"+n.clinic.Organization.String(), sr.Requester.Reference)
	require.Equal(t, []fhir.Reference{{Reference: "Organization/" + n.foodBank.Organization.String()}}, sr.Performer)
	require.Equal(t, []fhir.Reference{{Reference: "Consent/" + n.consentID.String()}}, sr.SupportingInfo)
	require.Equal(t, "2026-03-02T09:00:00Z", sr.AuthoredOn)
	require.Equal(t, []fhir.Identifier{{System: fhir.SystemRFC3986, Value: "urn:uuid:" + r.ID.String()}}, sr.Identifier)

	// The reasons are the screening's Observations about food insecurity: both
	// questions, the risk derived from them, and the panel; each the IG's
	// screening response, derived from the QuestionnaireResponse the bundle
	// carries.
	qrs := b.QuestionnaireResponses()
	require.Len(t, qrs, 1)
	qrRef := "QuestionnaireResponse/" + qrs[0].ID
	obs := b.Observations()
	require.Len(t, obs, 4)
	require.Len(t, sr.ReasonReference, 4)
	for i, o := range obs {
		require.Equal(t, "Observation/"+o.ID, sr.ReasonReference[i].Reference)
		require.True(t, strings.HasPrefix(o.ID, n.screenID.String()+"-"))
		require.Equal(t, "Patient/"+n.person.String(), o.Subject.Reference)
		require.Equal(t, []string{screening.ProfileScreeningResponse}, o.Meta.Profile)
		require.Equal(t, "survey", o.Category[0].Coding[0].Code)
		require.Equal(t, "sdoh", o.Category[1].Coding[0].Code)
		require.Equal(t, qrRef, o.DerivedFrom[0].Reference)
		require.NotNil(t, o.Text)
	}
	require.Equal(t, "88124-3", obs[2].Code.Coding[0].Code, "the derived food insecurity risk")
	require.Equal(t, "LA19952-3", obs[2].ValueCodeableConcept.Coding[0].Code)
	require.Equal(t, "88121-9", obs[3].Code.Coding[0].Code)
	require.Equal(t, "completed", qrs[0].Status)
	require.Equal(t, "http://hl7.org/fhir/us/sdoh-clinicalcare/Questionnaire/SDOHCC-QuestionnaireHungerVitalSign", qrs[0].Questionnaire)

	task := b.Task()
	require.NotNil(t, task)
	require.Equal(t, "requested", task.Status)
	require.Nil(t, task.BusinessStatus)
	require.Equal(t, "order", task.Intent)
	require.Equal(t, "fulfill", task.Code.Coding[0].Code)
	require.Equal(t, "ServiceRequest/"+r.ID.String(), task.Focus.Reference)
	require.Equal(t, "Patient/"+n.person.String(), task.For.Reference)
	require.Equal(t, "Organization/"+n.foodBank.Organization.String(), task.Owner.Reference)
	require.Equal(t, "Organization/"+n.clinic.Organization.String(), task.Requester.Reference)
	require.Equal(t, "1", task.Meta.VersionID)
	require.Nil(t, task.StatusReason)
	require.Nil(t, task.Output)

	consents := b.Consents()
	require.Len(t, consents, 1)
	require.Equal(t, "active", consents[0].Status)
	require.Equal(t, "Organization/"+n.foodBank.Organization.String(), consents[0].Provision.Actor[0].Reference.Reference)
	require.Equal(t, "disclose", consents[0].Provision.Action[0].Coding[0].Code)

	p := b.Patient()
	require.Equal(t, []string{fhir.ProfilePatient}, p.Meta.Profile)
	require.Equal(t, "unknown", p.Gender, "not recorded: US Core's unknown")
	require.Equal(t, []fhir.HumanName{{Family: "Diaz", Given: []string{"Ana"}}}, p.Name)
	require.Equal(t, "1980-05-04", p.BirthDate)

	var kinds []string
	for _, e := range b.Entry {
		data, err := json.Marshal(e.Resource)
		require.NoError(t, err)
		var head struct{ ResourceType string }
		require.NoError(t, json.Unmarshal(data, &head))
		kinds = append(kinds, head.ResourceType)
		require.Equal(t, baseURL+"/"+head.ResourceType+"/", e.FullURL[:len(baseURL)+len(head.ResourceType)+2])
	}
	require.Equal(t, []string{"ServiceRequest", "Task", "Consent", "Patient", "Organization", "Organization",
		"QuestionnaireResponse", "Observation", "Observation", "Observation", "Observation"}, kinds)
}

// TestExportStatuses: the Task carries each status as the IG's value set
// allows, the business status in refkit's system, and a statusReason (with
// its text) whenever the IG asks for one, or a cancellation is requested.
func TestExportStatuses(t *testing.T) {
	tests := []struct {
		path     []string
		status   string
		request  string
		business string
		reason   string
		capacity bool
	}{
		{nil, "requested", "active", "", "", false},
		{[]string{"acknowledge"}, "requested", "active", "acknowledged", "", false},
		{[]string{"waitlist"}, "accepted", "active", "waitlisted", "", false},
		{[]string{"accept", "schedule"}, "accepted", "active", "scheduled", "", false},
		{[]string{"accept", "schedule", "no-show"}, "accepted", "active", "no-show", "", false},
		{[]string{"accept", "start", "hold", "request-cancel"}, "on-hold", "on-hold", "cancel-requested", "need-met-elsewhere", false},
		{[]string{"accept", "request-cancel", "refuse-cancel"}, "accepted", "active", "cancel-refused", "", false},
		{[]string{"accept", "start", "hold"}, "on-hold", "on-hold", "", "awaiting-documents", false},
		{[]string{"decline"}, "rejected", "revoked", "", "no-capacity", true},
		{[]string{"accept", "request-cancel", "confirm-cancel"}, "cancelled", "revoked", "", "need-met-elsewhere", false},
		{[]string{"expire"}, "cancelled", "revoked", "", "expired", false},
		{[]string{"accept", "fail"}, "failed", "revoked", "", "no-show", false},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.path, ","), func(t *testing.T) {
			n := newNetwork()
			r := reach(t, n, tc.path, false)
			b, err := n.x.Export(context.Background(), n.clinic, r.ID)
			require.NoError(t, err)
			require.NoError(t, b.Validate())
			task := b.Task()
			require.Equal(t, tc.status, task.Status)
			require.Equal(t, tc.request, b.ServiceRequest().Status)
			if tc.business != "" {
				require.Equal(t, []fhir.Coding{{System: fhir.SystemBusinessStatus, Code: tc.business, Display: task.BusinessStatus.Text}}, task.BusinessStatus.Coding)
			} else {
				require.Nil(t, task.BusinessStatus)
			}
			if tc.reason != "" {
				require.Equal(t, fhir.Coding{System: fhir.SystemReason, Code: tc.reason}, task.StatusReason.Coding[0])
				require.Equal(t, tc.reason, task.StatusReason.Text)
			} else {
				require.Nil(t, task.StatusReason)
			}
			if tc.capacity {
				require.Equal(t, fhir.Coding{System: fhir.SystemSDOHCC, Code: "no-capacity", Display: "No Capacity"}, task.StatusReason.Coding[1],
					"the IG's post-referral capacity notification")
			}
		})
	}
}

// TestExportOutcomes: a closed loop's outcome travels as refkit's outcome
// output and, where Codes maps it, the IG's Procedure or enrollment
// Observation.
func TestExportOutcomes(t *testing.T) {
	tests := []struct {
		complete   string
		procedure  string
		enrollment string
		note       string
	}{
		{"complete got-help", "410606002", "", "Weekly pantry."},
		{"complete enrolled", "", "enrolled", ""},
		{"complete on-waitlist", "", "not-enrolled-on-waitlist", "About two months."},
		{"complete need-met-elsewhere", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.complete, func(t *testing.T) {
			n := newNetwork()
			r := reach(t, n, []string{"accept", tc.complete}, false)
			b, err := n.x.Export(context.Background(), n.clinic, r.ID)
			require.NoError(t, err)
			require.NoError(t, b.Validate())
			task := b.Task()
			last := task.Output[len(task.Output)-1]
			require.Equal(t, fhir.OutputOutcome, last.Type.Coding[0].Code)
			require.Equal(t, fhir.Coding{System: fhir.SystemOutcome, Code: r.Outcome.Code}, last.ValueCodeableConcept.Coding[0])
			procs := b.Procedures()
			if tc.procedure == "" {
				require.Empty(t, procs)
			} else {
				require.Len(t, procs, 1)
				p := procs[0]
				require.Equal(t, tc.procedure, p.Code.Coding[0].Code)
				require.Equal(t, "Procedure/"+p.ID, task.Output[0].ValueReference.Reference)
				require.Equal(t, tc.procedure, task.Output[1].ValueCodeableConcept.Coding[0].Code)
				require.Equal(t, "ServiceRequest/"+r.ID.String(), p.BasedOn[0].Reference)
				require.Equal(t, instant(r.Closed), p.PerformedDateTime)
				require.Equal(t, tc.note, p.Note[0].Text)
			}
			var enrollment *fhir.Observation
			for _, o := range b.Observations() {
				if o.Meta != nil && o.Meta.Profile[0] == fhir.ProfileEnrollment {
					enrollment = o
				}
			}
			if tc.enrollment == "" {
				require.Nil(t, enrollment)
				return
			}
			require.NotNil(t, enrollment)
			require.Equal(t, tc.enrollment, enrollment.ValueCodeableConcept.Coding[0].Code)
			require.Equal(t, "additional-content", task.Output[0].Type.Coding[0].Code)
			require.Equal(t, "Observation/"+enrollment.ID, task.Output[0].ValueReference.Reference)
			if tc.note != "" {
				require.Equal(t, tc.note, enrollment.Note[0].Text)
			}
		})
	}
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestExportAccess(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	_, err := n.x.Export(ctx, n.foodBank, r.ID)
	require.NoError(t, err)
	outsider := referral.Actor{Network: n.clinic.Network, Organization: n.otherOrg, Role: referral.RoleStaff}
	_, err = n.x.Export(ctx, outsider, r.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = n.x.Export(ctx, n.clinic, n.ids.MustNew())
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = n.x.Export(ctx, referral.Actor{}, r.ID)
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestExportRevokedConsent(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	c, err := n.store.GetConsent(ctx, n.clinic.Network, n.consentID)
	require.NoError(t, err)
	c.Revoked = n.now().Add(time.Hour)
	require.NoError(t, n.store.PutConsent(ctx, c))
	n.advance(2 * time.Hour)
	b, err := n.x.Export(ctx, n.clinic, r.ID)
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	fc := b.Consents()[0]
	require.Equal(t, "inactive", fc.Status)
	require.Equal(t, "2026-03-02T10:00:00Z", fc.Provision.Period.End)
}

func TestExportConsentDocument(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		document string
		wantURL  func(n *network) string
	}{
		{"the host's signed form", "https://ehr.example.org/consents/42.pdf",
			func(*network) string { return "https://ehr.example.org/consents/42.pdf" }},
		{"the consent record when there is no document", "",
			func(n *network) string { return "urn:uuid:" + n.consentID.String() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNetwork()
			c, err := n.store.GetConsent(ctx, n.clinic.Network, n.consentID)
			require.NoError(t, err)
			c.Document = tt.document
			require.NoError(t, n.store.PutConsent(ctx, c))
			r := n.refer()
			b, err := n.x.Export(ctx, n.clinic, r.ID)
			require.NoError(t, err)
			require.NoError(t, b.Validate())
			require.Equal(t, tt.wantURL(n), b.Consents()[0].SourceAttachment.URL)
		})
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	_, err := n.engine.Accept(ctx, n.foodBank, r.ID, "")
	require.NoError(t, err)
	_, err = n.engine.Complete(ctx, n.foodBank, r.ID, referral.Outcome{Code: "got-help"})
	require.NoError(t, err)
	b, err := n.x.Export(ctx, n.clinic, r.ID)
	require.NoError(t, err)
	data, err := json.Marshal(b)
	require.NoError(t, err)
	parsed, err := fhir.ParseBundle(data)
	require.NoError(t, err)
	require.Equal(t, b, parsed)
	require.NoError(t, parsed.Validate())
	again, err := json.Marshal(parsed)
	require.NoError(t, err)
	require.JSONEq(t, string(data), string(again))

	// The exported Task, fed back, is the referral's current state: nothing changes.
	task, err := json.Marshal(parsed.Task())
	require.NoError(t, err)
	got, err := n.x.Apply(ctx, n.foodBank, task)
	require.NoError(t, err)
	require.Equal(t, referral.StatusCompleted, got.Status)
	require.Equal(t, int64(3), got.Version)
}

func TestParseBundleKeepsOtherResources(t *testing.T) {
	b, err := fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Goal","id":"g1"}}]}`))
	require.NoError(t, err)
	require.Len(t, b.Entry, 1)
	require.JSONEq(t, `{"resourceType":"Goal","id":"g1"}`, string(b.Entry[0].Resource.(json.RawMessage)))
	require.ErrorIs(t, b.Validate(), referral.ErrInvalid)
}

func TestParseBundleErrors(t *testing.T) {
	for _, body := range []string{`{`, `[]`, `{"resourceType":"Task"}`, `{"resourceType":"Bundle","entry":[{"resource":{}}]}`, `{"resourceType":"Bundle"} {}`, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Task","status":7}}]}`} {
		_, err := fhir.ParseBundle([]byte(body))
		require.ErrorIs(t, err, referral.ErrInvalid, body)
	}
}

// fields lists the fields of the validation errors joined in err.
func fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var ve *referral.ValidationError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if errors.As(err, &ve) {
			out = append(out, ve.Field)
		}
	}
	walk(err)
	return out
}

func TestValidateRequiredElements(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		break_ func(b *fhir.Bundle)
		field  string
	}{
		{"service request without code", func(b *fhir.Bundle) { b.ServiceRequest().Code = nil }, "entry[0].serviceRequest.code"},
		{"service request without subject", func(b *fhir.Bundle) { b.ServiceRequest().Subject = nil }, "entry[0].serviceRequest.subject"},
		{"service request bad status", func(b *fhir.Bundle) { b.ServiceRequest().Status = "requested" }, "entry[0].serviceRequest.status"},
		{"category outside the SDOH value set", func(b *fhir.Bundle) { b.ServiceRequest().Category[1].Coding[0].Code = "hunger" }, "entry[0].serviceRequest.category[1]"},
		{"dangling reason", func(b *fhir.Bundle) { b.ServiceRequest().ReasonReference[0].Reference = "Observation/x" }, "entry[0].serviceRequest.reasonReference[0]"},
		{"reason of the wrong type", func(b *fhir.Bundle) { b.ServiceRequest().ReasonReference[0].Reference = "Patient/x" }, "entry[0].serviceRequest.reasonReference[0]"},
		{"profile not claimed", func(b *fhir.Bundle) { b.ServiceRequest().Meta.Profile = nil }, "entry[0].serviceRequest.meta.profile"},
		{"task without focus", func(b *fhir.Bundle) { b.Task().Focus = nil }, "entry[1].task.focus"},
		{"task without for", func(b *fhir.Bundle) { b.Task().For = nil }, "entry[1].task.for"},
		{"task without requester", func(b *fhir.Bundle) { b.Task().Requester = nil }, "entry[1].task.requester"},
		{"task without authoredOn", func(b *fhir.Bundle) { b.Task().AuthoredOn = "" }, "entry[1].task.authoredOn"},
		{"task intent plan", func(b *fhir.Bundle) { b.Task().Intent = "plan" }, "entry[1].task.intent"},
		{"task code other than fulfill", func(b *fhir.Bundle) { b.Task().Code.Coding[0].Code = "approve" }, "entry[1].task.code"},
		{"status reason without text", func(b *fhir.Bundle) {
			b.Task().StatusReason = &fhir.CodeableConcept{Coding: []fhir.Coding{{Code: "other"}}}
		}, "entry[1].task.statusReason.text"},
		{"modified before authored", func(b *fhir.Bundle) { b.Task().LastModified = "2020-01-01T00:00:00Z" }, "entry[1].task.lastModified"},
		{"output of the wrong type", func(b *fhir.Bundle) {
			b.Task().Output = []fhir.TaskOutput{{ValueCodeableConcept: &fhir.CodeableConcept{Text: "x"}}}
		}, "entry[1].task.output[0].type"},
		{"consent without organization", func(b *fhir.Bundle) { b.Consents()[0].Organization = nil }, "entry[2].consent.organization"},
		{"consent without source", func(b *fhir.Bundle) { b.Consents()[0].SourceAttachment = nil }, "entry[2].consent.source[x]"},
		{"consent without IDSCL", func(b *fhir.Bundle) { b.Consents()[0].Category = nil }, "entry[2].consent.category"},
		{"consent without dateTime", func(b *fhir.Bundle) { b.Consents()[0].DateTime = "" }, "entry[2].consent.dateTime"},
		{"consent without policy rule", func(b *fhir.Bundle) { b.Consents()[0].PolicyRule = nil }, "entry[2].consent.policyRule"},
		{"observation without value", func(b *fhir.Bundle) { b.Observations()[0].ValueCodeableConcept = nil }, "entry[7].observation.value[x]"},
		{"screening response without sdoh", func(b *fhir.Bundle) { b.Observations()[0].Category = b.Observations()[0].Category[:1] }, "entry[7].observation.category"},
		{"patient without gender", func(b *fhir.Bundle) { b.Patient().Gender = "" }, "entry[3].patient.gender"},
		{"patient without identifier", func(b *fhir.Bundle) { b.Patient().Identifier = nil }, "entry[3].patient.identifier"},
		{"entry without fullUrl", func(b *fhir.Bundle) { b.Entry[4].FullURL = "" }, "entry[4].fullUrl"},
		{"task received", func(b *fhir.Bundle) { b.Task().Status = "received" }, "entry[1].task.status"},
		{"request outside a transaction", func(b *fhir.Bundle) { b.Entry[0].Request = &fhir.EntryRequest{Method: "POST", URL: "ServiceRequest"} }, "entry[0].request"},
		{"duplicate id", func(b *fhir.Bundle) { b.Entry = append(b.Entry, b.Entry[0]) }, "entry[11].resource.id"},
		{"duplicate fullUrl", func(b *fhir.Bundle) { b.Entry = append(b.Entry, b.Entry[0]) }, "entry[11].fullUrl"},
		{"not a bundle type refkit exchanges", func(b *fhir.Bundle) { b.Type = "message" }, "type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork()
			r := n.refer()
			b, err := n.x.Export(ctx, n.clinic, r.ID)
			require.NoError(t, err)
			require.NoError(t, b.Validate())
			tc.break_(b)
			err = b.Validate()
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.Contains(t, fields(err), tc.field)
		})
	}
}

func TestNewRequiresEngineAndStores(t *testing.T) {
	n := newNetwork()
	tests := []struct {
		name      string
		engine    *lifecycle.Engine
		people    fhir.People
		directory lifecycle.Directory
	}{
		{"no engine", nil, n.store, n.store},
		{"no people", n.engine, nil, n.store},
		{"no directory", n.engine, n.store, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fhir.New(tt.engine, tt.people, tt.directory, fhir.Options{})
			require.ErrorIs(t, err, referral.ErrInvalid)
		})
	}
}

func TestExportBaseURL(t *testing.T) {
	n := newNetwork()
	r := n.refer()
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Now: n.now, BaseURL: "https://fhir.example.org/r4"})
	require.NoError(t, err)
	b, err := x.Export(context.Background(), n.clinic, r.ID)
	require.NoError(t, err)
	require.Equal(t, "https://fhir.example.org/r4/ServiceRequest/"+r.ID.String(), b.Entry[0].FullURL)
	require.Equal(t, "https://fhir.example.org/r4/Task/"+r.ID.String(), b.Entry[1].FullURL)
}

// TestExportMinimumNecessary screens for food and housing and refers for food:
// the bundle carries the food answers only.
func TestExportMinimumNecessary(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	reg, err := screening.Builtin()
	require.NoError(t, err)
	in, err := reg.Lookup("ahc-hrsn")
	require.NoError(t, err)
	resp, err := screening.ParseAnswers(in, []byte(`{"answers":{"71802-3":"LA31994-9","96778-6":["LA9-3"],
	  "88122-7":"Never true","88123-5":"Sometimes true","93030-5":"No","96779-4":"No",
	  "95618-5":1,"95617-7":1,"95616-9":1,"95615-1":1}}`))
	require.NoError(t, err)
	res := resp.Score()
	require.ElementsMatch(t, []referral.Domain{referral.FoodInsecurity, referral.HousingInstability}, res.PositiveDomains)
	s := res.Screening(n.ids.MustNew(), n.clinic.Network, n.person, n.now())
	require.NoError(t, n.store.PutScreening(ctx, s))
	var food []referral.Need
	for _, need := range s.Needs {
		if need.Domain == referral.FoodInsecurity {
			food = append(food, need)
		}
	}
	r, err := n.engine.Create(ctx, n.clinic, lifecycle.CreateRequest{Person: n.person, Receiver: n.foodBank.Organization, Needs: food, Send: true})
	require.NoError(t, err)

	b, err := n.x.Export(ctx, n.clinic, r.ID)
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	obs := b.Observations()
	require.NotEmpty(t, obs)
	var codes []string
	for _, o := range obs {
		codes = append(codes, o.Code.Coding[0].Code)
		require.Equal(t, "sdoh", o.Category[1].Coding[0].Code)
		for _, c := range o.Category[2:] {
			require.Equal(t, "food-insecurity", c.Coding[0].Code)
		}
	}
	qrs := b.QuestionnaireResponses()
	require.Len(t, qrs, 1)
	var links []string
	for _, it := range qrs[0].Item {
		links = append(links, it.LinkID)
	}
	require.Equal(t, []string{"/88122-7", "/88123-5"}, links, "the QuestionnaireResponse holds the food answers only")
	require.Contains(t, codes, "88123-5")
	require.Contains(t, codes, in.Code, "the panel stays, trimmed to the food answers")
	require.NotContains(t, codes, "71802-3", "the housing answer stays with the clinic")
	require.NotContains(t, codes, "95618-5", "the safety answers stay with the clinic")
	data, err := json.Marshal(b)
	require.NoError(t, err)
	require.NotContains(t, string(data), "housing-instability")
}

// screeningSwap is a store that answers screening lookups its own way: what a
// store breaking its contract, or a referral stored before stores checked the
// screenings its needs cite, could give Export.
type screeningSwap struct {
	storage.Store
	get func(id referral.ID) (referral.Screening, error)
}

func (s screeningSwap) GetScreening(_ context.Context, _, id referral.ID) (referral.Screening, error) {
	return s.get(id)
}

// TestExportNeverSendsAnotherPersonsScreening: whatever the store answers, the
// bundle carries Observations of the referral's own person only; a foreign or
// missing screening is left out and the referral still exports.
func TestExportNeverSendsAnotherPersonsScreening(t *testing.T) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	stranger := n.ids.MustNew()
	own, err := n.store.GetScreening(ctx, n.clinic.Network, n.screenID)
	require.NoError(t, err)
	foreign := own.Clone()
	foreign.Person = stranger
	foreign.Answers = map[string][]string{"88122-7": {"LA28397-0"}, "88123-5": {"LA28397-0"}}

	tests := []struct {
		name string
		get  func(id referral.ID) (referral.Screening, error)
	}{
		{"another person's screening", func(referral.ID) (referral.Screening, error) { return foreign, nil }},
		{"another network's screening", func(referral.ID) (referral.Screening, error) {
			other := own.Clone()
			other.Network = n.ids.MustNew()
			return other, nil
		}},
		{"a screening the store no longer has", func(id referral.ID) (referral.Screening, error) {
			return referral.Screening{}, fmt.Errorf("screening %s: %w", id, referral.ErrNotFound)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := fhir.New(n.engine, screeningSwap{Store: n.store, get: tc.get}, n.store, fhir.Options{Now: n.now})
			require.NoError(t, err)
			b, err := x.Export(ctx, n.clinic, r.ID)
			require.NoError(t, err, "the referral still exports")
			require.NoError(t, b.Validate())
			require.Empty(t, b.Observations())
			require.Empty(t, b.ServiceRequest().ReasonReference)
			data, err := json.Marshal(b)
			require.NoError(t, err)
			require.NotContains(t, string(data), stranger.String())
			require.NotContains(t, string(data), n.screenID.String(), "no Observation of the cited screening")
		})
	}

	t.Run("other store failures still fail the export", func(t *testing.T) {
		x, err := fhir.New(n.engine, screeningSwap{Store: n.store,
			get: func(referral.ID) (referral.Screening, error) {
				return referral.Screening{}, fmt.Errorf("connection reset: %w", referral.ErrUnavailable)
			}}, n.store, fhir.Options{Now: n.now})
		require.NoError(t, err)
		_, err = x.Export(ctx, n.clinic, r.ID)
		require.ErrorIs(t, err, referral.ErrUnavailable)
	})
}

// TestExportURNs: without a base URL every entry is a urn:uuid (the
// referral's ServiceRequest keeps its id as its UUID; a Task or an
// Observation gets one derived from its id, the same at every export), and
// every reference is the URN of an entry.
func TestExportURNs(t *testing.T) {
	n := newNetwork()
	r := n.refer()
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Now: n.now})
	require.NoError(t, err)
	b, err := x.Export(context.Background(), n.clinic, r.ID)
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	urls := map[string]bool{}
	for _, e := range b.Entry {
		require.Regexp(t, `^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, e.FullURL)
		urls[e.FullURL] = true
	}
	require.Equal(t, "urn:uuid:"+r.ID.String(), b.Entry[0].FullURL)
	task := b.Task()
	require.NotEqual(t, b.Entry[0].FullURL, b.Entry[1].FullURL, "the Task has a UUID of its own")
	require.Equal(t, b.Entry[1].FullURL, task.Identifier[0].Value)
	for _, ref := range []*fhir.Reference{task.Focus, task.For, task.Owner, task.Requester, b.ServiceRequest().Subject} {
		require.True(t, urls[ref.Reference], ref.Reference)
	}
	again, err := x.Export(context.Background(), n.clinic, r.ID)
	require.NoError(t, err)
	for i := range b.Entry {
		require.Equal(t, b.Entry[i].FullURL, again.Entry[i].FullURL, "the same URNs at every export")
	}

	// The exported Task, applied back, is the referral as it stands.
	got, err := x.Apply(context.Background(), n.foodBank, marshal(t, task))
	require.NoError(t, err)
	require.Equal(t, r.Version, got.Version)
}

// TestExportTransaction: a transaction creates what is created once by
// identifier (ifNoneExist) and updates the referral's mutable resources by
// identifier, without resource ids, all linked by URN.
func TestExportTransaction(t *testing.T) {
	n := newNetwork()
	p, err := n.store.GetPerson(context.Background(), n.clinic.Network, n.person)
	require.NoError(t, err)
	p.Identifiers = []referral.Identifier{{System: "http://hospital.example.org/mrn", Value: "10|32,702", Type: "MR"}}
	require.NoError(t, n.store.PutPerson(context.Background(), p))
	r := n.refer()
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Now: n.now, Transaction: true, BaseURL: baseURL})
	require.NoError(t, err)
	b, err := x.Export(context.Background(), n.clinic, r.ID)
	require.NoError(t, err)
	require.Equal(t, "transaction", b.Type)
	require.NoError(t, b.Validate())
	byKind := map[string]*fhir.Entry{}
	for i := range b.Entry {
		e := &b.Entry[i]
		kind, id := func() (string, string) {
			data, _ := json.Marshal(e.Resource)
			var head struct{ ResourceType, ID string }
			_ = json.Unmarshal(data, &head)
			return head.ResourceType, head.ID
		}()
		require.Empty(t, id, "the server assigns ids")
		require.True(t, strings.HasPrefix(e.FullURL, "urn:uuid:"), "a transaction's entries are URNs, base URL or not")
		if byKind[kind] == nil {
			byKind[kind] = e
		}
	}
	require.Equal(t, &fhir.EntryRequest{Method: "PUT", URL: "Task?identifier=urn%3Aietf%3Arfc%3A3986|urn%3Auuid%3A" + strings.TrimPrefix(byKind["Task"].FullURL, "urn:uuid:")}, byKind["Task"].Request)
	require.Equal(t, &fhir.EntryRequest{Method: "POST", URL: "Patient", IfNoneExist: "identifier=http%3A%2F%2Fhospital.example.org%2Fmrn|10%5C%7C32%5C%2C702"}, byKind["Patient"].Request,
		"the host's identifier, with FHIR search escapes for | and ,")
	require.Equal(t, "POST", byKind["Observation"].Request.Method)
	require.Equal(t, "PUT", byKind["Consent"].Request.Method)
}

// TestExportNarratives: every resource has a generated XHTML narrative;
// hostile text is escaped, and a person's name appears in the Patient and
// nowhere else.
func TestExportNarratives(t *testing.T) {
	n := newNetwork()
	p, err := n.store.GetPerson(context.Background(), n.clinic.Network, n.person)
	require.NoError(t, err)
	p.GivenName, p.FamilyName = "<script>alert(1)</script>", "O'Brien & Sons"
	require.NoError(t, n.store.PutPerson(context.Background(), p))
	o, err := n.store.GetOrganization(context.Background(), n.clinic.Network, n.foodBank.Organization)
	require.NoError(t, err)
	o.Name = `North <b onmouseover="x">Food</b> Bank`
	require.NoError(t, n.store.PutOrganization(context.Background(), o))
	r := n.refer()
	b, data := exportJSON(t, n, fhir.Options{Now: n.now, BaseURL: baseURL}, r.ID)
	requireConformant(t, data)
	for _, e := range b.Entry {
		raw, err := json.Marshal(e.Resource)
		require.NoError(t, err)
		var res struct {
			ResourceType string
			Text         *fhir.Narrative
		}
		require.NoError(t, json.Unmarshal(raw, &res))
		require.NotNil(t, res.Text, res.ResourceType)
		require.Equal(t, "generated", res.Text.Status)
		require.NotContains(t, res.Text.Div, "<script>")
		require.NotContains(t, res.Text.Div, "<b ", "markup in a name is text")
		if res.ResourceType != "Patient" {
			require.NotContains(t, string(raw), "Brien", "%s carries the person's name", res.ResourceType)
		}
	}
	require.Contains(t, b.Patient().Text.Div, "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien &amp; Sons")
}

// TestExportRefusesWhatUSCoreRefuses: an organization identifier the US Core
// Organization profile refuses fails the export, naming the identifier and
// never its value.
func TestExportRefusesWhatUSCoreRefuses(t *testing.T) {
	tests := []struct {
		name string
		id   referral.Identifier
		ok   bool
	}{
		{"valid NPI", referral.Identifier{System: "http://hl7.org/fhir/sid/us-npi", Value: "1234567893"}, true},
		{"NPI with a bad check digit", referral.Identifier{System: "http://hl7.org/fhir/sid/us-npi", Value: "1234567890"}, false},
		{"NPI too short", referral.Identifier{System: "http://hl7.org/fhir/sid/us-npi", Value: "12345"}, false},
		{"valid CLIA", referral.Identifier{System: "urn:oid:2.16.840.1.113883.4.7", Value: "12D3456789"}, true},
		{"bad CLIA", referral.Identifier{System: "urn:oid:2.16.840.1.113883.4.7", Value: "123456789X"}, false},
		{"valid NAIC", referral.Identifier{System: "urn:oid:2.16.840.1.113883.6.300", Value: "12345"}, true},
		{"bad NAIC", referral.Identifier{System: "urn:oid:2.16.840.1.113883.6.300", Value: "1234"}, false},
		{"tax id, unconstrained", referral.Identifier{System: "urn:oid:2.16.840.1.113883.4.4", Value: "12-3456789", Type: "TAX"}, true},
		{"an HSDS scheme code, not a URI", referral.Identifier{System: "US-EIN", Value: "12-3456789", Type: "Tax ID"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork()
			o, err := n.store.GetOrganization(context.Background(), n.clinic.Network, n.foodBank.Organization)
			require.NoError(t, err)
			o.Identifiers = []referral.Identifier{tc.id}
			require.NoError(t, n.store.PutOrganization(context.Background(), o))
			r := n.refer()
			b, err := n.x.Export(context.Background(), n.clinic, r.ID)
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, b.Validate())
				found := false
				for _, e := range b.Entry {
					if org, ok := e.Resource.(*fhir.Organization); ok && org.ID == n.foodBank.Organization.String() {
						found = true
						for _, id := range org.Identifier {
							require.True(t, id.System == "" || strings.Contains(id.System, ":"), "Identifier.system is a URI or absent")
						}
					}
				}
				require.True(t, found, "the receiving Organization is in the bundle")
				return
			}
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "organization.identifiers[0]", ve.Field)
			require.NotContains(t, err.Error(), tc.id.Value)
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	n := newNetwork()
	for _, tc := range []struct {
		name  string
		opts  fhir.Options
		field string
	}{
		{"relative base URL", fhir.Options{BaseURL: "fhir/r4"}, "base_url"},
		{"base URL with a query", fhir.Options{BaseURL: "https://fhir.example.org/r4?x=1"}, "base_url"},
		{"base URL not http", fhir.Options{BaseURL: "ftp://fhir.example.org"}, "base_url"},
		{"person identifier system not a URI", fhir.Options{PersonIdentifierSystem: "refkit people"}, "person_identifier_system"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fhir.New(n.engine, n.store, n.store, tc.opts)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
		})
	}
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{BaseURL: "https://fhir.example.org/r4/"})
	require.NoError(t, err, "a trailing slash is dropped")
	require.Equal(t, fhir.DefaultCodes(), x.Codes())
}
