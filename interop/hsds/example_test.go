package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

const exampleJSON = `{"contents": [
 {"id": "svc-1", "name": "Riverbend Pantry", "status": "active", "minimum_age": 18,
  "organization": {"id": "org-1", "name": "Riverbend Community Pantry", "description": ""},
  "service_at_locations": [{"id": "sal-1", "location": {"id": "loc-1", "location_type": "physical",
    "latitude": 30.2672, "longitude": -97.7431}}],
  "schedules": [{"id": "sch-1", "freq": "WEEKLY", "byday": "MO,WE", "opens_at": "09:00", "closes_at": "12:00", "timezone": -6}],
  "attributes": [{"id": "attr-1", "taxonomy_term": {"id": "t-1", "name": "Food Pantry", "description": "", "taxonomy": "Open Eligibility"}}]},
 {"id": "svc-2", "name": "Pop-up Clinic", "status": "active",
  "organization": {"id": "org-1", "name": "Riverbend Community Pantry", "description": ""},
  "service_at_locations": [{"id": "sal-2", "location": {"id": "loc-2", "location_type": "physical"}}],
  "attributes": [{"id": "attr-2", "taxonomy_term": {"id": "t-2", "name": "Dental Care", "description": "", "taxonomy": "Open Eligibility"}},
                 {"id": "attr-3", "taxonomy_term": {"id": "t-3", "name": "Emergency Food", "description": "", "taxonomy": "Open Eligibility"}}]}
]}`

func ExampleReadJSON() {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	ds, err := hsds.ReadJSON(context.Background(), strings.NewReader(exampleJSON), hsds.Options{Network: network})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range ds.Services {
		fmt.Println(s.Name, s.Domains, "unmatchable:", s.Unmatchable(), "HSDS id:", s.SourceID)
	}
	fmt.Println(ds.Services[0].Schedules[0].ByDay, ds.Services[0].Schedules[0].Timezone)
	for _, p := range ds.Problems {
		fmt.Println(p.Record, p.ID, "kept:", p.Kept)
	}
	// Output:
	// Riverbend Pantry [food-insecurity] unmatchable: [] HSDS id: svc-1
	// Pop-up Clinic [food-insecurity] unmatchable: [no-place] HSDS id: svc-2
	// [MO WE] Etc/GMT+6
	// attribute attr-2 kept: true
	// location loc-2 kept: true
	// service svc-2 kept: true
}

func ExampleReadDatapackage() {
	pkg := fstest.MapFS{
		"datapackage.json": {Data: []byte(`{"resources": [
			{"name": "organization", "path": "organizations.csv"}, {"name": "service", "path": "services.csv"},
			{"name": "service_area", "path": "service_areas.csv"}, {"name": "taxonomy_term", "path": "taxonomy_terms.csv"},
			{"name": "attribute", "path": "attributes.csv"}]}`)},
		"organizations.csv":  {Data: []byte("id,name\norg-1,Mesa Verde Rides\n")},
		"services.csv":       {Data: []byte("id,organization_id,name,status\nsvc-1,org-1,Rides to Appointments,active\n")},
		"service_areas.csv":  {Data: []byte("id,service_id,name,extent,extent_type\narea-1,svc-1,Travis County,county:Travis,text\n")},
		"taxonomy_terms.csv": {Data: []byte("id,name,description,taxonomy\nt-1,Transportation for Healthcare,,Open Eligibility\n")},
		"attributes.csv":     {Data: []byte("id,link_id,link_entity,taxonomy_term_id\nattr-1,svc-1,service,t-1\n")},
	}
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	ds, err := hsds.ReadDatapackage(context.Background(), pkg, hsds.Options{Network: network})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := ds.Services[0]
	fmt.Println(s.Name, s.Domains, s.ServiceAreas[0].Kind, s.ServiceAreas[0].Values, len(ds.Problems))
	// Output: Rides to Appointments [transportation-insecurity] county [Travis] 0
}

func ExampleWriteJSON() {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	ds, _ := hsds.ReadJSON(context.Background(), strings.NewReader(exampleJSON), hsds.Options{Network: network})
	var buf bytes.Buffer
	if err := hsds.WriteJSON(context.Background(), &buf, ds); err != nil {
		fmt.Println(err)
		return
	}
	var page struct {
		TotalItems int `json:"total_items"`
		Contents   []struct {
			ID         string `json:"id"`
			Attributes []struct {
				TaxonomyTerm struct{ Code, Taxonomy string } `json:"taxonomy_term"`
			} `json:"attributes"`
		} `json:"contents"`
	}
	_ = json.Unmarshal(buf.Bytes(), &page)
	term := page.Contents[0].Attributes[0].TaxonomyTerm
	fmt.Println(page.TotalItems, page.Contents[0].ID, term.Code, term.Taxonomy == referral.SystemSDOHCC)
	// Output: 2 svc-1 food-insecurity true
}

