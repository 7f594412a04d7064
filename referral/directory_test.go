package referral_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// fullService sets every field a service can hold.
func fullService() referral.Service {
	amount := 2.5
	s := validService()
	s.SourceID = "svc-pantry"
	s.ApplicationProcess, s.FeesDescription, s.InterpretationServices, s.Alert = "Walk in.", "Free.", "Spanish on Saturdays.", "Closed Monday."
	s.CostOptions = []referral.CostOption{{ID: "c1", Option: "Delivery", Currency: "USD", Amount: &amount, ValidFrom: "2026-01-01"}}
	s.RequiredDocuments = []referral.RequiredDocument{{ID: "d1", Document: "Photo ID", URI: "https://example.org/id"}}
	s.Phones = []referral.Phone{{ID: "p1", Number: "+1 312 555 0100", Extension: "12", Type: "voice", Languages: []string{"es"}}}
	s.Contacts = []referral.Contact{{ID: "k1", Name: "Coordinator", Phones: []referral.Phone{{Number: "+1 312 555 0101"}}}}
	s.Capacity = &referral.Capacity{Available: 3, Waitlist: 2, Maximum: 40, ID: "cap1", Description: "Households this week",
		Unit: &referral.Unit{ID: "u1", Name: "Household"}, Updated: time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)}
	l := &s.Locations[0]
	l.SourceID, l.Type, l.AlternateName, l.Transportation, l.URL = "loc-1", referral.LocationPhysical, "The Hall", "Bus 7", "https://example.org/hall"
	l.PostalAddress = &referral.Address{ID: "a2", Attention: "Accounts", Address1: "PO Box 1"}
	l.Phones = []referral.Phone{{Number: "+1 312 555 0102"}}
	l.Accessibility = []referral.Accessibility{{ID: "x1", Description: "Step-free"}}
	l.Languages = []string{"pl"}
	l.Schedules = []referral.Schedule{{ByDay: []string{"SA"}}}
	l.ServiceAtLocation = "sal-1"
	l.ServiceSchedules = []referral.Schedule{{Freq: referral.Monthly, ByDay: []string{"1SA"}, ByMonthDay: []int{1, 2}}}
	l.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaZip, Values: []string{"60601"}}}
	s.HSDS = json.RawMessage(`{"program":{"id":"prog-1","name":"Food"}}`)
	return s
}

func TestServiceValidateNewFields(t *testing.T) {
	require.NoError(t, fullService().Validate())
	ok := fullService()
	ok.HSDS = json.RawMessage(`{"a":"tab\tnew\nline \"quoted\" \\ é","b":[{"c":null}]}`)
	require.NoError(t, ok.Validate())
	long := strings.Repeat("x", 10001)
	tests := []struct {
		name  string
		edit  func(s *referral.Service)
		field string
	}{
		{"phone without number", func(s *referral.Service) { s.Phones[0].Number = "" }, "phones[0].number"},
		{"extension not a number", func(s *referral.Service) { s.Phones[0].Extension = "ext 5" }, "phones[0].extension"},
		{"phone language", func(s *referral.Service) { s.Phones[0].Languages = []string{"e s"} }, "phones[0].languages[0]"},
		{"too many phones", func(s *referral.Service) { s.Phones = make([]referral.Phone, 101) }, "phones"},
		{"contact phone", func(s *referral.Service) { s.Contacts[0].Phones[0].Number = " " }, "contacts[0].phones[0].number"},
		{"cost amount NaN", func(s *referral.Service) { v := 0.0; v /= v; s.CostOptions[0].Amount = &v }, "cost_options[0].amount"},
		{"document too long", func(s *referral.Service) { s.RequiredDocuments[0].Document = long }, "required_documents[0].document"},
		{"negative maximum", func(s *referral.Service) { s.Capacity.Maximum = -1 }, "capacity"},
		{"unit without name", func(s *referral.Service) { s.Capacity.Unit.Name = "" }, "capacity.unit.name"},
		{"unknown location type", func(s *referral.Service) { s.Locations[0].Type = "mobile" }, "locations[0].location_type"},
		{"unplaced with a point", func(s *referral.Service) { s.Locations[0].Unplaced = true }, "locations[0].latitude"},
		{"postal address control character", func(s *referral.Service) { s.Locations[0].PostalAddress.City = "\x01" }, "locations[0].postal_address.city"},
		{"site schedule", func(s *referral.Service) { s.Locations[0].ServiceSchedules[0].ByDay = []string{"XX"} }, "locations[0].service_schedules[0].byday[0]"},
		{"site area", func(s *referral.Service) { s.Locations[0].ServiceAreas[0].Values = nil }, "locations[0].service_areas[0].values"},
		{"unread area with values", func(s *referral.Service) { s.ServiceAreas[0].Kind = "" }, "service_areas[0].values"},
		{"kept data not an object", func(s *referral.Service) { s.HSDS = json.RawMessage(`[1]`) }, "hsds"},
		{"kept data trailing", func(s *referral.Service) { s.HSDS = json.RawMessage(`{} {}`) }, "hsds"},
		{"kept data with NUL", func(s *referral.Service) { s.HSDS = json.RawMessage(`{"a":"\u0000"}`) }, "hsds"},
		{"kept data with an escaped replacement character", func(s *referral.Service) { s.HSDS = json.RawMessage(`{"a":"x\uFFFDy"}`) }, "hsds"},
		{"kept data with a control key", func(s *referral.Service) { s.HSDS = json.RawMessage(`{"\u001f":1}`) }, "hsds"},
		{"kept data not UTF-8", func(s *referral.Service) { s.HSDS = json.RawMessage("{\"a\":\"\xff\"}") }, "hsds"},
		{"kept data too deep", func(s *referral.Service) {
			s.HSDS = json.RawMessage(`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`)
		}, "hsds"},
		{"kept data too large", func(s *referral.Service) {
			s.HSDS = json.RawMessage(`{"a":"` + strings.Repeat("x", 1<<20) + `"}`)
		}, "hsds"},
		{"source id too long", func(s *referral.Service) { s.SourceID = strings.Repeat("x", 301) }, "source_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fullService()
			tc.edit(&s)
			requireField(t, s.Validate(), tc.field)
		})
	}
}

