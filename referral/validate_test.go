package referral_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

var (
	netID    = referral.MustParseID("0190a6f0-0000-7000-8000-000000000001")
	orgID    = referral.MustParseID("0190a6f0-0000-7000-8000-000000000002")
	otherOrg = referral.MustParseID("0190a6f0-0000-7000-8000-000000000003")
	personID = referral.MustParseID("0190a6f0-0000-7000-8000-000000000004")
	itemID   = referral.MustParseID("0190a6f0-0000-7000-8000-000000000005")
)

func validPerson() referral.Person {
	income := 24000.0
	return referral.Person{
		ID: personID, Network: netID, GivenName: "Ada", FamilyName: "Example",
		BirthDate: referral.Date{Year: 1990, Month: time.May, Day: 4}, HouseholdSize: 3,
		IncomeAnnual: &income, Languages: []string{"es", "en-US"},
		Location: &referral.Point{Latitude: 41.88, Longitude: -87.63}, Zip: "60601", County: "Cook", State: "IL",
		Attributes: map[string]string{"program": "snap"},
		Veteran:    referral.Known(false), Disabled: referral.Known(true),
		Gender: referral.GenderFemale,
		Identifiers: []referral.Identifier{
			{System: "http://hospital.example.org/mrn", Value: "1032702", Type: "MR"},
			{System: "urn:oid:2.16.840.1.113883.4.1", Value: "999-00-1234"},
		},
	}
}

func validService() referral.Service {
	return referral.Service{
		ID: itemID, Network: netID, Organization: orgID, Name: "Food pantry", Status: referral.ServiceActive,
		Domains:      []referral.Domain{referral.FoodInsecurity},
		Languages:    []string{"en"},
		Locations:    []referral.Location{{ID: itemID, Latitude: 41.9, Longitude: -87.6, Address: &referral.Address{City: "Chicago"}}},
		ServiceAreas: []referral.ServiceArea{{Kind: referral.AreaCounty, Values: []string{"Cook"}}},
		Schedules:    []referral.Schedule{{ByDay: []string{"MO", "WE"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/Chicago"}},
		Capacity:     &referral.Capacity{Available: 4},
	}
}

func validReferral() referral.Referral {
	now := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	return referral.Referral{
		ID: itemID, Network: netID, Person: personID, Sender: orgID, Receiver: otherOrg,
		Needs:  []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Instrument: "ahc-hrsn"}},
		Status: referral.StatusRequested, Priority: referral.Urgent, Created: now, Updated: now, Version: 1,
	}
}

// requireField asserts err is a validation error naming field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, referral.ErrInvalid)
	var ve *referral.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, field, ve.Field)
}

