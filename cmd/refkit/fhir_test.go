package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/sqlite"
)

const (
	fhirNetwork  = "0190a6f0-8a4b-7c3d-9e2f-000000000001"
	fhirClinic   = "0190a6f0-8a4b-7c3d-9e2f-000000000002"
	fhirFoodBank = "0190a6f0-8a4b-7c3d-9e2f-000000000003"
	fhirShelter  = "0190a6f0-8a4b-7c3d-9e2f-000000000004"
	fhirPerson   = "0190a6f0-8a4b-7c3d-9e2f-000000000005"
	fhirConsent  = "0190a6f0-8a4b-7c3d-9e2f-000000000006"
	fhirReferral = "0190a6f0-8a4b-7c3d-9e2f-000000000007"
)

// writeFHIRState writes a snapshot with one referral, sent from a clinic to a
// food bank, and returns its path.
func writeFHIRState(t *testing.T) string {
	state := `{
  "network": {"id": "` + fhirNetwork + `", "name": "Lake County"},
  "organizations": [
    {"id": "` + fhirClinic + `", "network_id": "` + fhirNetwork + `", "name": "Lakeside Clinic"},
    {"id": "` + fhirFoodBank + `", "network_id": "` + fhirNetwork + `", "name": "North Food Bank"},
    {"id": "` + fhirShelter + `", "network_id": "` + fhirNetwork + `", "name": "East Shelter"}
  ],
  "persons": [{"id": "` + fhirPerson + `", "network_id": "` + fhirNetwork + `", "given_name": "Ana", "family_name": "Diaz"}],
  "consents": [{"id": "` + fhirConsent + `", "network_id": "` + fhirNetwork + `", "person_id": "` + fhirPerson + `",
    "grantee_organization_id": "` + fhirFoodBank + `", "scope": "referral", "period": {}, "created": "2026-03-01T09:00:00Z"}],
  "referrals": [{"id": "` + fhirReferral + `", "network_id": "` + fhirNetwork + `", "person_id": "` + fhirPerson + `",
    "needs": [{"domain": "food-insecurity", "urgency": "urgent"}],
    "sender_organization_id": "` + fhirClinic + `", "receiver_organization_id": "` + fhirFoodBank + `",
    "status": "requested", "priority": "urgent", "sent": "2026-03-02T09:00:00Z",
    "created": "2026-03-02T09:00:00Z", "updated": "2026-03-02T09:00:00Z", "version": 1}]
}`
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte(state), 0o600))
	return path
}

func runFHIRCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"fhir"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestFHIRExport(t *testing.T) {
	state := writeFHIRState(t)
	code, out, errOut := runFHIRCmd(t, "", "export", "--state", state, "--referral", fhirReferral, "--org", fhirClinic,
		"--now", "2026-03-02T10:00:00Z", "--base-url", "https://fhir.example.org")
	require.Equal(t, 0, code, errOut)
	b, err := fhir.ParseBundle([]byte(out))
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	require.Equal(t, "requested", b.Task().Status)
	require.Equal(t, "urgent", b.ServiceRequest().Priority)
	require.Equal(t, "https://fhir.example.org/ServiceRequest/"+fhirReferral, b.Entry[0].FullURL)
	require.Len(t, b.Consents(), 1)
}

