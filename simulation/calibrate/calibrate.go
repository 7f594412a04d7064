// Package calibrate builds a simulation scenario from a referral network's own
// history: a digital twin. It reads, through the storage interfaces only, the
// network's referrals (ListReferrals), their event feed (Feed) and its
// directory (ListServices, ListOrganizations), and estimates
//
//   - arrivals: each referring organization becomes a site, its rate the
//     first referrals (those replacing none) it sent per day, with hour-of-day
//     and weekday profiles fitted as a multiplicative Poisson model (and a
//     chi-square test of that model);
//   - needs: the share of each domain among first referrals;
//   - partners, per service with enough data and pooled for the rest: times to
//     acknowledge, decide and contact, service times and patience on the
//     waitlist, each fitted by maximum likelihood to the exponential,
//     lognormal and gamma families (choosing by AIC, treating durations cut
//     short by the end of the data or by another event as censored) with
//     their Kolmogorov-Smirnov goodness of fit; decline reasons and rates,
//     reach and no-show probabilities with Wilson intervals;
//   - capacity: slots as the most referrals in progress at once, the waitlist
//     as the most on hold at once (when the service ever declined for
//     capacity), waitlist expiry;
//   - policy: deadlines from the referrals' own deadline fields, the
//     re-referral limit from the longest chain of replacing referrals.
//
// Calibrate returns the scenario with a Calibration block recording the
// source, the period, every estimate with its interval and notes on what it
// could not estimate and assumed instead. What the feed cannot say is left
// for the researcher: where people live (the population is placed around the
// sites), their eligibility facts, the search radius and how the network
// treats full services. Completion rates per service are reported as
// estimates to compare the twin's output with.
//
// No personal data is read beyond what the feed and referral records hold
// for the lifecycle (statuses, reasons, times, the organizations and services
// involved, the needs' domains), and none is written: person ids, notes and
// names of people are never looked at.
//
// # Dependencies
//
// Outside the standard library, calibrate links what package simulation
// links: github.com/uber/h3-go/v4 (cgo), github.com/expr-lang/expr,
// github.com/qmuntal/stateless, github.com/google/uuid and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace). No
// database driver: the caller opens the store.
package calibrate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/internal/stats"
	"github.com/refkit/refkit/storage"
)

// Store is what calibration reads: a network's referrals, their event feed
// and its directory. Every storage.Store is one.
type Store interface {
	storage.Referrals
	storage.Directory
}

// Options control a calibration. The zero value reads the whole history.
type Options struct {
	// From and To bound the period read: referrals created in [From, To), and
	// their events until To. Zero reads from the first referral to the last
	// event.
	From, To time.Time
	// TimeZone is the IANA zone whose local hours and weekdays the arrival
	// profiles follow; empty means UTC.
	TimeZone string
	// MinSample is the fewest observations a service needs for an estimate of
	// its own; below it the network's pooled estimate is used. Zero means 30.
	MinSample int
	// Population is the size of the twin's population; zero means the number
	// of first referrals, within [1,000, 1,000,000].
	Population int
	// RadiusKM is the twin's search radius, which the history does not show;
	// zero means 25.
	RadiusKM float64
	// MaxReferrals bounds the history read; zero means 5,000,000. A larger
	// history is refused rather than read partly.
	MaxReferrals int
	// Source says where the history came from ("sqlite:refkit.db"), for the
	// Calibration block.
	Source string
}

// record is what calibration keeps of one referral: organizations, times and
// outcomes, nothing about the person.
type record struct {
	sender, receiver, service referral.ID
	domains                   []referral.Domain
	replaces                  referral.ID
	created, sent             int64 // Unix ns
	ackWithin, acceptWithin   time.Duration
	// From the events, Unix ns (0: did not happen); contactCut is when a
	// referral was withdrawn while its person was being contacted.
	ack, decided, contact, contactCut, start, holdAt, end int64
	// waitlisted: the last hold came after acceptance (a waitlist, not a
	// pause in service).
	accepted, reached, declined, waitlisted bool
	reason                                  string // of the decline, or of the end
	endStatus                               referral.Status
	lastStatus                              referral.Status
}

// durations collects one duration's complete and censored observations, in
// hours.
type durations struct{ obs, cens []float64 }

