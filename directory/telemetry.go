package directory

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
const scope = "github.com/refkit/refkit/directory"

// Attribute keys of the package's spans and measurements: ids of networks,
// counts and kinds. Directory records are not personal data, but they are
// not attributes either: a load or a sync is described by its counts.
const (
	attrFollower  = attribute.Key("refkit.directory.follower")
	attrNetwork   = attribute.Key("refkit.network.id")
	attrChanges   = attribute.Key("refkit.directory.changes")
	attrPosition  = attribute.Key("refkit.directory.position")
	attrRecord    = attribute.Key("refkit.directory.record")
	attrChange    = attribute.Key("refkit.directory.change")
	attrAdjusted  = attribute.Key("refkit.directory.adjustments")
	attrPartial   = attribute.Key("refkit.directory.partial")
	attrAdded     = attribute.Key("refkit.directory.added")
	attrUpdated   = attribute.Key("refkit.directory.updated")
	attrUnchanged = attribute.Key("refkit.directory.unchanged")
	attrRemoved   = attribute.Key("refkit.directory.removed")
)

// Followers, the values of refkit.directory.follower.
const (
	followerIndex = iota
	followerCatalog
	followerKeeper
	followers
)

var followerNames = [followers]string{"index", "catalog", "capacity-keeper"}

// Records and changes a load reports, the values of refkit.directory.record
// and refkit.directory.change.
var (
	recordNames = [2]string{"organization", "service"}
	changeNames = [5]string{"added", "updated", "unchanged", "removed", "absent"}
)

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	syncs       metric.Float64Histogram
	applied     metric.Int64Counter
	lag         metric.Int64Histogram
	adjustments metric.Int64Counter
	loaded      metric.Int64Counter
	bySync      [followers]*telemetry.ByKind
	byFollower  [followers]telemetry.Opts
	byLoad      [len(recordNames)][len(changeNames)]telemetry.Opts
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{
		syncs: telemetry.Check(m.Float64Histogram("refkit.directory.sync.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time a follower's sync took (reading the feed, re-reading records, updating the index or catalog), by follower and the error it ended with."),
			metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))),
		applied: telemetry.Check(m.Int64Counter("refkit.directory.sync.changes",
			metric.WithUnit("{change}"),
			metric.WithDescription("Directory feed changes (for the capacity keeper, referral feed events) a follower applied."))),
		lag: telemetry.Check(m.Int64Histogram("refkit.directory.sync.lag",
			metric.WithUnit("{change}"),
			metric.WithDescription("How far behind its feed's head a follower was when a sync began: the changes that sync applied."),
			metric.WithExplicitBucketBoundaries(0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10000))),
		adjustments: telemetry.Check(m.Int64Counter("refkit.directory.capacity.adjustments",
			metric.WithUnit("{adjustment}"),
			metric.WithDescription("Capacity changes the capacity keeper wrote for referrals accepted and closed."))),
		loaded: telemetry.Check(m.Int64Counter("refkit.directory.load.records",
			metric.WithUnit("{record}"),
			metric.WithDescription("Records Load handled, by record kind and what it did with them."))),
	}
	for f, name := range followerNames {
		ins.bySync[f] = telemetry.NewByKind(attrFollower.String(name))
		ins.byFollower[f] = telemetry.NewOpts(attrFollower.String(name))
	}
	for r, rn := range recordNames {
		for c, cn := range changeNames {
			ins.byLoad[r][c] = telemetry.NewOpts(attrRecord.String(rn), attrChange.String(cn))
		}
	}
	return ins
}

// tel is the telemetry of an Index, a Catalog, a CapacityKeeper or a Load.
type tel struct {
	tracer *telemetry.Tracer
	meter  *telemetry.Meter[instruments]
}

// globalTel follows the global providers, for everything whose options leave
// both providers nil: one cache of instruments for all of them.
var globalTel = &tel{
	tracer: telemetry.NewTracer(scope, nil),
	meter:  telemetry.NewMeter(scope, nil, newInstruments),
}

