package screening

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/refkit/refkit/internal/telemetry"
)

// scope names the package's tracer and meter.
const scope = "github.com/refkit/refkit/screening"

// Attribute keys of the package's spans and measurements: the instrument and
// counts, never an answer, a flag or which domains were positive.
const (
	attrInstrument      = attribute.Key("refkit.screening.instrument")
	attrItems           = attribute.Key("refkit.screening.items")
	attrPositiveDomains = attribute.Key("refkit.screening.positive_domains")
	attrValid           = attribute.Key("refkit.screening.valid")
)

// The package has no constructor to take providers from, so it reports to
// the OpenTelemetry global providers, resolved on each call.
var (
	tracer = telemetry.NewTracer(scope, nil)
	meter  = telemetry.NewMeter(scope, nil, newInstruments)
)

// instruments are the package's metric instruments on one provider. Their
// measurements carry the instrument's own options (Instrument.tel).
type instruments struct {
	responses metric.Int64Counter
	positive  metric.Int64Counter
	duration  metric.Float64Histogram
}

func newInstruments(m metric.Meter) *instruments {
	return &instruments{
		responses: telemetry.Check(m.Int64Counter("refkit.screening.scores",
			metric.WithUnit("{score}"),
			metric.WithDescription("Responses scored, by instrument (a FHIR export scores again the screenings it renders)."))),
		positive: telemetry.Check(m.Int64Counter("refkit.screening.positive_domains",
			metric.WithUnit("{domain}"),
			metric.WithDescription("Domains the scored responses screened positive for, summed, by instrument."))),
		duration: telemetry.Check(m.Float64Histogram("refkit.screening.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time to score a response."),
			metric.WithExplicitBucketBoundaries(0.0000005, 0.000001, 0.0000025, 0.000005, 0.00001, 0.000025,
				0.00005, 0.0001, 0.001))),
	}
}

// record records one scored response of in, started at start.
func (ins *instruments) record(ctx context.Context, in *Instrument, res *Result, start time.Time) {
	ins.duration.Record(ctx, telemetry.Since(start), in.tel.Record...)
	ins.responses.Add(ctx, 1, in.tel.Add...)
	if n := len(res.PositiveDomains); n > 0 {
		ins.positive.Add(ctx, int64(n), in.tel.Add...)
	}
}
