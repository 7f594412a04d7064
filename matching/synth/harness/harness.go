package harness

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/internal/reference"
	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/referral"
)

// linearScan is the matcher's reference path, which examines every service.
var linearScan = reference.Scan.(func(*matching.Snapshot, context.Context, matching.Request) (matching.Result, error))

// Options size a harness run.
type Options struct {
	// Seed makes the directory and queries reproducible.
	Seed uint64
	// Locations is the number of service locations; the figure is 200,000.
	Locations int
	// Queries is the number of requests timed through the index, per explain mode.
	Queries int
	// ScanQueries is how many of them are also timed through the linear scan (it is
	// slow); every one of them is checked to give the identical result.
	ScanQueries int
	// PostgresURL, when set, is a PostgreSQL database with PostGIS (see
	// matching/synth/postgis-server.sh): the directory is loaded into it and
	// PostgresQueries of the explain-off requests are timed through PostGIS and
	// checked against the index.
	PostgresURL string
	// PostgresQueries is how many requests go through PostGIS; 0 means Queries.
	PostgresQueries int
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

// String formats the percentiles and the count on one line.
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

	// The PostGIS comparison, zero without Options.PostgresURL.
	//
	// PostGISLoad is the time to copy, index and cluster the directory.
	PostGISLoad time.Duration
	// PostGIS is the eligibility query through PostGIS, one connection, one
	// prepared statement, sequential requests: the first PostgresQueries requests of
	// IndexOff, timed from binding the request's facts to reading the last row.
	PostGIS Latency
	// PostGISCount is the same query wrapped in count(*): PostGIS's work and one
	// round trip without transferring the rows, close to what a formulation that
	// ranked on the server and returned 20 rows would cost.
	PostGISCount Latency
	// IndexPostGISSubset is the index on exactly the requests PostGIS ran, timed
	// in turn with them (request by request: index, PostGIS, PostGIS count). The
	// database server shares the machine, so the index runs with caches PostGIS
	// just used: a conservative figure.
	IndexPostGISSubset Latency
	// IndexAlonePostGISSubset is the index on the same requests from IndexOff,
	// timed back to back earlier in the run.
	IndexAlonePostGISSubset Latency
	// PostGISIdentical counts requests where PostGIS's eligible set equaled the
	// index's complete match list (what is compared: see Run); a mismatch fails
	// the run.
	PostGISIdentical int
	// MeanEligible is the mean number of eligible services per request, before
	// the index's top-20 limit.
	MeanEligible float64
}

// Ratio is the linear scan's p50 over the index's p50 on the same requests.
func (r Report) Ratio() float64 {
	return float64(r.ScanOff.P50) / float64(r.IndexOffSubset.P50)
}

// PostGISRatio is PostGIS's p50 over the index's p50 on the same requests, timed
// in turn (IndexPostGISSubset); 0 without the PostGIS comparison.
func (r Report) PostGISRatio() float64 {
	if r.PostGIS.N == 0 {
		return 0
	}
	return float64(r.PostGIS.P50) / float64(r.IndexPostGISSubset.P50)
}

// String formats the report as the lines BENCHMARKS.md quotes.
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
	if r.PostGIS.N == 0 {
		b.WriteString("PostGIS: not run (set REFKIT_BENCH_POSTGRES_URL)\n")
		return b.String()
	}
	fmt.Fprintf(&b, "PostGIS load (copy, GiST index, cluster, analyze): %v\n", r.PostGISLoad)
	fmt.Fprintf(&b, "PostGIS eligible rows, explain off: %v\n", r.PostGIS)
	fmt.Fprintf(&b, "PostGIS count(*) only, same query:  %v\n", r.PostGISCount)
	fmt.Fprintf(&b, "index, timed in turn with PostGIS: %v\n", r.IndexPostGISSubset)
	fmt.Fprintf(&b, "index, same requests timed alone:  %v\n", r.IndexAlonePostGISSubset)
	fmt.Fprintf(&b, "PostGIS/index p50 ratio: %.1fx in turn (count only: %.1fx); %.1fx against the index alone\n", r.PostGISRatio(),
		float64(r.PostGISCount.P50)/float64(r.IndexPostGISSubset.P50), float64(r.PostGIS.P50)/float64(r.IndexAlonePostGISSubset.P50))
	fmt.Fprintf(&b, "identical eligible sets index vs PostGIS: %d requests (mean %.1f eligible services per request)\n", r.PostGISIdentical, r.MeanEligible)
	return b.String()
}

