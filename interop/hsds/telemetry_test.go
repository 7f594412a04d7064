package hsds_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// TestTelemetry reads the sample feed as JSON and as a data package, fails
// to read a malformed one, and loads a dataset: each is traced and counted
// by format, and no record's text (names, descriptions, addresses) is in
// any of it.
func TestTelemetry(t *testing.T) {
	ctx := context.Background()
	rec := telemetrytest.New(t)
	opts := hsds.Options{Network: network, TracerProvider: rec.Tracer, MeterProvider: rec.Meter}
	ds := readSampleJSON(t, opts)
	csv := readSampleCSV(t, opts)
	_, err := hsds.ReadJSON(ctx, strings.NewReader(`{"name": "`+telemetrytest.Note+`"`), opts)
	require.ErrorIs(t, err, referral.ErrInvalid)

	store := memory.New()
	require.NoError(t, store.PutNetwork(ctx, referral.Network{ID: network, Name: "Test network"}))
	_, err = hsds.Load(ctx, store, network, ds, directory.LoadOptions{TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)

	read := telemetrytest.SpanAttrs(rec.Span(t, "hsds read"))
	require.Equal(t, "json", read["refkit.hsds.format"].AsString())
	require.Equal(t, int64(len(ds.Services)), read["refkit.hsds.services"].AsInt64())
	require.Equal(t, int64(len(ds.Organizations)), read["refkit.hsds.organizations"].AsInt64())
	load := rec.Span(t, "hsds load")
	require.Equal(t, load.SpanContext().SpanID(), rec.Span(t, "directory load").Parent().SpanID(), "the directory load is the HSDS load's child")

	imports := telemetrytest.Points(t, rec.Metric(t, "refkit.hsds.imports", "{import}"))
	require.Equal(t, 2.0, telemetrytest.Sum(imports, map[string]string{"refkit.hsds.format": "json"}))
	require.Equal(t, 1.0, telemetrytest.Sum(imports, map[string]string{"refkit.hsds.format": "json", "error.type": "invalid"}))
	require.Equal(t, 1.0, telemetrytest.Sum(imports, map[string]string{"refkit.hsds.format": "datapackage"}))
	require.Equal(t, 1.0, telemetrytest.Sum(imports, map[string]string{"refkit.hsds.format": "dataset"}))
	records := telemetrytest.Points(t, rec.Metric(t, "refkit.hsds.records", "{record}"))
	require.Equal(t, float64(len(ds.Services)+len(csv.Services)), telemetrytest.Sum(records, map[string]string{"refkit.hsds.record": "service"}))
	rec.Metric(t, "refkit.hsds.duration", "s")

	texts := append([]string{}, telemetrytest.Sentinels...)
	for _, set := range []*hsds.Dataset{ds, csv} {
		for _, o := range set.Organizations {
			texts = append(texts, o.Name)
		}
		for _, s := range set.Services {
			texts = append(texts, s.Name)
			for _, l := range s.Locations {
				if l.Address != nil && l.Address.Address1 != "" {
					texts = append(texts, l.Address.Address1)
				}
			}
		}
	}
	rec.RequireClean(t, texts...)
}
