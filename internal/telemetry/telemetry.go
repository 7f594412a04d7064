// Package telemetry resolves the OpenTelemetry providers refkit's packages
// report to, and names the outcome of a call the same way in all of them. It
// declares no span and no instrument: each package instruments itself in its
// own telemetry.go and documents what it emits.
//
// A package's options carry a TracerProvider and a MeterProvider. A provider
// given there is used as it is. Nil follows the OpenTelemetry global
// providers (otel.SetTracerProvider, otel.SetMeterProvider), looked up on each
// call so that a provider the host installs after building an engine or an
// index is used from then on. Until a host installs one, the global providers
// are the API's own placeholders, and a no-op provider (the API's noop
// packages) discards everything: with either, Tracer.Get and Meter.Get return
// nil and the call sites do nothing more, so instrumentation costs an atomic
// load and a comparison when nobody collects it.
package telemetry

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/refkit/refkit/referral"
)

// Scope is the instrumentation scope version every refkit tracer and meter
// reports, beside its package's import path as the scope name.
const Scope = "refkit"

// placeholder is the package path of the API's global placeholder providers,
// which forward to nothing until a provider is installed. Checked by type, so
// a newer API that moves them makes refkit instrument (at a small cost), never
// go silent: a test in this package fails when that happens.
const placeholder = "go.opentelemetry.io/otel/internal/global"

// isPlaceholder reports whether p is one of the API's global placeholders.
func isPlaceholder(p any) bool {
	t := reflect.TypeOf(p)
	if t == nil {
		return true
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == placeholder
}

// canCompare reports whether p can be compared with == without a panic.
func canCompare(p any) bool { return p != nil && reflect.TypeOf(p).Comparable() }

// Tracer is one package's tracer, resolved from its options.
type Tracer struct {
	name     string
	explicit bool
	fixed    trace.Tracer // the explicit provider's tracer; nil for a no-op one
	cache    atomic.Pointer[tracerFor]
}

// tracerFor is the tracer of one global provider.
type tracerFor struct {
	provider trace.TracerProvider
	same     bool // provider's type is comparable, so the cache can be checked
	tracer   trace.Tracer
}

// NewTracer returns the tracer named name (a package's import path) of
// provider, or of the global provider when provider is nil.
func NewTracer(name string, provider trace.TracerProvider) *Tracer {
	t := &Tracer{name: name}
	if provider != nil {
		t.explicit = true
		if _, noop := provider.(tracenoop.TracerProvider); !noop {
			t.fixed = provider.Tracer(name, trace.WithInstrumentationVersion(Scope))
		}
	}
	return t
}

// Get returns the tracer to start spans with now, or nil when spans would go
// nowhere (no provider installed, or a no-op one).
func (t *Tracer) Get() trace.Tracer {
	if t == nil {
		return nil
	}
	if t.explicit {
		return t.fixed
	}
	p := otel.GetTracerProvider()
	if c := t.cache.Load(); c != nil && c.same && c.provider == p {
		return c.tracer
	}
	c := &tracerFor{provider: p, same: canCompare(p)}
	if _, noop := p.(tracenoop.TracerProvider); !noop && !isPlaceholder(p) {
		c.tracer = p.Tracer(t.name, trace.WithInstrumentationVersion(Scope))
	}
	t.cache.Store(c)
	return c.tracer
}

// Meter is one package's instruments, I, built by the package from the meter
// of its options' provider.
type Meter[I any] struct {
	name     string
	build    func(metric.Meter) *I
	explicit bool
	fixed    *I
	cache    atomic.Pointer[metersFor[I]]
}

type metersFor[I any] struct {
	provider    metric.MeterProvider
	same        bool
	instruments *I
}

// NewMeter returns the instruments build makes from the meter named name of
// provider, or of the global provider when provider is nil. build runs once
// per provider; it reports an instrument it could not create to
// otel.Handle (see Check) and returns what it has.
func NewMeter[I any](name string, provider metric.MeterProvider, build func(metric.Meter) *I) *Meter[I] {
	m := &Meter[I]{name: name, build: build}
	if provider != nil {
		m.explicit = true
		if _, noop := provider.(metricnoop.MeterProvider); !noop {
			m.fixed = build(provider.Meter(name, metric.WithInstrumentationVersion(Scope)))
		}
	}
	return m
}

// Get returns the instruments to record with now, or nil when measurements
// would go nowhere (no provider installed, or a no-op one).
func (m *Meter[I]) Get() *I {
	if m == nil {
		return nil
	}
	if m.explicit {
		return m.fixed
	}
	p := otel.GetMeterProvider()
	if c := m.cache.Load(); c != nil && c.same && c.provider == p {
		return c.instruments
	}
	c := &metersFor[I]{provider: p, same: canCompare(p)}
	if _, noop := p.(metricnoop.MeterProvider); !noop && !isPlaceholder(p) {
		c.instruments = m.build(p.Meter(m.name, metric.WithInstrumentationVersion(Scope)))
	}
	m.cache.Store(c)
	return c.instruments
}

// Check returns v, reporting err to the OpenTelemetry error handler: an
// instrument the provider refused is a programming error in refkit, not a
// reason to fail the host's call. The API's instrument constructors return a
// usable instrument beside their error.
func Check[T any](v T, err error) T {
	if err != nil {
		otel.Handle(err)
	}
	return v
}

// Kind is what a call ended with: nothing (OK), or the refkit sentinel error
// it wrapped. It is the error.type attribute of spans and measurements, so a
// dashboard counts failures by cause without ever seeing an error's text.
type Kind uint8

// The kinds, most specific first.
const (
	OK Kind = iota
	OutcomeUnknown
	Closed
	NotFound
	Conflict
	InvalidTransition
	Invalid
	NoConsent
	Forbidden
	Unavailable
	Canceled
	DeadlineExceeded
	Other
	// Kinds is the number of kinds, for tables indexed by Kind.
	Kinds int = iota
)

var kindNames = [Kinds]string{
	OK: "", OutcomeUnknown: "outcome_unknown", Closed: "closed", NotFound: "not_found", Conflict: "conflict",
	InvalidTransition: "invalid_transition", Invalid: "invalid", NoConsent: "no_consent", Forbidden: "forbidden",
	Unavailable: "unavailable", Canceled: "canceled", DeadlineExceeded: "deadline_exceeded", Other: "_OTHER",
}

// String is the kind's error.type value ("" for OK; "_OTHER", as the
// semantic conventions name it, for an error that wraps no sentinel).
func (k Kind) String() string { return kindNames[k] }

// ErrorType is the attribute key of a failure's kind (OpenTelemetry semantic
// conventions: absent when the call succeeded).
const ErrorType = attribute.Key("error.type")

// Classify names what err wraps. closed is the error a closed store returns
// (storage.ErrClosed), for the packages that know it; nil for the others.
func Classify(err error, closed error) Kind {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, referral.ErrOutcomeUnknown):
		return OutcomeUnknown
	case closed != nil && errors.Is(err, closed):
		return Closed
	case errors.Is(err, referral.ErrNotFound):
		return NotFound
	case errors.Is(err, referral.ErrConflict):
		return Conflict
	case errors.Is(err, referral.ErrInvalidTransition):
		return InvalidTransition
	case errors.Is(err, referral.ErrInvalid):
		return Invalid
	case errors.Is(err, referral.ErrNoConsent):
		return NoConsent
	case errors.Is(err, referral.ErrForbidden):
		return Forbidden
	case errors.Is(err, referral.ErrUnavailable):
		return Unavailable
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Other
}

