package simulation

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Options control a run.
type Options struct {
	// Seed seeds replication i with Seed+i. Runs with the same seed draw the
	// same random numbers for the same entities (see the package doc): that is
	// what pairs the arms of an experiment.
	Seed uint64
	// Replications is how many independent runs to average; at least 1.
	Replications int
	// Workers bounds how many replications run at once; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the fraction of the run done (0 to 1), from
	// one goroutine at a time.
	Progress func(done float64)
	// Run and Arm label the report and every row of its tables; Run defaults
	// to the scenario's name and Arm to "base".
	Run, Arm string
	// EventLog, if set, is asked for a writer per replication and given that
	// replication's per-referral event log as CSV (see WriteEventLog), then
	// closed. It is called from the replication's goroutine.
	EventLog func(replication int) (io.WriteCloser, error)
	// Inspect, if set, is called at the end of each replication with its store
	// and network, before the store is dropped, to read the history it holds
	// (package simulation/calibrate does, in its validation). It is called from
	// the replication's goroutine, so concurrently for parallel replications.
	Inspect func(replication int, store storage.Store, network referral.ID) error
}

// Run simulates the scenario Replications times, in parallel, and returns the
// means with 95% confidence intervals. The same scenario and options give the
// same Report, whatever the number of workers.
func Run(ctx context.Context, sc *Scenario, opt Options) (*Report, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opt.Replications < 1 || opt.Replications > 10_000 {
		return nil, referral.Invalid("replications", "must be between 1 and 10,000")
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, opt.Replications)
	reps := make([]Replication, opt.Replications)
	errs := make([]error, opt.Replications)
	var mu sync.Mutex
	done := make([]float64, opt.Replications)
	report := func(i int, f float64) {
		if opt.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		done[i] = f
		sum := 0.0
		for _, d := range done {
			sum += d
		}
		opt.Progress(sum / float64(len(done)))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				rep, err := replicate(ctx, sc, i, &opt, func(f float64) { report(i, f) })
				if err != nil {
					errs[i] = fmt.Errorf("replication %d: %w", i, err)
					cancel()
					continue
				}
				reps[i] = rep
				report(i, 1)
			}
		})
	}
	for i := range opt.Replications {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return aggregate(sc, &opt, reps), nil
}

// replicate runs replication i to its end.
func replicate(ctx context.Context, sc *Scenario, i int, opt *Options, progress func(float64)) (Replication, error) {
	seed := opt.Seed + uint64(i)
	s, err := newSim(ctx, sc, seed)
	if err != nil {
		return Replication{}, err
	}
	defer s.store.Close()
	s.progress = progress
	if err := s.run(); err != nil {
		return Replication{}, err
	}
	if opt.EventLog != nil {
		w, err := opt.EventLog(i)
		if err != nil {
			return Replication{}, fmt.Errorf("event log: %w", err)
		}
		err = s.writeEventLog(w, runName(sc, opt), armName(opt), i)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Replication{}, fmt.Errorf("event log: %w", err)
		}
	}
	if opt.Inspect != nil {
		if err := opt.Inspect(i, s.store, s.network); err != nil {
			return Replication{}, err
		}
	}
	return s.result(seed), nil
}

func runName(sc *Scenario, opt *Options) string {
	if opt.Run != "" {
		return opt.Run
	}
	return sc.Name
}

func armName(opt *Options) string {
	if opt.Arm != "" {
		return opt.Arm
	}
	return "base"
}

