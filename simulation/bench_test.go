package simulation_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refkit/refkit/internal/gctune"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/storage"
)

// national is the benchmark scenario: people around ten large US metros,
// screened with AHC HRSN, referred over a generated national directory of
// `locations` service locations; arrivals sized for about `referrals` referrals.
func national(locations, referrals int, days float64, refresh time.Duration) *simulation.Scenario {
	metros := []simulation.Centre{
		{Latitude: 40.71, Longitude: -74.01, SDKM: 15, Weight: 19.5, State: "NY", County: "New York"},
		{Latitude: 34.05, Longitude: -118.24, SDKM: 20, Weight: 13, State: "CA", County: "Los Angeles"},
		{Latitude: 41.88, Longitude: -87.63, SDKM: 15, Weight: 9.4, State: "IL", County: "Cook"},
		{Latitude: 29.76, Longitude: -95.37, SDKM: 18, Weight: 7.1, State: "TX", County: "Harris"},
		{Latitude: 32.78, Longitude: -96.80, SDKM: 18, Weight: 7.6, State: "TX", County: "Dallas"},
		{Latitude: 33.45, Longitude: -112.07, SDKM: 18, Weight: 4.9, State: "AZ", County: "Maricopa"},
		{Latitude: 39.95, Longitude: -75.17, SDKM: 12, Weight: 6.2, State: "PA", County: "Philadelphia"},
		{Latitude: 33.75, Longitude: -84.39, SDKM: 18, Weight: 6.1, State: "GA", County: "Fulton"},
		{Latitude: 47.61, Longitude: -122.33, SDKM: 12, Weight: 4.0, State: "WA", County: "King"},
		{Latitude: 25.76, Longitude: -80.19, SDKM: 12, Weight: 6.1, State: "FL", County: "Miami-Dade"},
	}
	prevalence := []simulation.DomainRate{
		{Domain: referral.FoodInsecurity, P: 0.3}, {Domain: referral.HousingInstability, P: 0.15},
		{Domain: referral.TransportationInsecurity, P: 0.1}, {Domain: referral.UtilityInsecurity, P: 0.1},
		{Domain: referral.FinancialInsecurity, P: 0.1}, {Domain: referral.EmploymentStatus, P: 0.05},
	}
	// About 0.99 referrals per arrival with these prevalences and re-referrals
	// (measured: 856,157 from 868,561 arrivals).
	perDay := float64(referrals) / 0.99 / days
	fpl := simulation.Dist{Kind: simulation.LogNormal, Median: 180, Sigma: 0.6}
	exp := func(mean float64) simulation.Dist { return simulation.Dist{Kind: simulation.Exponential, Mean: mean} }
	min1 := 1.0
	return &simulation.Scenario{
		Name: "national", Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Duration: simulation.Duration(time.Duration(days * 24 * float64(time.Hour))),
		Drain:    simulation.Duration(60 * 24 * time.Hour),
		Population: simulation.Population{
			Size: min(1_000_000, referrals), Centres: metros,
			Age:           simulation.Dist{Kind: simulation.Uniform, Min: new(18.0), Max: new(90.0)},
			HouseholdSize: simulation.Dist{Kind: simulation.Normal, Mean: 2.6, SD: 1.4, Min: &min1},
			FPLPercent:    &fpl,
			Languages:     []simulation.LanguageChoice{{Languages: []string{"en"}, Weight: 3}, {Languages: []string{"es", "en"}, Weight: 1}},
			Veteran:       0.06, Disabled: 0.1, Pregnant: 0.02,
		},
		Screening: simulation.Screening{Instrument: "ahc-hrsn", Coverage: 1, Prevalence: prevalence},
		Sites:     []simulation.Site{{Name: "health system", Latitude: 40.71, Longitude: -74.01, RatePerDay: perDay}},
		Synthetic: &simulation.Synthetic{Seed: 1, Locations: locations, ServiceTime: exp(72)},
		Partners: simulation.Partners{
			AcknowledgeAfter: exp(12), DecideAfter: exp(24), ContactAfter: exp(24), Reach: 0.85, NoShow: 0.1,
			Decline:       []simulation.ReasonRate{{Reason: "not-eligible", P: 0.05}, {Reason: "client-declined", P: 0.03}},
			FollowThrough: &simulation.FollowThrough{Base: 0.95, HalfDistanceKM: 15},
		},
		Policy: simulation.Policy{
			RadiusKM: 10, Limit: 5, WhenFull: matching.Exclude,
			AcknowledgeWithin: simulation.Duration(48 * time.Hour), AcceptWithin: simulation.Duration(96 * time.Hour),
			ExpireAfter: simulation.Duration(24 * time.Hour), SweepEvery: simulation.Duration(time.Hour), MaxRereferrals: 2,
			CapacityRefresh: simulation.Duration(refresh),
		},
	}
}

