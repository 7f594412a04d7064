package matching_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// telemetryDirectory has a service whose rule the sentinel person passes,
// one whose rule they fail, and one whose rule needs their income: rules
// that quote the person's values, so that a rule text or a clause in
// telemetry would show.
func telemetryDirectory() []referral.Service {
	id := func(n int) referral.ID {
		return referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-" + []string{"000000000011", "000000000012", "000000000013"}[n])
	}
	mk := func(n int, rule string) referral.Service {
		return referral.Service{
			ID: id(n), Organization: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000a1"),
			Name: "Pantry", Status: referral.ServiceActive, Domains: []referral.Domain{referral.FoodInsecurity},
			Eligibility: rule, Capacity: &referral.Capacity{Available: 3},
			Locations: []referral.Location{{ID: id(n), Latitude: telemetrytest.Latitude + 0.01, Longitude: telemetrytest.Longitude}},
		}
	}
	return []referral.Service{
		mk(0, `attributes["`+telemetrytest.AttrKey+`"] == "`+telemetrytest.AttrValue+`" && zip == "`+telemetrytest.Zip+`" && speaks("`+telemetrytest.Language+`")`),
		mk(1, `county == "`+telemetrytest.County+`" && insurance != "`+telemetrytest.Insurance+`"`),
		mk(2, `income_annual < 80000`),
	}
}

// TestTelemetry matches for a person whose every field holds a sentinel,
// with explanations and the possible tier on, and updates the index; the
// spans and metrics are there and hold none of the person's values.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	ctx := context.Background()
	ix, err := matching.New(ctx, telemetryDirectory(), matching.Options{TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)

	person := telemetrytest.Person(referral.NilID, referral.NilID)
	req := matching.Request{Person: person, Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		RadiusM: 8000, Explain: true, Unknown: matching.UnknownInclude}
	res, err := ix.Match(ctx, req)
	require.NoError(t, err)
	require.Len(t, res.Matches, 2)
	require.Len(t, res.Excluded, 1)

	person.IncomeAnnual = nil
	req.Person, req.Explain = person, false
	res, err = ix.Match(ctx, req)
	require.NoError(t, err)
	require.Len(t, res.Possible, 1)

	req.RadiusM = -1
	_, err = ix.Match(ctx, req)
	require.ErrorIs(t, err, referral.ErrInvalid)

	require.NoError(t, ix.Update(ctx, matching.SetCapacity(telemetryDirectory()[0].ID, &referral.Capacity{Available: 1})))
	require.NoError(t, ix.Update(ctx, matching.Remove(telemetryDirectory()[2].ID)))

	t.Run("spans", func(t *testing.T) {
		var explained trace.SpanID
		for _, s := range rec.Spans() {
			if s.Name() != "matching match" {
				continue
			}
			a := telemetrytest.SpanAttrs(s)
			if !a["refkit.matching.explain"].AsBool() {
				continue
			}
			explained = s.SpanContext().SpanID()
			require.Equal(t, "5-10km", a["refkit.matching.radius"].AsString())
			require.Equal(t, int64(2), a["refkit.matching.matches"].AsInt64())
			require.Equal(t, int64(1), a["refkit.matching.excluded"].AsInt64())
			require.Equal(t, int64(3), a["refkit.matching.candidates"].AsInt64())
			require.Equal(t, int64(3), a["refkit.matching.services"].AsInt64())
			require.Equal(t, int64(1), a["refkit.matching.needs"].AsInt64())
		}
		require.True(t, explained.IsValid(), "the explained request has a span")
		update := telemetrytest.SpanAttrs(rec.Span(t, "matching update"))
		require.Equal(t, "capacity", update["refkit.matching.update"].AsString())
	})

	t.Run("metrics", func(t *testing.T) {
		requests := telemetrytest.Points(t, rec.Metric(t, "refkit.matching.requests", "{request}"))
		require.Equal(t, 3.0, telemetrytest.Sum(requests, nil))
		require.Equal(t, 1.0, telemetrytest.Sum(requests, map[string]string{"error.type": "invalid"}))
		require.Equal(t, 1.0, telemetrytest.Sum(requests, map[string]string{"refkit.matching.explain": "true", "refkit.matching.radius": "5-10km"}))
		results := telemetrytest.Points(t, rec.Metric(t, "refkit.matching.results", "{service}"))
		require.Equal(t, 3.0, telemetrytest.Sum(results, map[string]string{"refkit.matching.tier": "match"}))
		require.Equal(t, 1.0, telemetrytest.Sum(results, map[string]string{"refkit.matching.tier": "possible"}))
		require.Equal(t, 1.0, telemetrytest.Sum(results, map[string]string{"refkit.matching.tier": "excluded"}))
		require.Equal(t, 3.0, telemetrytest.Sum(telemetrytest.Points(t, rec.Metric(t, "refkit.matching.duration", "s")), nil))
		updates := telemetrytest.Points(t, rec.Metric(t, "refkit.matching.index.updates", "{update}"))
		require.Equal(t, 1.0, telemetrytest.Sum(updates, map[string]string{"refkit.matching.update": "capacity"}))
		require.Equal(t, 1.0, telemetrytest.Sum(updates, map[string]string{"refkit.matching.update": "rebuild"}))
		rec.Metric(t, "refkit.matching.index.update.duration", "s")
	})

	t.Run("no personal data", func(t *testing.T) {
		rec.RequireClean(t, telemetrytest.Sentinels...)
	})
}
