package postgres

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/internal/telemetry"
)

// scope names the package's tracer and meter.
const scope = "github.com/refkit/refkit/storage/postgres"

// The package's spans and store-call instruments are internal/storetel's,
// shared with the other SQL backend. No SQL text or parameter is ever an
// attribute: the operation names the call.
const (
	attrRetry = attribute.Key("refkit.postgres.retry")
	system    = "postgresql"
)

// backend names the package's operations in its spans and measurements.
var backend = storetel.NewBackend(system, "postgres")

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	calls   storetel.Instruments
	retries metric.Int64Counter
	byRetry [retryKinds]telemetry.Opts
}

// Kinds of retry, the values of refkit.postgres.retry: a serialization
// failure or deadlock retried, or an attempt made again after the server
// could not be reached or the connection was lost.
const (
	retryContention = iota
	retryReconnect
	retryKinds
)

var retryNames = [retryKinds]string{"contention", "reconnect"}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{calls: backend.NewInstruments(m)}
	ins.retries = telemetry.Check(m.Int64Counter("refkit.postgres.retries",
		metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts a store call made again, by kind: contention (serialization failure, deadlock) or reconnect (server unreachable, connection lost).")))
	for r, name := range retryNames {
		ins.byRetry[r] = telemetry.NewOpts(backend.System(), attrRetry.String(name))
	}
	return ins
}

// tel is a store's telemetry.
type tel struct {
	tracer *telemetry.Tracer
	meter  *telemetry.Meter[instruments]
}

func newTel(opts Options) *tel {
	return &tel{
		tracer: telemetry.NewTracer(scope, opts.TracerProvider),
		meter:  telemetry.NewMeter(scope, opts.MeterProvider, newInstruments),
	}
}

// call is one store call being observed; its zero value observes nothing.
type call = storetel.Call

// begin starts observing a call of o.
func (t *tel) begin(ctx context.Context, o storetel.Op) (context.Context, call) {
	if t == nil {
		return ctx, call{Rows: -1}
	}
	var ins *storetel.Instruments
	if all := t.meter.Get(); all != nil {
		ins = &all.calls
	}
	return backend.Begin(ctx, t.tracer.Get(), ins, o)
}

// endList is storetel.EndList, for a deferred end of a call returning a list.
func endList[T any](ctx context.Context, c *call, err *error, out *[]T) {
	storetel.EndList(ctx, c, err, out)
}

// retried records that a call will try again, for the reason kind, in the
// call's span (an event: the retries of one call stay in order beside its
// statements) and in the retry counter.
func (t *tel) retried(ctx context.Context, kind int) {
	if t == nil {
		return
	}
	if ins := t.meter.Get(); ins != nil {
		ins.retries.Add(ctx, 1, ins.byRetry[kind].Add...)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("retry", trace.WithAttributes(attrRetry.String(retryNames[kind])))
	}
}
