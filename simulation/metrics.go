package simulation

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// repMetrics gathers what only the run itself sees; the rest is read from the
// referrals at the end.
type repMetrics struct {
	arrivals, screened, needs, rereferrals int
	indexUpdates                           int
	unmetDomain                            map[referral.Domain]int
	unmetArea                              map[h3.Cell]int
	unmetReason                            map[string]int
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
	Seed        uint64         `json:"seed"`
	Arrivals    int            `json:"arrivals"`
	Screened    int            `json:"people_screened"`
	Needs       int            `json:"needs_identified"`
	Referrals   int            `json:"referrals_total"`
	Rereferrals int            `json:"rereferrals"`
	ByStatus    map[string]int `json:"by_status"`
	// ByReason counts final "status/reason" pairs ("rejected/no-capacity").
	ByReason          map[string]int  `json:"by_reason"`
	ClosureRate       float64         `json:"loop_closure_rate"`
	TimeToAcknowledge Times           `json:"time_to_acknowledge"`
	TimeToAccept      Times           `json:"time_to_accept"`
	TimeToComplete    Times           `json:"time_to_complete"`
	Services          []ServiceResult `json:"services"`
	UnmetByDomain     map[string]int  `json:"unmet_by_domain"`
	UnmetByReason     map[string]int  `json:"unmet_by_reason"`
	UnmetByArea       map[string]int  `json:"unmet_by_area"`
	ClosureOverTime   []Bucket        `json:"closure_over_time"`
	Events            uint64          `json:"events"`
	// IndexUpdates counts capacity updates applied to the matcher's index.
	IndexUpdates int `json:"index_updates"`
}

// Times summarises elapsed times in hours, measured from sending.
type Times struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
}

// ServiceResult is one service's load. Utilisation is busy slot-time over
// available slot-time and MeanWait the hours from joining the service's queue
// to starting, both within [warmup, duration]; Utilisation is -1 for a service
// with unlimited capacity.
type ServiceResult struct {
	Name        string  `json:"name"`
	Slots       int     `json:"slots"`
	Referred    int     `json:"referred"`
	Served      int     `json:"served"`
	Utilisation float64 `json:"utilisation"`
	MeanWait    float64 `json:"mean_wait"`
	Waits       int     `json:"waits"`
	MaxBusy     int     `json:"max_busy"`
}

// Bucket is the referrals created in one closure bucket and how many of them
// closed their loop.
type Bucket struct {
	Start     time.Time `json:"start"`
	Created   int       `json:"created"`
	Completed int       `json:"completed"`
}

// result reads the replication's measures off its referrals and services.
func (s *sim) result(seed uint64) Replication {
	r := Replication{
		Seed: seed, Arrivals: s.m.arrivals, Screened: s.m.screened, Needs: s.m.needs, Referrals: len(s.refs),
		Rereferrals: s.m.rereferrals, ByStatus: map[string]int{}, ByReason: map[string]int{},
		UnmetByDomain: map[string]int{}, UnmetByReason: map[string]int{}, UnmetByArea: map[string]int{}, Events: s.events, IndexUpdates: s.m.indexUpdates,
	}
	bucket := time.Duration(s.sc.Policy.ClosureBucket)
	if bucket == 0 {
		bucket = 24 * time.Hour
	}
	nb := int((time.Duration(s.sc.Duration) + bucket - 1) / bucket)
	r.ClosureOverTime = make([]Bucket, nb)
	for i := range r.ClosureOverTime {
		r.ClosureOverTime[i].Start = s.start.Add(time.Duration(i) * bucket)
	}
	var ack, acc, done []float64
	completed := 0
	for i := range s.refs {
		rf := &s.refs[i]
		r.ByStatus[string(rf.status)]++
		if rf.status.Terminal() {
			r.ByReason[string(rf.status)+"/"+rf.reason]++
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
		if rf.status == referral.StatusCompleted {
			completed++
			done = append(done, time.Duration(rf.milestone[3]-sent).Hours())
			r.ClosureOverTime[b].Completed++
		}
	}
	if len(s.refs) > 0 {
		r.ClosureRate = float64(completed) / float64(len(s.refs))
	}
	r.TimeToAcknowledge, r.TimeToAccept, r.TimeToComplete = summarise(ack), summarise(acc), summarise(done)
	window := float64(s.end - s.warm)
	for i := range s.svcs {
		st := &s.svcs[i]
		sr := ServiceResult{Name: st.name, Slots: st.slots, Referred: st.referred, Served: st.served, Waits: st.waitN, MaxBusy: st.maxBusy, Utilisation: -1}
		if st.slots > 0 {
			sr.Utilisation = st.busyNs / (window * float64(st.slots))
		}
		if st.waitN > 0 {
			sr.MeanWait = st.waitNs / float64(st.waitN) / float64(time.Hour)
		}
		r.Services = append(r.Services, sr)
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

// Stat is a mean over replications with its 95% confidence interval (Student t
// on the replications' values); with one replication the interval is the mean.
type Stat struct {
	Mean float64 `json:"mean"`
	Low  float64 `json:"ci95_low"`
	High float64 `json:"ci95_high"`
	N    int     `json:"n"`
}

func statOf(xs []float64) Stat {
	n := len(xs)
	if n == 0 {
		return Stat{}
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(n)
	if n == 1 {
		return Stat{Mean: mean, Low: mean, High: mean, N: 1}
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	half := tQuantile975(n-1) * math.Sqrt(ss/float64(n-1)/float64(n))
	return Stat{Mean: mean, Low: mean - half, High: mean + half, N: n}
}

// t975 are the 0.975 quantiles of Student's t for 1 to 30 degrees of freedom.
var t975 = [...]float64{
	12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
}

// tQuantile975 returns the 0.975 quantile of Student's t with df degrees of
// freedom: tabulated to 30, then the Cornish-Fisher expansion around the normal,
// accurate to 1e-4 there.
func tQuantile975(df int) float64 {
	if df <= len(t975) {
		return t975[df-1]
	}
	z := 1.959964
	v := float64(df)
	return z + (z*z*z+z)/(4*v) + (5*z*z*z*z*z+16*z*z*z+3*z)/(96*v*v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