// BenchmarkReferrals measures simulated referrals per second of wall time over a
// 20,000-location directory (capacity published daily); TestMillion runs the
// issue's full figure.
func BenchmarkReferrals(b *testing.B) {
	sc := national(20_000, 20_000, 30, 24*time.Hour)
	for b.Loop() {
		rep, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 1, Replications: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.ReferralsTotal.Mean, "referrals/op")
	}
}

// TestMillion is the benchmark: about 1,000,000 referrals over a
// 200,000-location directory through the real engine. Set REFKIT_SIM_BENCH=1 (and
// optionally REFKIT_SIM_BENCH_REFERRALS, REFKIT_SIM_BENCH_REPLICATIONS to split
// the referrals over parallel replications) to run it:
//
//	REFKIT_SIM_BENCH=1 go test ./simulation -run TestMillion -v -timeout 30m
func TestMillion(t *testing.T) {
	if os.Getenv("REFKIT_SIM_BENCH") != "1" {
		t.Skip("set REFKIT_SIM_BENCH=1 to run the 1,000,000-referral benchmark")
	}
	total, reps := 1_000_000, 1
	if v, err := strconv.Atoi(os.Getenv("REFKIT_SIM_BENCH_REFERRALS")); err == nil {
		total = v
	}
	if v, err := strconv.Atoi(os.Getenv("REFKIT_SIM_BENCH_REPLICATIONS")); err == nil {
		reps = v
	}
	defer tuneGC(t)()
	setup := time.Now()
	var refresh time.Duration // live: the index learns every capacity change
	if v, err := time.ParseDuration(os.Getenv("REFKIT_SIM_BENCH_REFRESH")); err == nil {
		refresh = v
	}
	sc := national(200_000, total/reps, 365, refresh)
	start := time.Now()
	// The live heap at the end of the first replication, its store still
	// whole: what a replication of this size must hold.
	// REFKIT_SIM_BENCH_HEAP names a file for a heap profile taken then.
	var live uint64
	inspect := func(i int, _ storage.Store, _ referral.ID) error {
		if i != 0 {
			return nil
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		live = ms.HeapAlloc
		if path := os.Getenv("REFKIT_SIM_BENCH_HEAP"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return pprof.WriteHeapProfile(f)
		}
		return nil
	}
	rep, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 1, Replications: reps, Inspect: inspect})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	n := 0
	for _, r := range rep.Runs {
		n += r.Referrals
	}
	updates := 0
	for _, r := range rep.Runs {
		updates += r.IndexUpdates
	}
	fmt.Printf("simulated %d referrals (%d replication(s), %.0f arrivals each, closure %.3f, %d index updates, capacity refresh %v) in %v: %.0f referrals/s (scenario built in %v); live heap at the end of a replication %d MiB\n",
		n, reps, rep.Arrivals.Mean, rep.LoopClosureRate.Mean, updates, refresh, wall.Round(time.Millisecond), float64(n)/wall.Seconds(), start.Sub(setup), live>>20)
}

// tuneGC sets the collector as `refkit simulate` does (internal/gctune),
// unless GOGC or GOMEMLIMIT is set, and returns a function restoring the
// previous settings.
func tuneGC(t *testing.T) func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return func() {}
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil || kb == 0 {
				break
			}
			t.Logf("GOGC=%d, memory limit %d MiB at first (machine %d MiB)", gctune.Percent, gctune.Limit(0, kb<<10)>>20, kb>>10)
			return gctune.Start(kb << 10)
		}
	}
	return func() {}
}
