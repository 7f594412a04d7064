// Package telemetrytest records what a refkit package emits through
// OpenTelemetry, for the tests that check the instruments are there and that
// no personal data is in them. It links the OpenTelemetry SDK, so only tests
// import it.
package telemetrytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/refkit/refkit/referral"
)

// Recorder holds a tracer provider that keeps every span and a meter
// provider read on demand.
type Recorder struct {
	Tracer *sdktrace.TracerProvider
	Meter  *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	errs   []error
}

// New returns a Recorder whose providers sample every span. An error the
// OpenTelemetry API reports (an instrument refused) fails the test.
func New(t testing.TB) *Recorder {
	t.Helper()
	r := &Recorder{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	r.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { r.errs = append(r.errs, err) }))
	t.Cleanup(func() {
		otel.SetErrorHandler(prev)
		require.Empty(t, r.errs, "the OpenTelemetry API reported errors")
	})
	return r
}

// Global installs the recorder's providers as the OpenTelemetry global
// providers until the test ends, for packages that have no options to pass
// them in.
func (r *Recorder) Global(t testing.TB) {
	t.Helper()
	prevT, prevM := otel.GetTracerProvider(), otel.GetMeterProvider()
	otel.SetTracerProvider(r.Tracer)
	otel.SetMeterProvider(r.Meter)
	t.Cleanup(func() {
		otel.SetTracerProvider(prevT)
		otel.SetMeterProvider(prevM)
	})
}

// Spans returns the spans ended so far.
func (r *Recorder) Spans() []sdktrace.ReadOnlySpan { return r.spans.Ended() }

// Span returns the first ended span named name, failing the test if there is
// none.
func (r *Recorder) Span(t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var names []string
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			return s
		}
		names = append(names, s.Name())
	}
	require.Failf(t, "no span", "no span %q among %v", name, names)
	return nil
}

// SpanAttrs returns a span's attributes by key.
func SpanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// Metrics collects every metric recorded so far, by name.
func (r *Recorder) Metrics(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// Metric returns the metric named name, failing the test if it was not
// recorded, with its unit checked.
func (r *Recorder) Metric(t testing.TB, name, unit string) metricdata.Metrics {
	t.Helper()
	all := r.Metrics(t)
	m, ok := all[name]
	require.True(t, ok, "metric %s not recorded; have %v", name, keys(all))
	require.Equal(t, unit, m.Unit, "unit of %s", name)
	return m
}

func keys(m map[string]metricdata.Metrics) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Points returns a metric's data points' attribute sets and values (a sum's
// value, a histogram's count, a gauge's value).
func Points(t testing.TB, m metricdata.Metrics) []Point {
	t.Helper()
	var out []Point
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, Point{p.Attributes, float64(p.Value)})
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			out = append(out, Point{p.Attributes, p.Value})
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, Point{p.Attributes, float64(p.Count)})
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			out = append(out, Point{p.Attributes, float64(p.Count)})
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, Point{p.Attributes, float64(p.Value)})
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			out = append(out, Point{p.Attributes, p.Value})
		}
	default:
		require.Failf(t, "unexpected data", "%s holds %T", m.Name, m.Data)
	}
	return out
}

// Point is one data point: its attributes and value (a histogram's count).
type Point struct {
	Attrs attribute.Set
	Value float64
}

// Get returns the point's value of key, "" if it has none.
func (p Point) Get(key string) string {
	v, ok := p.Attrs.Value(attribute.Key(key))
	if !ok {
		return ""
	}
	return v.Emit()
}

// Sum adds the values of the points whose attributes include every key and
// value of match.
func Sum(points []Point, match map[string]string) float64 {
	total := 0.0
	for _, p := range points {
		ok := true
		for k, v := range match {
			if p.Get(k) != v {
				ok = false
				break
			}
		}
		if ok {
			total += p.Value
		}
	}
	return total
}

// Texts returns every text the recorder holds that a backend would store:
// span names, status descriptions, attribute keys and values (numbers as
// text), event names and their attributes, links' attributes, and metric
// names, descriptions and data point attributes.
func (r *Recorder) Texts(t testing.TB) []string {
	t.Helper()
	var out []string
	attrs := func(kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			out = append(out, string(kv.Key), kv.Value.Emit())
		}
	}
	for _, s := range r.spans.Ended() {
		out = append(out, s.Name(), s.Status().Description)
		attrs(s.Attributes())
		for _, e := range s.Events() {
			out = append(out, e.Name)
			attrs(e.Attributes)
		}
		for _, l := range s.Links() {
			attrs(l.Attributes)
		}
	}
	for _, m := range r.Metrics(t) {
		out = append(out, m.Name, m.Description, m.Unit)
		for _, p := range Points(t, m) {
			attrs(p.Attrs.ToSlice())
		}
	}
	return out
}

// RequireClean fails the test if any text the recorder holds contains one
// of the sentinels (case-insensitively), or if nothing was recorded at all.
func (r *Recorder) RequireClean(t testing.TB, sentinels ...string) {
	t.Helper()
	texts := r.Texts(t)
	require.NotEmpty(t, texts, "nothing was recorded: the check would pass vacuously")
	for _, text := range texts {
		lower := strings.ToLower(text)
		for _, s := range sentinels {
			require.NotContains(t, lower, strings.ToLower(s), fmt.Sprintf("personal data %q in telemetry text %q", s, text))
		}
	}
}

// Personal values the sentinel records carry: a test feeds them through a
// flow and then requires that none reaches telemetry (RequireClean with
// Sentinels). Text values are words no span name, id or code contains;
// numbers have digits no measurement here would.
const (
	GivenName   = "Zebulon-qzxv-given"
	FamilyName  = "Quixley-qzxv-family"
	MRN         = "MRN-qzxv-4417"
	Zip         = "qzxvzip"
	County      = "Qzxv County"
	Insurance   = "qzxv-insurance"
	Language    = "x-qzxv"
	AttrKey     = "qzxv_attr_key"
	AttrValue   = "qzxv-attr-value"
	Note        = "qzxv note about the person"
	User        = "qzxv-user"
	Income      = 73519.37
	IncomeText  = "73519.37"
	Latitude    = 41.87813
	Longitude   = -87.62981
	LatText     = "41.8781"
	LonText     = "-87.6298"
	BirthYear   = 1931
	BirthText   = "1931-07-19"
	Household   = 13
	StateCode   = "IL"
	GenderValue = referral.GenderFemale
)

// Sentinels are the texts RequireClean looks for.
var Sentinels = []string{"qzxv", GivenName, FamilyName, MRN, Zip, County, Insurance, Language, AttrKey, AttrValue,
	Note, User, IncomeText, LatText, LonText, BirthText, "Zebulon", "Quixley"}

// Person returns a person of network whose every personal field holds a
// sentinel.
func Person(id, network referral.ID) referral.Person {
	income := Income
	yes := true
	return referral.Person{
		ID: id, Network: network, GivenName: GivenName, FamilyName: FamilyName,
		BirthDate: referral.Date{Year: BirthYear, Month: 7, Day: 19}, Gender: GenderValue,
		Identifiers:   []referral.Identifier{{System: "urn:oid:2.16.840.1.113883.4.3.17", Type: "MR", Value: MRN}},
		HouseholdSize: Household, IncomeAnnual: &income, Languages: []string{Language},
		Location: &referral.Point{Latitude: Latitude, Longitude: Longitude},
		Zip:      Zip, County: County, State: StateCode, Insurance: Insurance,
		Veteran: &yes, Pregnant: &yes, Disabled: &yes,
		Attributes: map[string]string{AttrKey: AttrValue},
	}
}
