package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
)

// bigSample repeats the sample's services n times with distinct ids, as one JSON
// page, so that per-service costs dominate.
func bigSample(b *testing.B, n int) []byte {
	raw, err := os.ReadFile("testdata/json/services.json")
	require.NoError(b, err)
	var page struct {
		Contents []map[string]any `json:"contents"`
	}
	require.NoError(b, json.Unmarshal(raw, &page))
	var out []map[string]any
	for i := range n {
		for _, s := range page.Contents {
			c := map[string]any{}
			for k, v := range s {
				c[k] = v
			}
			c["id"] = fmt.Sprintf("%v-%d", s["id"], i)
			out = append(out, c)
		}
	}
	doc, err := json.Marshal(map[string]any{"contents": out})
	require.NoError(b, err)
	return doc
}

func BenchmarkReadJSON(b *testing.B) {
	doc := bigSample(b, 100) // 2,300 services, 1,800 importable
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(doc), hsds.Options{Network: network})
		if err != nil || len(ds.Services) != 1800 {
			b.Fatal(err, len(ds.Services))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2300, "ns/service")
}

func BenchmarkWriteJSON(b *testing.B) {
	ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(bigSample(b, 100)), hsds.Options{Network: network})
	require.NoError(b, err)
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := hsds.WriteJSON(context.Background(), &buf, ds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ds.Services)), "ns/service")
}

func BenchmarkDatapackageRoundTrip(b *testing.B) {
	ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(bigSample(b, 100)), hsds.Options{Network: network})
	require.NoError(b, err)
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if err := hsds.WriteDatapackage(context.Background(), dir, ds); err != nil {
			b.Fatal(err)
		}
		back, err := hsds.ReadDatapackage(context.Background(), os.DirFS(dir), hsds.Options{Network: network})
		if err != nil || len(back.Services) != len(ds.Services) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ds.Services)), "ns/service")
}
