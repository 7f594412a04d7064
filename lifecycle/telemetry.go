package lifecycle

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
const scope = "github.com/refkit/refkit/lifecycle"

// Attribute keys of the package's spans and measurements.
const (
	attrTrigger        = attribute.Key("refkit.lifecycle.trigger")
	attrFrom           = attribute.Key("refkit.lifecycle.from")
	attrTo             = attribute.Key("refkit.lifecycle.to")
	attrBusinessStatus = attribute.Key("refkit.lifecycle.business_status")
	attrRole           = attribute.Key("refkit.actor.role")
	attrNetwork        = attribute.Key("refkit.network.id")
	attrReferral       = attribute.Key("refkit.referral.id")
	attrSweepAction    = attribute.Key("refkit.lifecycle.sweep.action")
	attrEscalated      = attribute.Key("refkit.lifecycle.sweep.escalated")
	attrExpired        = attribute.Key("refkit.lifecycle.sweep.expired")
	attrSkipped        = attribute.Key("refkit.lifecycle.sweep.skipped")
)

// commandNames are the commands the instruments tell apart: create, then
// every trigger. Spans are named "lifecycle <command>".
var commandNames = []string{"create",
	string(TriggerSend), string(TriggerAcknowledge), string(TriggerAccept), string(TriggerWaitlist),
	string(TriggerSchedule), string(TriggerNoShow), string(TriggerDecline), string(TriggerStart),
	string(TriggerHold), string(TriggerResume), string(TriggerComplete), string(TriggerFail),
	string(TriggerCancel), string(TriggerRequestCancel), string(TriggerConfirmCancel),
	string(TriggerRefuseCancel), string(TriggerExpire), string(TriggerEnterInError),
	string(TriggerNote), string(TriggerEscalate)}

// commandIndex maps a trigger to its place in commandNames; create is 0.
var commandIndex = func() map[Trigger]int {
	m := make(map[Trigger]int, len(commandNames))
	for i, n := range commandNames[1:] {
		m[Trigger(n)] = i + 1
	}
	return m
}()

// spanNames are the commands' span names, built once.
var spanNames = func() []string {
	out := make([]string, len(commandNames))
	for i, n := range commandNames {
		out[i] = "lifecycle " + n
	}
	return out
}()

// Sweep actions, the values of refkit.lifecycle.sweep.action.
const (
	sweepEscalated = iota
	sweepExpired
	sweepSkipped
	sweepActions
)

var sweepActionNames = [sweepActions]string{"escalated", "expired", "skipped"}

// instruments are the package's metric instruments on one provider, with the
// attribute sets of their measurements built once.
type instruments struct {
	commands metric.Int64Counter
	duration metric.Float64Histogram
	sweep    metric.Int64Counter
	feedLag  metric.Float64Histogram
	feed     metric.Int64Counter
	byCmd    []*telemetry.ByKind
	byAction [sweepActions]telemetry.Opts
}

func newInstruments(m metric.Meter) *instruments {
	ins := &instruments{
		commands: telemetry.Check(m.Int64Counter("refkit.lifecycle.commands",
			metric.WithUnit("{command}"),
			metric.WithDescription("Lifecycle commands run, by command and by the error they ended with."))),
		duration: telemetry.Check(m.Float64Histogram("refkit.lifecycle.command.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Time a lifecycle command took, store calls included."),
			metric.WithExplicitBucketBoundaries(0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
				0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))),
		sweep: telemetry.Check(m.Int64Counter("refkit.lifecycle.sweep.referrals",
			metric.WithUnit("{referral}"),
			metric.WithDescription("Overdue referrals a sweep escalated, expired, or skipped because another writer changed them."))),
		feedLag: telemetry.Check(m.Float64Histogram("refkit.lifecycle.follow.lag",
			metric.WithUnit("s"),
			metric.WithDescription("Time from an event to Follow delivering it, on the engine's clock."),
			metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600))),
		feed: telemetry.Check(m.Int64Counter("refkit.lifecycle.follow.events",
			metric.WithUnit("{event}"),
			metric.WithDescription("Events Follow delivered."))),
	}
	ins.byCmd = make([]*telemetry.ByKind, len(commandNames))
	for i, n := range commandNames {
		ins.byCmd[i] = telemetry.NewByKind(attrTrigger.String(n))
	}
	for a, n := range sweepActionNames {
		ins.byAction[a] = telemetry.NewOpts(attrSweepAction.String(n))
	}
	return ins
}

// tel is an engine's telemetry.
type tel struct {
	tracer *telemetry.Tracer
	meter  *telemetry.Meter[instruments]
}

func newTel(opts Options) tel {
	return tel{
		tracer: telemetry.NewTracer(scope, opts.TracerProvider),
		meter:  telemetry.NewMeter(scope, opts.MeterProvider, newInstruments),
	}
}

