package postgres

import (
	"context"
	mrand "math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/referral"
)

// TestTelemetry runs the store calls of a referral's life for a person
// whose every field holds a sentinel, with serialization failures injected
// so that calls retry: each call has a client span named by its operation
// with an event per retry, the retries are counted by kind, and nothing
// holds a value of the person, a note or a statement's parameters.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	s := openTest(t, Options{TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	f, _ := telemetrytest.StoreFlow(t, s)

	update := rec.Span(t, "postgres update referral")
	require.Equal(t, trace.SpanKindClient, update.SpanKind())
	a := telemetrytest.SpanAttrs(update)
	require.Equal(t, "postgresql", a["db.system.name"].AsString())
	require.Equal(t, "update referral", a["db.operation.name"].AsString())
	require.Equal(t, int64(2), telemetrytest.SpanAttrs(rec.Span(t, "postgres feed"))["db.response.returned_rows"].AsInt64())

	// Every statement of the next call fails once with a serialization failure.
	s.hook = (&faults{rng: mrand.New(mrand.NewPCG(1, 2)), before: 1, fail: serializationFailure, limit: 2}).wrap
	_, err := s.GetNetwork(context.Background(), f.Network.ID)
	require.NoError(t, err)
	s.hook = nil
	var events int
	for _, sp := range rec.Spans() {
		if sp.Name() == "postgres get network" {
			for _, e := range sp.Events() {
				if e.Name == "retry" {
					events++
				}
			}
		}
	}
	require.Equal(t, 2, events, "one event per retry")
	retries := telemetrytest.Points(t, rec.Metric(t, "refkit.postgres.retries", "{retry}"))
	require.Equal(t, 2.0, telemetrytest.Sum(retries, map[string]string{"refkit.postgres.retry": "contention"}))

	duration := telemetrytest.Points(t, rec.Metric(t, "refkit.store.duration", "s"))
	require.Equal(t, 1.0, telemetrytest.Sum(duration, map[string]string{"db.operation.name": "create referral", "db.system.name": "postgresql"}))
	require.Equal(t, 1.0, telemetrytest.Sum(duration, map[string]string{"db.operation.name": "get person", "error.type": "not_found"}))
	errs := telemetrytest.Points(t, rec.Metric(t, "refkit.store.errors", "{error}"))
	require.Equal(t, 1.0, telemetrytest.Sum(errs, map[string]string{"error.type": "not_found"}))

	_, err = s.Lease(context.Background(), "telemetry", telemetrytest.User, 0)
	require.ErrorIs(t, err, referral.ErrInvalid)
	rec.RequireClean(t, telemetrytest.Sentinels...)
}
