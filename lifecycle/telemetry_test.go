package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// TestTelemetry runs commands, a sweep and Follow for a person whose every
// field holds a sentinel, with notes and a user id that hold one too, and
// checks the spans and metrics are there and hold none of it.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	e := newEnv(t, func(o *lifecycle.Options) {
		o.TracerProvider, o.MeterProvider = rec.Tracer, rec.Meter
		o.Deadlines = lifecycle.Deadlines{Acknowledge: time.Hour, ExpireAfter: time.Hour}
	})
	require.NoError(t, e.store.PutPerson(e.ctx, telemetrytest.Person(e.person, e.network)))
	e.senderA.User, e.receiverA.User = telemetrytest.User, telemetrytest.User

	req := e.request(true)
	req.Note = telemetrytest.Note
	r, err := e.engine.Create(e.ctx, e.senderA, req)
	require.NoError(t, err)
	_, err = e.engine.Acknowledge(e.ctx, e.receiverA, r.ID)
	require.NoError(t, err)
	_, err = e.engine.Accept(e.ctx, e.receiverA, r.ID, telemetrytest.Note)
	require.NoError(t, err)
	_, err = e.engine.AddNote(e.ctx, e.senderA, r.ID, telemetrytest.Note)
	require.NoError(t, err)
	_, err = e.engine.Complete(e.ctx, e.receiverA, r.ID, referral.Outcome{Code: "got-help", Note: telemetrytest.Note})
	require.NoError(t, err)
	_, err = e.engine.Accept(e.ctx, e.thirdA, r.ID, telemetrytest.Note)
	require.ErrorIs(t, err, referral.ErrNotFound)

	// Two overdue referrals: the sweep escalates both, a later one expires them.
	for range 2 {
		e.create(t)
	}
	res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(90*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 2, res.Escalated)
	res, err = e.engine.Sweep(e.ctx, e.clock.Now().Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 2, res.Expired)

	e.clock.Advance(4 * time.Hour)
	stop := errors.New("stop")
	delivered := 0
	err = e.engine.Follow(e.ctx, e.senderA, 0, func(referral.Event) error {
		delivered++
		if delivered == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)

	t.Run("spans", func(t *testing.T) {
		create := telemetrytest.SpanAttrs(rec.Span(t, "lifecycle create"))
		require.Equal(t, "requested", create["refkit.lifecycle.to"].AsString())
		require.Equal(t, e.network.String(), create["refkit.network.id"].AsString())
		require.Equal(t, r.ID.String(), create["refkit.referral.id"].AsString())

		ack := telemetrytest.SpanAttrs(rec.Span(t, "lifecycle acknowledge"))
		require.Equal(t, "acknowledge", ack["refkit.lifecycle.trigger"].AsString())
		require.Equal(t, "requested", ack["refkit.lifecycle.from"].AsString())
		require.Equal(t, "requested", ack["refkit.lifecycle.to"].AsString())
		require.Equal(t, "acknowledged", ack["refkit.lifecycle.business_status"].AsString())
		require.Equal(t, "staff", ack["refkit.actor.role"].AsString())

		var refused bool
		for _, s := range rec.Spans() {
			if s.Name() == "lifecycle accept" && s.Status().Code == codes.Error {
				refused = true
				require.Equal(t, "not_found", s.Status().Description)
				require.Equal(t, "not_found", telemetrytest.SpanAttrs(s)["error.type"].AsString())
			}
		}
		require.True(t, refused, "the refused accept has an error span")

		sweep := telemetrytest.SpanAttrs(rec.Span(t, "lifecycle sweep"))
		require.Equal(t, int64(2), sweep["refkit.lifecycle.sweep.escalated"].AsInt64())
		escalate := rec.Span(t, "lifecycle escalate")
		require.Equal(t, rec.Span(t, "lifecycle sweep").SpanContext().SpanID(), escalate.Parent().SpanID(),
			"a sweep's commands are its children")
	})

	t.Run("metrics", func(t *testing.T) {
		commands := telemetrytest.Points(t, rec.Metric(t, "refkit.lifecycle.commands", "{command}"))
		require.Equal(t, 2.0, telemetrytest.Sum(commands, map[string]string{"refkit.lifecycle.trigger": "accept"}))
		require.Equal(t, 1.0, telemetrytest.Sum(commands, map[string]string{"refkit.lifecycle.trigger": "accept", "error.type": "not_found"}))
		require.Equal(t, 3.0, telemetrytest.Sum(commands, map[string]string{"refkit.lifecycle.trigger": "create"}))
		require.Equal(t, 2.0, telemetrytest.Sum(commands, map[string]string{"refkit.lifecycle.trigger": "expire"}))
		for _, p := range commands {
			if p.Get("error.type") == "" {
				_, has := p.Attrs.Value("error.type")
				require.False(t, has, "a command that succeeded has no error.type")
			}
		}
		duration := telemetrytest.Points(t, rec.Metric(t, "refkit.lifecycle.command.duration", "s"))
		require.Equal(t, telemetrytest.Sum(commands, nil), telemetrytest.Sum(duration, nil), "one duration per command")

		sweep := telemetrytest.Points(t, rec.Metric(t, "refkit.lifecycle.sweep.referrals", "{referral}"))
		require.Equal(t, 2.0, telemetrytest.Sum(sweep, map[string]string{"refkit.lifecycle.sweep.action": "escalated"}))
		require.Equal(t, 2.0, telemetrytest.Sum(sweep, map[string]string{"refkit.lifecycle.sweep.action": "expired"}))

		require.Equal(t, 3.0, telemetrytest.Sum(telemetrytest.Points(t, rec.Metric(t, "refkit.lifecycle.follow.events", "{event}")), nil))
		require.Equal(t, 3.0, telemetrytest.Sum(telemetrytest.Points(t, rec.Metric(t, "refkit.lifecycle.follow.lag", "s")), nil))
	})

	t.Run("no personal data", func(t *testing.T) {
		rec.RequireClean(t, telemetrytest.Sentinels...)
	})
}

