package fhir_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	fmt.Println(sr.Status, sr.Intent, sr.Category[0].Coding[0].Code, sr.Code.Text)
	fmt.Println(task.Status, task.Code.Coding[0].Code, task.Focus.Reference == "ServiceRequest/"+r.ID.String())
	fmt.Println(len(sr.ReasonReference), "screening observations,", len(b.Consents()), "consent")
	// Output:
	// active order food-insecurity Referral for Food Insecurity
	// requested fulfill true
	// 3 screening observations, 1 consent
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
	// refkit: invalid input: task.status is not a FHIR Task status
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
