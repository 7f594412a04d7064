package hsds_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

// checkImport holds for every import that succeeds: the records are valid, the
// problems are complete, and the dataset survives an export and a re-import
// unchanged and without problems.
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
	require.Empty(t, back.Problems)
	require.Equal(t, ds.Services, back.Services)
}

func FuzzReadJSON(f *testing.F) {
	sample, err := os.ReadFile("testdata/json/services.json")
	require.NoError(f, err)
	f.Add(sample)
	f.Add([]byte(goodService))
	f.Add([]byte("[" + goodService + "]"))
	f.Add([]byte(`{"contents": []}`))
	f.Add([]byte(`{"id": "x", "name": "y", "status": "active", "minimum_age": 1e999}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(doc), hsds.Options{Network: network})
		checkImport(t, ds, err)
	})
}

func FuzzReadDatapackage(f *testing.F) {
	pkg := samplePackage(f)
	f.Add(pkg["services.csv"].Data, pkg["locations.csv"].Data, pkg["schedules.csv"].Data)
	f.Add([]byte("id,organization_id,name,status\ns1,o1,S,active\n"), []byte("id,latitude,longitude\nl1,NaN,Inf\n"), []byte("id\n"))
	f.Add([]byte("\ufeffid;name\n"), []byte(""), []byte("id,service_id,byday,opens_at,closes_at,timezone\nx,s1,MO,09:00,08:00,-5\n"))
	f.Fuzz(func(t *testing.T, services, locations, schedules []byte) {
		m := fstest.MapFS{}
		for name, file := range pkg {
			m[name] = &fstest.MapFile{Data: file.Data}
		}
		m["services.csv"].Data = services
		m["locations.csv"].Data = locations
		m["schedules.csv"].Data = schedules
		ds, err := hsds.ReadDatapackage(context.Background(), m, hsds.Options{Network: network})
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