// Report is the metrics.json document: every figure is a Stat over the
// replications. Times are hours.
type Report struct {
	Run          string    `json:"run"`
	Arm          string    `json:"arm"`
	Scenario     string    `json:"scenario"`
	Seed         uint64    `json:"seed"`
	Replications int       `json:"replications"`
	Start        time.Time `json:"start"`
	// DurationHours is the arrival period; WarmupHours its part excluded from
	// utilisation, waits and queues; BucketHours the width of the time series.
	DurationHours float64 `json:"duration_hours"`
	WarmupHours   float64 `json:"warmup_hours"`
	BucketHours   float64 `json:"bucket_hours"`

	Arrivals          Stat            `json:"arrivals"`
	Screened          Stat            `json:"people_screened"`
	Needs             Stat            `json:"needs_identified"`
	PathwayNeeds      Stat            `json:"pathway_needs"`
	ReferralsTotal    Stat            `json:"referrals_total"`
	Completed         Stat            `json:"completed"`
	ByStatus          map[string]Stat `json:"by_status"`
	ByReason          []ReasonStat    `json:"by_reason"`
	LoopClosureRate   Stat            `json:"loop_closure_rate"`
	TimeToAcknowledge TimeStats       `json:"time_to_acknowledge"`
	TimeToAccept      TimeStats       `json:"time_to_accept"`
	TimeToComplete    TimeStats       `json:"time_to_complete"`
	Rereferrals       Stat            `json:"rereferrals"`
	Services          []ServiceStats  `json:"services"`
	UnmetByDomain     map[string]Stat `json:"unmet_by_domain"`
	UnmetByReason     map[string]Stat `json:"unmet_by_reason"`
	UnmetByArea       []AreaStat      `json:"unmet_by_area"`
	ClosureOverTime   []BucketStat    `json:"closure_over_time"`
	Occupancy         []OccupancyStat `json:"occupancy"`

	// Runs holds each replication's own figures (not in metrics.json: see
	// replications.csv and services_by_replication.csv).
	Runs []Replication `json:"-"`
	// serviceIndex holds, for each of Services, its index in Runs[i].Services.
	serviceIndex []int
}

// ReasonStat is the referrals ending in one status for one reason.
type ReasonStat struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	Count  Stat   `json:"count"`
}

// TimeStats are the mean, median and 90th percentile of a time, each averaged
// over the replications that measured it.
type TimeStats struct {
	Mean Stat `json:"mean"`
	P50  Stat `json:"p50"`
	P90  Stat `json:"p90"`
}

// ServiceStats is one service's load across replications (see ServiceResult).
// Utilisation is absent for services with unlimited capacity, PWait and
// PAbandon when nobody was reached; MeanWait is in hours.
type ServiceStats struct {
	Name            string `json:"name"`
	Slots           int    `json:"slots"`
	Referred        Stat   `json:"referred"`
	Accepted        Stat   `json:"accepted"`
	Served          Stat   `json:"served"`
	Abandoned       Stat   `json:"abandoned"`
	WaitlistExpired Stat   `json:"waitlist_expired"`
	Utilisation     *Stat  `json:"utilisation,omitempty"`
	MeanWait        Stat   `json:"mean_wait"`
	PWait           *Stat  `json:"p_wait,omitempty"`
	PAbandon        *Stat  `json:"p_abandon,omitempty"`
	MeanQueue       Stat   `json:"mean_queue"`
	MaxQueue        Stat   `json:"max_queue"`
	MaxBusy         Stat   `json:"max_busy"`
}

// AreaStat is the unmet needs in one H3 cell.
type AreaStat struct {
	Cell  string `json:"cell"`
	Unmet Stat   `json:"unmet"`
}

// BucketStat is the referrals created in one bucket and the share that closed.
type BucketStat struct {
	Start       time.Time `json:"start"`
	Created     Stat      `json:"created"`
	ClosureRate Stat      `json:"closure_rate"`
}

// OccupancyStat is one service's (Service empty: all services') people in
// service and waiting over time.
type OccupancyStat struct {
	Service string            `json:"service"`
	Buckets []OccupancyBucket `json:"buckets"`
}

// OccupancyBucket is the time-average people in service (Busy) and waiting
// (Queue) in one bucket, and the most at once (PeakBusy, PeakQueue).
type OccupancyBucket struct {
	Start     time.Time `json:"start"`
	Busy      Stat      `json:"busy"`
	Queue     Stat      `json:"queue"`
	PeakBusy  Stat      `json:"peak_busy"`
	PeakQueue Stat      `json:"peak_queue"`
}

