package main

import (
	"context"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
)

// telemetry is serve's OpenTelemetry SDK: a MeterProvider whose reader is the
// Prometheus exporter, on a registry of its own that /metrics serves. It is
// also installed as the global MeterProvider, so a library package that
// instruments itself through the OpenTelemetry API (otel.Meter) shows up at
// /metrics with no change here. Attributes are route patterns, methods,
// statuses, roles and result names: never ids of people, never values.
type telemetry struct {
	provider *sdkmetric.MeterProvider
	handler  http.Handler

	requests metric.Float64Histogram
	sweeps   metric.Int64Counter
	swept    metric.Int64Counter
}

func newTelemetry() (*telemetry, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	otel.SetMeterProvider(provider)
	meter := provider.Meter("github.com/refkit/refkit/cmd/refkit")
	t := &telemetry{provider: provider, handler: promhttp.HandlerFor(registry, promhttp.HandlerOpts{})}
	if t.requests, err = meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP requests, by route pattern and status."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, err
	}
	if t.sweeps, err = meter.Int64Counter("refkit.sweep.runs", metric.WithDescription("Deadline sweep runs, by outcome (swept, standby, error).")); err != nil {
		return nil, err
	}
	if t.swept, err = meter.Int64Counter("refkit.sweep.referrals", metric.WithDescription("Referrals the deadline sweep acted on, by result (escalated, expired, skipped).")); err != nil {
		return nil, err
	}
	return t, nil
}

// request records one answered request.
func (t *telemetry) request(ctx context.Context, info api.RequestInfo) {
	route := info.Route
	if route == "" {
		route = "unmatched"
	}
	t.requests.Record(ctx, info.Duration.Seconds(), metric.WithAttributes(
		attribute.String("http.request.method", knownMethod(info.Method)),
		attribute.String("http.route", route),
		attribute.String("http.response.status_code", strconv.Itoa(info.Status)),
	))
}

// sweep records one sweep run: outcome is swept, standby (another process
// holds the lease) or error.
func (t *telemetry) sweep(ctx context.Context, outcome string, res lifecycle.SweepResult) {
	t.sweeps.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
	for _, r := range []struct {
		name string
		n    int
	}{{"escalated", res.Escalated}, {"expired", res.Expired}, {"skipped", res.Skipped}} {
		if r.n > 0 {
			t.swept.Add(ctx, int64(r.n), metric.WithAttributes(attribute.String("result", r.name)))
		}
	}
}

// shutdown flushes and stops the provider.
func (t *telemetry) shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// knownMethod bounds the method attribute, as the OpenTelemetry HTTP
// conventions do: a client's invented methods would otherwise each make a
// time series.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
