package simulation

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation/internal/stats"
)

// repMetrics gathers what only the run itself sees; the rest is read from the
// referrals at the end.
type repMetrics struct {
	arrivals, screened, needs, pathwayNeeds, rereferrals int
	indexUpdates                                         int
	unmetDomain                                          map[referral.Domain]int
	unmetArea                                            map[h3.Cell]int
	unmetReason                                          map[string]int
}

func (m *repMetrics) unmet(d referral.Domain, cell h3.Cell, reason string) {
	if m.unmetDomain == nil {
		m.unmetDomain, m.unmetArea, m.unmetReason = map[referral.Domain]int{}, map[h3.Cell]int{}, map[string]int{}
	}
	m.unmetDomain[d]++
	m.unmetArea[cell]++
	m.unmetReason[reason]++
}

// Replication is what one replication measured. Times are hours.
type Replication struct {
	Seed     uint64 `json:"seed"`
	Arrivals int    `json:"arrivals"`
	Screened int    `json:"people_screened"`
	// Needs are the needs screening found; PathwayNeeds those completed
	// referrals led to (Scenario.Pathways).
	Needs        int `json:"needs_identified"`
	PathwayNeeds int `json:"pathway_needs"`
	Referrals    int `json:"referrals_total"`
	Completed    int `json:"completed"`
	Rereferrals  int `json:"rereferrals"`
	// ByStatus counts referrals by final status, ByReason terminal referrals by
	// status and reason.
	ByStatus          map[string]int  `json:"by_status"`
	ByReason          []ReasonCount   `json:"by_reason"`
	ClosureRate       float64         `json:"loop_closure_rate"`
	TimeToAcknowledge Times           `json:"time_to_acknowledge"`
	TimeToAccept      Times           `json:"time_to_accept"`
	TimeToComplete    Times           `json:"time_to_complete"`
	Services          []ServiceResult `json:"services"`
	UnmetByDomain     map[string]int  `json:"unmet_by_domain"`
	UnmetByReason     map[string]int  `json:"unmet_by_reason"`
	UnmetByArea       map[string]int  `json:"unmet_by_area"`
	ClosureOverTime   []Bucket        `json:"closure_over_time"`
	// Occupancy is people in service and waiting over time: the total over all
	// services first, then each scenario service when the scenario lists at
	// most 20.
	Occupancy []Occupancy `json:"occupancy"`
	Events    uint64      `json:"events"`
	// IndexUpdates counts updates applied to the matcher's index.
	IndexUpdates int `json:"index_updates"`
}

// ReasonCount is how many referrals ended in one status for one reason.
type ReasonCount struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	N      int    `json:"n"`
}

// Times summarises elapsed times in hours, measured from sending.
type Times struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
}

// ServiceResult is one service's load in one replication. Measures marked
// "window" count what happened within [warmup, duration], by when the person
// was reached.
type ServiceResult struct {
	Name  string `json:"name"`
	Slots int    `json:"slots"`
	// Referred, Accepted and Served (completed) count referrals.
	Referred int `json:"referred"`
	Accepted int `json:"accepted"`
	Served   int `json:"served"`
	// Reached counts people reached after acceptance (window); Waited those of
	// them who joined the waitlist, Abandoned those who then gave up and
	// WaitlistExpired those the service dropped.
	Reached         int `json:"reached"`
	Waited          int `json:"waited"`
	Abandoned       int `json:"abandoned"`
	WaitlistExpired int `json:"waitlist_expired"`
	// Utilisation is busy slot-time over offered slot-time (window), -1 for a
	// service with unlimited capacity.
	Utilisation float64 `json:"utilisation"`
	// MeanWait is the mean hours from being reached to starting, over the Waits
	// people who started (window).
	MeanWait float64 `json:"mean_wait"`
	Waits    int     `json:"waits"`
	// MeanQueue is the time-average number waiting (window).
	MeanQueue float64 `json:"mean_queue"`
	// MaxBusy and MaxQueue are the most people in service and waiting at once.
	MaxBusy  int `json:"max_busy"`
	MaxQueue int `json:"max_queue"`
}

// PWait is the probability that a reached person had to wait; NaN when nobody
// was reached.
func (r *ServiceResult) PWait() float64 { return ratio(r.Waited, r.Reached) }

// PAbandon is the probability that a reached person gave up waiting; NaN when
// nobody was reached.
func (r *ServiceResult) PAbandon() float64 { return ratio(r.Abandoned, r.Reached) }

func ratio(k, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(k) / float64(n)
}

// Bucket is the referrals created in one closure bucket and how many of them
// closed their loop.
type Bucket struct {
	Start     time.Time `json:"start"`
	Created   int       `json:"created"`
	Completed int       `json:"completed"`
}

