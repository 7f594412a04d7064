package harness_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/matching/synth/harness"
)

func TestRunChecksIdenticalResults(t *testing.T) {
	rep, err := harness.Run(context.Background(), harness.Options{Seed: 3, Locations: 5000, Queries: 200, ScanQueries: 50})
	require.NoError(t, err)
	require.Equal(t, 100, rep.Identical)
	require.Positive(t, rep.MeanMatches)
	require.Positive(t, rep.BytesPerService)
	require.Contains(t, rep.String(), "PostGIS: not run")
}

// TestReport runs the full harness (200,000 locations) when REFKIT_BENCH_REPORT is
// set; it takes about a minute.
func TestReport(t *testing.T) {
	if os.Getenv("REFKIT_BENCH_REPORT") == "" {
		t.Skip("set REFKIT_BENCH_REPORT=1 to run the 200,000-location harness")
	}
	cfg := harness.Options{Seed: 1, Locations: 200_000, Queries: 20_000, ScanQueries: 300,
		PostgresURL: os.Getenv("REFKIT_BENCH_POSTGRES_URL")}
	rep, err := harness.Run(context.Background(), cfg)
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
		t.Skip("set REFKIT_BENCH_POSTGRES_URL (see matching/synth/postgis-server.sh) to compare with PostGIS")
	}
	rep, err := harness.Run(context.Background(), harness.Options{Seed: 5, Locations: 5000, Queries: 300, ScanQueries: 20, PostgresURL: url})
	require.NoError(t, err)
	require.Equal(t, 300, rep.PostGISIdentical)
	require.Equal(t, 300, rep.PostGIS.N)
	require.Equal(t, 300, rep.IndexPostGISSubset.N)
	require.Positive(t, rep.MeanEligible)
	require.GreaterOrEqual(t, rep.MeanEligible, rep.MeanMatches)
	require.Positive(t, rep.PostGISRatio())
	require.Contains(t, rep.String(), "PostGIS/index p50 ratio")
}

func ExampleRun() {
	rep, err := harness.Run(context.Background(), harness.Options{Seed: 1, Locations: 2000, Queries: 50, ScanQueries: 10})
	fmt.Println(err, rep.Identical)
	// Output: <nil> 20
}

// LoadPostGIS needs a PostGIS database, so this example is compiled, not run.
func ExampleLoadPostGIS() {
	ctx := context.Background()
	pg, err := harness.LoadPostGIS(ctx, os.Getenv("REFKIT_BENCH_POSTGRES_URL"), synth.Directory(1, 1000))
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
