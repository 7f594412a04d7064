package sqlite

import (
	"context"

	"go.opentelemetry.io/otel/metric"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/internal/telemetry"
)

// scope names the package's tracer and meter.
const scope = "github.com/refkit/refkit/storage/sqlite"

// The package's spans and store-call instruments are internal/storetel's,
// shared with the other SQL backend. No SQL text or parameter is ever an
// attribute: the operation names the call.
const system = "sqlite"

// backend names the package's operations in its spans and measurements.
var backend = storetel.NewBackend(system, "sqlite")

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	calls storetel.Instruments
}

func newInstruments(m metric.Meter) *instruments {
	return &instruments{calls: backend.NewInstruments(m)}
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