func newTel(tp trace.TracerProvider, mp metric.MeterProvider) *tel {
	if tp == nil && mp == nil {
		return globalTel
	}
	return &tel{
		tracer: telemetry.NewTracer(scope, tp),
		meter:  telemetry.NewMeter(scope, mp, newInstruments),
	}
}

// op is one sync or load being observed; its zero value observes nothing.
type op struct {
	span  trace.Span
	ins   *instruments
	start time.Time
}

// begin starts observing an operation of network named name, described by
// attr (a single attribute, not a list: a list would be allocated whether
// or not anything records it).
func (t *tel) begin(ctx context.Context, name string, network referral.ID, attr attribute.KeyValue) (context.Context, op) {
	if t == nil {
		return ctx, op{}
	}
	o := op{ins: t.meter.Get()}
	if tr := t.tracer.Get(); tr != nil {
		ctx, o.span = tr.Start(ctx, name)
		if o.span.IsRecording() {
			o.span.SetAttributes(attrNetwork.String(network.String()), attr)
		}
	}
	if o.ins != nil {
		o.start = time.Now()
	}
	return ctx, o
}

// endSync records a follower's sync that applied n changes, up to position.
func (o *op) endSync(ctx context.Context, follower int, n int, position int64, err error) {
	if o.span == nil && o.ins == nil {
		return
	}
	k := telemetry.Classify(err, storage.ErrClosed)
	if o.ins != nil {
		opts := &o.ins.bySync[follower][k]
		o.ins.syncs.Record(ctx, telemetry.Since(o.start), opts.Record...)
		o.ins.applied.Add(ctx, int64(n), o.ins.byFollower[follower].Add...)
		if err == nil {
			o.ins.lag.Record(ctx, int64(n), o.ins.byFollower[follower].Record...)
		}
	}
	if o.span == nil {
		return
	}
	if o.span.IsRecording() {
		o.span.SetAttributes(attrChanges.Int(n), attrPosition.Int64(position))
	}
	telemetry.End(o.span, k)
}

// endKeeper records a capacity keeper's sync that read events up to
// position and wrote adjusted changes.
func (o *op) endKeeper(ctx context.Context, events int, adjusted int, position int64, err error) {
	if o.ins != nil && adjusted > 0 {
		o.ins.adjustments.Add(ctx, int64(adjusted))
	}
	if o.span != nil && o.span.IsRecording() {
		o.span.SetAttributes(attrAdjusted.Int(adjusted))
	}
	o.endSync(ctx, followerKeeper, events, position, err)
}

// endLoad records a load's report.
func (o *op) endLoad(ctx context.Context, rep *Report, err error) {
	if o.span == nil && o.ins == nil {
		return
	}
	counts := [len(recordNames)][len(changeNames)]int{}
	for r, c := range [len(recordNames)]*Changes{&rep.Organizations, &rep.Services} {
		counts[r] = [len(changeNames)]int{len(c.Added), len(c.Updated), len(c.Unchanged), len(c.Removed), len(c.Absent)}
	}
	if o.ins != nil {
		for r := range counts {
			for c, n := range counts[r] {
				if n > 0 {
					o.ins.loaded.Add(ctx, int64(n), o.ins.byLoad[r][c].Add...)
				}
			}
		}
	}
	if o.span == nil {
		return
	}
	if o.span.IsRecording() {
		for r, rn := range recordNames {
			o.span.SetAttributes(
				attribute.Int(string(attrAdded)+"."+rn, counts[r][0]),
				attribute.Int(string(attrUpdated)+"."+rn, counts[r][1]),
				attribute.Int(string(attrUnchanged)+"."+rn, counts[r][2]),
				attribute.Int(string(attrRemoved)+"."+rn, counts[r][3]))
		}
	}
	telemetry.End(o.span, telemetry.Classify(err, storage.ErrClosed))
}
