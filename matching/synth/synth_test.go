package synth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/internal/reference"
	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/matching/synth/internal/rulemix"
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

// TestEveryGeneratedRuleHasATemplate: the harness maps every rule the generator
// writes back to its SQL form.
func TestEveryGeneratedRuleHasATemplate(t *testing.T) {
	for _, s := range synth.Directory(11, 3000) {
		ref, ok := rulemix.Lookup(s.Eligibility)
		require.True(t, ok, "rule %q", s.Eligibility)
		require.Equal(t, s.Eligibility, rulemix.Templates[ref.Template].Text(ref.Arg))
	}
}

func TestRequestsAreDeterministicAndValid(t *testing.T) {
	a := synth.Requests(5, 300, true)
	require.Equal(t, a, synth.Requests(5, 300, true))
	require.NotEqual(t, a, synth.Requests(6, 300, true))
	for i, req := range a {
		require.NoError(t, req.Validate(), "request %d", i)
		require.True(t, req.Explain)
		require.NotEmpty(t, req.Needs)
	}
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

func ExampleRequests() {
	ix, err := matching.New(context.Background(), synth.Directory(1, 5000), matching.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := synth.Requests(2, 1, false)[0]
	res, err := ix.Match(context.Background(), req)
	fmt.Println(err, req.RadiusM, len(res.Matches) <= req.Limit)
	// Output: <nil> 10000 true
}
