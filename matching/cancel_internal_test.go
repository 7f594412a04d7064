package matching

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// expensiveDirectory is n services at one point, each with its own rule near
// the default cost limit: a request for a person with many languages
// evaluates every one of them.
func expensiveDirectory(n int) []referral.Service {
	out := make([]referral.Service, n)
	for i := range out {
		id := referral.ID{0x01, 0x90, 0, 0, 0, 0, 0x70, 0, 0x80, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i), 1}
		loc := id
		loc[15] = 2
		out[i] = referral.Service{
			ID: id, Organization: id, Name: "service " + strconv.Itoa(i), Status: referral.ServiceActive,
			Domains: []referral.Domain{referral.FoodInsecurity},
			// Distinct texts, so no two services share a program.
			Eligibility: `count(1..15, {count(languages, {# == "z` + strconv.Itoa(i) + `"}) > 0}) >= 0`,
			Locations:   []referral.Location{{ID: loc, Latitude: 37.8, Longitude: -122.27}},
		}
	}
	return out
}

// manyLanguagesRequest asks for all of expensiveDirectory: its limit is above
// the directory's size, so that every service can rank and the index judges
// every one (with a smaller limit it judges only those that could still rank).
func manyLanguagesRequest(explain bool) Request {
	p := referral.Person{}
	for i := range maxLanguages {
		p.Languages = append(p.Languages, "l"+strconv.Itoa(i))
	}
	return Request{Person: p, Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
		Near: &referral.Point{Latitude: 37.8, Longitude: -122.27}, RadiusM: 1000, Explain: explain, Limit: MaxLimit,
		AsOf: time.Date(2026, time.February, 2, 12, 0, 0, 0, time.UTC)}
}

// withEvalHook installs f as the rule-evaluation hook for the test.
func withEvalHook(t *testing.T, f func()) {
	testHookEval = f
	t.Cleanup(func() { testHookEval = nil })
}

// A request cancelled while its rules are being evaluated stops evaluating
// them and returns the context's error, on both paths and with or without
// explanations.
func TestMatchStopsWhenCancelled(t *testing.T) {
	const rules = 300
	ix, err := New(context.Background(), expensiveDirectory(rules), Options{})
	require.NoError(t, err)
	snap := ix.Snapshot()
	for _, tt := range []struct {
		name    string
		explain bool
		run     func(context.Context, Request) (Result, error)
	}{
		{"index", false, snap.Match}, {"index explained", true, snap.Match},
		{"scan", false, snap.scan}, {"scan explained", true, snap.scan},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var evaluated atomic.Int64
			withEvalHook(t, func() {
				if evaluated.Add(1) == 10 {
					cancel()
				}
			})
			_, err := tt.run(ctx, manyLanguagesRequest(tt.explain))
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, int64(10), evaluated.Load(), "no rule is evaluated once the request is cancelled")

			// Uncancelled, the same request evaluates every rule.
			evaluated.Store(0)
			withEvalHook(t, func() { evaluated.Add(1) })
			res, err := tt.run(context.Background(), manyLanguagesRequest(tt.explain))
			require.NoError(t, err)
			require.Equal(t, int64(rules), evaluated.Load())
			require.NotEmpty(t, res.Matches)
		})
	}
}

// New and Update compile rules one service at a time and stop at a done
// context, leaving the index as it was.
func TestBuildStopsWhenCancelled(t *testing.T) {
	dir := expensiveDirectory(200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var compiled atomic.Int64
	testHookCompile = func() {
		if compiled.Add(1) == 5 {
			cancel()
		}
	}
	defer func() { testHookCompile = nil }()
	_, err := New(ctx, dir, Options{})
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, compiled.Load(), int64(len(dir)))

	ix, err := New(context.Background(), dir[:10], Options{})
	require.NoError(t, err)
	ctx, cancelUpdate := context.WithCancel(context.Background())
	defer cancelUpdate()
	cancel = cancelUpdate
	compiled.Store(0)
	var changes []Change
	for _, s := range dir[10:] {
		changes = append(changes, Put(s))
	}
	err = ix.Update(ctx, changes...)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 10, ix.Snapshot().Len(), "a cancelled update changes nothing")
}

// BenchmarkCancelLatency measures how long a request takes to return once its
// context is cancelled while it evaluates expensive rules: the cancel comes
// from another goroutine at a random moment during the evaluations. Metrics:
// the median, 99th percentile and maximum latency, in microseconds (on a busy
// shared machine the tail is the scheduler's, not the matcher's).
func BenchmarkCancelLatency(b *testing.B) {
	ix, err := New(context.Background(), expensiveDirectory(2000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	snap := ix.Snapshot()
	req := manyLanguagesRequest(false)
	rnd := rand.New(rand.NewPCG(1, 2))
	var started chan struct{}
	var once atomic.Bool
	testHookEval = func() {
		if once.CompareAndSwap(false, true) {
			close(started)
		}
	}
	defer func() { testHookEval = nil }()
	latencies := make([]time.Duration, 0, b.N)
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		started = make(chan struct{})
		once.Store(false)
		done := make(chan error, 1)
		go func() {
			_, err := snap.Match(ctx, req)
			done <- err
		}()
		<-started
		time.Sleep(time.Duration(rnd.IntN(2000)) * time.Microsecond)
		at := time.Now()
		cancel()
		err := <-done
		latencies = append(latencies, time.Since(at))
		if !errors.Is(err, context.Canceled) {
			b.Fatalf("want context.Canceled, got %v", err)
		}
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "µs-median")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "µs-p99")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds()), "µs-max")
}
