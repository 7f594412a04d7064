package simulation

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

func loadExample(t testing.TB) *Scenario {
	t.Helper()
	sc, err := Load("../examples/simulation/scenario.json")
	require.NoError(t, err)
	return sc
}

// small shortens the example so a replication takes a fraction of a second.
func small(t testing.TB) *Scenario {
	sc := loadExample(t)
	sc.Duration = Duration(30 * 24 * time.Hour)
	sc.Warmup = Duration(3 * 24 * time.Hour)
	sc.Drain = 0 // run every referral to its end
	sc.Population.Size = 2000
	return sc
}

func TestConservation(t *testing.T) {
	ctx := context.Background()
	sc := small(t)
	s, err := newSim(ctx, sc, 7)
	require.NoError(t, err)
	defer s.store.Close()
	require.NoError(t, s.run())
	rep := s.result(7)
	require.Positive(t, rep.Referrals)

	// Every referral ends in exactly one terminal status, and the counts add up.
	total := 0
	for st, n := range rep.ByStatus {
		require.True(t, referral.Status(st).Terminal(), "status %s left open", st)
		total += n
	}
	require.Equal(t, rep.Referrals, total)

	// The store agrees with the simulation's own view.
	admin := referral.Actor{Network: s.network, Organization: s.sites[0].actor.Organization, Role: referral.RoleAdmin, User: "test"}
	m, err := s.eng.Metrics(ctx, admin, sc.Start.Add(-time.Hour), sc.Start.AddDate(5, 0, 0))
	require.NoError(t, err)
	require.Equal(t, rep.Referrals, m.Total)
	for st, n := range m.ByStatus {
		require.Equal(t, rep.ByStatus[string(st)], n, "status %s", st)
	}

	// Every need found was either served or counted unmet.
	unmet := 0
	for reason, n := range rep.UnmetByReason {
		if reason != UnmetNotScreened {
			unmet += n
		}
	}
	require.Equal(t, rep.Needs, rep.ByStatus[string(referral.StatusCompleted)]+unmet)
	attempts, retries := 0, 0
	for i := range s.eps {
		attempts += int(s.eps[i].attempts)
		retries += max(0, int(s.eps[i].attempts)-1)
	}
	require.Equal(t, rep.Referrals, attempts)
	require.Equal(t, rep.Rereferrals, retries)

	// No slot is used twice at one time: rebuild each service's occupancy from
	// the event log and check it never exceeds its slots.
	type change struct {
		at    time.Time
		delta int
	}
	occupancy := map[int32][]change{}
	for i := range s.refs {
		rf := &s.refs[i]
		events, err := s.eng.History(ctx, s.system, rf.id)
		require.NoError(t, err)
		for _, ev := range events {
			switch {
			case ev.To == referral.StatusInProgress && ev.From != referral.StatusInProgress:
				occupancy[rf.svc] = append(occupancy[rf.svc], change{ev.At, +1})
			case ev.From == referral.StatusInProgress && ev.To != referral.StatusInProgress:
				occupancy[rf.svc] = append(occupancy[rf.svc], change{ev.At, -1})
			}
		}
	}
	for k, changes := range occupancy {
		slots := s.svcs[k].slots
		if slots == 0 {
			continue
		}
		// Frees before takes at one instant: a slot handed over is not double use.
		slices.SortStableFunc(changes, func(a, b change) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return a.delta - b.delta
		})
		busy := 0
		for _, c := range changes {
			busy += c.delta
			require.LessOrEqual(t, busy, slots, "service %s over capacity at %s", s.svcs[k].name, c.at)
			require.GreaterOrEqual(t, busy, 0)
		}
		require.Zero(t, busy)
	}
}