func (d *durations) add(hours float64, complete bool) {
	if hours < 0 {
		return
	}
	if complete {
		d.obs = append(d.obs, hours)
	} else {
		d.cens = append(d.cens, hours)
	}
}

func (d *durations) merge(o *durations) {
	d.obs = append(d.obs, o.obs...)
	d.cens = append(d.cens, o.cens...)
}

// partner gathers one service's (or the network's) partner behaviour.
type partner struct {
	ack, decide, contact, service, patience, expiry durations
	decided, capacityDeclines, notOffered           int
	declines                                        map[string]int
	contacts, unreached                             int
	begins, noShows                                 int
	referred, completed                             int
}

func newPartner() *partner { return &partner{declines: map[string]int{}} }

func (p *partner) merge(o *partner) {
	p.ack.merge(&o.ack)
	p.decide.merge(&o.decide)
	p.contact.merge(&o.contact)
	p.service.merge(&o.service)
	p.patience.merge(&o.patience)
	p.expiry.merge(&o.expiry)
	p.decided += o.decided
	p.capacityDeclines += o.capacityDeclines
	p.notOffered += o.notOffered
	for k, v := range o.declines {
		p.declines[k] += v
	}
	p.contacts += o.contacts
	p.unreached += o.unreached
	p.begins += o.begins
	p.noShows += o.noShows
	p.referred += o.referred
	p.completed += o.completed
}

// Calibrate reads a network's history from st and returns a scenario that
// reproduces it (see the package doc), with its Calibration block filled.
func Calibrate(ctx context.Context, st Store, network referral.ID, opt Options) (*simulation.Scenario, error) {
	if network.IsZero() {
		return nil, referral.Invalid("network", "is required")
	}
	if opt.MinSample <= 0 {
		opt.MinSample = 30
	}
	if opt.MaxReferrals <= 0 {
		opt.MaxReferrals = 5_000_000
	}
	if opt.RadiusKM == 0 {
		opt.RadiusKM = 25
	}
	loc := time.UTC
	if opt.TimeZone != "" {
		l, err := time.LoadLocation(opt.TimeZone)
		if err != nil {
			return nil, referral.Invalid("time_zone", "is not an IANA time zone this machine knows")
		}
		loc = l
	}
	c := &calibration{ctx: ctx, st: st, network: network, opt: opt, loc: loc, byID: map[referral.ID]int32{}}
	if err := c.readReferrals(); err != nil {
		return nil, err
	}
	if len(c.recs) == 0 {
		return nil, fmt.Errorf("calibrate: network %s has no referrals in the period: %w", network, referral.ErrNotFound)
	}
	if err := c.readFeed(); err != nil {
		return nil, err
	}
	if err := c.readDirectory(); err != nil {
		return nil, err
	}
	return c.scenario()
}

type calibration struct {
	ctx      context.Context
	st       Store
	network  referral.ID
	opt      Options
	loc      *time.Location
	recs     []record
	byID     map[referral.ID]int32
	from, to int64 // the period, Unix ns
	// arrivalsEnd ends the period referrals were created in: To, or the last
	// creation.
	arrivalsEnd int64
	waits       []stay
	servs       []stay
	services    []referral.Service
	orgNames    map[referral.ID]string
	notes       []string
	est         []simulation.Estimate
}

func (c *calibration) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

