package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/qmuntal/stateless"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Trigger names a command that may change a referral's status.
type Trigger string

// Triggers. Each command that changes a referral's status or business status
// fires one.
const (
	TriggerSend        Trigger = "send"
	TriggerAcknowledge Trigger = "acknowledge"
	TriggerAccept      Trigger = "accept"
	TriggerWaitlist    Trigger = "waitlist"
	TriggerSchedule    Trigger = "schedule"
	TriggerNoShow      Trigger = "no-show"
	TriggerDecline     Trigger = "decline"
	TriggerStart       Trigger = "start"
	TriggerHold        Trigger = "hold"
	TriggerResume      Trigger = "resume"
	TriggerComplete    Trigger = "complete"
	TriggerFail        Trigger = "fail"
	TriggerCancel      Trigger = "cancel"
	// TriggerRequestCancel, TriggerConfirmCancel and TriggerRefuseCancel are
	// the two-step cancellation of a referral the receiver has accepted or
	// started: the sender asks, the receiver confirms or refuses.
	TriggerRequestCancel Trigger = "request-cancel"
	TriggerConfirmCancel Trigger = "confirm-cancel"
	TriggerRefuseCancel  Trigger = "refuse-cancel"
	TriggerExpire        Trigger = "expire"
	TriggerEnterInError  Trigger = "enter-in-error"
	TriggerNote          Trigger = "note"
	TriggerEscalate      Trigger = "escalate"
)

// eventTypes maps each trigger to the event it records.
var eventTypes = map[Trigger]referral.EventType{
	TriggerSend: referral.EventSent, TriggerAcknowledge: referral.EventAcknowledged,
	TriggerAccept: referral.EventAccepted, TriggerDecline: referral.EventDeclined,
	TriggerStart: referral.EventStarted, TriggerHold: referral.EventHeld,
	TriggerResume: referral.EventResumed, TriggerComplete: referral.EventCompleted,
	TriggerFail: referral.EventFailed, TriggerCancel: referral.EventCancelled,
	TriggerExpire: referral.EventExpired, TriggerEnterInError: referral.EventEnteredInError,
	TriggerNote: referral.EventNote, TriggerEscalate: referral.EventEscalated,
	TriggerWaitlist: referral.EventWaitlisted, TriggerSchedule: referral.EventScheduled,
	TriggerNoShow: referral.EventNoShow, TriggerRequestCancel: referral.EventCancelRequested,
	TriggerConfirmCancel: referral.EventCancelled, TriggerRefuseCancel: referral.EventCancelRefused,
}

// firing is the state of one command while the shared machine runs it. It travels
// in the context, because the machine's external state accessor sees only ctx: that
// is what lets one machine definition serve every referral concurrently.
type firing struct {
	r       *referral.Referral
	trigger Trigger
	actor   referral.Actor
	cmd     *Command
	codes   *Codes
	consent bool // the person consented to share with the receiver (or consent is implied)
	err     error
}

type firingKey struct{}

func firingFrom(ctx context.Context) *firing {
	if fc, ok := ctx.(*firingContext); ok {
		return &fc.f
	}
	f, _ := ctx.Value(firingKey{}).(*firing)
	return f
}

// firingContext carries a firing through the machine. It is a context of its own
// (rather than context.WithValue) and lives in a pool together with the referral
// and command it points to, so a transition allocates nothing for them.
type firingContext struct {
	context.Context
	f   firing
	r   referral.Referral
	cmd Command
}

// Value answers firingKey for callbacks that receive a derived context.
func (c *firingContext) Value(key any) any {
	if key == (firingKey{}) {
		return &c.f
	}
	return c.Context.Value(key)
}

var firingContexts = sync.Pool{New: func() any { return new(firingContext) }}

// newFiring takes a pooled firing context for r and cmd; release returns it.
func newFiring(ctx context.Context, r referral.Referral, actor referral.Actor, cmd Command, codes *Codes) *firingContext {
	fc := firingContexts.Get().(*firingContext)
	fc.Context, fc.r, fc.cmd = ctx, r, cmd
	fc.f = firing{r: &fc.r, actor: actor, cmd: &fc.cmd, codes: codes}
	return fc
}

func (c *firingContext) release() {
	*c = firingContext{}
	firingContexts.Put(c)
}

// fire runs trigger on the firing's referral through the shared machine.
func (c *firingContext) fire(t Trigger) error {
	c.f.trigger = t
	return machine.FireCtx(c, t)
}

