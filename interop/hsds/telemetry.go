package hsds

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
const scope = "github.com/refkit/refkit/interop/hsds"

// Attribute keys of the package's spans and measurements: formats and
// counts, never a record's content.
const (
	attrFormat        = attribute.Key("refkit.hsds.format")
	attrRecord        = attribute.Key("refkit.hsds.record")
	attrNetwork       = attribute.Key("refkit.network.id")
	attrOrganizations = attribute.Key("refkit.hsds.organizations")
	attrServices      = attribute.Key("refkit.hsds.services")
	attrProblems      = attribute.Key("refkit.hsds.problems")
	attrVersion       = attribute.Key("refkit.hsds.version")
)

// Formats an import reads, the values of refkit.hsds.format; "dataset" is
// Load's, which writes a dataset already read.
const (
	formatJSON = iota
	formatDatapackage
	formatDataset
	formats
)

var formatNames = [formats]string{"json", "datapackage", "dataset"}

// Records an import counts, the values of refkit.hsds.record.
const (
	recordOrganization = iota
	recordService
	recordProblem
	records
)

var recordNames = [records]string{"organization", "service", "problem"}

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	imports  metric.Int64Counter
	records  metric.Int64Counter
	duration metric.Float64Histogram
	byFormat [formats]*telemetry.ByKind
	byRecord [records]telemetry.Opts
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{
		imports: telemetry.Check(m.Int64Counter("refkit.hsds.imports",
			metric.WithUnit("{import}"),
			metric.WithDescription("HSDS imports read (json, datapackage) and datasets loaded into a store (dataset), by the error they ended with."))),
		records: telemetry.Check(m.Int64Counter("refkit.hsds.records",
			metric.WithUnit("{record}"),
			metric.WithDescription("Records HSDS imports read: organizations, services, and problems (records that could not be mapped or were kept with a change)."))),
		duration: telemetry.Check(m.Float64Histogram("refkit.hsds.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time an HSDS import or load took."),
			metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))),
	}
	for f, name := range formatNames {
		ins.byFormat[f] = telemetry.NewByKind(attrFormat.String(name))
	}
	for r, name := range recordNames {
		ins.byRecord[r] = telemetry.NewOpts(attrRecord.String(name))
	}
	return ins
}

// tel is an import's telemetry.
type tel struct {
	tracer *telemetry.Tracer
	meter  *telemetry.Meter[instruments]
}

// globalTel follows the global providers, for every import whose options
// leave both nil.
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

// op is one import or load being observed; its zero value observes nothing.
type op struct {
	span   trace.Span
	ins    *instruments
	format int
	start  time.Time
}

// begin starts observing an import of format into network.
func (t *tel) begin(ctx context.Context, format int, network referral.ID) (context.Context, op) {
	o := op{format: format, ins: t.meter.Get()}
	if tr := t.tracer.Get(); tr != nil {
		name := "hsds read"
		if format == formatDataset {
			name = "hsds load"
		}
		ctx, o.span = tr.Start(ctx, name)
		if o.span.IsRecording() {
			o.span.SetAttributes(attrFormat.String(formatNames[format]), attrNetwork.String(network.String()))
		}
	}
	if o.ins != nil {
		o.start = time.Now()
	}
	return ctx, o
}

// end records the import's outcome and what ds, the dataset read or
// loaded, holds.
func (o *op) end(ctx context.Context, ds *Dataset, err error) {
	if o.span == nil && o.ins == nil {
		return
	}
	k := telemetry.Classify(err, storage.ErrClosed)
	var counts [records]int
	if ds != nil {
		counts = [records]int{len(ds.Organizations), len(ds.Services), len(ds.Problems)}
	}
	if o.ins != nil {
		opts := &o.ins.byFormat[o.format][k]
		o.ins.imports.Add(ctx, 1, opts.Add...)
		o.ins.duration.Record(ctx, telemetry.Since(o.start), opts.Record...)
		if o.format != formatDataset {
			for r, n := range counts {
				if n > 0 {
					o.ins.records.Add(ctx, int64(n), o.ins.byRecord[r].Add...)
				}
			}
		}
	}
	if o.span == nil {
		return
	}
	if ds != nil && o.span.IsRecording() {
		o.span.SetAttributes(attrOrganizations.Int(counts[recordOrganization]), attrServices.Int(counts[recordService]),
			attrProblems.Int(counts[recordProblem]), attrVersion.String(string(ds.Version)))
	}
	telemetry.End(o.span, k)
}