func (c *calibration) readReferrals() error {
	q := storage.ReferralQuery{Network: c.network, CreatedFrom: c.opt.From, CreatedTo: c.opt.To, Page: storage.Page{Limit: storage.MaxLimit}}
	for {
		page, next, err := c.st.ListReferrals(c.ctx, q)
		if err != nil {
			return fmt.Errorf("calibrate: list referrals: %w", err)
		}
		for i := range page {
			r := &page[i]
			rec := record{
				sender: r.Sender, receiver: r.Receiver, service: r.Service, replaces: r.Replaces,
				created: r.Created.UnixNano(), sent: stamp(r.Sent), lastStatus: referral.StatusDraft,
			}
			for _, n := range r.Needs {
				rec.domains = append(rec.domains, n.Domain)
			}
			if !r.Sent.IsZero() && !r.AcknowledgeBy.IsZero() {
				rec.ackWithin = r.AcknowledgeBy.Sub(r.Sent)
			}
			if !r.Sent.IsZero() && !r.AcceptBy.IsZero() {
				rec.acceptWithin = r.AcceptBy.Sub(r.Sent)
			}
			c.byID[r.ID] = int32(len(c.recs))
			c.recs = append(c.recs, rec)
			if len(c.recs) > c.opt.MaxReferrals {
				return referral.Invalid("network", "has more referrals than the calibration's limit of "+strconv.Itoa(c.opt.MaxReferrals))
			}
		}
		if next.IsZero() {
			break
		}
		q.Page.After = next
	}
	c.from = math.MaxInt64
	for i := range c.recs {
		c.from = min(c.from, c.recs[i].created)
		c.arrivalsEnd = max(c.arrivalsEnd, c.recs[i].created)
	}
	if !c.opt.From.IsZero() {
		c.from = c.opt.From.UnixNano()
	}
	if !c.opt.To.IsZero() {
		c.arrivalsEnd = c.opt.To.UnixNano()
	}
	return nil
}