// node is a state of the lifecycle machine: a status and, within it, a
// business status. The diagram draws every business status as a substate of
// its status, so a transition configured on a status holds in each of its
// business statuses unless a guard says otherwise.
type node struct {
	status   referral.Status
	business referral.BusinessStatus
}

// String names the node in the diagram and in errors.
func (n node) String() string {
	if n.business == "" {
		return string(n.status)
	}
	return string(n.status) + " / " + string(n.business)
}

// nodeOf is the node of a status with no business status.
func nodeOf(s referral.Status) node { return node{status: s} }

// within is the node of business status b of status s.
func within(s referral.Status, b referral.BusinessStatus) node { return node{status: s, business: b} }

// states holds each node boxed once, so the state accessor does not allocate.
var states = func() map[node]stateless.State {
	m := make(map[node]stateless.State)
	for _, s := range referral.Statuses() {
		for _, b := range append(referral.BusinessStatuses(), "") {
			if b.Within(s) {
				m[within(s, b)] = within(s, b)
			}
		}
	}
	return m
}()

func boxed(n node) stateless.State {
	if b, ok := states[n]; ok {
		return b
	}
	return n
}

// fail records the first guard failure, which becomes the command's error.
func (f *firing) fail(err error) bool {
	if f.err == nil {
		f.err = err
	}
	return false
}

// check runs a guard's test on the firing in ctx; a failing guard records why.
// Guards are named functions, not closures, because stateless labels the state
// diagram with their names.
func check(ctx context.Context, test func(f *firing) error) bool {
	f := firingFrom(ctx)
	if f == nil {
		return false
	}
	if err := test(f); err != nil {
		return f.fail(err)
	}
	return true
}

func isSender(f *firing) bool {
	return f.actor.Role == referral.RoleStaff && f.actor.Organization == f.r.Sender
}

// isReceiver and isDelegate are false until the referral has been sent: an
// unsent referral (a draft, or one withdrawn before sending) is its sender's
// alone. Those actors cannot see one either; this keeps the guards right on
// their own.
func isReceiver(f *firing) bool {
	return f.actor.Role == referral.RoleStaff && f.actor.Organization == f.r.Receiver && !storage.Unsent(*f.r)
}

func isDelegate(f *firing) bool {
	return f.actor.Role == referral.RoleDelegate && f.actor.Person == f.r.Person && !storage.Unsent(*f.r)
}

func isSystem(f *firing) bool { return f.actor.Role == referral.RoleSystem }

func forbidden(who string) error {
	return fmt.Errorf("only %s may do this: %w", who, referral.ErrForbidden)
}

func bySender(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !isSender(f) {
			return forbidden("the sending organization")
		}
		return nil
	})
}

func byReceiver(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !isReceiver(f) {
			return forbidden("the receiving organization")
		}
		return nil
	})
}

func bySenderOrDelegate(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !isSender(f) && !isDelegate(f) {
			return forbidden("the sending organization or the person's delegate")
		}
		return nil
	})
}

func byParty(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !isSender(f) && !isReceiver(f) && !isDelegate(f) {
			return forbidden("the sending or receiving organization or the person's delegate")
		}
		return nil
	})
}

func byPartyOrSystem(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !isSender(f) && !isReceiver(f) && !isSystem(f) {
			return forbidden("the sending or receiving organization")
		}
		return nil
	})
}

func bySystem(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !isSystem(f) {
			return forbidden("the system")
		}
		return nil
	})
}

func withConsent(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if !f.consent {
			return fmt.Errorf("sending to the receiving organization: %w", referral.ErrNoConsent)
		}
		return nil
	})
}

func withNote(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if f.cmd.Note == "" {
			return referral.Invalid("note", "is required")
		}
		return nil
	})
}

func withOutcome(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if f.cmd.Outcome == nil {
			return referral.Invalid("outcome", "is required to complete a referral")
		}
		if err := f.cmd.Outcome.Validate(); err != nil {
			return err
		}
		if !slices.Contains(f.codes.Outcome, f.cmd.Outcome.Code) {
			return referral.Invalid("outcome.code", "is not in the outcome code list")
		}
		return nil
	})
}

