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

// backend names the package's operations in its spans and measurements.
var backend = storetel.NewBackend(system, "sqlite", opNames[:])

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	calls storetel.Instruments
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{calls: backend.NewInstruments(m)}
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
func (t *tel) begin(ctx context.Context, o op) (context.Context, call) {
	if t == nil {
		return ctx, call{Rows: -1}
	}
	var ins *storetel.Instruments
	if all := t.meter.Get(); all != nil {
		ins = &all.calls
	}
	return backend.Begin(ctx, t.tracer.Get(), ins, int(o))
}

// endList is storetel.EndList, for a deferred end of a call returning a list.
func endList[T any](ctx context.Context, c *call, err *error, out *[]T) {
	storetel.EndList(ctx, c, err, out)
}