// mmc is a scenario whose one service is an M/M/c queue: Poisson arrivals at
// lambda per hour, every arrival needing it, c slots, unlimited waitlist,
// exponential service with mean 1 hour, partners acting instantly.
func mmc(c int, lambda float64, hours float64) *Scenario {
	zero := Dist{Kind: Fixed}
	return &Scenario{
		Name: "mmc", Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Duration: Duration(time.Duration(hours * float64(time.Hour))), Warmup: Duration(time.Duration(hours * float64(time.Hour) / 20)),
		Population: Population{
			Size: 100, Centres: []Centre{{Latitude: 41.88, Longitude: -87.63, SDKM: 1, Weight: 1}},
			Age: Dist{Kind: Fixed, Value: 40}, HouseholdSize: Dist{Kind: Fixed, Value: 2},
		},
		Screening: Screening{Instrument: "hunger-vital-sign", Coverage: 1, Prevalence: []DomainRate{{Domain: referral.FoodInsecurity, P: 1}}},
		Sites:     []Site{{Name: "clinic", Latitude: 41.88, Longitude: -87.63, RatePerDay: lambda * 24}},
		Services: []Service{{
			Name: "pantry", Latitude: 41.88, Longitude: -87.63, Domains: []referral.Domain{referral.FoodInsecurity},
			Capacity: &Capacity{Slots: c}, ServiceTime: Dist{Kind: Exponential, Mean: 1},
		}},
		Partners: Partners{AcknowledgeAfter: zero, DecideAfter: zero, ContactAfter: zero, Reach: 1},
		Policy:   Policy{RadiusKM: 50, WhenFull: matching.RankDown},
	}
}

// erlangC returns the M/M/c utilisation and mean wait in queue (hours) for
// arrival rate lambda and service rate mu per hour.
func erlangC(c int, lambda, mu float64) (rho, wq float64) {
	a := lambda / mu
	rho = a / float64(c)
	sum, term := 0.0, 1.0
	for k := range c {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	last := term * a / float64(c) / (1 - rho)
	pWait := last / (sum + last)
	return rho, pWait / (float64(c)*mu - lambda)
}

func TestQueueingTheory(t *testing.T) {
	hours := 6000.0
	if testing.Short() {
		hours = 3000
	}
	for _, tc := range []struct {
		c      int
		lambda float64
	}{
		{1, 0.5},
		{3, 2.1},
		{5, 3.0},
	} {
		rho, wq := erlangC(tc.c, tc.lambda, 1)
		rep, err := Run(context.Background(), mmc(tc.c, tc.lambda, hours), Options{Seed: 11, Replications: 4})
		require.NoError(t, err)
		require.Len(t, rep.Services, 1)
		u, w := rep.Services[0].Utilisation, rep.Services[0].MeanWait
		t.Logf("c=%d ρ=%.2f: utilisation %.4f [%.4f, %.4f], Wq %.4f h [%.4f, %.4f] (Erlang C %.4f h)",
			tc.c, rho, u.Mean, u.Low, u.High, w.Mean, w.Low, w.High, wq)
		// Within the replications' confidence interval, widened by a margin for
		// the finite run's start-up bias.
		require.InDelta(t, rho, u.Mean, math.Max(u.High-u.Mean, 0)+0.02*rho)
		require.InDelta(t, wq, w.Mean, math.Max(w.High-w.Mean, 0)+0.1*wq)
	}
}

func TestMoreCapacityNeverLowersClosure(t *testing.T) {
	var last float64
	for _, slots := range []int{2, 6, 20} {
		sc := small(t)
		sc.Duration = Duration(20 * 24 * time.Hour)
		for i := range sc.Services {
			if sc.Services[i].Capacity != nil {
				sc.Services[i].Capacity.Slots = slots
			}
		}
		rep, err := Run(context.Background(), sc, Options{Seed: 3, Replications: 4})
		require.NoError(t, err)
		t.Logf("slots %d: closure %.4f [%.4f, %.4f]", slots, rep.LoopClosureRate.Mean, rep.LoopClosureRate.Low, rep.LoopClosureRate.High)
		require.GreaterOrEqual(t, rep.LoopClosureRate.Mean, last)
		last = rep.LoopClosureRate.Mean
	}
}

func TestDeterminism(t *testing.T) {
	sc := small(t)
	sc.Duration = Duration(15 * 24 * time.Hour)
	var dirs []string
	for _, workers := range []int{1, 3} {
		rep, err := Run(context.Background(), sc, Options{Seed: 42, Replications: 3, Workers: workers})
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, rep.Write(dir))
		dirs = append(dirs, dir)
	}
	files, err := os.ReadDir(dirs[0])
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		a, err := os.ReadFile(filepath.Join(dirs[0], f.Name()))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dirs[1], f.Name()))
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, b), "%s differs between runs", f.Name())
	}
	// A different seed gives a different run.
	other, err := Run(context.Background(), sc, Options{Seed: 43, Replications: 1})
	require.NoError(t, err)
	first, err := Run(context.Background(), sc, Options{Seed: 42, Replications: 1})
	require.NoError(t, err)
	require.NotEqual(t, first.Runs[0].Events, other.Runs[0].Events)
}