func aggregate(sc *Scenario, opt *Options, reps []Replication) *Report {
	of := func(scale Scale, f func(*Replication) float64) Stat {
		xs := make([]float64, len(reps))
		for i := range reps {
			xs[i] = f(&reps[i])
		}
		return StatOf(xs, scale)
	}
	count := func(f func(*Replication) float64) Stat { return of(NonNegative, f) }
	keyed := func(f func(*Replication) map[string]int) map[string]Stat {
		keys := map[string]bool{}
		for i := range reps {
			for k := range f(&reps[i]) {
				keys[k] = true
			}
		}
		out := map[string]Stat{}
		for k := range keys {
			out[k] = count(func(r *Replication) float64 { return float64(f(r)[k]) })
		}
		return out
	}
	times := func(f func(*Replication) Times) TimeStats {
		var mean, p50, p90 []float64
		for i := range reps {
			if t := f(&reps[i]); t.N > 0 {
				mean, p50, p90 = append(mean, t.Mean), append(p50, t.P50), append(p90, t.P90)
			}
		}
		return TimeStats{Mean: StatOf(mean, NonNegative), P50: StatOf(p50, NonNegative), P90: StatOf(p90, NonNegative)}
	}
	r := &Report{
		Run: runName(sc, opt), Arm: armName(opt),
		Scenario: sc.Name, Seed: opt.Seed, Replications: len(reps), Start: sc.Start.UTC(),
		DurationHours: time.Duration(sc.Duration).Hours(), WarmupHours: time.Duration(sc.Warmup).Hours(), BucketHours: sc.bucket().Hours(),
		Arrivals:          count(func(r *Replication) float64 { return float64(r.Arrivals) }),
		Screened:          count(func(r *Replication) float64 { return float64(r.Screened) }),
		Needs:             count(func(r *Replication) float64 { return float64(r.Needs) }),
		PathwayNeeds:      count(func(r *Replication) float64 { return float64(r.PathwayNeeds) }),
		ReferralsTotal:    count(func(r *Replication) float64 { return float64(r.Referrals) }),
		Completed:         count(func(r *Replication) float64 { return float64(r.Completed) }),
		ByStatus:          keyed(func(r *Replication) map[string]int { return r.ByStatus }),
		LoopClosureRate:   of(Proportion, func(r *Replication) float64 { return r.ClosureRate }),
		TimeToAcknowledge: times(func(r *Replication) Times { return r.TimeToAcknowledge }),
		TimeToAccept:      times(func(r *Replication) Times { return r.TimeToAccept }),
		TimeToComplete:    times(func(r *Replication) Times { return r.TimeToComplete }),
		Rereferrals:       count(func(r *Replication) float64 { return float64(r.Rereferrals) }),
		UnmetByDomain:     keyed(func(r *Replication) map[string]int { return r.UnmetByDomain }),
		UnmetByReason:     keyed(func(r *Replication) map[string]int { return r.UnmetByReason }),
		Runs:              reps,
	}
	reasons := map[[2]string][]int{}
	for i := range reps {
		for _, rc := range reps[i].ByReason {
			k := [2]string{rc.Status, rc.Reason}
			if reasons[k] == nil {
				reasons[k] = make([]int, len(reps))
			}
			reasons[k][i] = rc.N
		}
	}
	for k, ns := range reasons {
		xs := make([]float64, len(ns))
		for i, n := range ns {
			xs[i] = float64(n)
		}
		r.ByReason = append(r.ByReason, ReasonStat{Status: k[0], Reason: k[1], Count: StatOf(xs, NonNegative)})
	}
	slices.SortFunc(r.ByReason, func(a, b ReasonStat) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Reason, b.Reason))
	})
	for _, cell := range sortedKeys(keyed(func(r *Replication) map[string]int { return r.UnmetByArea })) {
		r.UnmetByArea = append(r.UnmetByArea, AreaStat{Cell: cell, Unmet: count(func(r *Replication) float64 { return float64(r.UnmetByArea[cell]) })})
	}
	// Every replication has the same services in the same order; a generated
	// directory is reported only for the services that were referred to.
	for k := range reps[0].Services {
		if !reported(sc, reps, k) {
			continue
		}
		first := reps[0].Services[k]
		svc := func(scale Scale, f func(*ServiceResult) float64) Stat {
			return of(scale, func(r *Replication) float64 { return f(&r.Services[k]) })
		}
		ss := ServiceStats{
			Name: first.Name, Slots: first.Slots,
			Referred:        svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.Referred) }),
			Accepted:        svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.Accepted) }),
			Served:          svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.Served) }),
			Abandoned:       svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.Abandoned) }),
			WaitlistExpired: svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.WaitlistExpired) }),
			MeanQueue:       svc(NonNegative, func(s *ServiceResult) float64 { return s.MeanQueue }),
			MaxQueue:        svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.MaxQueue) }),
			MaxBusy:         svc(NonNegative, func(s *ServiceResult) float64 { return float64(s.MaxBusy) }),
		}
		if first.Utilisation >= 0 {
			u := svc(Proportion, func(s *ServiceResult) float64 { return s.Utilisation })
			ss.Utilisation = &u
		}
		var waits, pwait, pabandon []float64
		for i := range reps {
			s := &reps[i].Services[k]
			if s.Waits > 0 {
				waits = append(waits, s.MeanWait)
			}
			if s.Reached > 0 {
				pwait, pabandon = append(pwait, s.PWait()), append(pabandon, s.PAbandon())
			}
		}
		ss.MeanWait = StatOf(waits, NonNegative)
		if len(pwait) > 0 {
			w, a := StatOf(pwait, Proportion), StatOf(pabandon, Proportion)
			ss.PWait, ss.PAbandon = &w, &a
		}
		r.Services = append(r.Services, ss)
		r.serviceIndex = append(r.serviceIndex, k)
	}
	for b := range reps[0].ClosureOverTime {
		bs := BucketStat{Start: reps[0].ClosureOverTime[b].Start, Created: count(func(r *Replication) float64 { return float64(r.ClosureOverTime[b].Created) })}
		var rates []float64
		for i := range reps {
			if c := reps[i].ClosureOverTime[b]; c.Created > 0 {
				rates = append(rates, float64(c.Completed)/float64(c.Created))
			}
		}
		bs.ClosureRate = StatOf(rates, Proportion)
		r.ClosureOverTime = append(r.ClosureOverTime, bs)
	}
	bucket := sc.bucket()
	for o := range reps[0].Occupancy {
		os := OccupancyStat{Service: reps[0].Occupancy[o].Service}
		for b := range reps[0].Occupancy[o].Busy {
			at := func(f func(*Occupancy) float64) Stat {
				return count(func(r *Replication) float64 { return f(&r.Occupancy[o]) })
			}
			os.Buckets = append(os.Buckets, OccupancyBucket{
				Start:     sc.Start.UTC().Add(time.Duration(b) * bucket),
				Busy:      at(func(x *Occupancy) float64 { return x.Busy[b] }),
				Queue:     at(func(x *Occupancy) float64 { return x.Queue[b] }),
				PeakBusy:  at(func(x *Occupancy) float64 { return float64(x.PeakBusy[b]) }),
				PeakQueue: at(func(x *Occupancy) float64 { return float64(x.PeakQueue[b]) }),
			})
		}
		r.Occupancy = append(r.Occupancy, os)
	}
	return r
}

// reported says whether service k appears in the report: every scenario
// service does, a generated one only when it was referred to.
func reported(sc *Scenario, reps []Replication, k int) bool {
	if k < len(sc.Services) {
		return true
	}
	for i := range reps {
		if reps[i].Services[k].Referred > 0 {
			return true
		}
	}
	return false
}