// Occupancy is one service's (or, with an empty Service, all services')
// time-average people in service and waiting, and the most at once, per
// bucket of the arrival period.
type Occupancy struct {
	Service   string    `json:"service"`
	Busy      []float64 `json:"busy"`
	Queue     []float64 `json:"queue"`
	PeakBusy  []int32   `json:"peak_busy"`
	PeakQueue []int32   `json:"peak_queue"`
}

// result reads the replication's measures off its referrals and services.
func (s *sim) result(seed uint64) Replication {
	r := Replication{
		Seed: seed, Arrivals: s.m.arrivals, Screened: s.m.screened, Needs: s.m.needs, PathwayNeeds: s.m.pathwayNeeds,
		Referrals: len(s.refs), Rereferrals: s.m.rereferrals, ByStatus: map[string]int{},
		UnmetByDomain: map[string]int{}, UnmetByReason: map[string]int{}, UnmetByArea: map[string]int{}, Events: s.events, IndexUpdates: s.m.indexUpdates,
	}
	bucket := time.Duration(s.bucket)
	nb := int((time.Duration(s.sc.Duration) + bucket - 1) / bucket)
	r.ClosureOverTime = make([]Bucket, nb)
	for i := range r.ClosureOverTime {
		r.ClosureOverTime[i].Start = s.start.Add(time.Duration(i) * bucket)
	}
	ack := make([]float64, 0, len(s.refs))
	acc := make([]float64, 0, len(s.refs))
	done := make([]float64, 0, len(s.refs))
	reasons := map[[2]string]int{}
	for i := range s.refs {
		rf := &s.refs[i]
		status := s.statusOf(int32(i))
		r.ByStatus[string(status)]++
		if status.Terminal() {
			reasons[[2]string{string(status), s.reasonOf(int32(i))}]++
		}
		sent := rf.milestone[0]
		if t := rf.milestone[1]; t != 0 {
			ack = append(ack, time.Duration(t-sent).Hours())
		}
		if t := rf.milestone[2]; t != 0 {
			acc = append(acc, time.Duration(t-sent).Hours())
		}
		b := min(nb-1, int(time.Duration(rf.created-stamp(s.start))/bucket))
		r.ClosureOverTime[b].Created++
		if status == referral.StatusCompleted {
			r.Completed++
			done = append(done, time.Duration(rf.milestone[3]-sent).Hours())
			r.ClosureOverTime[b].Completed++
		}
	}
	for k, n := range reasons {
		r.ByReason = append(r.ByReason, ReasonCount{Status: k[0], Reason: k[1], N: n})
	}
	slices.SortFunc(r.ByReason, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Reason, b.Reason))
	})
	if len(s.refs) > 0 {
		r.ClosureRate = float64(r.Completed) / float64(len(s.refs))
	}
	r.TimeToAcknowledge, r.TimeToAccept, r.TimeToComplete = summarise(ack), summarise(acc), summarise(done)
	for i := range s.svcs {
		st := &s.svcs[i]
		sr := ServiceResult{
			Name: st.name, Slots: st.slots, Referred: st.referred, Accepted: st.accepted, Served: st.served,
			Reached: st.reached, Waited: st.waited, Abandoned: st.abandoned, WaitlistExpired: st.expired,
			Waits: st.waitN, MaxBusy: st.maxBusy, MaxQueue: st.maxQueue, Utilisation: -1,
		}
		if st.slots > 0 || st.slotNs > 0 {
			sr.Utilisation = 0
			if st.slotNs > 0 {
				sr.Utilisation = st.busyNs / st.slotNs
			}
		}
		if window := float64(s.end - s.warm); window > 0 {
			sr.MeanQueue = st.queueNs / window
		}
		if st.waitN > 0 {
			sr.MeanWait = st.waitNs / float64(st.waitN) / float64(time.Hour)
		}
		r.Services = append(r.Services, sr)
	}
	for i := range s.series {
		ss := &s.series[i]
		o := Occupancy{Busy: make([]float64, nb), Queue: make([]float64, nb), PeakBusy: ss.busy.peak, PeakQueue: ss.queue.peak}
		if i > 0 {
			o.Service = s.sc.Services[i-1].Name
		}
		for b := range nb {
			width := float64(min(s.bucket, s.end-int64(b)*s.bucket))
			o.Busy[b] = ss.busy.area[b] / width
			o.Queue[b] = ss.queue.area[b] / width
		}
		r.Occupancy = append(r.Occupancy, o)
	}
	for d, n := range s.m.unmetDomain {
		r.UnmetByDomain[string(d)] = n
	}
	for c, n := range s.m.unmetArea {
		r.UnmetByArea[c.String()] = n
	}
	for k, n := range s.m.unmetReason {
		r.UnmetByReason[k] = n
	}
	return r
}

