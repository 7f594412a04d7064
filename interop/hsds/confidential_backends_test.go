package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/internal/backendtest"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// TestConfidentialSiteNeverLeaks loads the shelter into every backend and
// asks for it every way refkit answers: matching (with explanations, by the
// index and by the reference scan), the JSON and tabular exports, and every
// route of the API. For a viewer the shelter does not disclose to, no answer
// holds the site's address, coordinates (to four decimals), exact distance,
// directions or identifier, or the confidential numbers and names; for its
// staff every answer that shows places holds them.
func TestConfidentialSiteNeverLeaks(t *testing.T) {
	ctx := context.Background()
	for _, b := range backendtest.All(backendtest.Options{}) {
		t.Run(b.Name, func(t *testing.T) {
			s, _ := b.Open(t)
			defer s.Close()
			require.NoError(t, s.PutNetwork(ctx, referral.Network{ID: network, Name: "Test network"}))
			_, err := hsds.Load(ctx, s, network, readShelter(t), directory.LoadOptions{})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			catalog, err := directory.NewCatalog(ctx, s, network)
			require.NoError(t, err)
			api, err := hsds.NewAPI(catalog, hsds.APIOptions{Authenticate: testActor})
			require.NoError(t, err)
			shelter := readShelter(t).Organizations[0].ID
			// The request is 1.4 km from the site, whose exact distance is
			// also a secret.
			near := referral.Point{Latitude: 39.975, Longitude: -82.92}
			exact := matching.DistanceM(near.Latitude, near.Longitude, 39.98765, -82.91234)
			secrets := append([]string{"39.9876", "82.9123", fmt.Sprintf("%.1f", exact), fmt.Sprintf("%.2f km", exact/1000)}, shelterSecrets...)

			answers := func(viewer *referral.Actor, header string) string {
				var all strings.Builder
				req := matching.Request{Needs: []referral.Need{{Domain: referral.InterpersonalSafety, Urgency: referral.Emergent}},
					Near: &near, RadiusM: 1000, Explain: true, Viewer: viewer, Unknown: matching.UnknownInclude}
				for _, radius := range []float64{1000, 5000} {
					req.RadiusM = radius
					res, err := ix.Match(ctx, req)
					require.NoError(t, err)
					scan, err := ix.Matching().Snapshot().Match(ctx, req)
					require.NoError(t, err)
					for _, r := range []matching.Result{res, scan} {
						b, err := json.Marshal(r)
						require.NoError(t, err)
						all.Write(b)
						fmt.Fprintf(&all, "%+v", r)
					}
				}
				ds := &hsds.Dataset{Viewer: viewer}
				for o := range catalog.Organizations() {
					ds.Organizations = append(ds.Organizations, o.Clone())
				}
				for svc := range catalog.Services() {
					ds.Services = append(ds.Services, svc.Clone())
				}
				for _, v := range []hsds.Version{hsds.Version30, hsds.Version31} {
					ds.Version = v
					for _, shape := range []hsds.Shape{hsds.ServicePage, hsds.OrganizationPage, hsds.ServiceAtLocationPage} {
						var buf bytes.Buffer
						require.NoError(t, hsds.WriteJSONAs(ctx, &buf, ds, shape))
						all.Write(buf.Bytes())
					}
					dir := t.TempDir()
					require.NoError(t, hsds.WriteDatapackage(ctx, dir, ds))
					files, err := os.ReadDir(dir)
					require.NoError(t, err)
					for _, f := range files {
						b, err := os.ReadFile(filepath.Join(dir, f.Name()))
						require.NoError(t, err)
						all.Write(b)
					}
				}
				for _, target := range []string{
					"/services?full=true", "/services/0f3c6a52-5a0e-4d1c-9d7e-4b8a1d2c3e01",
					"/organizations?full=true&full_service=true", "/organizations/" + shelterOrg + "?full_service=true",
					"/service_at_locations?full=true", "/service_at_locations/5a100000-0000-4000-8000-000000000001",
					"/service_at_locations?postcode=43299", "/services?search=hidden+lane", "/taxonomy_terms",
				} {
					r := httptest.NewRequest(http.MethodGet, target, nil)
					if header != "" {
						r.Header.Set("X-Test-Actor", header)
					}
					rec := httptest.NewRecorder()
					api.ServeHTTP(rec, r)
					require.Equal(t, http.StatusOK, rec.Code, "%s: %s", target, rec.Body.String())
					all.Write(rec.Body.Bytes())
				}
				return all.String()
			}

			public := answers(nil, "")
			other := answers(&referral.Actor{Network: network, Organization: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-00000000f0bb"),
				Role: referral.RoleStaff}, "0190a6f0-8a4b-7c3d-9e2f-00000000f0bb")
			for _, out := range []string{public, other} {
				require.Contains(t, out, "Safe Harbor House", "the site is shown")
				require.Contains(t, out, `"vicinity"`, "matching shows its vicinity")
				for _, secret := range secrets {
					require.NotContains(t, out, secret)
				}
			}
			staff := answers(&referral.Actor{Network: network, Organization: shelter, Role: referral.RoleStaff}, shelter.String())
			for _, secret := range secrets {
				require.Contains(t, staff, secret, "the shelter's own staff see everything")
			}
		})
	}
}
