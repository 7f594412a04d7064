package synth_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/internal/reference"
	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/referral"
)

func TestDirectoryIsDeterministicAndValid(t *testing.T) {
	a := synth.Directory(7, 2000)
	b := synth.Directory(7, 2000)
	require.Equal(t, a, b)
	locations := 0
	texts := map[string]bool{}
	for _, s := range a {
		locations += len(s.Locations)
		texts[s.Eligibility] = true
		for _, d := range s.Domains {
			require.NoError(t, d.Validate())
		}
	}
	require.GreaterOrEqual(t, locations, 2000)
	require.Less(t, locations, 2002)
	require.Less(t, len(texts), 80, "services share rule texts")
	_, err := matching.New(context.Background(), a, matching.Options{})
	require.NoError(t, err)
}

func TestRunChecksIdenticalResults(t *testing.T) {
	rep, err := synth.Run(context.Background(), synth.Config{Seed: 3, Locations: 5000, Queries: 200, ScanQueries: 50})
	require.NoError(t, err)
	require.Equal(t, 100, rep.Identical)
	require.Positive(t, rep.MeanMatches)
	require.Positive(t, rep.BytesPerService)
}

// TestReport runs the full harness (200,000 locations) when REFKIT_BENCH_REPORT is
// set; it takes about a minute.
func TestReport(t *testing.T) {
	if os.Getenv("REFKIT_BENCH_REPORT") == "" {
		t.Skip("set REFKIT_BENCH_REPORT=1 to run the 200,000-location harness")
	}
	cfg := synth.Config{Seed: 1, Locations: 200_000, Queries: 20_000, ScanQueries: 300,
		PostgresURL: os.Getenv("REFKIT_BENCH_POSTGRES_URL")}
	rep, err := synth.Run(context.Background(), cfg)
	require.NoError(t, err)
	if cfg.PostgresURL != "" {
		require.Equal(t, cfg.Queries, rep.PostGISIdentical)
	}
	t.Log("\n" + rep.String())
}

// TestRunComparesWithPostGIS runs the harness with the PostGIS comparison on a
// small directory when REFKIT_BENCH_POSTGRES_URL is set (see postgis-server.sh).
func TestRunComparesWithPostGIS(t *testing.T) {
	url := os.Getenv("REFKIT_BENCH_POSTGRES_URL")
	if url == "" {
		t.Skip("set REFKIT_BENCH_POSTGRES_URL (see postgis-server.sh) to compare with PostGIS")
	}
	rep, err := synth.Run(context.Background(), synth.Config{Seed: 5, Locations: 5000, Queries: 300, ScanQueries: 20, PostgresURL: url})
	require.NoError(t, err)
	require.Equal(t, 300, rep.PostGISIdentical)
	require.Equal(t, 300, rep.PostGIS.N)
	require.Equal(t, 300, rep.IndexPostGISSubset.N)
	require.Positive(t, rep.MeanEligible)
	require.GreaterOrEqual(t, rep.MeanEligible, rep.MeanMatches)
	require.Positive(t, rep.PostGISRatio())
	require.Contains(t, rep.String(), "PostGIS/index p50 ratio")
}

var (
	benchOnce sync.Once
	benchIx   *matching.Index
)

func benchIndex(b *testing.B) *matching.Index {
	benchOnce.Do(func() {
		ix, err := matching.New(context.Background(), synth.Directory(1, 200_000), matching.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchIx = ix
	})
	return benchIx
}

func benchmarkMatch(b *testing.B, explain, scan bool) {
	snap := benchIndex(b).Snapshot()
	reqs := synth.Requests(2, 4096, explain)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := reqs[i%len(reqs)]
		var err error
		if scan {
			_, err = reference.Scan.(func(*matching.Snapshot, context.Context, matching.Request) (matching.Result, error))(snap, ctx, req)
		} else {
			_, err = snap.Match(ctx, req)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// The issue's target: p50 under 60 µs with rules and explanations off.
func BenchmarkMatch(b *testing.B)        { benchmarkMatch(b, false, false) }
func BenchmarkMatchExplain(b *testing.B) { benchmarkMatch(b, true, false) }
func BenchmarkScan(b *testing.B)         { benchmarkMatch(b, false, true) }

func BenchmarkBuild(b *testing.B) {
	dir := synth.Directory(1, 200_000)
	for b.Loop() {
		if _, err := matching.New(context.Background(), dir, matching.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleDirectory() {
	dir := synth.Directory(1, 1000)
	locations := 0
	for _, s := range dir {
		locations += len(s.Locations)
	}
	fmt.Println(locations >= 1000, dir[0].Status == referral.ServiceActive || dir[0].Status == referral.ServiceInactive)
	// Output: true true
}

func ExampleRun() {
	rep, err := synth.Run(context.Background(), synth.Config{Seed: 1, Locations: 2000, Queries: 50, ScanQueries: 10})
	fmt.Println(err, rep.Identical)
	// Output: <nil> 20
}

// LoadPostGIS needs a PostGIS database, so this example is compiled, not run.
func ExampleLoadPostGIS() {
	ctx := context.Background()
	pg, err := synth.LoadPostGIS(ctx, os.Getenv("REFKIT_BENCH_POSTGRES_URL"), synth.Directory(1, 1000))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pg.Close(ctx)
	req := synth.Requests(2, 1, false)[0]
	eligible, err := pg.Eligible(ctx, req)
	fmt.Println(len(eligible), err)
	count, err := pg.Count(ctx, req)
	fmt.Println(count, err)
}