// Run generates the directory, builds the index, times the query mix through the
// index (explanations off and on) and the linear scan, and checks that index and
// scan give identical results.
//
// With cfg.PostgresURL it then loads the directory into PostGIS (LoadPostGIS)
// and times the first PostgresQueries explain-off requests through the index,
// PostGIS and PostGIS counting, request by request. For each request it checks
// that PostGIS's eligible set is the index's complete match list (the same
// request with Limit MaxLimit): the same services, each at the same nearest
// location with the same distance to the index's 0.1 m, or through the same kind
// of service area; that the count agrees; and that the index's top-20 answer is
// the first 20 of that list. The ranking is not recomputed in SQL: it is a
// function of the eligible set, and index and scan already agree on it.
func Run(ctx context.Context, cfg Options) (Report, error) {
	dir := synth.Directory(cfg.Seed, cfg.Locations)
	var rep Report
	rep.Services = len(dir)
	for _, s := range dir {
		rep.Locations += len(s.Locations)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	ix, err := matching.New(ctx, dir, matching.Options{})
	if err != nil {
		return rep, err
	}
	rep.Build = time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.BytesPerService = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(dir))
	snap := ix.Snapshot()
	rep.Rules = snap.Rules()

	var offTimes []time.Duration
	for _, explain := range []bool{false, true} {
		reqs := synth.Requests(cfg.Seed+1, cfg.Queries, explain)
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
		offTimes = slices.Clone(times)
		rep.IndexOff = latency(slices.Clone(times))
		rep.MeanMatches = float64(matches) / float64(len(reqs))
		n := min(cfg.ScanQueries, len(reqs))
		scan := make([]time.Duration, n)
		for i := range n {
			t0 := time.Now()
			if _, err := linearScan(snap, ctx, reqs[i]); err != nil {
				return rep, err
			}
			scan[i] = time.Since(t0)
		}
		rep.ScanOff = latency(scan)
		rep.IndexOffSubset = latency(slices.Clone(times[:n]))
	}
	for _, explain := range []bool{false, true} {
		for i, req := range synth.Requests(cfg.Seed+1, min(cfg.ScanQueries, cfg.Queries), explain) {
			got, err := snap.Match(ctx, req)
			if err != nil {
				return rep, err
			}
			want, err := linearScan(snap, ctx, req)
			if err != nil {
				return rep, err
			}
			if !reflect.DeepEqual(got, want) {
				return rep, fmt.Errorf("harness: request %d (explain %v): index and scan differ", i, explain)
			}
			rep.Identical++
		}
	}
	if cfg.PostgresURL != "" {
		if err := comparePostGIS(ctx, cfg, dir, snap, offTimes, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// comparePostGIS runs the PostGIS comparison Run describes.
func comparePostGIS(ctx context.Context, cfg Options, dir []referral.Service, snap *matching.Snapshot, offTimes []time.Duration, rep *Report) error {
	start := time.Now()
	pg, err := LoadPostGIS(ctx, cfg.PostgresURL, dir)
	if err != nil {
		return err
	}
	defer func() { _ = pg.Close(context.WithoutCancel(ctx)) }()
	rep.PostGISLoad = time.Since(start)

	n := cfg.PostgresQueries
	if n <= 0 || n > cfg.Queries {
		n = cfg.Queries
	}
	// Warm both statements' plan caches and the buffers on other requests, as
	// the index was warmed by the runs before.
	for _, req := range synth.Requests(cfg.Seed+2, min(200, n), false) {
		if _, err := pg.Eligible(ctx, req); err != nil {
			return err
		}
		if _, err := pg.Count(ctx, req); err != nil {
			return err
		}
	}
	// Each request goes through the index, PostGIS and PostGIS counting in turn,
	// so the machine's load, shared with other work, weighs on all three alike;
	// the check after them is not timed.
	ixTimes, pgTimes, countTimes := make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n)
	eligible := 0
	for i, req := range synth.Requests(cfg.Seed+1, n, false) {
		t0 := time.Now()
		top, err := snap.Match(ctx, req)
		ixTimes[i] = time.Since(t0)
		if err != nil {
			return err
		}
		t0 = time.Now()
		found, err := pg.Eligible(ctx, req)
		pgTimes[i] = time.Since(t0)
		if err != nil {
			return err
		}
		t0 = time.Now()
		count, err := pg.Count(ctx, req)
		countTimes[i] = time.Since(t0)
		if err != nil {
			return err
		}
		if err := checkPostGIS(ctx, snap, req, top, found, count); err != nil {
			return fmt.Errorf("harness: request %d: %w", i, err)
		}
		eligible += len(found)
		rep.PostGISIdentical++
	}
	rep.PostGIS = latency(pgTimes)
	rep.PostGISCount = latency(countTimes)
	rep.IndexPostGISSubset = latency(ixTimes)
	rep.IndexAlonePostGISSubset = latency(slices.Clone(offTimes[:n]))
	rep.MeanEligible = float64(eligible) / float64(n)
	return nil
}

// checkPostGIS checks PostGIS's answer to req against the index's: top is the
// index's answer, found and count PostGIS's eligible rows and count.
func checkPostGIS(ctx context.Context, snap *matching.Snapshot, req matching.Request, top matching.Result, found []Eligible, count int) error {
	if count != len(found) {
		return fmt.Errorf("%w: PostGIS counts %d eligible services and returns %d", errDiffer, count, len(found))
	}
	limit := req.Limit
	if limit == 0 {
		limit = matching.DefaultLimit
	}
	req.Limit = matching.MaxLimit
	all, err := snap.Match(ctx, req)
	if err != nil {
		return err
	}
	if len(all.Matches) == matching.MaxLimit {
		return fmt.Errorf("%d or more matches: too many to compare", matching.MaxLimit)
	}
	if len(top.Matches) != min(limit, len(all.Matches)) || !reflect.DeepEqual(top.Matches, all.Matches[:len(top.Matches)]) {
		return fmt.Errorf("the index's top %d is not a prefix of its complete list", len(top.Matches))
	}
	return compareEligible(all, found)
}
