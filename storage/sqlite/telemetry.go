package sqlite

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry"
	"github.com/refkit/refkit/storage"
)

// scope names the package's tracer and meter.
const scope = "github.com/refkit/refkit/storage/sqlite"

// Attribute keys of the package's spans and measurements (OpenTelemetry
// semantic conventions for database clients where they have one). No SQL
// text or parameter is ever an attribute: the operation names the call.
const (
	attrSystem    = attribute.Key("db.system.name")
	attrOperation = attribute.Key("db.operation.name")
	attrRows      = attribute.Key("db.response.returned_rows")
	system        = "sqlite"
)

// op is a store call the instruments tell apart.
type op uint8

const (
	opPutNetwork op = iota
	opGetNetwork
	opPutOrganization
	opGetOrganization
	opListOrganizations
	opPutService
	opGetService
	opListServices
	opDeleteService
	opPutPerson
	opGetPerson
	opPutConsent
	opGetConsent
	opListConsents
	opPutScreening
	opGetScreening
	opListScreenings
	opSetCapacity
	opAdjustCapacity
	opCapacityCursor
	opDirectoryChanges
	opDirectoryHead
	opPutDirectory
	opCreateReferral
	opGetReferral
	opUpdateReferral
	opListReferrals
	opReferralEvents
	opFeed
	opDueReferrals
	opMigrate
	ops
)

// opNames are the calls' db.operation.name values; spans are named
// "sqlite <operation>".
var opNames = [ops]string{
	"put network", "get network", "put organization", "get organization", "list organizations",
	"put service", "get service", "list services", "delete service", "put person", "get person",
	"put consent", "get consent", "list consents", "put screening", "get screening", "list screenings",
	"set capacity", "adjust capacity", "capacity cursor", "directory changes", "directory head",
	"put directory", "create referral", "get referral", "update referral", "list referrals",
	"referral events", "feed", "due referrals", "migrate",
}

var spanNames = func() (out [ops]string) {
	for i, n := range opNames {
		out[i] = system + " " + n
	}
	return out
}()

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	duration metric.Float64Histogram
	errors   metric.Int64Counter
	byOp     [ops]*telemetry.ByKind
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{
		duration: telemetry.Check(m.Float64Histogram("refkit.store.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time a store call took, by backend, operation and the error it ended with."),
			metric.WithExplicitBucketBoundaries(0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
				0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))),
		errors: telemetry.Check(m.Int64Counter("refkit.store.errors",
			metric.WithUnit("{error}"),
			metric.WithDescription("Store calls that failed, by backend, operation and the sentinel error they wrapped."))),
	}
	for o, name := range opNames {
		ins.byOp[o] = telemetry.NewByKind(attrSystem.String(system), attrOperation.String(name))
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
type call struct {
	span  trace.Span
	ins   *instruments
	op    op
	start time.Time
	// rows is what a read returned, set by the call before it ends; -1
	// when the call returns no rows.
	rows int
}

// begin starts observing a call of o.
func (t *tel) begin(ctx context.Context, o op) (context.Context, call) {
	c := call{op: o, rows: -1}
	if t == nil {
		return ctx, c
	}
	c.ins = t.meter.Get()
	if tr := t.tracer.Get(); tr != nil {
		ctx, c.span = tr.Start(ctx, spanNames[o], trace.WithSpanKind(trace.SpanKindClient))
		if c.span.IsRecording() {
			c.span.SetAttributes(attrSystem.String(system), attrOperation.String(opNames[o]))
		}
	}
	if c.ins != nil {
		c.start = time.Now()
	}
	return ctx, c
}

// end records the call's outcome, *err (a pointer, so that a deferred end
// sees the error the call returns).
func (c *call) end(ctx context.Context, err *error) {
	if c.span == nil && c.ins == nil {
		return
	}
	k := telemetry.Classify(*err, storage.ErrClosed)
	if c.ins != nil {
		opts := &c.ins.byOp[c.op][k]
		c.ins.duration.Record(ctx, telemetry.Since(c.start), opts.Record...)
		if k != telemetry.OK {
			c.ins.errors.Add(ctx, 1, opts.Add...)
		}
	}
	if c.span == nil {
		return
	}
	if c.rows >= 0 && c.span.IsRecording() {
		c.span.SetAttributes(attrRows.Int(c.rows))
	}
	telemetry.End(c.span, k)
}

// endList is end for a call that returns a list: its length is the rows
// returned.
func endList[T any](ctx context.Context, c *call, err *error, out *[]T) {
	c.rows = len(*out)
	c.end(ctx, err)
}