func TestPersonValidate(t *testing.T) {
	require.NoError(t, validPerson().Validate())
	tests := []struct {
		name  string
		edit  func(p *referral.Person)
		field string
	}{
		{"missing id", func(p *referral.Person) { p.ID = referral.NilID }, "id"},
		{"missing network", func(p *referral.Person) { p.Network = referral.NilID }, "network_id"},
		{"impossible birth date", func(p *referral.Person) { p.BirthDate = referral.Date{Year: 2001, Month: 2, Day: 29} }, "birth_date"},
		{"negative household", func(p *referral.Person) { p.HouseholdSize = -1 }, "household_size"},
		{"NaN income", func(p *referral.Person) { v := math.NaN(); p.IncomeAnnual = &v }, "income_annual"},
		{"negative income", func(p *referral.Person) { v := -1.0; p.IncomeAnnual = &v }, "income_annual"},
		{"bad language", func(p *referral.Person) { p.Languages = []string{"en", "e s"} }, "languages[1]"},
		{"latitude out of range", func(p *referral.Person) { p.Location = &referral.Point{Latitude: 91} }, "location.latitude"},
		{"lower-case state", func(p *referral.Person) { p.State = "il" }, "state"},
		{"control character", func(p *referral.Person) { p.GivenName = "A\x00" }, "given_name"},
		{"unknown gender", func(p *referral.Person) { p.Gender = "f" }, "gender"},
		{"identifier without system", func(p *referral.Person) { p.Identifiers[1].System = "" }, "identifiers[1].system"},
		{"identifier system not a URI", func(p *referral.Person) { p.Identifiers[0].System = "mrn" }, "identifiers[0].system"},
		{"identifier system with a bar", func(p *referral.Person) { p.Identifiers[0].System = "urn:x|y" }, "identifiers[0].system"},
		{"identifier system too long", func(p *referral.Person) {
			p.Identifiers[0].System = "urn:x:" + strings.Repeat("a", 2048)
		}, "identifiers[0].system"},
		{"identifier without value", func(p *referral.Person) { p.Identifiers[0].Value = " " }, "identifiers[0].value"},
		{"identifier value padded", func(p *referral.Person) { p.Identifiers[0].Value = " 1032702" }, "identifiers[0].value"},
		{"identifier value too long", func(p *referral.Person) { p.Identifiers[0].Value = strings.Repeat("9", 257) }, "identifiers[0].value"},
		{"identifier value with control characters", func(p *referral.Person) { p.Identifiers[0].Value = "10\x0032" }, "identifiers[0].value"},
		{"identifier type too long", func(p *referral.Person) { p.Identifiers[0].Type = strings.Repeat("T", 65) }, "identifiers[0].type"},
		{"identifier repeated", func(p *referral.Person) { p.Identifiers[1] = p.Identifiers[0] }, "identifiers[1]"},
		{"too many identifiers", func(p *referral.Person) {
			p.Identifiers = nil
			for i := range referral.MaxIdentifiers + 1 {
				p.Identifiers = append(p.Identifiers, referral.Identifier{System: "urn:x", Value: strconv.Itoa(i)})
			}
		}, "identifiers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPerson()
			tc.edit(&p)
			requireField(t, p.Validate(), tc.field)
		})
	}
}

func TestServiceValidate(t *testing.T) {
	require.NoError(t, validService().Validate())
	tests := []struct {
		name  string
		edit  func(s *referral.Service)
		field string
	}{
		{"no name", func(s *referral.Service) { s.Name = " " }, "name"},
		{"bad status", func(s *referral.Service) { s.Status = "open" }, "status"},
		{"unknown domain", func(s *referral.Service) { s.Domains = []referral.Domain{"wellness"} }, "domains[0]"},
		{"age range inverted", func(s *referral.Service) { s.MinimumAge, s.MaximumAge = 18, 10 }, "maximum_age"},
		{"negative capacity", func(s *referral.Service) { s.Capacity = &referral.Capacity{Available: -1} }, "capacity"},
		{"location longitude", func(s *referral.Service) { s.Locations[0].Longitude = 200 }, "locations[0].longitude"},
		{"duplicate location", func(s *referral.Service) { s.Locations = append(s.Locations, s.Locations[0]) }, "locations[1].id"},
		{"empty county area", func(s *referral.Service) { s.ServiceAreas[0].Values = nil }, "service_areas[0].values"},
		{"polygon too small", func(s *referral.Service) {
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaPolygon, Polygon: []referral.Point{{}, {}}}}
		}, "service_areas[0].polygon"},
		{"bad area kind", func(s *referral.Service) { s.ServiceAreas[0].Kind = "city" }, "service_areas[0].kind"},
		{"bad day", func(s *referral.Service) { s.Schedules[0].ByDay = []string{"MON"} }, "schedules[0].byday[0]"},
		{"opening without closing", func(s *referral.Service) { s.Schedules[0].ClosesAt = "" }, "schedules[0].closes_at"},
		{"bad opening", func(s *referral.Service) { s.Schedules[0].OpensAt = "9am" }, "schedules[0].opens_at"},
		{"unknown zone", func(s *referral.Service) { s.Schedules[0].Timezone = "Mars/Olympus" }, "schedules[0].timezone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validService()
			tc.edit(&s)
			requireField(t, s.Validate(), tc.field)
		})
	}
}

