// Package storetel instruments the calls of refkit's SQL stores (SQLite and
// PostgreSQL) through the OpenTelemetry API: a client span per call and the
// refkit.store.duration and refkit.store.errors instruments, by backend,
// operation and outcome. Both backends report under the same instrument
// names, so they are declared once, here, with one unit, description and
// set of buckets; each backend's package doc lists them with its own
// operations. No SQL text or parameter is ever an attribute: the operation
// names the call.
package storetel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry"
	"github.com/refkit/refkit/storage"
)

// Attribute keys (OpenTelemetry semantic conventions for database clients).
const (
	AttrSystem    = attribute.Key("db.system.name")
	AttrOperation = attribute.Key("db.operation.name")
	AttrRows      = attribute.Key("db.response.returned_rows")
)

// Op is a store call the instruments tell apart.
type Op uint8

// The store calls, one per storage method (and the migration and lease calls
// of the SQL backends).
const (
	OpPutNetwork Op = iota
	OpGetNetwork
	OpPutOrganization
	OpGetOrganization
	OpListOrganizations
	OpPutService
	OpGetService
	OpListServices
	OpDeleteService
	OpPutPerson
	OpGetPerson
	OpPutConsent
	OpGetConsent
	OpListConsents
	OpPutScreening
	OpGetScreening
	OpListScreenings
	OpSetCapacity
	OpAdjustCapacity
	OpCapacityCursor
	OpDirectoryChanges
	OpDirectoryHead
	OpPutDirectory
	OpCreateReferral
	OpGetReferral
	OpUpdateReferral
	OpListReferrals
	OpReferralEvents
	OpFeed
	OpDueReferrals
	OpMigrate
	OpLease
	ops
)

// opNames are the calls' db.operation.name values.
var opNames = [ops]string{
	"put network", "get network", "put organization", "get organization", "list organizations",
	"put service", "get service", "list services", "delete service", "put person", "get person",
	"put consent", "get consent", "list consents", "put screening", "get screening", "list screenings",
	"set capacity", "adjust capacity", "capacity cursor", "directory changes", "directory head",
	"put directory", "create referral", "get referral", "update referral", "list referrals",
	"referral events", "feed", "due referrals", "migrate", "lease",
}

// String is the call's db.operation.name.
func (o Op) String() string { return opNames[o] }

// Backend names a store's calls: what its spans and measurements say.
type Backend struct {
	system string      // db.system.name
	spans  [ops]string // span names: "<prefix> <operation>"
}

// NewBackend describes a backend reporting as system (db.system.name), whose
// spans are named prefix followed by the operation.
func NewBackend(system, prefix string) *Backend {
	b := &Backend{system: system}
	for i, n := range opNames {
		b.spans[i] = prefix + " " + n
	}
	return b
}

// System is the backend's db.system.name attribute.
func (b *Backend) System() attribute.KeyValue { return AttrSystem.String(b.system) }

// Instruments are the store-call instruments on one meter, with the
// attribute sets of their measurements built once.
type Instruments struct {
	duration metric.Float64Histogram
	errors   metric.Int64Counter
	byOp     [ops]*telemetry.ByKind
}

// NewInstruments builds the instruments of b's calls on m.
func (b *Backend) NewInstruments(m metric.Meter) Instruments {
	ins := Instruments{
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
		ins.byOp[o] = telemetry.NewByKind(b.System(), AttrOperation.String(name))
	}
	return ins
}

// Call is one store call being observed; its zero value observes nothing.
type Call struct {
	span  trace.Span
	ins   *Instruments
	op    Op
	start time.Time
	// Rows is what a read returned, set by the call before it ends; -1 when
	// the call returns no rows.
	Rows int
}

// Begin starts observing a call of op with tracer and ins, either of which
// may be nil (nobody collects it).
func (b *Backend) Begin(ctx context.Context, tracer trace.Tracer, ins *Instruments, op Op) (context.Context, Call) {
	c := Call{op: op, ins: ins, Rows: -1}
	if tracer != nil {
		ctx, c.span = tracer.Start(ctx, b.spans[op], trace.WithSpanKind(trace.SpanKindClient))
		if c.span.IsRecording() {
			c.span.SetAttributes(b.System(), AttrOperation.String(opNames[op]))
		}
	}
	if ins != nil {
		c.start = time.Now()
	}
	return ctx, c
}

// End records the call's outcome, *err (a pointer, so that a deferred End
// sees the error the call returns).
func (c *Call) End(ctx context.Context, err *error) {
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
	if c.Rows >= 0 && c.span.IsRecording() {
		c.span.SetAttributes(AttrRows.Int(c.Rows))
	}
	telemetry.End(c.span, k)
}

// EndList is End for a call that returns a list: its length is the rows
// returned.
func EndList[T any](ctx context.Context, c *Call, err *error, out *[]T) {
	c.Rows = len(*out)
	c.End(ctx, err)
}