// End ends span, marking a failure with its kind: the span's status is Error
// with the kind as its description, and error.type is set. The error's text
// is never recorded: refkit's own errors hold no personal data, but a
// database driver's may quote a value.
func End(span trace.Span, k Kind) {
	if k != OK {
		span.SetStatus(codes.Error, k.String())
		span.SetAttributes(ErrorType.String(k.String()))
	}
	span.End()
}

// Opts are the measurement options of one attribute set, built once, as
// counters (Add) and histograms and gauges (Record) take them: a call site
// passes a slice it already has, so a measurement allocates nothing.
type Opts struct {
	Add    []metric.AddOption
	Record []metric.RecordOption
}

// NewOpts returns the options of the set of attrs.
func NewOpts(attrs ...attribute.KeyValue) Opts {
	o := metric.WithAttributeSet(attribute.NewSet(attrs...))
	return Opts{Add: []metric.AddOption{o}, Record: []metric.RecordOption{o}}
}

// ByKind holds the options of one attribute set with each Kind added as
// error.type (none for OK).
type ByKind [Kinds]Opts

// NewByKind returns attrs' options for every Kind.
func NewByKind(attrs ...attribute.KeyValue) *ByKind {
	var b ByKind
	for k := range Kinds {
		kvs := append([]attribute.KeyValue(nil), attrs...)
		if Kind(k) != OK {
			kvs = append(kvs, ErrorType.String(Kind(k).String()))
		}
		b[k] = NewOpts(kvs...)
	}
	return &b
}

// Since is the time from start to now in seconds, as duration histograms
// record it (OpenTelemetry semantic conventions: unit "s").
func Since(start time.Time) float64 { return time.Since(start).Seconds() }