// summarise gives the mean and nearest-rank percentiles; it sorts xs.
func summarise(xs []float64) Times {
	if len(xs) == 0 {
		return Times{}
	}
	sort.Float64s(xs)
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	rank := func(p float64) float64 { return xs[max(0, int(math.Ceil(p*float64(len(xs))))-1)] }
	return Times{N: len(xs), Mean: sum / float64(len(xs)), P50: rank(0.5), P90: rank(0.9)}
}

// Measure is one named figure of one replication (or of one service in it).
type Measure struct {
	Metric string
	Value  float64
	// Scale is how an interval for the figure's mean is computed: counts and
	// times cannot be negative, proportions stay in [0, 1].
	Scale Scale
}

// Scale says how a Stat's interval respects the range of its quantity; see
// the package doc.
type Scale uint8

// Scales of Stat intervals.
const (
	// Unbounded quantities (differences between arms): Student t.
	Unbounded Scale = Scale(stats.Linear)
	// NonNegative quantities (counts, times, lengths): Student t for the log
	// of the mean, transformed back (or cut at 0 where the delta method
	// fails: see the package doc).
	NonNegative Scale = Scale(stats.Log)
	// Proportion quantities: Student t for the logit of the mean, transformed
	// back (or cut at 0 and 1).
	Proportion Scale = Scale(stats.Logit)
)

// Measures lists the replication's network-wide figures, in a fixed order;
// a mean time is listed only when something was timed.
func (r *Replication) Measures() []Measure {
	unmet := 0
	for reason, n := range r.UnmetByReason {
		if reason != UnmetNotScreened {
			unmet += n
		}
	}
	out := []Measure{
		{"arrivals", float64(r.Arrivals), NonNegative},
		{"people_screened", float64(r.Screened), NonNegative},
		{"needs_identified", float64(r.Needs), NonNegative},
		{"pathway_needs", float64(r.PathwayNeeds), NonNegative},
		{"referrals_total", float64(r.Referrals), NonNegative},
		{"completed", float64(r.Completed), NonNegative},
		{"loop_closure_rate", r.ClosureRate, Proportion},
		{"rereferrals", float64(r.Rereferrals), NonNegative},
		{"unmet_needs", float64(unmet), NonNegative},
	}
	for _, t := range []struct {
		name string
		t    Times
	}{{"time_to_acknowledge", r.TimeToAcknowledge}, {"time_to_accept", r.TimeToAccept}, {"time_to_complete", r.TimeToComplete}} {
		if t.t.N > 0 {
			out = append(out, Measure{t.name + "_mean_hours", t.t.Mean, NonNegative},
				Measure{t.name + "_p50_hours", t.t.P50, NonNegative}, Measure{t.name + "_p90_hours", t.t.P90, NonNegative})
		}
	}
	return out
}

// Measures lists the service's figures in a fixed order; utilisation only for
// a service with limited capacity, waits and probabilities only when someone
// was measured.
func (sr *ServiceResult) Measures() []Measure {
	out := []Measure{
		{"referred", float64(sr.Referred), NonNegative},
		{"accepted", float64(sr.Accepted), NonNegative},
		{"served", float64(sr.Served), NonNegative},
		{"abandoned", float64(sr.Abandoned), NonNegative},
		{"waitlist_expired", float64(sr.WaitlistExpired), NonNegative},
		{"max_busy", float64(sr.MaxBusy), NonNegative},
		{"max_queue", float64(sr.MaxQueue), NonNegative},
		{"mean_queue", sr.MeanQueue, NonNegative},
	}
	if sr.Utilisation >= 0 {
		out = append(out, Measure{"utilisation", sr.Utilisation, Proportion})
	}
	if sr.Reached > 0 {
		out = append(out, Measure{"p_wait", sr.PWait(), Proportion}, Measure{"p_abandon", sr.PAbandon(), Proportion})
	}
	if sr.Waits > 0 {
		out = append(out, Measure{"mean_wait_hours", sr.MeanWait, NonNegative})
	}
	return out
}

// Stat is a mean over replications with its 95% confidence interval, computed
// on the scale that keeps it within the quantity's range (see the package
// doc); with one replication the interval is the mean.
type Stat struct {
	Mean float64 `json:"mean"`
	Low  float64 `json:"ci95_low"`
	High float64 `json:"ci95_high"`
	N    int     `json:"n"`
}

// StatOf returns the mean of xs with its 95% interval on the given scale.
func StatOf(xs []float64, scale Scale) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	m, lo, hi := stats.Mean(xs, stats.Scale(scale))
	return Stat{Mean: m, Low: lo, High: hi, N: len(xs)}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
