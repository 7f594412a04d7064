package synth

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/refkit/refkit/matching"
)

// Config sizes a harness run.
type Config struct {
	// Seed makes the directory and queries reproducible.
	Seed uint64
	// Locations is the number of service locations; the figure is 200,000.
	Locations int
	// Queries is the number of requests timed through the index, per explain mode.
	Queries int
	// ScanQueries is how many of them are also timed through the linear scan (it is
	// slow); every one of them is checked to give the identical result.
	ScanQueries int
}

// Latency summarizes per-request times.
type Latency struct {
	P50, P90, P99 time.Duration
	N             int
}

func latency(ds []time.Duration) Latency {
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), N: len(ds)}
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  (n=%d)", l.P50, l.P90, l.P99, l.N)
}

// Report is what one harness run measured.
type Report struct {
	Services, Locations, Rules int
	Build                      time.Duration
	BytesPerService            float64
	IndexOff, IndexOn          Latency
	// ScanOff is the linear scan over every service, explanations off, on the same
	// requests as the first ScanQueries of IndexOff.
	ScanOff Latency
	// IndexOffSubset is the index on exactly the requests ScanOff ran.
	IndexOffSubset Latency
	// Identical counts requests whose index and scan results were compared equal
	// (explanations off and on); a mismatch fails the run.
	Identical int
	// MeanMatches is the mean number of matches per request (explanations off).
	MeanMatches float64
}

// Ratio is the linear scan's p50 over the index's p50 on the same requests.
func (r Report) Ratio() float64 {
	return float64(r.ScanOff.P50) / float64(r.IndexOffSubset.P50)
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "directory: %d services, %d locations, %d distinct rule programs\n", r.Services, r.Locations, r.Rules)
	fmt.Fprintf(&b, "index build: %v, %.0f bytes per service (heap growth)\n", r.Build, r.BytesPerService)
	fmt.Fprintf(&b, "index, explain off: %v\n", r.IndexOff)
	fmt.Fprintf(&b, "index, explain on:  %v\n", r.IndexOn)
	fmt.Fprintf(&b, "linear scan, explain off: %v\n", r.ScanOff)
	fmt.Fprintf(&b, "index on the same requests: %v\n", r.IndexOffSubset)
	fmt.Fprintf(&b, "scan/index p50 ratio: %.1fx\n", r.Ratio())
	fmt.Fprintf(&b, "identical results index vs scan: %d requests\n", r.Identical)
	fmt.Fprintf(&b, "mean matches per request: %.1f\n", r.MeanMatches)
	return b.String()
}

// Run generates the directory, builds the index, times the query mix through the
// index (explanations off and on) and the linear scan, and checks that index and
// scan give identical results.
func Run(ctx context.Context, cfg Config) (Report, error) {
	dir := Directory(cfg.Seed, cfg.Locations)
	var rep Report
	rep.Services = len(dir)
	for _, s := range dir {
		rep.Locations += len(s.Locations)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	ix, err := matching.New(dir, matching.Options{})
	if err != nil {
		return rep, err
	}
	rep.Build = time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.BytesPerService = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(dir))
	snap := ix.Snapshot()
	rep.Rules = snap.Rules()

	for _, explain := range []bool{false, true} {
		reqs := Requests(cfg.Seed+1, cfg.Queries, explain)
		times := make([]time.Duration, len(reqs))
		matches := 0
		for i, req := range reqs {
			t0 := time.Now()
			res, err := snap.Match(ctx, req)
			times[i] = time.Since(t0)
			if err != nil {
				return rep, err
			}
			matches += len(res.Matches)
		}
		if explain {
			rep.IndexOn = latency(times)
			continue
		}
		rep.IndexOff = latency(slices.Clone(times))
		rep.MeanMatches = float64(matches) / float64(len(reqs))
		n := min(cfg.ScanQueries, len(reqs))
		scan := make([]time.Duration, n)
		for i := range n {
			t0 := time.Now()
			if _, err := snap.Scan(ctx, reqs[i]); err != nil {
				return rep, err
			}
			scan[i] = time.Since(t0)
		}
		rep.ScanOff = latency(scan)
		rep.IndexOffSubset = latency(slices.Clone(times[:n]))
	}
	for _, explain := range []bool{false, true} {
		for i, req := range Requests(cfg.Seed+1, min(cfg.ScanQueries, cfg.Queries), explain) {
			got, err := snap.Match(ctx, req)
			if err != nil {
				return rep, err
			}
			want, err := snap.Scan(ctx, req)
			if err != nil {
				return rep, err
			}
			if !reflect.DeepEqual(got, want) {
				return rep, fmt.Errorf("synth: request %d (explain %v): index and scan differ", i, explain)
			}
			rep.Identical++
		}
	}
	return rep, nil
}
