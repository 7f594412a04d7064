package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

// checkImport holds for every import that succeeds: the records are valid, the
// problems are complete, and the dataset survives an export and a re-import
// with the same records and nothing dropped.
func checkImport(t *testing.T, ds *hsds.Dataset, err error) {
	if err != nil {
		var p *hsds.Problem
		require.True(t, errors.Is(err, referral.ErrInvalid) || errors.As(err, &p), "error %v does not wrap ErrInvalid", err)
		return
	}
	for _, o := range ds.Organizations {
		require.NoError(t, o.Validate())
	}
	for _, s := range ds.Services {
		require.NoError(t, s.Validate())
	}
	for _, p := range ds.Problems {
		require.NotEmpty(t, p.Record)
		require.NotEmpty(t, p.Reason)
	}
	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(context.Background(), &buf, ds))
	back, err := hsds.ReadJSON(context.Background(), &buf, hsds.Options{Network: network})
	require.NoError(t, err)
	require.Equal(t, len(ds.Services), len(back.Services))
	for _, p := range back.Problems {
		require.True(t, p.Kept, "a re-import drops nothing: %v", p)
	}
}

func FuzzReadJSON(f *testing.F) {
	for _, file := range []string{"testdata/json/services.json"} {
		sample, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(sample)
	}
	// The smallest service of the full-coverage fixture: a page of 150 kB
	// would slow every mutation.
	full, err := os.ReadFile("testdata/full-3.1/services.json")
	require.NoError(f, err)
	var page struct{ Contents []json.RawMessage }
	require.NoError(f, json.Unmarshal(full, &page))
	smallest := page.Contents[0]
	for _, c := range page.Contents {
		if len(c) < len(smallest) {
			smallest = c
		}
	}
	f.Add([]byte(smallest))
	f.Add([]byte(goodService))
	f.Add([]byte("[" + goodService + "]"))
	f.Add([]byte(`{"contents": []}`))
	f.Add([]byte(`{"id": "x", "name": "y", "status": "active", "minimum_age": 1e999}`))
	f.Add([]byte(`{"id": "s", "service": {"id": "v", "name": "n", "status": "active", "organization_id": "o"}}`))
	f.Add([]byte(`{"id": "o", "name": "n", "description": "d", "services": [{"id": "s", "name": "n", "status": "active"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(doc), hsds.Options{Network: network, MaxBytes: 1 << 20})
		checkImport(t, ds, err)
	})
}

func FuzzReadDatapackage(f *testing.F) {
	pkg := samplePackage(f)
	f.Add(pkg["services.csv"].Data, pkg["locations.csv"].Data, pkg["schedules.csv"].Data)
	var full [3][]byte
	for i, name := range []string{"services.csv", "locations.csv", "schedules.csv"} {
		b, err := os.ReadFile("testdata/full-3.0/csv/" + name)
		require.NoError(f, err)
		full[i] = b
	}
	f.Add(full[0], full[1], full[2])
	f.Add([]byte("id,organization_id,name,status\ns1,o1,S,active\n"), []byte("id,latitude,longitude\nl1,NaN,Inf\n"), []byte("id\n"))
	f.Add([]byte("\ufeffid;name\n"), []byte(""), []byte("id,service_id,byday,opens_at,closes_at,timezone\nx,s1,MO,09:00,08:00,-5\n"))
	f.Add([]byte("id,organization_id,name,status\ns1,fc930162-b007-5860-9ccf-5a74ef39204f,S,active\n"), []byte("id,latitude,longitude\n"),
		[]byte("id,service_id,freq,byday,bymonthday,count,dtstart\nx,s1,MONTHLY,-1FR,\"1,-1\",3,2026-01-01\n"))
	f.Fuzz(func(t *testing.T, services, locations, schedules []byte) {
		m := fstest.MapFS{}
		for name, file := range pkg {
			m[name] = &fstest.MapFile{Data: file.Data}
		}
		m["services.csv"].Data = services
		m["locations.csv"].Data = locations
		m["schedules.csv"].Data = schedules
		ds, err := hsds.ReadDatapackage(context.Background(), m, hsds.Options{Network: network, MaxBytes: 1 << 20})
		checkImport(t, ds, err)
	})
}

func FuzzReadTaxonomyMap(f *testing.F) {
	f.Add([]byte("taxonomy,term,domain\nAIRS,BD-1800,food-insecurity\n"))
	f.Add([]byte("taxonomy,term,domain\n# comment\nX,\"a,b\",stress\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := hsds.ReadTaxonomyMap(bytes.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NotNil(t, m)
	})
}

// TestHostileInput feeds inputs built to cost: each is refused with
// ErrInvalid, or imported with the offending part reported, within bounds
// stated by the limits (no input makes the reader hold more than MaxBytes or
// nest deeper than HSDS records do).
func TestHostileInput(t *testing.T) {
	ctx := context.Background()
	opts := hsds.Options{Network: network, MaxBytes: 1 << 20}
	deep := `{"id": "s", "name": "n", "status": "active", "organization_id": "o", "x": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	tests := []struct {
		name    string
		doc     string
		fatal   bool
		problem string
	}{
		{name: "larger than MaxBytes", doc: `[` + strings.Repeat(goodService+",", 1<<20/len(goodService)+1) + goodService + `]`, fatal: true},
		{name: "deep nesting", doc: `[` + deep + `]`, problem: "nests deeper than HSDS records do"},
		{name: "deep nesting, whole document", doc: strings.Repeat("[", 20000) + strings.Repeat("]", 20000), fatal: true},
		{name: "invalid UTF-8", doc: strings.Replace(goodService, "Food Pantry", "Food \xff Pantry", 1), problem: "name must be valid text without control characters"},
		{name: "NUL in kept text", doc: strings.Replace(goodService, `"status": "active"`, `"status": "active", "fees": "a\u0000b"`, 1), problem: "hsds must be valid text without control characters"},
		{name: "oversized field", doc: strings.Replace(goodService, "Food Pantry", strings.Repeat("x", 400), 1), problem: "name is too long"},
		{name: "huge array", doc: strings.Replace(goodService, `"status": "active"`, `"status": "active", "phones": [`+strings.Repeat(`{"number": "1"},`, 200)+`{"number": "1"}]`, 1), problem: "phones has too many entries"},
		{name: "reserved key", doc: strings.Replace(goodService, `"status": "active"`, `"status": "active", "$items": []`, 1), problem: "$"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := hsds.ReadJSON(ctx, strings.NewReader(tc.doc), opts)
			if tc.fatal {
				require.ErrorIs(t, err, referral.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.NotEmpty(t, ds.Problems)
			require.Contains(t, ds.Problems[0].Reason, tc.problem)
			for _, p := range ds.Problems {
				require.NotContains(t, p.Error(), "\xff", "a problem never holds the value")
			}
			checkImport(t, ds, nil)
		})
	}
}

// TestHostileDatapackage bounds the tabular reader: total bytes, and the
// records a few rows can expand into when nested under every record that links
// to them.
func TestHostileDatapackage(t *testing.T) {
	ctx := context.Background()
	m := samplePackage(t)
	_, err := hsds.ReadDatapackage(ctx, m, hsds.Options{Network: network, MaxBytes: 2000})
	require.ErrorIs(t, err, referral.ErrInvalid, "larger than MaxBytes")
	require.ErrorContains(t, err, "MaxBytes")

	// One location, linked 3,000 times to one service, holding 3,000 phones:
	// nested in full under each link it would be 9,000,000 records.
	var sal, phones strings.Builder
	sal.WriteString("id,service_id,location_id\n")
	phones.WriteString("id,location_id,number\n")
	for i := range 3000 {
		sal.WriteString("sal-" + itoa(i) + ",3adb1b9a-8aa3-58fb-9b26-73145d746eff,159d6e1b-1932-5e92-b448-99325e1e9f9f\n")
		phones.WriteString("ph-" + itoa(i) + ",159d6e1b-1932-5e92-b448-99325e1e9f9f,1\n")
	}
	m["service_at_locations.csv"].Data = []byte(sal.String())
	m["phones.csv"].Data = []byte(phones.String())
	_, err = hsds.ReadDatapackage(ctx, m, hsds.Options{Network: network})
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "nests into too many records")
}

func itoa(i int) string { return strconv.Itoa(i) }
