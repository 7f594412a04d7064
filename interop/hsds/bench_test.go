package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
)

// bigSample repeats the sample's services n times, every id (of services and
// of everything nested in them) made distinct per copy, as one JSON page, so
// that per-service costs dominate.
func bigSample(b *testing.B, n int) []byte {
	raw, err := os.ReadFile("testdata/json/services.json")
	require.NoError(b, err)
	var page struct {
		Contents []any `json:"contents"`
	}
	require.NoError(b, json.Unmarshal(raw, &page))
	var out []any
	for i := range n {
		for _, s := range page.Contents {
			out = append(out, renumber(s, fmt.Sprintf("-%d", i)))
		}
	}
	doc, err := json.Marshal(map[string]any{"contents": out})
	require.NoError(b, err)
	return doc
}

// renumber copies a JSON value with every id, and every reference to one,
// suffixed.
func renumber(v any, suffix string) any {
	switch x := v.(type) {
	case map[string]any:
		c := map[string]any{}
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "id" || strings.HasSuffix(k, "_id")) && s != "" {
				e = s + suffix
			}
			c[k] = renumber(e, suffix)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = renumber(e, suffix)
		}
		return c
	}
	return v
}

func BenchmarkReadJSON(b *testing.B) {
	doc := bigSample(b, 100) // 2,300 services, 2,000 imported
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(doc), hsds.Options{Network: network})
		if err != nil || len(ds.Services) != 2000 {
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

// BenchmarkFullRecord reads and writes the full-coverage fixture's services,
// whose every field is set, so the cost of keeping everything shows.
func BenchmarkFullRecord(b *testing.B) {
	doc, err := os.ReadFile("testdata/full-3.1/services.json")
	require.NoError(b, err)
	ds, err := hsds.ReadJSON(context.Background(), bytes.NewReader(doc), hsds.Options{Network: network})
	require.NoError(b, err)
	n := float64(len(ds.Services))
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hsds.ReadJSON(context.Background(), bytes.NewReader(doc), hsds.Options{Network: network}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/service")
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := hsds.WriteJSON(context.Background(), &buf, ds); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/service")
	})
}
