package fhir_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/referral"
)

// Export a sent referral and look at what a receiving system gets.
func ExampleExchange_Export() {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()

	b, err := n.x.Export(ctx, n.clinic, r.ID)
	must(err)
	must(b.Validate())
	sr, task := b.ServiceRequest(), b.Task()
	fmt.Println(sr.Status, sr.Intent, sr.Category[1].Coding[0].Code, sr.Code.Text)
	fmt.Println(task.Status, task.Code.Coding[0].Code, task.Focus.Reference == "ServiceRequest/"+r.ID.String())
	fmt.Println(len(sr.ReasonReference), "screening observations,", len(b.Consents()), "consent,", len(b.QuestionnaireResponses()), "questionnaire response")
	fmt.Println(b.Patient().Gender, b.Entry[0].FullURL == "https://fhir.example.org/r4/ServiceRequest/"+r.ID.String())
	// Output:
	// active order food-insecurity Referral for Food Insecurity
	// requested fulfill true
	// 4 screening observations, 1 consent, 1 questionnaire response
	// unknown true
}

// Without a base URL every entry is a urn:uuid, and references are those
// URNs, so they resolve within the bundle; a transaction bundle creates or
// updates the resources on a FHIR server, matching them by identifier.
func ExampleOptions_transaction() {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Now: n.now, Transaction: true})
	must(err)
	b, err := x.Export(ctx, n.clinic, r.ID)
	must(err)
	fmt.Println(b.Type)
	for _, e := range b.Entry[:4] {
		fmt.Println(e.Request.Method, strings.SplitN(e.Request.URL, "?", 2)[0], strings.HasPrefix(e.FullURL, "urn:uuid:"))
	}
	fmt.Println(b.Task().Focus.Reference == "urn:uuid:"+r.ID.String())
	// Output:
	// transaction
	// PUT ServiceRequest true
	// PUT Task true
	// PUT Consent true
	// POST Patient true
	// true
}

// Before referring, ask whether a service has room: the IG's capacity
// inquiry, answered with HealthcareServices and no person data.
func ExampleExchange_Capacity() {
	ctx := context.Background()
	n := newNetwork()
	full := n.service(&referral.Capacity{Available: 0, Waitlist: 5})
	b, err := n.x.Capacity(ctx, n.clinic, full)
	must(err)
	h := b.HealthcareServices()[0]
	fmt.Println(b.Type, h.Name, h.Extension[0].Extension[0].ValueCodeableConcept.Coding[0].Code)
	fmt.Println(h.Extension[0].Extension[1].ValueString)
	// Output:
	// searchset Weekly pantry waitlist
	// Room for 5 more on the waiting list.
}

// Apply the receiving system's Task updates: the food bank accepts, then
// closes the loop with an outcome. The actor is who the host authenticated.
func ExampleExchange_Apply() {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()

	b, err := n.x.Export(ctx, n.foodBank, r.ID)
	must(err)
	task := b.Task()
	task.Status = "accepted"
	data, _ := json.Marshal(task)
	r, err = n.x.Apply(ctx, n.foodBank, data)
	must(err)
	fmt.Println(r.Status, r.Version)

	n.advance(48 * time.Hour)
	update := `{"resourceType":"Task","status":"completed","intent":"order",
	  "focus":{"reference":"ServiceRequest/` + r.ID.String() + `"},
	  "output":[{"type":{"coding":[{"system":"` + fhir.SystemSDOHCC + `","code":"resulting-activity"}]},
	    "valueCodeableConcept":{"coding":[{"system":"` + fhir.SystemOutcome + `","code":"got-help"}],"text":"Enrolled in the weekly pantry."}}]}`
	r, err = n.x.Apply(ctx, n.foodBank, []byte(update))
	must(err)
	fmt.Println(r.Status, r.Outcome.Code, r.Outcome.Note)

	// Reopening a closed referral is not a lifecycle transition.
	reopen := `{"resourceType":"Task","status":"in-progress","intent":"order","focus":{"reference":"ServiceRequest/` + r.ID.String() + `"}}`
	_, err = n.x.Apply(ctx, n.foodBank, []byte(reopen))
	fmt.Println(errors.Is(err, referral.ErrInvalidTransition))
	// Output:
	// accepted 2
	// completed got-help Enrolled in the weekly pantry.
	// true
}