func TestFHIRApply(t *testing.T) {
	state := writeFHIRState(t)
	task := `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"ServiceRequest/` + fhirReferral + `"}}`
	code, out, errOut := runFHIRCmd(t, task, "apply", "--state", state, "--org", fhirFoodBank, "--user", "intake", "--save")
	require.Equal(t, 0, code, errOut)
	var got struct {
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, "accepted", got.Status)
	require.Equal(t, 2, got.Version)

	// --save wrote the new status back, so the next export shows it.
	code, out, errOut = runFHIRCmd(t, "", "export", "--state", state, "--referral", fhirReferral, "--org", fhirClinic)
	require.Equal(t, 0, code, errOut)
	b, err := fhir.ParseBundle([]byte(out))
	require.NoError(t, err)
	require.Equal(t, "accepted", b.Task().Status)

	taskFile := filepath.Join(t.TempDir(), "task.json")
	require.NoError(t, os.WriteFile(taskFile, []byte(`{"resourceType":"Task","status":"in-progress","intent":"order","focus":{"reference":"ServiceRequest/`+fhirReferral+`"}}`), 0o600))
	code, out, errOut = runFHIRCmd(t, "", "apply", "--state", state, "--org", fhirFoodBank, "--in", taskFile)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"status": "in-progress"`)
}

func TestFHIRErrors(t *testing.T) {
	state := writeFHIRState(t)
	focus := `"focus":{"reference":"ServiceRequest/` + fhirReferral + `"}`
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no subcommand", "", nil, "want a subcommand"},
		{"unknown subcommand", "", []string{"import"}, "want a subcommand"},
		{"no state", "", []string{"export", "--referral", fhirReferral}, "exactly one of --db and --state"},
		{"both sources", "", []string{"export", "--state", state, "--db", state, "--referral", fhirReferral}, "exactly one of --db and --state"},
		{"save to a database", "", []string{"apply", "--db", state, "--save", "--org", fhirFoodBank}, "--save is for --state"},
		{"database without network", "", []string{"export", "--db", state, "--referral", fhirReferral}, "--network"},
		{"missing database", "", []string{"export", "--db", filepath.Join(t.TempDir(), "none.db"), "--network", fhirNetwork,
			"--referral", fhirReferral}, "--db"},
		{"not a database", "", []string{"export", "--db", state, "--network", fhirNetwork, "--referral", fhirReferral}, "--db"},
		{"bad referral id", "", []string{"export", "--state", state, "--referral", "42", "--org", fhirClinic}, "--referral"},
		{"bad org id", "", []string{"export", "--state", state, "--referral", fhirReferral, "--org", "x"}, "--org"},
		{"bad clock", "", []string{"export", "--state", state, "--referral", fhirReferral, "--org", fhirClinic, "--now", "today"}, "--now"},
		{"outsider", "", []string{"export", "--state", state, "--referral", fhirReferral, "--org", fhirShelter}, "not found"},
		{"illegal transition", `{"resourceType":"Task","status":"completed","intent":"order",` + focus + `}`,
			[]string{"apply", "--state", state, "--org", fhirFoodBank}, "cannot complete a referral that is requested"},
		{"wrong actor", `{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `}`,
			[]string{"apply", "--state", state, "--org", fhirClinic}, "only the receiving organization"},
		{"malformed task", `{"resourceType":"Task"`, []string{"apply", "--state", state, "--org", fhirFoodBank}, "invalid input: task"},
		{"missing state file", "", []string{"export", "--state", filepath.Join(t.TempDir(), "none.json"), "--referral", fhirReferral}, "reading --state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runFHIRCmd(t, tc.stdin, tc.args...)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, tc.want)
			require.NotContains(t, errOut, "Diaz")
		})
	}
}

// TestFHIROnDatabase exports and applies against a SQLite database, where
// apply's change is recorded as an event like any other lifecycle command.
func TestFHIROnDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "refkit.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	id := func(s string) referral.ID { v, err := referral.ParseID(s); require.NoError(t, err); return v }
	network := id(fhirNetwork)
	require.NoError(t, store.PutNetwork(ctx, referral.Network{ID: network, Name: "Lake County"}))
	for _, o := range []struct{ id, name string }{{fhirClinic, "Lakeside Clinic"}, {fhirFoodBank, "North Food Bank"}} {
		require.NoError(t, store.PutOrganization(ctx, referral.Organization{ID: id(o.id), Network: network, Name: o.name}))
	}
	require.NoError(t, store.PutPerson(ctx, referral.Person{ID: id(fhirPerson), Network: network, GivenName: "Ana"}))
	require.NoError(t, store.PutConsent(ctx, referral.Consent{ID: id(fhirConsent), Network: network, Person: id(fhirPerson),
		Grantee: id(fhirFoodBank), Scope: referral.ScopeReferral}))
	engine, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	clinic := referral.Actor{Network: network, Organization: id(fhirClinic), User: "nurse", Role: referral.RoleStaff}
	r, err := engine.Create(ctx, clinic, lifecycle.CreateRequest{Person: id(fhirPerson), Receiver: id(fhirFoodBank),
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}}, Send: true})
	require.NoError(t, err)
	require.NoError(t, store.Close())

	code, out, errOut := runFHIRCmd(t, "", "export", "--db", path, "--network", fhirNetwork, "--referral", r.ID.String(), "--org", fhirClinic)
	require.Equal(t, 0, code, errOut)
	b, err := fhir.ParseBundle([]byte(out))
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	require.Equal(t, "requested", b.Task().Status)

	task := `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"ServiceRequest/` + r.ID.String() + `"}}`
	code, _, errOut = runFHIRCmd(t, task, "apply", "--db", path, "--network", fhirNetwork, "--org", fhirFoodBank, "--user", "intake")
	require.Equal(t, 0, code, errOut)

	store, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	events, err := store.ReferralEvents(ctx, network, r.ID)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, referral.StatusAccepted, events[1].To)
	require.Equal(t, "intake", events[1].Actor.User)
}

