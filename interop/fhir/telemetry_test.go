package fhir_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// TestTelemetry exports a referral of a sentinel person, applies a Task
// update carrying a sentinel note, and asks for capacity: each operation has
// a span and is counted, the lifecycle command the update runs is the
// apply's child, and no value of the person or the note is in any of it.
func TestTelemetry(t *testing.T) {
	ctx := context.Background()
	rec := telemetrytest.New(t)
	n := newNetwork()
	person := telemetrytest.Person(n.person, n.clinic.Network)
	require.NoError(t, n.store.PutPerson(ctx, person))
	engine, err := lifecycle.New(n.store, n.store, lifecycle.Options{Now: n.now, IDs: n.ids, TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)
	n.engine = engine
	x, err := fhir.New(n.engine, n.store, n.store, fhir.Options{Now: n.now, BaseURL: baseURL, TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)
	n.x = x
	r := n.refer()

	b, err := x.Export(ctx, n.clinic, r.ID)
	require.NoError(t, err)
	task := n.currentTask(t, r.ID)
	task.Status, task.StatusReason = "rejected", reason("no-capacity", telemetrytest.Note)
	got, err := x.Apply(ctx, n.foodBank, marshal(t, task))
	require.NoError(t, err)
	require.Equal(t, referral.StatusRejected, got.Status)
	_, err = x.Apply(ctx, n.foodBank, []byte(`{"resourceType":"Task","note":"`+telemetrytest.Note+`"`))
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = x.Capacity(ctx, n.clinic, n.service(&referral.Capacity{Available: 1}))
	require.NoError(t, err)

	export := telemetrytest.SpanAttrs(rec.Span(t, "fhir export"))
	require.Equal(t, r.ID.String(), export["refkit.referral.id"].AsString())
	require.Equal(t, int64(len(b.Entry)), export["refkit.fhir.entries"].AsInt64())
	apply := rec.Span(t, "fhir apply")
	require.Equal(t, "rejected", telemetrytest.SpanAttrs(apply)["refkit.fhir.task.status"].AsString())
	decline := rec.Span(t, "lifecycle decline")
	require.Equal(t, apply.SpanContext().SpanID(), decline.Parent().SpanID(), "the lifecycle command runs inside the apply")
	require.Equal(t, int64(1), telemetrytest.SpanAttrs(rec.Span(t, "fhir capacity"))["refkit.fhir.services"].AsInt64())

	ops := telemetrytest.Points(t, rec.Metric(t, "refkit.fhir.operations", "{operation}"))
	require.Equal(t, 2.0, telemetrytest.Sum(ops, map[string]string{"refkit.fhir.operation": "export"}), "Export and currentTask")
	require.Equal(t, 2.0, telemetrytest.Sum(ops, map[string]string{"refkit.fhir.operation": "apply"}))
	require.Equal(t, 1.0, telemetrytest.Sum(ops, map[string]string{"refkit.fhir.operation": "apply", "error.type": "invalid"}))
	require.Equal(t, 1.0, telemetrytest.Sum(ops, map[string]string{"refkit.fhir.operation": "capacity"}))
	require.Equal(t, 5.0, telemetrytest.Sum(telemetrytest.Points(t, rec.Metric(t, "refkit.fhir.duration", "s")), nil))

	rec.RequireClean(t, telemetrytest.Sentinels...)
}
