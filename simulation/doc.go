// Package simulation answers "what if" questions about a referral network with
// a discrete-event simulation that drives refkit's real screening, matching and
// lifecycle code on a virtual clock.
//
// A Scenario (JSON; see examples/simulation/README.md for a commented example)
// describes a population, the screening instrument and how people answer it,
// referring sites where people arrive (Poisson, optionally by hour of day), a
// directory of services with capacity (concurrent slots and a waitlist limit) and
// service-time distributions, partner behaviour (times to acknowledge and decide,
// decline reasons, reach, no-shows, follow-through decaying with distance) and
// policies (radius, ranking weights, deadlines, re-referrals).
//
// Each arrival is a person from the population, screened with the instrument's
// real scorer (screening.Response.ScoreInto); each need found is matched with the
// real matcher (matching.Index, whose published capacity is updated as slots
// fill and free) and referred through the real lifecycle engine on an in-memory
// store: create and send, acknowledge, accept or decline, hold on the waitlist,
// start, complete or fail. The lifecycle's deadline sweep runs at virtual times,
// and referrals it expires are re-referred, like declined ones, up to the
// policy's limit.
//
// The matcher's index learns a service's capacity class (open, waitlist only,
// full) before the next search after it changes, or, with Policy.CapacityRefresh,
// at that period, as a directory fed by daily capacity reports would. An index
// update patches only the changed services' capacity (see matching.Index.Update),
// so live capacity costs microseconds per search even over a national directory.
//
// A replication keeps its whole history in its memory store (every referral and
// event, as the real store would), so its heap grows with the referrals it
// makes; programs running large scenarios should let the collector work less
// often, as `refkit simulate` does (GOGC=400 under a memory limit).
//
// The engine is deterministic: events are ordered by (time, insertion sequence),
// randomness comes from seeded PCG streams (one per purpose, so that changing
// capacity does not change who arrives when), referral ids from a seeded
// generator on the virtual clock, and no output depends on map order or the wall
// clock. The same scenario and seed give byte-identical metrics.json and CSV
// files, however many replications run in parallel.
//
// Run executes replications in parallel and reports means with 95% confidence
// intervals (Student t); Report.Write writes metrics.json and CSV tables, and
// package simulation/plot draws the PNG charts.
//
// # metrics.json
//
// Every figure is a Stat {"mean", "ci95_low", "ci95_high", "n"} over the
// replications (n is how many measured it). Times are hours from sending.
//
//	scenario, seed, replications, start, duration_hours, warmup_hours
//	arrivals, people_screened, needs_identified  people and needs found
//	referrals_total                          referrals created (re-referrals included)
//	by_status {status: Stat}                 final status of every referral
//	by_reason {"status/reason": Stat}        terminal referrals by reason code
//	loop_closure_rate                        completed / created
//	time_to_acknowledge, time_to_accept, time_to_complete  {mean, p50, p90}
//	rereferrals                              referrals that replace a declined or expired one
//	services [{name, slots, referred, served, utilisation, mean_wait}]
//	    utilisation: busy slot-time / slot-time in [warmup, duration] (absent when
//	    capacity is unlimited); mean_wait: hours from joining the queue to starting
//	unmet_by_domain, unmet_by_reason {key: Stat}  needs that ended without service
//	unmet_by_area [{cell, unmet}]            the same by H3 cell of the person's home
//	closure_over_time [{start, created, closure_rate}]  by creation bucket
//
// A generated directory (Scenario.Synthetic) lists only the services that were
// referred to.
//
// # Dependencies
//
// Outside the standard library, simulation links github.com/uber/h3-go/v4 (cgo;
// the H3 cells of unmet_by_area) and what the refkit packages it drives link:
// github.com/expr-lang/expr, github.com/qmuntal/stateless,
// github.com/google/uuid and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace). No chart library (see simulation/plot) and no database
// driver: a generated directory comes from matching/synth, which links none.
package simulation