// TestFHIRNewShapes: export prints the IG's and US Core's shapes (urn:uuid
// entries without a base URL, a transaction with --transaction), apply takes
// business statuses and the two-step cancellation, and capacity answers a
// capacity inquiry.
func TestFHIRNewShapes(t *testing.T) {
	state := writeFHIRState(t)
	code, out, errOut := runFHIRCmd(t, "", "export", "--state", state, "--referral", fhirReferral, "--org", fhirClinic,
		"--now", "2026-03-02T10:00:00Z")
	require.Equal(t, 0, code, errOut)
	b, err := fhir.ParseBundle([]byte(out))
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	require.Equal(t, "urn:uuid:"+fhirReferral, b.Entry[0].FullURL)
	require.Equal(t, "unknown", b.Patient().Gender)

	code, out, errOut = runFHIRCmd(t, "", "export", "--state", state, "--referral", fhirReferral, "--org", fhirClinic,
		"--now", "2026-03-02T10:00:00Z", "--transaction", "--person-identifier-system", "https://clinic.example.org/people")
	require.Equal(t, 0, code, errOut)
	b, err = fhir.ParseBundle([]byte(out))
	require.NoError(t, err)
	require.Equal(t, "transaction", b.Type)
	require.Equal(t, "https://clinic.example.org/people", b.Patient().Identifier[0].System)

	focus := `"focus":{"reference":"ServiceRequest/` + fhirReferral + `"}`
	for _, step := range []struct {
		org, task, status, business string
	}{
		{fhirFoodBank, `{"resourceType":"Task","status":"requested","intent":"order",` + focus + `,"businessStatus":{"coding":[{"system":"` + fhir.SystemBusinessStatus + `","code":"acknowledged"}]}}`, "requested", "acknowledged"},
		{fhirFoodBank, `{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `}`, "accepted", ""},
		{fhirClinic, `{"resourceType":"Task","status":"accepted","intent":"order",` + focus + `,"businessStatus":{"coding":[{"system":"` + fhir.SystemBusinessStatus + `","code":"cancel-requested"}]},"statusReason":{"coding":[{"system":"` + fhir.SystemReason + `","code":"need-met-elsewhere"}],"text":"need-met-elsewhere"}}`, "accepted", "cancel-requested"},
		{fhirFoodBank, `{"resourceType":"Task","status":"cancelled","intent":"order",` + focus + `}`, "cancelled", ""},
	} {
		code, out, errOut := runFHIRCmd(t, step.task, "apply", "--state", state, "--org", step.org, "--save")
		require.Equal(t, 0, code, errOut)
		var got struct {
			Status   string `json:"status"`
			Business string `json:"business_status"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got))
		require.Equal(t, step.status, got.Status)
		require.Equal(t, step.business, got.Business)
	}
}

func TestFHIRCapacity(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "refkit.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	id := func(s string) referral.ID { v, err := referral.ParseID(s); require.NoError(t, err); return v }
	network := id(fhirNetwork)
	require.NoError(t, store.PutNetwork(ctx, referral.Network{ID: network, Name: "Lake County"}))
	require.NoError(t, store.PutOrganization(ctx, referral.Organization{ID: id(fhirFoodBank), Network: network, Name: "North Food Bank"}))
	svc := referral.Service{ID: id(fhirShelter), Network: network, Organization: id(fhirFoodBank), Name: "Pantry",
		Status: referral.ServiceActive, Domains: []referral.Domain{referral.FoodInsecurity}, Capacity: &referral.Capacity{Available: 2},
		ServiceAreas: []referral.ServiceArea{{Kind: referral.AreaVirtual}}}
	require.NoError(t, store.PutService(ctx, svc))
	require.NoError(t, store.Close())

	code, out, errOut := runFHIRCmd(t, "", "capacity", "--db", path, "--network", fhirNetwork, "--org", fhirFoodBank, "--service", fhirShelter)
	require.Equal(t, 0, code, errOut)
	b, err := fhir.ParseBundle([]byte(out))
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	require.Equal(t, fhir.CapacityAvailable, b.HealthcareServices()[0].Extension[0].Extension[0].ValueCodeableConcept.Coding[0].Code)

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"capacity", "--db", path, "--network", fhirNetwork, "--org", fhirFoodBank}, "--service is required"},
		{[]string{"capacity", "--db", path, "--network", fhirNetwork, "--org", fhirFoodBank, "--service", "x"}, "--service"},
	} {
		code, _, errOut := runFHIRCmd(t, "", bad.args...)
		require.Equal(t, 1, code)
		require.Contains(t, errOut, bad.want)
	}
}
