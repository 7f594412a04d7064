package telemetry

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/refkit/refkit/referral"
)

type counters struct{ calls metric.Int64Counter }

func build(m metric.Meter) *counters {
	return &counters{calls: Check(m.Int64Counter("refkit.test.calls", metric.WithUnit("{call}")))}
}

// TestGlobalProviders: with nothing installed, Get is nil (the call sites do
// nothing); a provider installed later is used from then on, and restoring
// the placeholder makes Get nil again.
func TestGlobalProviders(t *testing.T) {
	tr := NewTracer("test", nil)
	mt := NewMeter("test", nil, build)
	require.Nil(t, tr.Get(), "the API's placeholder tracer provider counts as none installed")
	require.Nil(t, mt.Get(), "the API's placeholder meter provider counts as none installed")

	prevT, prevM := otel.GetTracerProvider(), otel.GetMeterProvider()
	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() { otel.SetTracerProvider(prevT); otel.SetMeterProvider(prevM) })

	require.NotNil(t, tr.Get())
	_, span := tr.Get().Start(context.Background(), "work")
	span.End()
	require.Len(t, spans.Ended(), 1)
	require.Equal(t, "test", spans.Ended()[0].InstrumentationScope().Name)
	require.Equal(t, Scope, spans.Ended()[0].InstrumentationScope().Version)

	ins := mt.Get()
	require.NotNil(t, ins)
	require.Same(t, ins, mt.Get(), "instruments are built once per provider")
	ins.calls.Add(context.Background(), 2)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	require.Equal(t, "refkit.test.calls", rm.ScopeMetrics[0].Metrics[0].Name)

	otel.SetTracerProvider(prevT)
	otel.SetMeterProvider(prevM)
	require.Nil(t, tr.Get())
	require.Nil(t, mt.Get())
}

func TestExplicitProviders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tp     *sdktrace.TracerProvider
		noop   bool
		wantOn bool
	}{
		{name: "sdk", tp: sdktrace.NewTracerProvider(), wantOn: true},
		{name: "noop", noop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				tr *Tracer
				mt *Meter[counters]
			)
			if tc.noop {
				tr = NewTracer("test", tracenoop.NewTracerProvider())
				mt = NewMeter("test", metricnoop.NewMeterProvider(), build)
			} else {
				tr = NewTracer("test", tc.tp)
				mt = NewMeter("test", sdkmetric.NewMeterProvider(), build)
			}
			require.Equal(t, tc.wantOn, tr.Get() != nil)
			require.Equal(t, tc.wantOn, mt.Get() != nil)
		})
	}
	var nilTracer *Tracer
	var nilMeter *Meter[counters]
	require.Nil(t, nilTracer.Get())
	require.Nil(t, nilMeter.Get())
}

func TestClassify(t *testing.T) {
	closed := errors.New("closed")
	for _, tc := range []struct {
		err  error
		want Kind
		name string
	}{
		{nil, OK, ""},
		{fmt.Errorf("x: %w", referral.ErrNotFound), NotFound, "not_found"},
		{fmt.Errorf("x: %w", referral.ErrConflict), Conflict, "conflict"},
		{referral.ErrInvalidTransition, InvalidTransition, "invalid_transition"},
		{referral.Invalid("field", "is bad"), Invalid, "invalid"},
		{referral.ErrNoConsent, NoConsent, "no_consent"},
		{referral.ErrForbidden, Forbidden, "forbidden"},
		{fmt.Errorf("x: %w", referral.ErrUnavailable), Unavailable, "unavailable"},
		{fmt.Errorf("x: %w", referral.ErrOutcomeUnknown), OutcomeUnknown, "outcome_unknown"},
		{fmt.Errorf("x: %w", closed), Closed, "closed"},
		{context.Canceled, Canceled, "canceled"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), DeadlineExceeded, "deadline_exceeded"},
		{errors.New("something else"), Other, "_OTHER"},
	} {
		require.Equal(t, tc.want, Classify(tc.err, closed), "%v", tc.err)
		require.Equal(t, tc.name, tc.want.String())
	}
	require.Equal(t, Other, Classify(closed, nil), "without the closed sentinel it is another error")
}

func TestByKind(t *testing.T) {
	b := NewByKind(attribute.String("refkit.trigger", "accept"))
	for k := range Kinds {
		require.Len(t, b[k].Add, 1)
		require.Len(t, b[k].Record, 1)
	}
	reader := sdkmetric.NewManualReader()
	ins := build(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	ins.calls.Add(context.Background(), 1, b[OK].Add...)
	ins.calls.Add(context.Background(), 1, b[Conflict].Add...)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sum := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64])
	require.Len(t, sum.DataPoints, 2)
	var types []string
	for _, dp := range sum.DataPoints {
		v, ok := dp.Attributes.Value(ErrorType)
		if ok {
			types = append(types, v.AsString())
		} else {
			types = append(types, "")
		}
		trig, _ := dp.Attributes.Value("refkit.trigger")
		require.Equal(t, "accept", trig.AsString())
	}
	require.ElementsMatch(t, []string{"", "conflict"}, types)
}