// reasonIn checks the command's reason against a code list; required says whether
// a missing reason is an error.
func reasonIn(f *firing, list []string, name string, required bool) error {
	switch {
	case f.cmd.Reason == "" && required:
		return referral.Invalid("reason", "is required")
	case f.cmd.Reason != "" && !slices.Contains(list, f.cmd.Reason):
		return referral.Invalid("reason", "is not in the "+name+" reason list")
	}
	return nil
}

func declineReason(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error { return reasonIn(f, f.codes.Decline, "decline", true) })
}

func failReason(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error { return reasonIn(f, f.codes.Fail, "fail", true) })
}

func cancelReason(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error { return reasonIn(f, f.codes.Cancel, "cancel", true) })
}

func optionalHoldReason(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error { return reasonIn(f, f.codes.Hold, "hold", false) })
}

// notAcknowledged refuses to acknowledge twice.
func notAcknowledged(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if f.r.BusinessStatus == referral.BusinessAcknowledged {
			return f.refused()
		}
		return nil
	})
}

// notWaitlisted refuses to waitlist a referral already on the waiting list.
func notWaitlisted(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if f.r.BusinessStatus == referral.BusinessWaitlisted {
			return f.refused()
		}
		return nil
	})
}

// noCancelPending holds the receiver's work while the sender's request to
// cancel awaits an answer: it may confirm or refuse, or close the referral
// (complete, fail), but not start, hold, resume or reschedule it, and the
// sender may not ask again.
func noCancelPending(ctx context.Context, _ ...any) bool {
	return check(ctx, func(f *firing) error {
		if f.r.BusinessStatus == referral.BusinessCancelRequested {
			return f.refused()
		}
		return nil
	})
}

// refused is the TransitionError for the firing's command in its node.
func (f *firing) refused() error {
	return &TransitionError{Status: f.r.Status, Business: f.r.BusinessStatus, Trigger: f.trigger}
}

// keepStatus is the action of internal transitions (notes, escalations): the
// status stays, the event is the record.
func keepStatus(context.Context, ...any) error { return nil }

// machine is the one definition of the referral lifecycle, shared by every
// referral and every Engine: building a stateless machine costs microseconds and
// dozens of allocations, firing one costs a few hundred nanoseconds.
var machine = newMachine()

