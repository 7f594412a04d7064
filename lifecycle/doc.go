// Package lifecycle carries a referral from draft to a closed loop.
//
// One state machine definition (qmuntal/stateless, external state, immediate
// firing) is built once and shared by every referral; the referral being acted on
// travels with the call. Statuses are FHIR R4 Task statuses as profiled by the SDOH
// Clinical Care IG:
//
//	send          draft → requested                  (sender; needs consent)
//	acknowledge   requested → received               (receiver)
//	accept        requested, received → accepted     (receiver)
//	decline       requested, received → rejected     (receiver; reason)
//	start         accepted → in-progress             (receiver)
//	hold          accepted, in-progress → on-hold    (receiver; optional reason)
//	resume        on-hold → in-progress              (receiver)
//	complete      accepted, in-progress → completed  (receiver; outcome: the loop closes)
//	fail          received, accepted, in-progress, on-hold → failed (receiver; reason)
//	cancel        any open status → cancelled        (sender or the person's delegate; reason)
//	expire        requested, received → cancelled    (system, via Sweep; reason "expired")
//	enter-in-error  any status but entered-in-error → entered-in-error (either party or system)
//	note, escalate  no status change: a message between the parties; a missed deadline
//
// Every command is: load the referral with its version → check the actor may see
// it → fire the trigger, whose guards check the actor's role, the person's consent
// (to send), and reasons or outcome against host-extensible code lists → write the
// new referral and its event in one write conditioned on the version read. Of two
// concurrent commands on one referral exactly one wins; the other gets
// referral.ErrConflict.
//
// Queries (Get, List, History, Feed, Metrics) show an actor only what it may see:
// a referral it may not see is referral.ErrNotFound, never "forbidden".
//
// A draft is the sender's until it is sent. Only the sending organization's
// staff see and act on it (note, send, cancel, enter in error), with the
// network admin and the system actor, who see everything. The receiver, an
// organization the person gave a view consent, and the person's delegate do
// not see it at all (ErrNotFound, so not even its existence), because nothing
// has been shared with them yet: a draft needs no consent. A draft withdrawn
// before it was sent (cancelled or entered in error) stays the sender's. The
// rule is storage.Visibility's, applied by every backend; the guards apply it
// too.
//
// The rendered state diagram is docs/lifecycle.svg; Graph returns its DOT source.
//
// # Dependencies
//
// Outside the standard library, lifecycle imports github.com/qmuntal/stateless
// (the state machine), and through referral github.com/google/uuid.
package lifecycle