func TestReferralValidate(t *testing.T) {
	require.NoError(t, validReferral().Validate())
	tests := []struct {
		name  string
		edit  func(r *referral.Referral)
		field string
	}{
		{"no receiver", func(r *referral.Referral) { r.Receiver = referral.NilID }, "receiver_organization_id"},
		{"no needs", func(r *referral.Referral) { r.Needs = nil }, "needs"},
		{"need domain", func(r *referral.Referral) { r.Needs[0].Domain = "nope" }, "needs[0].domain"},
		{"need urgency", func(r *referral.Referral) { r.Needs[0].Urgency = "soon" }, "needs[0].urgency"},
		{"status", func(r *referral.Referral) { r.Status = "done" }, "status"},
		{"received is not a referral status", func(r *referral.Referral) { r.Status = "received" }, "status"},
		{"unknown business status", func(r *referral.Referral) { r.BusinessStatus = "pending" }, "business_status"},
		{"business status of another status", func(r *referral.Referral) { r.BusinessStatus = referral.BusinessScheduled }, "business_status"},
		{"cancellation requested without a reason", func(r *referral.Referral) {
			r.Status, r.BusinessStatus = referral.StatusAccepted, referral.BusinessCancelRequested
		}, "cancel_reason"},
		{"cancel reason with nothing requested", func(r *referral.Referral) { r.CancelReason = "other" }, "cancel_reason"},
		{"cancel reason shape", func(r *referral.Referral) {
			r.Status, r.BusinessStatus, r.CancelReason = referral.StatusAccepted, referral.BusinessCancelRequested, "Other"
		}, "cancel_reason"},
		{"priority", func(r *referral.Referral) { r.Priority = "" }, "priority"},
		{"reason shape", func(r *referral.Referral) { r.Reason = "No Capacity" }, "reason"},
		{"outcome code", func(r *referral.Referral) { r.Outcome = &referral.Outcome{} }, "outcome.code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validReferral()
			tc.edit(&r)
			requireField(t, r.Validate(), tc.field)
		})
	}
}

func TestConsentPermits(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := referral.Consent{
		ID: itemID, Network: netID, Person: personID, Grantee: orgID, Scope: referral.ScopeReferral,
		Period: referral.Period{Start: start, End: start.AddDate(1, 0, 0)},
	}
	require.NoError(t, c.Validate())
	revoked := c
	revoked.Revoked = start.AddDate(0, 6, 0)
	tests := []struct {
		name    string
		c       referral.Consent
		grantee referral.ID
		scope   referral.ConsentScope
		at      time.Time
		want    bool
	}{
		{"inside period", c, orgID, referral.ScopeReferral, start.AddDate(0, 1, 0), true},
		{"before start", c, orgID, referral.ScopeReferral, start.Add(-time.Second), false},
		{"at end", c, orgID, referral.ScopeReferral, start.AddDate(1, 0, 0), false},
		{"other grantee", c, otherOrg, referral.ScopeReferral, start.AddDate(0, 1, 0), false},
		{"other scope", c, orgID, referral.ScopeView, start.AddDate(0, 1, 0), false},
		{"before revocation", revoked, orgID, referral.ScopeReferral, start.AddDate(0, 5, 0), true},
		{"after revocation", revoked, orgID, referral.ScopeReferral, start.AddDate(0, 7, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.c.Permits(tc.grantee, tc.scope, tc.at))
		})
	}
	bad := c
	bad.Period.End = start
	requireField(t, bad.Validate(), "period.end")
	for _, doc := range []string{"https://ehr.example.org/consents/42", "urn:uuid:0190a6f0-8a4b-7c3d-9e2f-000000000001"} {
		withDoc := c
		withDoc.Document = doc
		require.NoError(t, withDoc.Validate(), doc)
	}
	for _, doc := range []string{"consents/42", "https://ehr.example.org/a b", "https://x\x00", "%zz"} {
		withDoc := c
		withDoc.Document = doc
		requireField(t, withDoc.Validate(), "document")
	}
}

