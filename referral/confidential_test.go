package referral_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func TestOrganizationDiscloses(t *testing.T) {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa")
	shelter := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000001")
	hotline := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000002")
	clinic := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000003")
	person := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000004")
	elsewhere := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000bb")
	o := referral.Organization{ID: shelter, Network: network, Name: "Safe Harbor", ConfidentialAccess: []referral.ID{hotline}}
	tests := []struct {
		name  string
		actor *referral.Actor
		want  bool
	}{
		{"the public", nil, false},
		{"own staff", &referral.Actor{Network: network, Organization: shelter, Role: referral.RoleStaff}, true},
		{"own admin", &referral.Actor{Network: network, Organization: shelter, Role: referral.RoleAdmin}, true},
		{"granted staff", &referral.Actor{Network: network, Organization: hotline, Role: referral.RoleStaff}, true},
		{"other staff", &referral.Actor{Network: network, Organization: clinic, Role: referral.RoleStaff}, false},
		{"other admin", &referral.Actor{Network: network, Organization: clinic, Role: referral.RoleAdmin}, false},
		{"system", &referral.Actor{Network: network, Role: referral.RoleSystem}, true},
		{"delegate", &referral.Actor{Network: network, Person: person, Role: referral.RoleDelegate}, false},
		{"delegate naming the organization", &referral.Actor{Network: network, Organization: shelter, Person: person, Role: referral.RoleDelegate}, false},
		{"own staff in another network", &referral.Actor{Network: elsewhere, Organization: shelter, Role: referral.RoleStaff}, false},
		{"system of another network", &referral.Actor{Network: elsewhere, Role: referral.RoleSystem}, false},
		{"no network", &referral.Actor{Organization: shelter, Role: referral.RoleStaff}, false},
		{"staff without an organization", &referral.Actor{Network: network, Role: referral.RoleStaff}, false},
		{"unknown role", &referral.Actor{Network: network, Organization: shelter, Role: "owner"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, o.Discloses(tc.actor))
		})
	}
}

// shelterService is a service with one confidential and one open location,
// and confidential phones and contacts at every level.
func shelterService() referral.Service {
	s := validService()
	s.Phones = []referral.Phone{{Number: "+1 312 555 0100"}, {Number: "+1 312 555 0199", Confidential: true}}
	s.Contacts = []referral.Contact{
		{Name: "Intake desk", Phones: []referral.Phone{{Number: "+1 312 555 0101"}, {Number: "+1 312 555 0198", Confidential: true}}},
		{Name: "House manager", Confidential: true, Phones: []referral.Phone{{Number: "+1 312 555 0197"}}},
	}
	open := s.Locations[0]
	open.ID = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000f1")
	s.Locations[0].Confidential = true
	s.Locations[0].Transportation = "Side door on the alley"
	s.Locations[0].PostalAddress = &referral.Address{Address1: "PO Box 77"}
	s.Locations[0].Phones = []referral.Phone{{Number: "+1 312 555 0196", Confidential: true}, {Number: "+1 312 555 0102"}}
	s.Locations = append(s.Locations, open)
	s.HSDS = json.RawMessage(`{"program":{"id":"prog-1"}}`)
	return s
}

func TestServiceRedacted(t *testing.T) {
	s := shelterService()
	require.NoError(t, s.Validate())
	require.True(t, s.Confidential())
	before, err := json.Marshal(s)
	require.NoError(t, err)

	r := s.Redacted()
	require.NoError(t, r.Validate(), "a redacted copy is a valid record")
	require.True(t, r.Confidential(), "the location still says it is confidential")
	hidden := r.Locations[0]
	require.True(t, hidden.Confidential)
	require.True(t, hidden.Unplaced)
	require.Zero(t, hidden.Latitude)
	require.Zero(t, hidden.Longitude)
	require.Nil(t, hidden.Address)
	require.Nil(t, hidden.PostalAddress)
	require.Empty(t, hidden.Transportation)
	require.Equal(t, referral.LocationPhysical, hidden.Type)
	require.Equal(t, s.Locations[0].Name, hidden.Name, "what it is called is shown")
	require.Equal(t, []referral.Phone{{Number: "+1 312 555 0102"}}, hidden.Phones)
	require.Equal(t, s.Locations[1], r.Locations[1], "an open location is shown whole")
	require.Equal(t, []referral.Phone{{Number: "+1 312 555 0100"}}, r.Phones)
	require.Equal(t, []referral.Contact{{Name: "Intake desk", Phones: []referral.Phone{{Number: "+1 312 555 0101"}}}}, r.Contacts)
	require.Nil(t, r.HSDS)

	text, err := json.Marshal(r)
	require.NoError(t, err)
	for _, secret := range []string{"0199", "0198", "0197", "0196", "House manager", "PO Box", "alley"} {
		require.NotContains(t, string(text), secret)
	}
	after, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "Redacted leaves the record it copies alone")

	plain := validService()
	require.False(t, plain.Confidential())
	require.Equal(t, plain.Locations, plain.Redacted().Locations)
}

func TestOrganizationRedacted(t *testing.T) {
	o := referral.Organization{
		ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000001"), Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa"),
		Name: "Safe Harbor", Phone: "+1 312 555 0199",
		Phones:             []referral.Phone{{Number: "+1 312 555 0199", Confidential: true}, {Number: "+1 312 555 0100"}},
		Contacts:           []referral.Contact{{Name: "Director", Confidential: true}, {Name: "Front desk", Phones: []referral.Phone{{Number: "+1 312 555 0198", Confidential: true}}}},
		ConfidentialAccess: []referral.ID{referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000002")},
		HSDS:               json.RawMessage(`{"locations":[{"id":"l1"}]}`),
	}
	require.NoError(t, o.Validate())
	r := o.Redacted()
	require.NoError(t, r.Validate())
	require.Empty(t, r.Phone, "the number shown first was a confidential one")
	require.Equal(t, []referral.Phone{{Number: "+1 312 555 0100"}}, r.Phones)
	require.Equal(t, []referral.Contact{{Name: "Front desk"}}, r.Contacts)
	require.Nil(t, r.ConfidentialAccess)
	require.Nil(t, r.HSDS)
	require.Len(t, o.Phones, 2, "the original keeps everything")

	o.Phone = "+1 312 555 0100"
	require.Equal(t, "+1 312 555 0100", o.Redacted().Phone, "an open number stays")
	o.Phone = "+1 312 555 0198"
	require.Empty(t, o.Redacted().Phone, "a contact's confidential number is not shown as the organization's")
}

func TestConfidentialAccessValidate(t *testing.T) {
	base := referral.Organization{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000001"),
		Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa"), Name: "Safe Harbor"}
	tests := []struct {
		name   string
		access []referral.ID
		field  string
	}{
		{"none", nil, ""},
		{"one", []referral.ID{referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000002")}, ""},
		{"zero id", []referral.ID{referral.NilID}, "confidential_access[0]"},
		{"too many", make([]referral.ID, 101), "confidential_access"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.ConfidentialAccess = tc.access
			err := o.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
			require.True(t, strings.HasPrefix(ve.Problem, "is") || strings.HasPrefix(ve.Problem, "has"))
		})
	}
	o := base
	o.ConfidentialAccess = []referral.ID{referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000002")}
	c := o.Clone()
	c.ConfidentialAccess[0] = referral.NilID
	require.False(t, o.ConfidentialAccess[0].IsZero(), "Clone copies the grants")
}
