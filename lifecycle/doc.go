// Package lifecycle carries a referral from draft to a closed loop.
//
// One state machine definition (qmuntal/stateless, external state, immediate
// firing) is built once and shared by every referral; the referral being acted on
// travels with the call. Statuses are FHIR R4 Task statuses as profiled by the SDOH
// Clinical Care IG:
//
//	draft ──send──▶ requested ──acknowledge──▶ received ──accept──▶ accepted ──start──▶ in-progress ──complete──▶ completed
//	                    │  └────────accept──────────────────────────▲     │   ▲hold/resume▼
//	                    └──decline──▶ rejected        fail ◀── received, accepted, in-progress, on-hold
//	cancel (sender or delegate) from any open status; expire (deadline sweep) from requested, received;
//	enter-in-error from any status; notes from any status.
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
// The rendered state diagram is docs/lifecycle.svg; Graph returns its DOT source.
package lifecycle