func TestActorValidate(t *testing.T) {
	tests := []struct {
		name  string
		a     referral.Actor
		field string
	}{
		{"staff ok", referral.Actor{Network: netID, Organization: orgID, Role: referral.RoleStaff}, ""},
		{"system ok", referral.Actor{Network: netID, Role: referral.RoleSystem}, ""},
		{"staff without org", referral.Actor{Network: netID, Role: referral.RoleStaff}, "organization_id"},
		{"delegate without person", referral.Actor{Network: netID, Role: referral.RoleDelegate}, "person_id"},
		{"no network", referral.Actor{Organization: orgID, Role: referral.RoleStaff}, "network_id"},
		{"no role", referral.Actor{Network: netID, Organization: orgID}, "role"},
		{"unknown role", referral.Actor{Network: netID, Organization: orgID, Role: "root"}, "role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.field == "" {
				require.NoError(t, tc.a.Validate())
				return
			}
			requireField(t, tc.a.Validate(), tc.field)
		})
	}
}

func TestScheduleOpenAt(t *testing.T) {
	s := referral.Schedule{ByDay: []string{"MO", "WE"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/Chicago"}
	chicago, err := time.LoadLocation("America/Chicago")
	require.NoError(t, err)
	tests := []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 1, 12, 9, 0, 0, 0, chicago), true},   // Monday opening minute
		{time.Date(2026, 1, 12, 16, 59, 0, 0, chicago), true}, // Monday last minute
		{time.Date(2026, 1, 12, 17, 0, 0, 0, chicago), false}, // closed at closes_at
		{time.Date(2026, 1, 13, 10, 0, 0, 0, chicago), false}, // Tuesday
		{time.Date(2026, 1, 12, 15, 0, 0, 0, time.UTC), true}, // 09:00 in Chicago
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, s.OpenAt(tc.at), tc.at.String())
	}
}

func TestReplay(t *testing.T) {
	ev := func(seq int64, from, to referral.Status) referral.Event {
		return referral.Event{Referral: itemID, Sequence: seq, From: from, To: to}
	}
	status, version, err := referral.Replay([]referral.Event{
		ev(1, "", referral.StatusDraft), ev(2, referral.StatusDraft, referral.StatusRequested), ev(3, referral.StatusRequested, referral.StatusRequested),
	})
	require.NoError(t, err)
	require.Equal(t, referral.StatusRequested, status)
	require.EqualValues(t, 3, version)

	_, _, err = referral.Replay([]referral.Event{ev(1, "", referral.StatusDraft), ev(3, referral.StatusDraft, referral.StatusRequested)})
	require.ErrorIs(t, err, referral.ErrConflict)
	_, _, err = referral.Replay([]referral.Event{ev(1, "", referral.StatusDraft), ev(2, referral.StatusAccepted, referral.StatusCompleted)})
	require.ErrorIs(t, err, referral.ErrConflict)
}

func TestDomainRegistry(t *testing.T) {
	require.NoError(t, referral.FoodInsecurity.Validate())
	require.ErrorIs(t, referral.Domain("pet-care").Validate(), referral.ErrInvalid)
	require.NoError(t, referral.RegisterDomain(referral.DomainInfo{Code: "pet-care", System: "https://example.org/domains", Display: "Pet care"}))
	require.NoError(t, referral.Domain("pet-care").Validate())
	require.ErrorIs(t, referral.RegisterDomain(referral.DomainInfo{Code: "Pet Care", System: "x", Display: "x"}), referral.ErrInvalid)
	info, ok := referral.LookupDomain(referral.FoodInsecurity)
	require.True(t, ok)
	require.Equal(t, referral.SystemSDOHCC, info.System)
}