// command is one command being observed. Its zero value (nothing collects
// telemetry) observes nothing.
type command struct {
	span  trace.Span
	ins   *instruments
	index int
	began time.Time
}

// begin starts observing a command that fires trigger on referral id. The
// context it returns carries the command's span, so the store's spans are
// its children. When nothing collects telemetry it does nothing else, not
// even look the trigger up.
func (t *tel) begin(ctx context.Context, trigger Trigger, actor *referral.Actor, id referral.ID) (context.Context, command) {
	c := command{ins: t.meter.Get()}
	tr := t.tracer.Get()
	if tr == nil && c.ins == nil {
		return ctx, c
	}
	index, ok := commandIndex[trigger]
	if !ok {
		// Not a trigger: the command fails with ErrInvalid, and an unknown
		// name is no label.
		return ctx, command{}
	}
	return c.start(ctx, tr, index, actor, id)
}

// beginCreate starts observing a create.
func (t *tel) beginCreate(ctx context.Context, actor *referral.Actor) (context.Context, command) {
	c := command{ins: t.meter.Get()}
	tr := t.tracer.Get()
	if tr == nil && c.ins == nil {
		return ctx, c
	}
	return c.start(ctx, tr, 0, actor, referral.NilID)
}

// start starts the span (with tr, unless nil) and the clock of command
// index.
func (c command) start(ctx context.Context, tr trace.Tracer, index int, actor *referral.Actor, id referral.ID) (context.Context, command) {
	c.index = index
	if tr != nil {
		ctx, c.span = tr.Start(ctx, spanNames[index])
		if c.span.IsRecording() {
			c.span.SetAttributes(attrTrigger.String(commandNames[index]), attrNetwork.String(actor.Network.String()),
				attrRole.String(string(actor.Role)))
			if !id.IsZero() {
				c.span.SetAttributes(attrReferral.String(id.String()))
			}
		}
	}
	if c.ins != nil {
		c.began = time.Now()
	}
	return ctx, c
}

// observing reports whether the command is observed at all.
func (c *command) observing() bool { return c.span != nil || c.ins != nil }

// endDo is end for a deferred call: the referral, event and error the
// command returns.
func (c *command) endDo(ctx context.Context, r *referral.Referral, ev *referral.Event, err *error) {
	c.end(ctx, r, ev.From, *err)
}

// end records the command's result: r is the referral as written (when err
// is nil) and from its status before.
func (c *command) end(ctx context.Context, r *referral.Referral, from referral.Status, err error) {
	if c.span == nil && c.ins == nil {
		return
	}
	k := telemetry.Classify(err, storage.ErrClosed)
	if c.ins != nil {
		opts := &c.ins.byCmd[c.index][k]
		c.ins.commands.Add(ctx, 1, opts.Add...)
		c.ins.duration.Record(ctx, telemetry.Since(c.began), opts.Record...)
	}
	if c.span == nil {
		return
	}
	if err == nil && c.span.IsRecording() {
		c.span.SetAttributes(attrReferral.String(r.ID.String()), attrTo.String(string(r.Status)))
		if from != "" {
			c.span.SetAttributes(attrFrom.String(string(from)))
		}
		if r.BusinessStatus != "" {
			c.span.SetAttributes(attrBusinessStatus.String(string(r.BusinessStatus)))
		}
	}
	telemetry.End(c.span, k)
}

// beginSweep starts a sweep's span; nil when nothing collects spans.
func (t *tel) beginSweep(ctx context.Context) (context.Context, trace.Span) {
	tr := t.tracer.Get()
	if tr == nil {
		return ctx, nil
	}
	return tr.Start(ctx, "lifecycle sweep")
}

// sweep records what a sweep did.
func (t *tel) sweep(ctx context.Context, span trace.Span, res SweepResult, err error) {
	if ins := t.meter.Get(); ins != nil {
		for a, n := range [sweepActions]int{res.Escalated, res.Expired, res.Skipped} {
			if n > 0 {
				ins.sweep.Add(ctx, int64(n), ins.byAction[a].Add...)
			}
		}
	}
	if span == nil {
		return
	}
	if span.IsRecording() {
		span.SetAttributes(attrEscalated.Int(res.Escalated), attrExpired.Int(res.Expired), attrSkipped.Int(res.Skipped))
	}
	telemetry.End(span, telemetry.Classify(err, storage.ErrClosed))
}

// delivered records that Follow is delivering ev, now by the engine's clock.
func (t *tel) delivered(ctx context.Context, ev *referral.Event, now func() time.Time) {
	ins := t.meter.Get()
	if ins == nil {
		return
	}
	ins.feed.Add(ctx, 1)
	ins.feedLag.Record(ctx, max(0, now().Sub(ev.At).Seconds()))
}
