package hsds_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

// shelterSecrets are the confidential site's address, coordinates, directions,
// identifier and the confidential numbers and names of the fixture in
// testdata/confidential: what no export for a viewer without the right may
// contain, in any form or shape.
var shelterSecrets = []string{
	"Hidden Lane", "Quietvale", "43299", "43298", "8675", "39.98765", "82.91234", "alley", "UPRN", "7312209",
	"555 0177", "555 0155", "555 0144", "555 0166", "Jordan Quill", "Night Advocate",
}

var (
	shelterOrg = "5afe4a2b-0000-4000-8000-000000000001"
	hotlineOrg = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-00000000f001")
)

// readShelter imports the confidential fixture, with the hotline granted
// access by the shelter.
func readShelter(t testing.TB) *hsds.Dataset {
	t.Helper()
	f, err := os.Open("testdata/confidential/services.json")
	require.NoError(t, err)
	defer f.Close()
	ds, err := hsds.ReadJSON(context.Background(), f, hsds.Options{Network: network})
	require.NoError(t, err)
	require.Empty(t, ds.Problems)
	require.Len(t, ds.Organizations, 1)
	ds.Organizations[0].ConfidentialAccess = []referral.ID{hotlineOrg}
	return ds
}

// TestConfidentialImport: refkit's "confidential" attribute marks locations,
// phones and contacts on import, and is consumed, not kept.
func TestConfidentialImport(t *testing.T) {
	ds := readShelter(t)
	shelter := byName(t, ds, "Safe Harbor Emergency Shelter")
	require.True(t, shelter.Locations[0].Confidential)
	require.Equal(t, []bool{false, true}, []bool{shelter.Phones[0].Confidential, shelter.Phones[1].Confidential})
	require.True(t, shelter.Contacts[0].Confidential)
	require.True(t, shelter.Locations[0].Phones[0].Confidential)
	require.NotContains(t, string(shelter.HSDS), `"code":"confidential"`, "the attribute is typed, not kept")
	org := ds.Organizations[0]
	require.Equal(t, []bool{true, false}, []bool{org.Phones[0].Confidential, org.Phones[1].Confidential})
	clinic := byName(t, ds, "Safe Harbor Legal Clinic")
	require.False(t, clinic.Confidential())
}

// TestConfidentialExports: an export for a viewer the shelter does not
// disclose to holds none of its secrets, in any JSON shape or the tabular
// form, but still lists the site (marked confidential) and the open clinic;
// one for a viewer it discloses to holds everything, and reads back the same.
func TestConfidentialExports(t *testing.T) {
	ctx := context.Background()
	staff := func(org referral.ID) *referral.Actor {
		return &referral.Actor{Network: network, Organization: org, Role: referral.RoleStaff}
	}
	shelter := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-00000000f002")
	tests := []struct {
		name    string
		viewer  func(ds *hsds.Dataset) *referral.Actor
		exactly bool
	}{
		{"the public", func(*hsds.Dataset) *referral.Actor { return nil }, false},
		{"another organization", func(*hsds.Dataset) *referral.Actor { return staff(shelter) }, false},
		{"a delegate", func(*hsds.Dataset) *referral.Actor {
			return &referral.Actor{Network: network, Person: shelter, Role: referral.RoleDelegate}
		}, false},
		{"the shelter's staff", func(ds *hsds.Dataset) *referral.Actor { return staff(ds.Organizations[0].ID) }, true},
		{"the granted hotline", func(*hsds.Dataset) *referral.Actor { return staff(hotlineOrg) }, true},
		{"a system actor", func(*hsds.Dataset) *referral.Actor {
			return &referral.Actor{Network: network, Role: referral.RoleSystem}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := readShelter(t)
			ds.Version = hsds.Version31
			ds.Viewer = tc.viewer(ds)
			var outputs []string
			for _, shape := range []hsds.Shape{hsds.ServicePage, hsds.OrganizationPage, hsds.ServiceAtLocationPage} {
				for _, v := range []hsds.Version{hsds.Version30, hsds.Version31} {
					ds.Version = v
					var buf bytes.Buffer
					require.NoError(t, hsds.WriteJSONAs(ctx, &buf, ds, shape))
					outputs = append(outputs, buf.String())
				}
			}
			dir := t.TempDir()
			require.NoError(t, hsds.WriteDatapackage(ctx, dir, ds))
			files, err := os.ReadDir(dir)
			require.NoError(t, err)
			var tabular strings.Builder
			for _, f := range files {
				data, err := os.ReadFile(filepath.Join(dir, f.Name()))
				require.NoError(t, err)
				tabular.Write(data)
			}
			outputs = append(outputs, tabular.String())
			for i, out := range outputs {
				require.Contains(t, out, "Safe Harbor House", "output %d lists the site", i)
				require.Contains(t, out, "80 Court Street", "output %d shows the open location whole", i)
				require.Contains(t, out, "555 0100", "output %d shows the open numbers", i)
				for _, secret := range shelterSecrets {
					if tc.exactly {
						continue
					}
					require.NotContains(t, out, secret, "output %d", i)
				}
			}
			if !tc.exactly {
				require.Contains(t, outputs[1], `"code": "confidential"`, "the site says why it has no address")
				return
			}
			for _, secret := range shelterSecrets {
				require.Contains(t, outputs[1], secret, "a viewer with the right gets everything")
			}
			back, err := hsds.ReadJSON(ctx, strings.NewReader(outputs[1]), hsds.Options{Network: network})
			require.NoError(t, err)
			want := readShelter(t)
			for i := range want.Services {
				requireSameRecord(t, want.Services[i], back.Services[i], want.Services[i].HSDS, back.Services[i].HSDS)
			}
		})
	}
}