func ExampleWriteDatapackage() {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	ds, _ := hsds.ReadJSON(context.Background(), strings.NewReader(exampleJSON), hsds.Options{Network: network})
	dir, _ := os.MkdirTemp("", "hsds-example")
	defer os.RemoveAll(dir)
	if err := hsds.WriteDatapackage(context.Background(), dir, ds); err != nil {
		fmt.Println(err)
		return
	}
	services, _ := os.ReadFile(filepath.Join(dir, "services.csv"))
	fmt.Print(strings.ReplaceAll(string(services), "\r\n", "\n")) // rows end in CRLF, as RFC 4180 has them
	// Output:
	// id,organization_id,program_id,name,alternate_name,description,url,email,status,interpretation_services,application_process,fees_description,wait_time,fees,accreditations,eligibility_description,minimum_age,maximum_age,assured_date,assurer_email,licenses,alert,last_modified
	// svc-1,org-1,,Riverbend Pantry,,,,,active,,,,,,,,18,,,,,,
	// svc-2,org-1,,Pop-up Clinic,,,,,active,,,,,,,,,,,,,,
}

func ExampleAgeRule() {
	fmt.Println(hsds.AgeRule(18, 64))
	fmt.Println(hsds.AgeRule(0, 17))
	// Output:
	// age >= 18 && age <= 64
	// age <= 17
}

func ExampleReadTaxonomyMap() {
	m, err := hsds.ReadTaxonomyMap(strings.NewReader("taxonomy,term,domain\nAIRS,BD-1800.2000,food-insecurity\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Domains("AIRS", "BD-1800.2000", "Food Pantries"))
	// Output: [food-insecurity]
}

func ExampleNewTaxonomyMap() {
	m, err := hsds.NewTaxonomyMap([]hsds.TaxonomyEntry{
		{Taxonomy: "County Codes", Term: "RENT", Domains: []referral.Domain{referral.HousingInstability, referral.FinancialInsecurity}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Domains("county codes", "rent", ""))
	// Output: [housing-instability financial-insecurity]
}

func ExampleOpenEligibility() {
	oe := hsds.OpenEligibility()
	fmt.Println(oe.Domains("Open Eligibility", "", "Help Pay for Utilities"))
	fmt.Println(oe.Domains("Open Eligibility", "", "Bus Passes"))
	// Output:
	// [utility-insecurity]
	// [transportation-insecurity]
}

func ExampleProblem() {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	_, err := hsds.ReadJSON(context.Background(), strings.NewReader(exampleJSON), hsds.Options{Network: network, Strict: true})
	fmt.Println(err)
	// Output: refkit: invalid input: hsds attribute attr-2 imported with a problem: taxonomy term maps to no SDOH domain: kept as given
}

func ExampleWriteJSONAs() {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	ds, _ := hsds.ReadJSON(context.Background(), strings.NewReader(exampleJSON), hsds.Options{Network: network})
	var buf bytes.Buffer
	if err := hsds.WriteJSONAs(context.Background(), &buf, ds, hsds.OrganizationPage); err != nil {
		fmt.Println(err)
		return
	}
	var page struct {
		Contents []struct {
			Name     string
			Services []struct{ Name string }
		}
	}
	_ = json.Unmarshal(buf.Bytes(), &page)
	org := page.Contents[0]
	fmt.Println(org.Name, "runs", len(org.Services), "services:", org.Services[0].Name, "and", org.Services[1].Name)
	// Output: Riverbend Community Pantry runs 2 services: Riverbend Pantry and Pop-up Clinic
}

func ExampleVersion() {
	network := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	doc := `{"id": "svc-1", "name": "Shelter beds", "status": "active",
	  "organization": {"id": "org-1", "name": "Night Shelter", "description": ""},
	  "service_areas": [{"id": "a1", "extent": "county:Travis", "extent_type": "text"}],
	  "capacities": [{"id": "c1", "available": 3, "maximum": 40, "unit": {"id": "u1", "name": "Bed"}, "updated": "2026-03-01T20:00:00Z"}],
	  "attributes": [{"id": "t1", "taxonomy_term": {"id": "x", "name": "Emergency Shelter", "description": "", "taxonomy": "Open Eligibility"}}]}`
	ds, _ := hsds.ReadJSON(context.Background(), strings.NewReader(doc), hsds.Options{Network: network})
	c := ds.Services[0].Capacity
	fmt.Println(ds.Version, c.Available, "of", c.Maximum, c.Unit.Name)

	ds.Version = hsds.Version30 // 3.0 has no capacities: they are left out
	var buf bytes.Buffer
	_ = hsds.WriteJSON(context.Background(), &buf, ds)
	fmt.Println(strings.Contains(buf.String(), "capacities"))
	// Output:
	// 3.1 3 of 40 Bed
	// false
}