// Parse a Task update, alone or in a Bundle, before deciding what to do with it.
func ExampleParseTask() {
	task, err := fhir.ParseTask([]byte(`{"resourceType":"Task","status":"rejected","intent":"order",
	  "statusReason":{"coding":[{"system":"` + fhir.SystemReason + `","code":"no-capacity"}],"text":"no-capacity"},
	  "focus":{"reference":"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`))
	must(err)
	id, _ := task.ReferralID()
	fmt.Println(task.Status, task.StatusReason.Coding[0].Code, id)

	_, err = fhir.ParseTask([]byte(`{"resourceType":"Task","status":"done"}`))
	fmt.Println(err)
	// Output:
	// rejected no-capacity 0190a6f0-8a4b-7c3d-9e2f-0123456789ab
	// refkit: invalid input: task.status is not in the IG's referral Task status value set (which has no received or ready)
}

// A partner closes the loop the IG's way: the Task completed, pointing to the
// Procedure it performed, both in one Bundle. The procedure's code maps back
// to an outcome through Codes.
func ExampleExchange_Apply_procedure() {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	_, err := n.engine.Accept(ctx, n.foodBank, r.ID, "")
	must(err)
	update := `{"resourceType":"Bundle","type":"collection","entry":[
	  {"resource":{"resourceType":"Task","status":"completed","intent":"order",
	    "focus":{"reference":"ServiceRequest/` + r.ID.String() + `"},
	    "output":[{"type":{"coding":[{"system":"` + fhir.SystemSDOHCC + `","code":"resulting-activity"}]},
	      "valueReference":{"reference":"Procedure/pantry-1"}}]}},
	  {"resource":{"resourceType":"Procedure","id":"pantry-1","status":"completed",
	    "code":{"coding":[{"system":"http://snomed.info/sct","code":"710925007","display":"Provision of food"}]}}}]}`
	r, err = n.x.Apply(ctx, n.foodBank, []byte(update))
	must(err)
	fmt.Println(r.Status, r.Outcome.Code)
	// Output:
	// completed got-help
}

// Validate reports every required element a bundle misses.
func ExampleBundle_Validate() {
	n := newNetwork()
	r := n.refer()
	b, err := n.x.Export(context.Background(), n.clinic, r.ID)
	must(err)
	fmt.Println(b.Validate())

	b.Task().Focus = nil
	b.ServiceRequest().Code = nil
	fmt.Println(b.Validate())
	// Output:
	// <nil>
	// refkit: invalid input: entry[0].serviceRequest.code is required
	// refkit: invalid input: entry[1].task.focus is required
}

// ParseBundle reads a bundle another system sent; resources refkit does not
// model are kept as raw JSON.
func ExampleParseBundle() {
	b, err := fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection","entry":[
	  {"resource":{"resourceType":"Task","status":"accepted","intent":"order"}},
	  {"resource":{"resourceType":"Goal","id":"g1"}}]}`))
	must(err)
	fmt.Println(b.Task().Status)
	_, raw := b.Entry[1].Resource.(json.RawMessage)
	fmt.Println(raw)
	// Output:
	// accepted
	// true
}

func ExampleNew() {
	_, err := fhir.New(nil, nil, nil, fhir.Options{})
	fmt.Println(err)
	// Output:
	// refkit: invalid input: engine is required
}

// ApplyTask applies a Task the host already parsed, after its own routing.
func ExampleExchange_ApplyTask() {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()

	task, err := fhir.ParseTask([]byte(`{"resourceType":"Task","status":"rejected","intent":"order",
	  "statusReason":{"coding":[{"system":"` + fhir.SystemReason + `","code":"no-capacity"}],"text":"Full until April."},
	  "focus":{"reference":"ServiceRequest/` + r.ID.String() + `"}}`))
	must(err)
	r, err = n.x.ApplyTask(ctx, n.foodBank, task)
	must(err)
	fmt.Println(r.Status, r.Reason)

	// A rejected referral is closed: accepting it is no longer a transition.
	task.Status = "accepted"
	_, err = n.x.ApplyTask(ctx, n.foodBank, task)
	fmt.Println(errors.Is(err, referral.ErrInvalidTransition))
	// Output:
	// rejected no-capacity
	// true
}
