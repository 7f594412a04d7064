package sqlite

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
)

// TestTelemetry runs the store calls of a referral's life for a person
// whose every field holds a sentinel: each call has a client span and a
// duration measurement named by its operation, a failed call its error
// type, a list its row count, and none holds a value of the person or a
// note.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	s, _ := openTemp(t, Options{TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	telemetrytest.StoreFlow(t, s)

	update := rec.Span(t, "sqlite update referral")
	require.Equal(t, trace.SpanKindClient, update.SpanKind())
	a := telemetrytest.SpanAttrs(update)
	require.Equal(t, "sqlite", a["db.system.name"].AsString())
	require.Equal(t, "update referral", a["db.operation.name"].AsString())
	require.Equal(t, int64(2), telemetrytest.SpanAttrs(rec.Span(t, "sqlite feed"))["db.response.returned_rows"].AsInt64())
	require.Equal(t, int64(1), telemetrytest.SpanAttrs(rec.Span(t, "sqlite list referrals"))["db.response.returned_rows"].AsInt64())

	duration := telemetrytest.Points(t, rec.Metric(t, "refkit.store.duration", "s"))
	require.Equal(t, 1.0, telemetrytest.Sum(duration, map[string]string{"db.operation.name": "create referral", "db.system.name": "sqlite"}))
	require.Equal(t, 1.0, telemetrytest.Sum(duration, map[string]string{"db.operation.name": "get person", "error.type": "not_found"}))
	errs := telemetrytest.Points(t, rec.Metric(t, "refkit.store.errors", "{error}"))
	require.Equal(t, 1.0, telemetrytest.Sum(errs, nil))
	require.Equal(t, 1.0, telemetrytest.Sum(errs, map[string]string{"db.operation.name": "get person", "error.type": "not_found"}))

	rec.RequireClean(t, telemetrytest.Sentinels...)
}