func newMachine() *stateless.StateMachine {
	m := stateless.NewStateMachineWithExternalStorage(
		func(ctx context.Context) (stateless.State, error) {
			f := firingFrom(ctx)
			if f == nil {
				return nil, fmt.Errorf("lifecycle: machine fired without a referral")
			}
			return boxed(within(f.r.Status, f.r.BusinessStatus)), nil
		},
		func(ctx context.Context, s stateless.State) error {
			n := s.(node)
			f := firingFrom(ctx)
			f.r.Status, f.r.BusinessStatus = n.status, n.business
			return nil
		},
		stateless.FiringImmediate,
	)
	m.OnUnhandledTrigger(func(ctx context.Context, state stateless.State, trigger stateless.Trigger, unmet []string) error {
		if f := firingFrom(ctx); f != nil && f.err != nil {
			return f.err
		}
		n := state.(node)
		return &TransitionError{Status: n.status, Business: n.business, Trigger: trigger.(Trigger)}
	})

	for _, s := range referral.Statuses() {
		if s != referral.StatusEnteredInError {
			m.Configure(nodeOf(s)).InternalTransition(TriggerNote, keepStatus, byParty, withNote).
				Permit(TriggerEnterInError, nodeOf(referral.StatusEnteredInError), byPartyOrSystem)
		}
	}
	// A sent referral the receiver has not taken on may be withdrawn at once;
	// one it accepted or started is cancelled in two steps (below).
	m.Configure(nodeOf(referral.StatusDraft)).
		Permit(TriggerSend, nodeOf(referral.StatusRequested), bySender, withConsent).
		Permit(TriggerCancel, nodeOf(referral.StatusCancelled), bySenderOrDelegate, cancelReason)
	m.Configure(nodeOf(referral.StatusRequested)).
		Permit(TriggerAcknowledge, within(referral.StatusRequested, referral.BusinessAcknowledged), byReceiver, notAcknowledged).
		Permit(TriggerAccept, nodeOf(referral.StatusAccepted), byReceiver).
		Permit(TriggerWaitlist, within(referral.StatusAccepted, referral.BusinessWaitlisted), byReceiver).
		Permit(TriggerDecline, nodeOf(referral.StatusRejected), byReceiver, declineReason).
		Permit(TriggerCancel, nodeOf(referral.StatusCancelled), bySenderOrDelegate, cancelReason).
		Permit(TriggerExpire, nodeOf(referral.StatusCancelled), bySystem).
		InternalTransition(TriggerEscalate, keepStatus, bySystem)
	m.Configure(within(referral.StatusRequested, referral.BusinessAcknowledged)).
		SubstateOf(nodeOf(referral.StatusRequested)).
		Permit(TriggerFail, nodeOf(referral.StatusFailed), byReceiver, failReason)

	m.Configure(nodeOf(referral.StatusAccepted)).
		Permit(TriggerStart, nodeOf(referral.StatusInProgress), byReceiver, noCancelPending).
		Permit(TriggerHold, nodeOf(referral.StatusOnHold), byReceiver, optionalHoldReason, noCancelPending).
		Permit(TriggerWaitlist, within(referral.StatusAccepted, referral.BusinessWaitlisted), byReceiver, notWaitlisted, noCancelPending).
		Permit(TriggerSchedule, within(referral.StatusAccepted, referral.BusinessScheduled), byReceiver, noCancelPending).
		Permit(TriggerComplete, nodeOf(referral.StatusCompleted), byReceiver, withOutcome).
		Permit(TriggerFail, nodeOf(referral.StatusFailed), byReceiver, failReason).
		Permit(TriggerRequestCancel, within(referral.StatusAccepted, referral.BusinessCancelRequested), bySenderOrDelegate, cancelReason, noCancelPending)
	m.Configure(nodeOf(referral.StatusInProgress)).
		Permit(TriggerHold, nodeOf(referral.StatusOnHold), byReceiver, optionalHoldReason, noCancelPending).
		Permit(TriggerSchedule, within(referral.StatusInProgress, referral.BusinessScheduled), byReceiver, noCancelPending).
		Permit(TriggerComplete, nodeOf(referral.StatusCompleted), byReceiver, withOutcome).
		Permit(TriggerFail, nodeOf(referral.StatusFailed), byReceiver, failReason).
		Permit(TriggerRequestCancel, within(referral.StatusInProgress, referral.BusinessCancelRequested), bySenderOrDelegate, cancelReason, noCancelPending)
	m.Configure(nodeOf(referral.StatusOnHold)).
		Permit(TriggerResume, nodeOf(referral.StatusInProgress), byReceiver, noCancelPending).
		Permit(TriggerFail, nodeOf(referral.StatusFailed), byReceiver, failReason).
		Permit(TriggerRequestCancel, within(referral.StatusOnHold, referral.BusinessCancelRequested), bySenderOrDelegate, cancelReason, noCancelPending)

	for _, s := range []referral.Status{referral.StatusAccepted, referral.StatusInProgress} {
		if s == referral.StatusAccepted {
			m.Configure(within(s, referral.BusinessWaitlisted)).SubstateOf(nodeOf(s))
		}
		m.Configure(within(s, referral.BusinessScheduled)).SubstateOf(nodeOf(s)).
			Permit(TriggerNoShow, within(s, referral.BusinessNoShow), byReceiver)
		m.Configure(within(s, referral.BusinessNoShow)).SubstateOf(nodeOf(s))
	}
	for _, s := range []referral.Status{referral.StatusAccepted, referral.StatusInProgress, referral.StatusOnHold} {
		m.Configure(within(s, referral.BusinessCancelRequested)).SubstateOf(nodeOf(s)).
			Permit(TriggerConfirmCancel, nodeOf(referral.StatusCancelled), byReceiver).
			Permit(TriggerRefuseCancel, within(s, referral.BusinessCancelRefused), byReceiver)
		m.Configure(within(s, referral.BusinessCancelRefused)).SubstateOf(nodeOf(s))
	}
	return m
}

// TransitionError says a command is not allowed in a status (and business
// status). It wraps ErrInvalidTransition.
type TransitionError struct {
	Status   referral.Status
	Business referral.BusinessStatus
	Trigger  Trigger
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("refkit: cannot %s a referral that is %s", e.Trigger, within(e.Status, e.Business))
}

// Unwrap makes errors.Is(err, referral.ErrInvalidTransition) hold.
func (e *TransitionError) Unwrap() error { return referral.ErrInvalidTransition }

// Graph returns the lifecycle as a Graphviz DOT document (from stateless).
func Graph() string { return machine.ToGraph() }
