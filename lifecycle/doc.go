// Package lifecycle carries a referral from draft to a closed loop.
//
// One state machine definition (qmuntal/stateless, external state, immediate
// firing) is built once and shared by every referral; the referral being acted on
// travels with the call. Statuses are the FHIR R4 Task statuses the SDOH
// Clinical Care IG allows for a referral (no received, no ready); a business
// status (referral.BusinessStatus, FHIR Task.businessStatus) carries the
// finer steps within a status, each a substate of its status in the machine:
//
//	send            draft → requested                         (sender; needs consent)
//	acknowledge     requested → requested/acknowledged        (receiver)
//	accept          requested → accepted                      (receiver)
//	waitlist        requested, accepted → accepted/waitlisted (receiver)
//	decline         requested → rejected                      (receiver; reason)
//	schedule        accepted, in-progress → same/scheduled    (receiver; again to reschedule)
//	no-show         …/scheduled → same/no-show                (receiver)
//	start           accepted → in-progress                    (receiver)
//	hold            accepted, in-progress → on-hold           (receiver; optional reason)
//	resume          on-hold → in-progress                     (receiver)
//	complete        accepted, in-progress → completed         (receiver; outcome: the loop closes)
//	fail            requested/acknowledged, accepted, in-progress, on-hold → failed (receiver; reason)
//	cancel          draft, requested → cancelled              (sender or the person's delegate; reason)
//	request-cancel  accepted, in-progress, on-hold → same/cancel-requested (sender or delegate; reason)
//	confirm-cancel  …/cancel-requested → cancelled            (receiver; the request's reason)
//	refuse-cancel   …/cancel-requested → same/cancel-refused  (receiver)
//	expire          requested → cancelled                     (system, via Sweep; reason "expired")
//	enter-in-error  any status but entered-in-error → entered-in-error (either party or system)
//	note, escalate  no change: a message between the parties; a missed deadline
//
// A transition from a status holds in its business statuses too, with two
// exceptions: while a cancellation is requested the receiver may confirm,
// refuse, complete or fail the referral but not start, hold, resume,
// waitlist or schedule it; and a status change clears the business status.
// Cancelling a referral the receiver has accepted or started takes both
// parties (the two-step cancellation of the IG's workflow and of 360X):
// Cancel refuses it, RequestCancel asks.
//
// The acknowledged milestone (Referral.Acknowledged, the time-to-acknowledge
// metric) is the first of acknowledge, accept and waitlist; the acknowledge
// deadline is met by any of them, the accept deadline by accept, waitlist or
// decline.
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
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). The engine reports to Options.TracerProvider and
// Options.MeterProvider;
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Spans: "lifecycle <command>" for Create (command "create") and each trigger
// ("lifecycle accept", "lifecycle escalate", ...), and "lifecycle sweep", whose
// commands are its children; the store's spans are the command's children.
// A command's attributes are refkit.lifecycle.trigger, refkit.network.id,
// refkit.actor.role and refkit.referral.id, and, when it succeeded,
// refkit.lifecycle.from, refkit.lifecycle.to and
// refkit.lifecycle.business_status; a sweep's are the counts
// refkit.lifecycle.sweep.escalated, .expired and .skipped.
//
// Referral ids are span attributes (never metric attributes): they are
// pseudonymous record ids, which is how an operator finds the trace of a
// referral a partner asks about, and they name a person only to someone who
// can read the store, as the logs' ids do. Person ids, user ids, notes,
// reasons and outcomes are never attributes.
//
//	metric                              unit        kind       attributes
//	refkit.lifecycle.commands           {command}   counter    refkit.lifecycle.trigger, error.type
//	refkit.lifecycle.command.duration   s           histogram  refkit.lifecycle.trigger, error.type
//	refkit.lifecycle.sweep.referrals    {referral}  counter    refkit.lifecycle.sweep.action: escalated, expired, skipped
//	refkit.lifecycle.follow.events      {event}     counter    (none)
//	refkit.lifecycle.follow.lag         s           histogram  (none): an event's time to Follow delivering it, on the engine's clock
//
// # Dependencies
//
// Outside the standard library, lifecycle imports github.com/qmuntal/stateless
// (the state machine) and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace), and through referral
// github.com/google/uuid. The OpenTelemetry SDK is the host's to link.
package lifecycle