// spanSpy is a store that notes whether the context of its last
// UpdateReferral carried a span.
type spanSpy struct {
	storage.Store
	sawSpan bool
}

func (s *spanSpy) UpdateReferral(ctx context.Context, r referral.Referral, ev referral.Event) (referral.Event, error) {
	s.sawSpan = trace.SpanContextFromContext(ctx).IsValid()
	return s.Store.UpdateReferral(ctx, r, ev)
}

// TestTelemetryGlobal: nil providers follow the global ones. With none
// installed a command starts no span; once the host installs providers, an
// engine built before reports to them.
func TestTelemetryGlobal(t *testing.T) {
	spy := &spanSpy{Store: memory.New()}
	e := newEnvOn(t, spy, nil)
	r := e.create(t)
	_, err := e.engine.Acknowledge(e.ctx, e.receiverA, r.ID)
	require.NoError(t, err)
	require.False(t, spy.sawSpan, "no provider installed: no span")

	rec := telemetrytest.New(t)
	rec.Global(t)
	_, err = e.engine.Accept(e.ctx, e.receiverA, r.ID, "")
	require.NoError(t, err)
	require.True(t, spy.sawSpan, "the store call runs inside the command's span")
	rec.Span(t, "lifecycle accept")
	commands := telemetrytest.Points(t, rec.Metric(t, "refkit.lifecycle.commands", "{command}"))
	require.Equal(t, 1.0, telemetrytest.Sum(commands, nil))
}

// BenchmarkTransitionTelemetry is BenchmarkTransition with an SDK collecting:
// every span sampled and ended (then dropped, as a batching exporter's queue
// would take it), metrics aggregated in memory. It is what the
// instrumentation costs when someone listens; BenchmarkTransition is what it
// costs when nobody does.
func BenchmarkTransitionTelemetry(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	e := newEnv(b, func(o *lifecycle.Options) { o.TracerProvider, o.MeterProvider = tp, mp })
	r := e.walk(b, accept, start)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var err error
		if i%2 == 0 {
			_, err = e.engine.Hold(e.ctx, e.receiverA, r.ID, "", "")
		} else {
			_, err = e.engine.Resume(e.ctx, e.receiverA, r.ID)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// An engine reports to the OpenTelemetry providers in its options (or, with
// none given, to the global ones a host installs with otel.SetMeterProvider
// and otel.SetTracerProvider). Here an in-memory metric reader collects what
// a referral's loop recorded: each command counted by trigger.
func Example_telemetry() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	store := memory.New()
	ids := referral.NewIDGenerator(time.Now, nil)
	network, clinic, foodBank, person := ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	must(store.PutNetwork(ctx, referral.Network{ID: network, Name: "Lake County Referral Network"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: clinic, Network: network, Name: "Lakeside Clinic"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: foodBank, Network: network, Name: "North Food Bank"}))
	must(store.PutPerson(ctx, referral.Person{ID: person, Network: network}))
	engine, err := lifecycle.New(store, store, lifecycle.Options{MeterProvider: mp, ImpliedConsent: true})
	must(err)
	sender := referral.Actor{Network: network, Organization: clinic, User: "dr-lee", Role: referral.RoleStaff}
	receiver := referral.Actor{Network: network, Organization: foodBank, User: "intake", Role: referral.RoleStaff}

	r, err := engine.Create(ctx, sender, lifecycle.CreateRequest{Person: person, Receiver: foodBank,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}}, Send: true})
	must(err)
	_, err = engine.Accept(ctx, receiver, r.ID, "")
	must(err)
	_, err = engine.Accept(ctx, receiver, r.ID, "") // already accepted
	fmt.Println(errors.Is(err, referral.ErrInvalidTransition))

	var rm metricdata.ResourceMetrics
	must(reader.Collect(ctx, &rm))
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "refkit.lifecycle.commands" {
			continue
		}
		var lines []string
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			trigger, _ := p.Attributes.Value("refkit.lifecycle.trigger")
			errType, _ := p.Attributes.Value("error.type")
			lines = append(lines, fmt.Sprintf("%s %q %d", trigger.AsString(), errType.AsString(), p.Value))
		}
		slices.Sort(lines)
		fmt.Println(strings.Join(lines, "\n"))
	}
	// Output:
	// true
	// accept "" 1
	// accept "invalid_transition" 1
	// create "" 1
}
