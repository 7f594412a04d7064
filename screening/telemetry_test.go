package screening_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/screening"
)

// intake is an instrument with a text item, an integer item and a rule, so
// that a response carries the person's own words and numbers.
const intake = `{
  "id": "intake", "version": "1", "title": "Intake",
  "items": [
    {"id": "addr", "key": "addr", "text": "Address?", "type": "text", "max_length": 80},
    {"id": "size", "key": "size", "text": "How many people live with you?", "type": "integer", "min": 1, "max": 20},
    {"id": "food", "key": "food", "text": "Worried about food?", "options": [{"code": "y", "display": "Yes", "value": 1}, {"code": "n", "display": "No", "value": 0}]}
  ],
  "rules": [{"id": "food", "domain": "food-insecurity", "urgency": "urgent", "answers": [{"item": "food", "codes": ["y"]}]}]
}`

// TestTelemetry scores a response holding sentinels with ScoreContext and
// ScoreInto, with the global providers installed: the span and the metrics
// are there and hold no answer.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	rec.Global(t)
	in, err := screening.Parse("intake.json", []byte(intake))
	require.NoError(t, err)
	resp := in.NewResponse()
	require.NoError(t, resp.Answer("addr", telemetrytest.Note))
	require.NoError(t, resp.Answer("size", "13"))
	require.NoError(t, resp.Answer("food", "y"))

	ctx, parent := rec.Tracer.Tracer("test").Start(context.Background(), "intake visit")
	var res screening.Result
	resp.ScoreContext(ctx, &res)
	parent.End()
	require.Len(t, res.PositiveDomains, 1)
	resp.ScoreInto(&res)

	span := rec.Span(t, "screening score")
	require.Equal(t, parent.SpanContext().SpanID(), span.Parent().SpanID())
	a := telemetrytest.SpanAttrs(span)
	require.Equal(t, "intake", a["refkit.screening.instrument"].AsString())
	require.Equal(t, int64(3), a["refkit.screening.items"].AsInt64())
	require.Equal(t, int64(1), a["refkit.screening.positive_domains"].AsInt64())
	require.True(t, a["refkit.screening.valid"].AsBool())
	var scoreSpans int
	for _, s := range rec.Spans() {
		if s.Name() == "screening score" {
			scoreSpans++
		}
	}
	require.Equal(t, 1, scoreSpans, "ScoreInto has no context and starts no span")

	responses := telemetrytest.Points(t, rec.Metric(t, "refkit.screening.scores", "{score}"))
	require.Equal(t, 2.0, telemetrytest.Sum(responses, map[string]string{"refkit.screening.instrument": "intake"}))
	positive := telemetrytest.Points(t, rec.Metric(t, "refkit.screening.positive_domains", "{domain}"))
	require.Equal(t, 2.0, telemetrytest.Sum(positive, map[string]string{"refkit.screening.instrument": "intake"}))
	require.Equal(t, 2.0, telemetrytest.Sum(telemetrytest.Points(t, rec.Metric(t, "refkit.screening.duration", "s")), nil))

	rec.RequireClean(t, append(telemetrytest.Sentinels, "food-insecurity")...)
}

// TestScoreIntoAllocatesNothingWithoutProvider: with no provider installed,
// scoring a used Result still allocates nothing.
func TestScoreIntoAllocatesNothingWithoutProvider(t *testing.T) {
	in, err := screening.Default().Lookup("ahc-hrsn")
	require.NoError(t, err)
	resp := in.NewResponse()
	res := resp.Score()
	ctx := context.Background()
	require.Zero(t, testing.AllocsPerRun(100, func() { resp.ScoreInto(&res) }))
	require.Zero(t, testing.AllocsPerRun(100, func() { resp.ScoreContext(ctx, &res) }))
}

// ScoreContext is ScoreInto inside a span of the caller's trace, once the
// host has installed an OpenTelemetry SDK (otel.SetTracerProvider): with
// none, as here, it scores exactly as ScoreInto does, at the same cost.
func ExampleResponse_ScoreContext() {
	in, _ := screening.Default().Lookup("hunger-vital-sign")
	r := in.NewResponse()
	_ = r.Answer("88122-7", "Often true")
	_ = r.Answer("88123-5", "Never true")
	var res screening.Result
	r.ScoreContext(context.Background(), &res)
	fmt.Println(res.PositiveDomains)
	// Output: [food-insecurity]
}
