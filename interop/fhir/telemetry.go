package fhir

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// scope names the package's tracer and meter.
const scope = "github.com/refkit/refkit/interop/fhir"

// Attribute keys of the package's spans and measurements: the operation,
// ids, counts and the resulting status; never a resource's content.
const (
	attrOperation = attribute.Key("refkit.fhir.operation")
	attrNetwork   = attribute.Key("refkit.network.id")
	attrReferral  = attribute.Key("refkit.referral.id")
	attrEntries   = attribute.Key("refkit.fhir.entries")
	attrStatus    = attribute.Key("refkit.fhir.task.status")
	attrServices  = attribute.Key("refkit.fhir.services")
)

// Operations, the values of refkit.fhir.operation. Spans are named
// "fhir <operation>".
const (
	opExport = iota
	opApply
	opCapacity
	ops
)

var (
	opNames   = [ops]string{"export", "apply", "capacity"}
	spanNames = [ops]string{"fhir export", "fhir apply", "fhir capacity"}
)

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	operations metric.Int64Counter
	duration   metric.Float64Histogram
	byOp       [ops]*telemetry.ByKind
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{
		operations: telemetry.Check(m.Int64Counter("refkit.fhir.operations",
			metric.WithUnit("{operation}"),
			metric.WithDescription("FHIR exports, Task updates applied and capacity inquiries, by operation and the error they ended with."))),
		duration: telemetry.Check(m.Float64Histogram("refkit.fhir.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time a FHIR operation took, store calls included."),
			metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))),
	}
	for o, name := range opNames {
		ins.byOp[o] = telemetry.NewByKind(attrOperation.String(name))
	}
	return ins
}

// tel is an Exchange's telemetry.
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

// call is one operation being observed; its zero value observes nothing.
type call struct {
	span  trace.Span
	ins   *instruments
	op    int
	start time.Time
}

// begin starts observing operation o by actor, on referral id when it has one.
func (t *tel) begin(ctx context.Context, o int, actor *referral.Actor, id referral.ID) (context.Context, call) {
	c := call{op: o, ins: t.meter.Get()}
	if tr := t.tracer.Get(); tr != nil {
		ctx, c.span = tr.Start(ctx, spanNames[o])
		if c.span.IsRecording() {
			c.span.SetAttributes(attrOperation.String(opNames[o]), attrNetwork.String(actor.Network.String()))
			if !id.IsZero() {
				c.span.SetAttributes(attrReferral.String(id.String()))
			}
		}
	}
	if c.ins != nil {
		c.start = time.Now()
	}
	return ctx, c
}

// end records the operation's outcome.
func (c *call) end(ctx context.Context, err error) {
	if c.span == nil && c.ins == nil {
		return
	}
	k := telemetry.Classify(err, storage.ErrClosed)
	if c.ins != nil {
		opts := &c.ins.byOp[c.op][k]
		c.ins.operations.Add(ctx, 1, opts.Add...)
		c.ins.duration.Record(ctx, telemetry.Since(c.start), opts.Record...)
	}
	if c.span != nil {
		telemetry.End(c.span, k)
	}
}

// describes reports whether a result should be described on the span: the
// operation succeeded and its span records.
func (c *call) describes(err error) bool {
	return err == nil && c.span != nil && c.span.IsRecording()
}

// endExport ends an export that returned b.
func (c *call) endExport(ctx context.Context, b *Bundle, err error) {
	if c.describes(err) {
		c.span.SetAttributes(attrEntries.Int(len(b.Entry)))
	}
	c.end(ctx, err)
}

// endApply ends an apply that left r.
func (c *call) endApply(ctx context.Context, r *referral.Referral, err error) {
	if c.describes(err) {
		c.span.SetAttributes(attrReferral.String(r.ID.String()), attrStatus.String(string(r.Status)))
	}
	c.end(ctx, err)
}

// endCapacity ends a capacity inquiry about n services.
func (c *call) endCapacity(ctx context.Context, n int, err error) {
	if c.describes(err) {
		c.span.SetAttributes(attrServices.Int(n))
	}
	c.end(ctx, err)
}