func TestOrganizationValidateNewFields(t *testing.T) {
	o := referral.Organization{
		ID: orgID, Network: netID, Name: "Pantry Org", SourceID: "org-1",
		Identifiers: []referral.Identifier{{System: "US-EIN", Type: "Tax ID", Value: "00-0000001"}},
		Phones:      []referral.Phone{{Number: "+1 312 555 0100"}},
		Contacts:    []referral.Contact{{Name: "Front desk"}},
		HSDS:        json.RawMessage(`{"funding":[{"id":"f1","source":"County"}]}`),
	}
	require.NoError(t, o.Validate())
	for name, tc := range map[string]struct {
		edit  func(o *referral.Organization)
		field string
	}{
		"identifier without value": {func(o *referral.Organization) { o.Identifiers[0].Value = "" }, "identifiers[0].value"},
		"phone without number":     {func(o *referral.Organization) { o.Phones[0].Number = "" }, "phones[0].number"},
		"contact email":            {func(o *referral.Organization) { o.Contacts[0].Email = strings.Repeat("x", 301) }, "contacts[0].email"},
		"kept data":                {func(o *referral.Organization) { o.HSDS = json.RawMessage(`"x"`) }, "hsds"},
	} {
		t.Run(name, func(t *testing.T) {
			c := o.Clone()
			tc.edit(&c)
			requireField(t, c.Validate(), tc.field)
		})
	}
	c := o.Clone()
	c.Identifiers[0].Value, c.Phones[0].Number, c.HSDS[2] = "x", "y", 'X'
	require.Equal(t, "00-0000001", o.Identifiers[0].Value)
	require.Equal(t, "+1 312 555 0100", o.Phones[0].Number)
	require.Equal(t, byte('f'), o.HSDS[2])
}

func TestUnmatchable(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *referral.Service)
		want []string
	}{
		{"matchable", func(s *referral.Service) {}, nil},
		{"no domain", func(s *referral.Service) { s.Domains = nil }, []string{referral.UnmatchableNoDomain}},
		{"no place", func(s *referral.Service) {
			s.ServiceAreas = nil
			s.Locations[0].Latitude, s.Locations[0].Longitude, s.Locations[0].Unplaced = 0, 0, true
		}, []string{referral.UnmatchableNoPlace}},
		{"a postal location is no place", func(s *referral.Service) {
			s.ServiceAreas = nil
			s.Locations[0].Type = referral.LocationPostal
		}, []string{referral.UnmatchableNoPlace}},
		{"an unread area is no place", func(s *referral.Service) {
			s.Locations = nil
			s.ServiceAreas = []referral.ServiceArea{{Name: "the valley"}}
		}, []string{referral.UnmatchableNoPlace}},
		{"a virtual location is a place", func(s *referral.Service) {
			s.ServiceAreas = nil
			s.Locations[0] = referral.Location{ID: itemID, Type: referral.LocationVirtual, Unplaced: true}
		}, nil},
		{"a site's area is a place", func(s *referral.Service) {
			s.ServiceAreas = nil
			s.Locations[0].Unplaced, s.Locations[0].Latitude, s.Locations[0].Longitude = true, 0, 0
			s.Locations[0].ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaVirtual}}
		}, nil},
		{"both", func(s *referral.Service) { s.Domains, s.Locations, s.ServiceAreas = nil, nil, nil },
			[]string{referral.UnmatchableNoDomain, referral.UnmatchableNoPlace}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validService()
			tc.edit(&s)
			require.NoError(t, s.Validate(), "an unmatchable service is still a valid record")
			require.Equal(t, tc.want, s.Unmatchable())
		})
	}
}

func TestCloneIsDeepForNewFields(t *testing.T) {
	s := fullService()
	c := s.Clone()
	*c.CostOptions[0].Amount = 9
	c.Phones[0].Languages[0] = "fr"
	c.Contacts[0].Phones[0].Number = "0"
	c.Capacity.Unit.Name = "Bed"
	c.Locations[0].PostalAddress.City = "Elsewhere"
	c.Locations[0].Phones[0].Number = "0"
	c.Locations[0].Languages[0] = "fr"
	c.Locations[0].Schedules[0].ByDay[0] = "SU"
	c.Locations[0].ServiceSchedules[0].ByMonthDay[0] = 9
	c.Locations[0].ServiceAreas[0].Values[0] = "0"
	c.Locations[0].Accessibility[0].Description = "changed"
	c.Schedules[0].ByDay[0] = "SU"
	c.HSDS[2] = 'X'
	require.Equal(t, fullService(), s)
}
