package simulation

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
)

// Options control a run.
type Options struct {
	// Seed seeds replication i with Seed+i.
	Seed uint64
	// Replications is how many independent runs to average; at least 1.
	Replications int
	// Workers bounds how many replications run at once; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the fraction of the run done (0 to 1), from
	// one goroutine at a time.
	Progress func(done float64)
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
				rep, err := replicate(ctx, sc, opt.Seed+uint64(i), func(f float64) { report(i, f) })
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
	return aggregate(sc, opt.Seed, reps), nil
}

// replicate runs one replication to its end.
func replicate(ctx context.Context, sc *Scenario, seed uint64, progress func(float64)) (Replication, error) {
	s, err := newSim(ctx, sc, seed)
	if err != nil {
		return Replication{}, err
	}
	defer s.store.Close()
	s.progress = progress
	if err := s.run(); err != nil {
		return Replication{}, err
	}
	return s.result(seed), nil
}

// Report is the metrics.json document: every figure is a Stat over the
// replications. Times are hours.
type Report struct {
	Scenario     string    `json:"scenario"`
	Seed         uint64    `json:"seed"`
	Replications int       `json:"replications"`
	Start        time.Time `json:"start"`
	// DurationHours is the arrival period; WarmupHours its part excluded from
	// utilisation and waits.
	DurationHours float64 `json:"duration_hours"`
	WarmupHours   float64 `json:"warmup_hours"`

	Arrivals          Stat            `json:"arrivals"`
	Screened          Stat            `json:"people_screened"`
	Needs             Stat            `json:"needs_identified"`
	ReferralsTotal    Stat            `json:"referrals_total"`
	ByStatus          map[string]Stat `json:"by_status"`
	ByReason          map[string]Stat `json:"by_reason"`
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

	// Runs holds each replication's own figures (not in metrics.json: see
	// replications.csv).
	Runs []Replication `json:"-"`
}

// TimeStats are the mean, median and 90th percentile of a time, each averaged
// over the replications that measured it.
type TimeStats struct {
	Mean Stat `json:"mean"`
	P50  Stat `json:"p50"`
	P90  Stat `json:"p90"`
}

// ServiceStats is one service's load across replications. Utilisation is
// absent for services with unlimited capacity; MeanWait is in hours.
type ServiceStats struct {
	Name        string `json:"name"`
	Slots       int    `json:"slots"`
	Referred    Stat   `json:"referred"`
	Served      Stat   `json:"served"`
	Utilisation *Stat  `json:"utilisation,omitempty"`
	MeanWait    Stat   `json:"mean_wait"`
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

func aggregate(sc *Scenario, seed uint64, reps []Replication) *Report {
	of := func(f func(*Replication) float64) Stat {
		xs := make([]float64, len(reps))
		for i := range reps {
			xs[i] = f(&reps[i])
		}
		return statOf(xs)
	}
	keyed := func(f func(*Replication) map[string]int) map[string]Stat {
		keys := map[string]bool{}
		for i := range reps {
			for k := range f(&reps[i]) {
				keys[k] = true
			}
		}
		out := map[string]Stat{}
		for k := range keys {
			out[k] = of(func(r *Replication) float64 { return float64(f(r)[k]) })
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
		return TimeStats{Mean: statOf(mean), P50: statOf(p50), P90: statOf(p90)}
	}
	r := &Report{
		Scenario: sc.Name, Seed: seed, Replications: len(reps), Start: sc.Start.UTC(),
		DurationHours: time.Duration(sc.Duration).Hours(), WarmupHours: time.Duration(sc.Warmup).Hours(),
		Arrivals:          of(func(r *Replication) float64 { return float64(r.Arrivals) }),
		Screened:          of(func(r *Replication) float64 { return float64(r.Screened) }),
		Needs:             of(func(r *Replication) float64 { return float64(r.Needs) }),
		ReferralsTotal:    of(func(r *Replication) float64 { return float64(r.Referrals) }),
		ByStatus:          keyed(func(r *Replication) map[string]int { return r.ByStatus }),
		ByReason:          keyed(func(r *Replication) map[string]int { return r.ByReason }),
		LoopClosureRate:   of(func(r *Replication) float64 { return r.ClosureRate }),
		TimeToAcknowledge: times(func(r *Replication) Times { return r.TimeToAcknowledge }),
		TimeToAccept:      times(func(r *Replication) Times { return r.TimeToAccept }),
		TimeToComplete:    times(func(r *Replication) Times { return r.TimeToComplete }),
		Rereferrals:       of(func(r *Replication) float64 { return float64(r.Rereferrals) }),
		UnmetByDomain:     keyed(func(r *Replication) map[string]int { return r.UnmetByDomain }),
		UnmetByReason:     keyed(func(r *Replication) map[string]int { return r.UnmetByReason }),
		Runs:              reps,
	}
	for _, cell := range sortedKeys(keyed(func(r *Replication) map[string]int { return r.UnmetByArea })) {
		r.UnmetByArea = append(r.UnmetByArea, AreaStat{Cell: cell, Unmet: of(func(r *Replication) float64 { return float64(r.UnmetByArea[cell]) })})
	}
	// Every replication has the same services in the same order; a generated
	// directory is reported only for the services that were referred to.
	for k := range reps[0].Services {
		first := reps[0].Services[k]
		referred := false
		for i := range reps {
			referred = referred || reps[i].Services[k].Referred > 0
		}
		if !referred && len(sc.Services) <= k {
			continue
		}
		ss := ServiceStats{
			Name: first.Name, Slots: first.Slots,
			Referred: of(func(r *Replication) float64 { return float64(r.Services[k].Referred) }),
			Served:   of(func(r *Replication) float64 { return float64(r.Services[k].Served) }),
		}
		if first.Slots > 0 {
			u := of(func(r *Replication) float64 { return r.Services[k].Utilisation })
			ss.Utilisation = &u
		}
		var waits []float64
		for i := range reps {
			if s := reps[i].Services[k]; s.Waits > 0 {
				waits = append(waits, s.MeanWait)
			}
		}
		ss.MeanWait = statOf(waits)
		r.Services = append(r.Services, ss)
	}
	for b := range reps[0].ClosureOverTime {
		bs := BucketStat{Start: reps[0].ClosureOverTime[b].Start, Created: of(func(r *Replication) float64 { return float64(r.ClosureOverTime[b].Created) })}
		var rates []float64
		for i := range reps {
			if c := reps[i].ClosureOverTime[b]; c.Created > 0 {
				rates = append(rates, float64(c.Completed)/float64(c.Created))
			}
		}
		bs.ClosureRate = statOf(rates)
		r.ClosureOverTime = append(r.ClosureOverTime, bs)
	}
	return r
}
