package matching

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry"
)

// scope names the package's tracer and meter.
const scope = "github.com/refkit/refkit/matching"

// Attribute keys of the package's spans and measurements. Counts and codes
// only: a request's person, place and needs never become attributes.
const (
	attrRadius     = attribute.Key("refkit.matching.radius")
	attrExplain    = attribute.Key("refkit.matching.explain")
	attrTier       = attribute.Key("refkit.matching.tier")
	attrCandidates = attribute.Key("refkit.matching.candidates")
	attrMatches    = attribute.Key("refkit.matching.matches")
	attrPossible   = attribute.Key("refkit.matching.possible")
	attrExcluded   = attribute.Key("refkit.matching.excluded")
	attrNeeds      = attribute.Key("refkit.matching.needs")
	attrLimit      = attribute.Key("refkit.matching.limit")
	attrServices   = attribute.Key("refkit.matching.services")
	attrChanges    = attribute.Key("refkit.matching.changes")
	attrUpdate     = attribute.Key("refkit.matching.update")
)

// Kinds of index update, the values of refkit.matching.update: a capacity-only
// update patches the snapshot, anything else rebuilds it.
const (
	updateRebuild = iota
	updateCapacity
	updateKinds
)

var updateNames = [updateKinds]string{"rebuild", "capacity"}

// radiusBuckets are the upper bounds, in metres, of the radius classes a
// request is counted in: a radius is a fact about the request, not the
// person, but bucketing keeps the label's values few.
var radiusBuckets = [...]float64{1_000, 5_000, 10_000, 25_000, 50_000}

// radiusNames name the classes: radiusBuckets, then anything larger.
var radiusNames = [len(radiusBuckets) + 1]string{"0-1km", "1-5km", "5-10km", "10-25km", "25-50km", "50km+"}

// radiusClass is the class of radius m.
func radiusClass(m float64) int {
	for i, b := range radiusBuckets {
		if m <= b {
			return i
		}
	}
	return len(radiusBuckets)
}

// Result tiers, the values of refkit.matching.tier.
const (
	tierMatch = iota
	tierPossible
	tierExcluded
	tiers
)

var tierNames = [tiers]string{"match", "possible", "excluded"}

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	requests metric.Int64Counter
	results  metric.Int64Counter
	duration metric.Float64Histogram
	// byRequest is indexed [radius class][explain][kind].
	byRequest [len(radiusNames)][2]*telemetry.ByKind
	byTier    [tiers]telemetry.Opts

	updates        metric.Int64Counter
	updateDuration metric.Float64Histogram
	byUpdate       [updateKinds]*telemetry.ByKind
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{
		requests: telemetry.Check(m.Int64Counter("refkit.matching.requests",
			metric.WithUnit("{request}"),
			metric.WithDescription("Matching requests answered, by radius class, explanations on or off, and the error they ended with."))),
		results: telemetry.Check(m.Int64Counter("refkit.matching.results",
			metric.WithUnit("{service}"),
			metric.WithDescription("Services returned, by tier: matches, possible matches, and exclusions explained."))),
		duration: telemetry.Check(m.Float64Histogram("refkit.matching.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time to answer a matching request."),
			metric.WithExplicitBucketBoundaries(0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
				0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1))),
	}
	for r, name := range radiusNames {
		for x := range 2 {
			ins.byRequest[r][x] = telemetry.NewByKind(attrRadius.String(name), attrExplain.Bool(x == 1))
		}
	}
	for t, name := range tierNames {
		ins.byTier[t] = telemetry.NewOpts(attrTier.String(name))
	}
	ins.updates = telemetry.Check(m.Int64Counter("refkit.matching.index.updates",
		metric.WithUnit("{update}"),
		metric.WithDescription("Index updates, by kind (rebuild or capacity) and the error they ended with.")))
	ins.updateDuration = telemetry.Check(m.Float64Histogram("refkit.matching.index.update.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time an index update took, compiling new rules included."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30)))
	for u, name := range updateNames {
		ins.byUpdate[u] = telemetry.NewByKind(attrUpdate.String(name))
	}
	return ins
}

// tel is an index's telemetry, shared by its snapshots.
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

// request is one Match being observed; its zero value observes nothing.
type request struct {
	span  trace.Span
	ins   *instruments
	start time.Time
}

// begin starts observing a request.
func (t *tel) begin(ctx context.Context, req *Request) (context.Context, request) {
	if t == nil {
		return ctx, request{}
	}
	o := request{ins: t.meter.Get()}
	if tr := t.tracer.Get(); tr != nil {
		ctx, o.span = tr.Start(ctx, "matching match")
		if o.span.IsRecording() {
			o.span.SetAttributes(attrRadius.String(radiusNames[radiusClass(req.RadiusM)]), attrExplain.Bool(req.Explain),
				attrNeeds.Int(len(req.Needs)), attrLimit.Int(req.Limit))
		}
	}
	if o.ins != nil {
		o.start = time.Now()
	}
	return ctx, o
}

// end records a request's result: candidates is how many candidates it
// judged (see the package doc's Telemetry).
func (o *request) end(ctx context.Context, req *Request, res *Result, candidates int, services int, err error) {
	if o.span == nil && o.ins == nil {
		return
	}
	k := telemetry.Classify(err, nil)
	if o.ins != nil {
		x := 0
		if req.Explain {
			x = 1
		}
		opts := &o.ins.byRequest[radiusClass(req.RadiusM)][x][k]
		o.ins.requests.Add(ctx, 1, opts.Add...)
		o.ins.duration.Record(ctx, telemetry.Since(o.start), opts.Record...)
		for t, n := range [tiers]int{len(res.Matches), len(res.Possible), len(res.Excluded)} {
			if n > 0 {
				o.ins.results.Add(ctx, int64(n), o.ins.byTier[t].Add...)
			}
		}
	}
	if o.span == nil {
		return
	}
	if err == nil && o.span.IsRecording() {
		o.span.SetAttributes(attrCandidates.Int(candidates), attrMatches.Int(len(res.Matches)),
			attrPossible.Int(len(res.Possible)), attrExcluded.Int(len(res.Excluded)), attrServices.Int(services))
	}
	telemetry.End(o.span, k)
}

// update is one Index.Update being observed; its zero value observes
// nothing.
type update struct {
	span  trace.Span
	ins   *instruments
	start time.Time
}

// beginUpdate starts observing an update of changes changes.
func (t *tel) beginUpdate(ctx context.Context, changes int) (context.Context, update) {
	if t == nil {
		return ctx, update{}
	}
	u := update{ins: t.meter.Get()}
	if tr := t.tracer.Get(); tr != nil {
		ctx, u.span = tr.Start(ctx, "matching update")
		if u.span.IsRecording() {
			u.span.SetAttributes(attrChanges.Int(changes))
		}
	}
	if u.ins != nil {
		u.start = time.Now()
	}
	return ctx, u
}

// end records an update of the given kind that left services in the index.
func (u *update) end(ctx context.Context, kind int, services int, err error) {
	if u.span == nil && u.ins == nil {
		return
	}
	k := telemetry.Classify(err, nil)
	if u.ins != nil {
		opts := &u.ins.byUpdate[kind][k]
		u.ins.updates.Add(ctx, 1, opts.Add...)
		u.ins.updateDuration.Record(ctx, telemetry.Since(u.start), opts.Record...)
	}
	if u.span == nil {
		return
	}
	if u.span.IsRecording() {
		u.span.SetAttributes(attrUpdate.String(updateNames[kind]))
		if err == nil {
			u.span.SetAttributes(attrServices.Int(services))
		}
	}
	telemetry.End(u.span, k)
}
