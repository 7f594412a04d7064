// Package simulation answers "what if" questions about a referral network with
// a discrete-event simulation that drives refkit's real screening, matching and
// lifecycle code on a virtual clock.
//
// A Scenario (JSON; see examples/simulation/README.md for a commented example)
// describes a population (around centres, or from a file of weighted points
// or H3 cells), the screening instrument and how people answer it, referring
// sites where people arrive (Poisson, with hour-of-day, weekday and monthly
// profiles in a local time zone, a trend, and the people of a catchment), a
// directory of services with capacity (concurrent slots and a waitlist limit)
// and service-time distributions, partner behaviour (times to acknowledge and
// decide, decline reasons, reach, no-shows, follow-through decaying with
// distance, patience on a waitlist), policies (radius, ranking weights,
// deadlines, per-service deadlines, re-referrals, how long a waitlist keeps
// people), pathways (completing one service leads to a referral for another
// need) and dated changes (a service's capacity changes or it closes, a site's
// arrival rate steps, a policy changes).
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
// # Capacity and acceptance
//
// With Policy.Acceptance "hold" (the default) accepting a referral holds a
// place for the person until they are reached: a free slot if there is one,
// else a waitlist place; a service with neither declines "no-capacity". The
// reached person then starts in the held slot or joins the waitlist in the
// held place, so no accepted referral fails for capacity. With "none",
// acceptance holds nothing: room is looked for when the person is reached,
// and a referral accepted when there was room fails "no-capacity" if slots and
// waitlist filled meanwhile (how refkit simulated before, when 5.9% of a
// national run's referrals ended that way). People on a waitlist give up after
// their patience (failed "abandoned", the need unmet) or are dropped after the
// service's max_wait (failed "waitlist-expired", the need re-referred).
// Utilisation counts slots in service, not slots held.
//
// The matcher's index learns a service's capacity class (open, waitlist only,
// full) before the next search after it changes, or, with Policy.CapacityRefresh,
// at that period, as a directory fed by daily capacity reports would. An index
// update patches only the changed services' capacity (see matching.Index.Update),
// so live capacity costs microseconds per search even over a national directory.
// Closing or reopening a service rebuilds the index (about a second at 200,000
// locations).
//
// # Randomness and common random numbers
//
// The engine is deterministic: events are ordered by (time, insertion sequence),
// randomness comes from seeded generators, referral ids from a seeded generator
// on the virtual clock, and no output depends on map order or the wall clock.
// The same scenario and seed give byte-identical metrics.json and CSV files,
// however many replications run in parallel.
//
// Every random draw belongs to an entity and a purpose: a site's arrival
// times come from the site's own stream, one exponential per arrival (drawn
// by inverting the integrated rate, so a change in the rate moves arrivals
// rather than reshuffling them); who the k-th arrival at a site is, and what
// they answer, from a generator keyed by (site, k); each need's referrals'
// acknowledgement, decision, contact, show-up, service and patience draws from
// generators keyed by the need and the attempt. Two runs with the same seed
// whose scenarios differ in a parameter therefore see the same people arrive
// at the same times with the same needs, and the same partners take the same
// times, wherever the parameter does not change that entity's path: their
// differences are paired (common random numbers). Package
// simulation/experiment builds on this.
//
// # Outputs and intervals
//
// Run executes replications in parallel and reports means with 95% confidence
// intervals over the replications (Student t), computed on a scale that keeps
// them within the range of the quantity: counts, times and lengths on the log
// scale (the interval of the log of the mean by the delta method, transformed
// back, so it never goes below zero), proportions (rates, utilisation, the
// probability of waiting) on the logit scale (within [0, 1]), differences
// between arms on the plain scale. Where the delta method does not hold (a
// transformed half-width above 1: a few replications that differ wildly, or a
// mean at the boundary) the plain interval cut at the ends of the range is
// given instead, which drops only values the quantity cannot take. When every
// replication gives the same value (often 0) the interval is that value; with
// one replication, the mean.
//
// Report.Write writes metrics.json and the tidy CSV tables (Report.Tables lists
// them: one observation per row, with run and arm columns, and the
// replications' own figures with a replication column; status and reason in
// columns of their own); Options.EventLog adds each replication's
// per-referral event log, read back from its store; package simulation/plot
// draws the PNG charts.
//
// # metrics.json
//
// Every figure is a Stat {"mean", "ci95_low", "ci95_high", "n"} over the
// replications (n is how many measured it). Times are hours from sending.
//
//	run, arm, scenario, seed, replications, start   what ran
//	duration_hours, warmup_hours, bucket_hours      the arrival period, its warm-up, the series' bucket
//	arrivals, people_screened, needs_identified     people and the needs screening found
//	pathway_needs                                   needs completed referrals led to
//	referrals_total, completed                      referrals created (re-referrals included), completed
//	by_status {status: Stat}                        final status of every referral
//	by_reason [{status, reason, count}]             terminal referrals by status and reason
//	loop_closure_rate                               completed / created
//	time_to_acknowledge, time_to_accept, time_to_complete  {mean, p50, p90}
//	rereferrals                                     referrals that replace a declined or expired one
//	services [{name, slots, referred, accepted, served, abandoned, waitlist_expired,
//	           utilisation, mean_wait, p_wait, p_abandon, mean_queue, max_queue, max_busy}]
//	    utilisation: busy slot-time / offered slot-time in [warmup, duration]
//	    (absent when capacity is unlimited); mean_wait: hours from being reached
//	    to starting; p_wait, p_abandon: of the people reached, the share who
//	    joined the waitlist, and who gave up (absent when nobody was reached);
//	    mean_queue: time-average waiting; max_queue, max_busy: the most at once
//	unmet_by_domain, unmet_by_reason {key: Stat}    needs that ended without service
//	unmet_by_area [{cell, unmet}]                   the same by H3 cell of the person's home
//	closure_over_time [{start, created, closure_rate}]  by creation bucket
//	occupancy [{service, buckets: [{start, busy, queue, peak_busy, peak_queue}]}]
//	    people in service and waiting per bucket (time average and most at
//	    once): all services (service ""), then each scenario service when the
//	    scenario lists at most 20
//
// A generated directory (Scenario.Synthetic) lists only the services that were
// referred to, by readable made-up names.
//
// # Memory
//
// A replication keeps its whole history in its memory store (every referral and
// event, as the real store would), so its heap grows with the referrals it
// makes; programs running large scenarios should let the collector work less
// often, as `refkit simulate` does (GOGC=400 under a memory limit of 3.25 GiB,
// which keeps a 1,000,000-referral replication under 4 GiB, raised to 3/2 of
// the live heap when a larger scenario needs more). The store and the
// replication keep their millions of records without Go pointers, so the
// collector's marking does not grow with them.
//
// # Dependencies
//
// Outside the standard library, simulation links github.com/uber/h3-go/v4 (cgo;
// the H3 cells of unmet_by_area and of population files) and what the refkit
// packages it drives link: github.com/expr-lang/expr,
// github.com/qmuntal/stateless, github.com/google/uuid and the OpenTelemetry
// API (go.opentelemetry.io/otel, go.opentelemetry.io/otel/metric and
// go.opentelemetry.io/otel/trace). No chart library (see simulation/plot) and
// no database driver: a generated directory comes from matching/synth, which
// links none.
package simulation