func stamp(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// readFeed replays the network's events, in feed order, onto the records.
func (c *calibration) readFeed() error {
	to := int64(math.MaxInt64)
	if !c.opt.To.IsZero() {
		to = c.opt.To.UnixNano()
	}
	last := int64(0)
	after := int64(0)
	for {
		events, err := c.st.Feed(c.ctx, storage.FeedQuery{Network: c.network, After: after, Limit: storage.MaxLimit})
		if err != nil {
			return fmt.Errorf("calibrate: read the feed: %w", err)
		}
		for i := range events {
			ev := &events[i]
			at := ev.At.UnixNano()
			k, ok := c.byID[ev.Referral]
			if !ok || at >= to || (ev.From == ev.To && ev.Type != referral.EventAcknowledged) {
				// Another period's referral, a later event, a note or an
				// escalation; acknowledging keeps the status but is a step.
				continue
			}
			last = max(last, at)
			c.apply(k, ev, at)
		}
		if len(events) < storage.MaxLimit {
			break
		}
		after = events[len(events)-1].Position
	}
	c.to = last
	if to != math.MaxInt64 {
		c.to = to
	}
	if c.to <= c.from || c.arrivalsEnd <= c.from {
		return fmt.Errorf("calibrate: the period read has no length: %w", referral.ErrNotFound)
	}
	// Waits and services still open at the end are censored there.
	for k := range c.recs {
		r := &c.recs[k]
		switch r.lastStatus {
		case referral.StatusOnHold:
			if r.waitlisted {
				c.waits = append(c.waits, stay{rec: int32(k), from: r.holdAt, until: c.to})
			}
		case referral.StatusInProgress:
			c.servs = append(c.servs, stay{rec: int32(k), from: r.start, until: c.to})
		}
	}
	return nil
}

// stay is a referral's time on the waitlist or in service, from one status
// change to the next (or the end of the data), and how it ended.
type stay struct {
	rec         int32
	from, until int64
	// ended: the stay ended within the data; outcome is the status it ended in
	// and reason its reason.
	ended   bool
	outcome referral.Status
	reason  string
}

func (st *stay) hours() float64 { return hoursBetween(st.from, st.until) }

// apply records one status change. Only statuses, reasons and times are read.
func (c *calibration) apply(k int32, ev *referral.Event, at int64) {
	r := &c.recs[k]
	from, to := ev.From, ev.To
	r.lastStatus = to
	if ev.Type == referral.EventAcknowledged && r.ack == 0 {
		r.ack = at // acknowledging keeps the referral requested
	}
	switch to {
	case referral.StatusRequested:
		if r.sent == 0 {
			r.sent = at
		}
	case referral.StatusAccepted:
		if r.ack == 0 {
			r.ack = at // accepted without acknowledging: both at once
		}
		r.decided, r.accepted = at, true
	case referral.StatusRejected:
		if r.ack == 0 {
			r.ack = at
		}
		r.decided, r.declined, r.reason = at, true, ev.Reason
	case referral.StatusOnHold:
		// Held after acceptance is waiting for a place; held in service is a
		// pause, not a waitlist.
		r.holdAt, r.waitlisted = at, from == referral.StatusAccepted
	case referral.StatusInProgress:
		r.start = at
	}
	if from == referral.StatusAccepted && r.contact == 0 && r.contactCut == 0 {
		// Leaving acceptance is reaching the person or failing to, unless the
		// referral was withdrawn first: that cuts the contact time short.
		switch to {
		case referral.StatusCancelled, referral.StatusEnteredInError:
			r.contactCut = at
		default:
			r.contact = at
			r.reached = !(to == referral.StatusFailed && ev.Reason == "unable-to-contact")
		}
	}
	if to.Terminal() {
		r.end, r.endStatus = at, to
		if to != referral.StatusRejected {
			r.reason = ev.Reason
		}
	}
	if from == referral.StatusOnHold && r.waitlisted {
		c.waits = append(c.waits, stay{rec: k, from: r.holdAt, until: at, ended: true, outcome: to, reason: ev.Reason})
	}
	if from == referral.StatusInProgress {
		c.servs = append(c.servs, stay{rec: k, from: r.start, until: at, ended: true, outcome: to, reason: ev.Reason})
	}
}

func hoursBetween(a, b int64) float64 { return float64(b-a) / float64(time.Hour) }

// readDirectory reads the network's services and organizations' names.
func (c *calibration) readDirectory() error {
	services, err := storage.AllServices(c.ctx, c.st, c.network)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	c.services = services
	c.orgNames = map[referral.ID]string{}
	page := storage.Page{Limit: storage.MaxLimit}
	for {
		orgs, next, err := c.st.ListOrganizations(c.ctx, c.network, page)
		if err != nil {
			return fmt.Errorf("calibrate: list organizations: %w", err)
		}
		for _, o := range orgs {
			c.orgNames[o.ID] = o.Name
		}
		if next.IsZero() {
			return nil
		}
		page.After = next
	}
}

func (c *calibration) estimate(param string, value, low, high float64, n int) {
	c.est = append(c.est, simulation.Estimate{Parameter: param, Value: value, Low: low, High: high, N: n})
}

func (c *calibration) proportion(param string, k, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	lo, hi := stats.Wilson(k, n)
	p := float64(k) / float64(n)
	c.estimate(param, p, lo, hi, n)
	return p
}

// fitDist fits a duration sample; ok is false without a complete observation.
func fitDist(d *durations) (simulation.Dist, bool) {
	f, ok := stats.Fit(slices.Clone(d.obs), d.cens)
	if !ok {
		return simulation.Dist{}, false
	}
	fit := &simulation.Fit{N: f.N, Censored: f.Censored, KS: round(f.KS, 4), PValue: round(f.PValue, 4), AIC: round(f.AIC, 2)}
	switch f.Family {
	case stats.Fixed:
		return simulation.Dist{Kind: simulation.Fixed, Value: round(f.Value, 4), Fit: fit}, true
	case stats.Exponential:
		return simulation.Dist{Kind: simulation.Exponential, Mean: round(f.Mean, 4), Fit: fit}, true
	case stats.LogNormal:
		return simulation.Dist{Kind: simulation.LogNormal, Median: round(f.Median, 4), Sigma: round(f.Sigma, 4), Fit: fit}, true
	}
	return simulation.Dist{Kind: simulation.Gamma, Shape: round(f.Shape, 4), Scale: round(f.Scale, 4), Fit: fit}, true
}

func round(x float64, digits int) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	p := math.Pow(10, float64(digits)-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// mode returns the most frequent non-zero value (ties: the smallest), or 0.
func mode(xs []time.Duration) time.Duration {
	counts := map[time.Duration]int{}
	for _, x := range xs {
		if x > 0 {
			counts[x]++
		}
	}
	best, bestN := time.Duration(0), 0
	for v, n := range counts {
		if n > bestN || n == bestN && v < best {
			best, bestN = v, n
		}
	}
	return best
}

func sortedByName[T any](m map[referral.ID]T, name func(referral.ID) string) []referral.ID {
	ids := make([]referral.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b referral.ID) int { return cmp.Or(cmp.Compare(name(a), name(b)), a.Compare(b)) })
	return ids
}