func TestCloneIsDeep(t *testing.T) {
	s := validService()
	c := s.Clone()
	c.Locations[0].Address.City = "Elsewhere"
	c.ServiceAreas[0].Values[0] = "Lake"
	c.Capacity.Available = 0
	require.Equal(t, validService(), s)

	p := validPerson()
	pc := p.Clone()
	*pc.IncomeAnnual = 1
	pc.Attributes["program"] = "x"
	pc.Languages[0] = "fr"
	pc.Identifiers[0].Value = "x"
	*pc.Veteran, *pc.Disabled = true, false
	require.Equal(t, validPerson(), p)
}

// Yes-or-no facts are nil when unknown, and a known false survives JSON, so
// eligibility can tell "not a veteran" from "did not say".
func TestPersonYesOrNoFacts(t *testing.T) {
	tests := []struct {
		name string
		json string
		want *bool
	}{
		{"unknown", `{}`, nil},
		{"yes", `{"veteran":true}`, referral.Known(true)},
		{"no", `{"veteran":false}`, referral.Known(false)},
		{"null", `{"veteran":null}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p referral.Person
			require.NoError(t, json.Unmarshal([]byte(tt.json), &p))
			require.Equal(t, tt.want, p.Veteran)
			out, err := json.Marshal(referral.Person{Veteran: p.Veteran})
			require.NoError(t, err)
			if tt.want == nil {
				require.NotContains(t, string(out), "veteran")
			} else {
				require.Contains(t, string(out), `"veteran":`+strconv.FormatBool(*tt.want))
			}
		})
	}
}

// FuzzValidate decodes arbitrary JSON into each input type and validates it: the
// only acceptable outcomes are nil or an ErrInvalid, never a panic.
func FuzzValidate(f *testing.F) {
	for _, v := range []any{validPerson(), validService(), validReferral()} {
		b, err := json.Marshal(v)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"locations":[{"latitude":1e400}],"schedules":[{"byday":["MO"],"opens_at":"9","closes_at":"24:00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(err error) {
			if err != nil {
				require.ErrorIs(t, err, referral.ErrInvalid)
			}
		}
		var p referral.Person
		if json.Unmarshal(data, &p) == nil {
			check(p.Validate())
		}
		var s referral.Service
		if json.Unmarshal(data, &s) == nil {
			check(s.Validate())
			for _, sc := range s.Schedules {
				sc.OpenAt(time.Unix(0, 0))
			}
		}
		var r referral.Referral
		if json.Unmarshal(data, &r) == nil {
			check(r.Validate())
		}
		var c referral.Consent
		if json.Unmarshal(data, &c) == nil {
			check(c.Validate())
		}
		var a referral.Actor
		if json.Unmarshal(data, &a) == nil {
			check(a.Validate())
		}
	})
}

// An organization's identifiers may name their system by a URI (FHIR) or by
// a scheme code (HSDS organization_identifiers), and never repeat.
func TestOrganizationIdentifiers(t *testing.T) {
	o := referral.Organization{ID: orgID, Network: netID, Name: "North Food Bank",
		Identifiers: []referral.Identifier{{System: "http://hl7.org/fhir/sid/us-npi", Value: "1234567893", Type: "NPI"}}}
	require.NoError(t, o.Validate())
	o.Identifiers = append(o.Identifiers, referral.Identifier{System: "US-EIN", Value: "12-3456789", Type: "Tax ID"})
	require.NoError(t, o.Validate())
	o.Identifiers = append(o.Identifiers, o.Identifiers[0])
	requireField(t, o.Validate(), "identifiers[2]")
	o.Identifiers = []referral.Identifier{{System: "US-EIN"}}
	requireField(t, o.Validate(), "identifiers[0].value")
}
