package simulation

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation/internal/stats"
	"github.com/refkit/refkit/storage"
)

// Validations of the behaviours added for research use, each against theory
// or a calculation made independently of the simulator. The queueing ones
// simulate thousands of hours: together about 40 s with -race on the
// project's shared 2-core machine under load, about half that with -short,
// which halves their runs.

// chiSquareP is the p-value of observed counts against expected ones.
func chiSquareP(observed []int, expected []float64, fitted int) float64 {
	chi := 0.0
	for i, o := range observed {
		d := float64(o) - expected[i]
		chi += d * d / expected[i]
	}
	return stats.ChiSquareSF(chi, len(observed)-1-fitted)
}

// TestArrivalProfiles: arrivals follow the rate the site's profiles give. Over
// two years of arrivals at a site with hour-of-day, weekday and monthly
// multipliers, a trend and a dated step, in a time zone with daylight saving,
// the counts in each hour of the week, each month and each half of the run
// match the integral of the rate (chi-square tests, p > 0.001).
func TestArrivalProfiles(t *testing.T) {
	loc, err := time.LoadLocation("America/Chicago")
	require.NoError(t, err)
	hourly := make([]float64, 24)
	for h := range hourly {
		hourly[h] = 0.2 + float64(h%12)/6
	}
	sc := &Scenario{
		Start: time.Date(2026, 1, 5, 0, 0, 0, 0, loc), TimeZone: "America/Chicago",
		Duration: Duration(2 * 365 * 24 * time.Hour),
		Sites: []Site{{Name: "clinic", RatePerDay: 40, Hourly: hourly,
			Weekday: []float64{1.2, 1.1, 1, 1, 0.9, 0.4, 0.3},
			Monthly: []float64{1.3, 1.2, 1.1, 1, 0.9, 0.8, 0.8, 0.9, 1, 1.1, 1.2, 1.3}, TrendPerYear: 0.2}},
		Changes: []Change{{At: time.Date(2027, 3, 1, 12, 0, 0, 0, loc), Site: "clinic", RatePerDay: new(60.0)}},
	}
	a := newArrivals(sc, 0, loc, rand.New(rand.NewPCG(9, 9)))
	// The expected count of every hour, by summing the rate over the horizon
	// in one-minute steps: independent of how next() walks segments.
	weekHour := make([]float64, 168)
	months := make([]float64, 12)
	halves := make([]float64, 2)
	step := int64(time.Minute)
	for t := int64(0); t < a.end; t += step {
		local := sc.Start.Add(time.Duration(t)).In(loc)
		base := sc.Sites[0].RatePerDay
		if !local.Before(sc.Changes[0].At) {
			base = *sc.Changes[0].RatePerDay
		}
		hourStart := t - int64(time.Duration(local.Minute())*time.Minute)
		rate := base / (24 * 60) * hourly[local.Hour()] * sc.Sites[0].Weekday[(int(local.Weekday())+6)%7] *
			sc.Sites[0].Monthly[local.Month()-1] * (1 + 0.2*float64(hourStart)/(365*nsPerDay))
		weekHour[((int(local.Weekday())+6)%7)*24+local.Hour()] += rate
		months[local.Month()-1] += rate
		halves[min(1, int(t/(a.end/2)))] += rate
	}
	obsWeek := make([]int, 168)
	obsMonth := make([]int, 12)
	obsHalf := make([]int, 2)
	n := 0
	for t, ok := a.next(0); ok; t, ok = a.next(t) {
		local := sc.Start.Add(time.Duration(t)).In(loc)
		obsWeek[((int(local.Weekday())+6)%7)*24+local.Hour()]++
		obsMonth[local.Month()-1]++
		obsHalf[min(1, int(t/(a.end/2)))]++
		n++
	}
	total := 0.0
	for _, e := range halves {
		total += e
	}
	t.Logf("%d arrivals, %.0f expected", n, total)
	require.InDelta(t, total, float64(n), 4*math.Sqrt(total))
	require.Greater(t, chiSquareP(obsWeek, weekHour, 0), 0.001, "hour of the week")
	require.Greater(t, chiSquareP(obsMonth, months, 0), 0.001, "month")
	require.Greater(t, chiSquareP(obsHalf, halves, 0), 0.001, "halves: trend and step")
}

// TestDistributions: gamma draws follow the gamma distribution function (KS,
// p > 0.001) with the right mean, and empirical draws follow their weights
// (chi-square, p > 0.001), zero weights never drawn.
func TestDistributions(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for _, tc := range []struct{ shape, scale float64 }{{0.5, 2}, {1, 3}, {2.5, 4}, {30, 0.1}} {
		d := Dist{Kind: Gamma, Shape: tc.shape, Scale: tc.scale}
		require.NoError(t, d.validate("d", true))
		s := d.compile()
		xs := make([]float64, 20_000)
		sum := 0.0
		for i := range xs {
			xs[i] = s.draw(r)
			sum += xs[i]
		}
		mean := sum / float64(len(xs))
		require.InEpsilon(t, tc.shape*tc.scale, mean, 0.04, "shape %v", tc.shape)
		ks := stats.KS(xs, func(x float64) float64 { return stats.GammaP(tc.shape, x/tc.scale) })
		require.Greater(t, stats.KSPValue(ks, len(xs)), 0.001, "shape %v: KS %v", tc.shape, ks)
	}
	d := Dist{Kind: Empirical, Values: []float64{2, 4, 8, 16}, Weights: []float64{1, 0, 3, 6}}
	require.NoError(t, d.validate("d", true))
	s := d.compile()
	counts := map[float64]int{}
	const n = 100_000
	for range n {
		counts[s.draw(r)]++
	}
	require.Zero(t, counts[4], "a zero weight is never drawn")
	require.Greater(t, chiSquareP([]int{counts[2], counts[8], counts[16]}, []float64{0.1 * n, 0.3 * n, 0.6 * n}, 0), 0.001)
	even := Dist{Kind: Empirical, Values: []float64{1, 2}}
	require.NoError(t, even.validate("d", true))
	for _, bad := range []Dist{
		{Kind: Gamma, Shape: 0, Scale: 1}, {Kind: Gamma, Shape: 2, Scale: -1},
		{Kind: Empirical}, {Kind: Empirical, Values: []float64{1}, Weights: []float64{1, 2}},
		{Kind: Empirical, Values: []float64{1}, Weights: []float64{0}}, {Kind: Empirical, Values: []float64{-1}},
	} {
		require.ErrorIs(t, bad.validate("d", true), referral.ErrInvalid, "%+v", bad)
	}
}

// erlangA solves the M/M/c+M queue (Poisson arrivals at lambda, c servers at
// rate mu, exponential patience at rate theta) as a birth-death chain,
// truncated where the stationary probabilities fall below 1e-18. It returns
// the probability an arrival waits, the probability it abandons, the mean
// queue length and the servers' utilisation.
func erlangA(c int, lambda, mu, theta float64) (pWait, pAbandon, lq, util float64) {
	p := []float64{1}
	for n := 1; ; n++ {
		death := float64(min(n, c))*mu + float64(max(n-c, 0))*theta
		p = append(p, p[n-1]*lambda/death)
		if n > c && p[n] < 1e-18 {
			break
		}
	}
	total := 0.0
	for _, x := range p {
		total += x
	}
	for n, x := range p {
		x /= total
		if n >= c {
			pWait += x
			lq += float64(n-c) * x
		}
		util += float64(min(n, c)) * x / float64(c)
	}
	return pWait, theta * lq / lambda, lq, util
}

// TestErlangA: waitlist abandonment with exponential patience makes a service
// an M/M/c+M queue; its probability of waiting, of abandoning, mean queue and
// utilisation match the birth-death solution within the replications' 95%
// intervals, widened by a margin for the finite run's start-up bias.
func TestErlangA(t *testing.T) {
	hours := 5000.0
	if testing.Short() {
		hours = 2500
	}
	for _, tc := range []struct {
		c                   int
		lambda, meanPatient float64
	}{
		{1, 0.9, 2},
		{3, 3.3, 0.5},
	} {
		sc := mmc(tc.c, tc.lambda, hours)
		sc.Partners.Patience = &Dist{Kind: Exponential, Mean: tc.meanPatient}
		rep, err := Run(context.Background(), sc, Options{Seed: 21, Replications: 4})
		require.NoError(t, err)
		pw, pa, lq, u := erlangA(tc.c, tc.lambda, 1, 1/tc.meanPatient)
		s := rep.Services[0]
		t.Logf("c=%d: P(wait) %.4f [%.4f, %.4f] vs %.4f; P(abandon) %.4f [%.4f, %.4f] vs %.4f; Lq %.4f vs %.4f; utilisation %.4f vs %.4f",
			tc.c, s.PWait.Mean, s.PWait.Low, s.PWait.High, pw, s.PAbandon.Mean, s.PAbandon.Low, s.PAbandon.High, pa, s.MeanQueue.Mean, lq, s.Utilisation.Mean, u)
		within := func(want float64, got Stat, margin float64) {
			t.Helper()
			require.GreaterOrEqual(t, want, got.Low-margin*want)
			require.LessOrEqual(t, want, got.High+margin*want)
		}
		within(pw, *s.PWait, 0.03)
		within(pa, *s.PAbandon, 0.05)
		within(lq, s.MeanQueue, 0.06)
		within(u, *s.Utilisation, 0.02)
		require.GreaterOrEqual(t, rep.UnmetByReason[ReasonAbandoned].Mean, s.Abandoned.Mean, "every abandonment leaves its need unmet")
	}
}

// TestWaitlistExpiryMM1D: a waitlist that drops people after a fixed time D
// makes one slot an M/M/1+D queue, whose probability of being dropped is
// P(V > D) = π₀ (λ/μ) e^{−(μ−λ)D} with π₀ = 1 / (1 + λ(1 − e^{−(μ−λ)D})/(μ−λ)
// + (λ/μ) e^{−(μ−λ)D}), from the virtual waiting time's level-crossing
// equations.
func TestWaitlistExpiryMM1D(t *testing.T) {
	hours := 5000.0
	if testing.Short() {
		hours = 2500
	}
	lambda, mu, d := 1.1, 1.0, 1.5 // overloaded without the limit
	sc := mmc(1, lambda, hours)
	sc.Policy.MaxWait = Duration(time.Duration(d * float64(time.Hour)))
	rep, err := Run(context.Background(), sc, Options{Seed: 5, Replications: 4})
	require.NoError(t, err)
	e := math.Exp(-(mu - lambda) * d)
	pi0 := 1 / (1 + lambda*(1-e)/(mu-lambda) + lambda/mu*e)
	want := pi0 * lambda / mu * e
	var xs []float64
	for _, r := range rep.Runs {
		s := r.Services[0]
		xs = append(xs, float64(s.WaitlistExpired)/float64(s.Reached))
	}
	got := StatOf(xs, Proportion)
	t.Logf("P(dropped) %.4f [%.4f, %.4f] vs %.4f", got.Mean, got.Low, got.High, want)
	require.GreaterOrEqual(t, want, got.Low-0.03*want)
	require.LessOrEqual(t, want, got.High+0.03*want)
	require.Positive(t, rep.UnmetByReason[ReasonWaitlistExpired].Mean, "dropped needs with no other service go unmet")
}

// erlangB is the blocking probability of c servers offered a erlangs.
func erlangB(c int, a float64) float64 {
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// TestAcceptanceHoldsIsErlangB: with acceptance holding a slot and no
// waitlist, each accepted referral holds a slot from acceptance through
// contact and service, so a service is an M/G/c/c loss system: the share it
// declines for capacity is Erlang B for the offered load λ × (E[contact] +
// E[service]), whatever the distributions. Without holding, the same service
// declines less and fails people for capacity after accepting them.
func TestAcceptanceHoldsIsErlangB(t *testing.T) {
	// Not trimmed under -short: at half the horizon the four replications'
	// interval is too narrow for the start-up transient they still carry.
	const hours = 4000.0
	const c, lambda, contact = 4, 2.0, 0.6
	build := func(acceptance string) *Scenario {
		sc := mmc(c, lambda, hours)
		zero := 0
		sc.Services[0].Capacity.Waitlist = &zero
		sc.Services[0].ServiceTime = Dist{Kind: LogNormal, Median: 1, Sigma: 0.5}
		sc.Partners.ContactAfter = Dist{Kind: Uniform, Min: new(0.2), Max: new(1.0)}
		sc.Policy.Acceptance = acceptance
		return sc
	}
	rep, err := Run(context.Background(), build(AcceptanceHolds), Options{Seed: 8, Replications: 4})
	require.NoError(t, err)
	want := erlangB(c, lambda*(contact+math.Exp(0.125)))
	var xs []float64
	for _, r := range rep.Runs {
		declined := 0
		for _, rc := range r.ByReason {
			if rc.Status == "rejected" && rc.Reason == "no-capacity" {
				declined += rc.N
			}
			require.False(t, rc.Status == "failed" && rc.Reason == "no-capacity", "a held place is never lost")
		}
		xs = append(xs, float64(declined)/float64(r.Referrals))
	}
	got := StatOf(xs, Proportion)
	t.Logf("P(declined for capacity) %.4f [%.4f, %.4f] vs Erlang B %.4f", got.Mean, got.Low, got.High, want)
	require.GreaterOrEqual(t, want, got.Low-0.02*want)
	require.LessOrEqual(t, want, got.High+0.02*want)

	loose, err := Run(context.Background(), build(AcceptanceNoHold), Options{Seed: 8, Replications: 2})
	require.NoError(t, err)
	failed := 0.0
	for _, rs := range loose.ByReason {
		if rs.Status == "failed" && rs.Reason == "no-capacity" {
			failed = rs.Count.Mean
		}
	}
	require.Positive(t, failed, "without holding, acceptance can be followed by a capacity failure")
}

// pathwayScenario refers everyone's food need to a pantry whose completions
// lead on to a financial need with probability p.
func pathwayScenario(p float64) *Scenario {
	sc := mmc(1, 2, 500)
	sc.Services[0].Capacity = nil
	sc.Services = append(sc.Services, Service{Name: "coach", Latitude: 41.88, Longitude: -87.63,
		Domains: []referral.Domain{referral.FinancialInsecurity}, ServiceTime: Dist{Kind: Fixed, Value: 1}})
	sc.Pathways = []Pathway{{From: referral.FoodInsecurity, To: referral.FinancialInsecurity, P: p, After: &Dist{Kind: Exponential, Mean: 24}}}
	return sc
}

// TestPathways: each completion of the pantry leads on independently with
// probability p, so the pathway needs over the completions it could lead from
// is a binomial proportion whose Wilson interval holds p; the follow-on
// referrals are sent by the pantry.
func TestPathways(t *testing.T) {
	const p = 0.3
	sc := pathwayScenario(p)
	s, err := newSim(context.Background(), sc, 3)
	require.NoError(t, err)
	defer s.store.Close()
	require.NoError(t, s.run())
	rep := s.result(3)
	from := 0
	for i, rf := range s.refs {
		if s.statusOf(int32(i)) == referral.StatusCompleted && s.needOf(&s.eps[rf.ep]).Domain == referral.FoodInsecurity && s.eps[rf.ep].depth < MaxPathwayDepth {
			from++
		}
	}
	lo, hi := stats.Wilson(rep.PathwayNeeds, from)
	t.Logf("%d pathway needs from %d completions: [%.4f, %.4f]", rep.PathwayNeeds, from, lo, hi)
	require.True(t, lo <= p && p <= hi)
	for _, e := range s.eps {
		if s.needOf(&e).Domain == referral.FinancialInsecurity {
			require.Equal(t, int32(-1), e.sender, "the pantry (service 0) refers on")
			require.Equal(t, int32(1), e.depth)
		}
	}
	require.Equal(t, rep.Needs+rep.PathwayNeeds, rep.Completed+unmetNeeds(rep), "every need, found or passed on, ends served or unmet")
}

func unmetNeeds(r Replication) int {
	n := 0
	for reason, k := range r.UnmetByReason {
		if reason != UnmetNotScreened {
			n += k
		}
	}
	return n
}

// TestCatchments: with catchments, everyone arriving at a site lives within
// its catchment (checked on every arrival), and the sites' shares of arrivals
// follow their rates (a chi-square test); a one-city network that left half
// the needs unmet "no-match" without a catchment then meets them.
func TestCatchments(t *testing.T) {
	build := func(catchment float64) *Scenario {
		sc := mmc(1, 1, 24*40)
		sc.Population.Centres = []Centre{{Latitude: 39.74, Longitude: -104.99, SDKM: 8, Weight: 1}, {Latitude: 42.36, Longitude: -71.06, SDKM: 8, Weight: 1}}
		sc.Population.Size = 4000
		sc.Sites = []Site{
			{Name: "Denver clinic", Latitude: 39.74, Longitude: -104.99, RatePerDay: 30, CatchmentKM: catchment},
			{Name: "Boston clinic", Latitude: 42.36, Longitude: -71.06, RatePerDay: 10, CatchmentKM: catchment},
		}
		sc.Services = []Service{
			{Name: "Denver pantry", Latitude: 39.74, Longitude: -104.99, Domains: []referral.Domain{referral.FoodInsecurity}, ServiceTime: Dist{Kind: Fixed, Value: 1}},
			{Name: "Boston pantry", Latitude: 42.36, Longitude: -71.06, Domains: []referral.Domain{referral.FoodInsecurity}, ServiceTime: Dist{Kind: Fixed, Value: 1}},
		}
		return sc
	}
	s, err := newSim(context.Background(), build(40), 1)
	require.NoError(t, err)
	defer s.store.Close()
	require.NoError(t, s.run())
	perSite := []int{0, 0}
	for _, e := range s.eps {
		site := s.sc.Sites[e.sender]
		p := s.points[e.person]
		require.LessOrEqual(t, kmBetween(site.Latitude, site.Longitude, p.Latitude, p.Longitude), 40.0)
		perSite[e.sender]++
	}
	n := float64(perSite[0] + perSite[1])
	require.Greater(t, chiSquareP(perSite, []float64{0.75 * n, 0.25 * n}, 0), 0.001, "%v", perSite)
	require.Zero(t, s.result(1).UnmetByReason[UnmetNoMatch])

	// One Denver clinic and Denver pantry, half the people in Boston: without a
	// catchment half the arrivals live 2,800 km away and find nothing.
	denver := func(catchment float64) float64 {
		sc := build(catchment)
		sc.Sites, sc.Services = sc.Sites[:1], sc.Services[:1]
		rep, err := Run(context.Background(), sc, Options{Seed: 1, Replications: 1})
		require.NoError(t, err)
		return rep.UnmetByReason[UnmetNoMatch].Mean / rep.Needs.Mean
	}
	without, with := denver(0), denver(40)
	t.Logf("needs unmet for no match: %.0f%% without a catchment, %.0f%% with", 100*without, 100*with)
	require.InDelta(t, 0.5, without, 0.05)
	require.Zero(t, with)
}

// TestCapacityChange: a dated change from 3 to 5 slots turns one M/M/c queue
// into another; the time-average queue in each regime (from the occupancy
// series, skipping the transient after the change) matches Erlang C.
func TestCapacityChange(t *testing.T) {
	hours := 4000.0
	if testing.Short() {
		hours = 2400
	}
	sc := mmc(3, 2.5, hours)
	sc.Warmup = 0
	sc.Policy.ClosureBucket = Duration(50 * time.Hour)
	half := time.Duration(hours/2) * time.Hour
	sc.Changes = []Change{{At: sc.Start.Add(half), Service: "pantry", Capacity: &Capacity{Slots: 5}}}
	rep, err := Run(context.Background(), sc, Options{Seed: 2, Replications: 4})
	require.NoError(t, err)
	require.Len(t, rep.Occupancy, 2, "the total and the one service")
	for _, regime := range []struct {
		c        int
		from, to time.Duration
	}{{3, 200 * time.Hour, half}, {5, half + 200*time.Hour, time.Duration(hours) * time.Hour}} {
		var xs []float64
		for _, r := range rep.Runs {
			sum, n := 0.0, 0
			for b, q := range r.Occupancy[1].Queue {
				at := time.Duration(b) * time.Duration(sc.Policy.ClosureBucket)
				if at >= regime.from && at+time.Duration(sc.Policy.ClosureBucket) <= regime.to {
					sum += q
					n++
				}
			}
			xs = append(xs, sum/float64(n))
		}
		got := StatOf(xs, NonNegative)
		_, wq := erlangC(regime.c, 2.5, 1)
		lq := 2.5 * wq
		t.Logf("c=%d: Lq %.4f [%.4f, %.4f] vs Erlang C %.4f", regime.c, got.Mean, got.Low, got.High, lq)
		require.GreaterOrEqual(t, lq, got.Low-0.1*lq)
		require.LessOrEqual(t, lq, got.High+0.1*lq)
	}
}

// TestDatedChanges: a service closed for a period gets no referral then and
// declines those awaiting its decision "service-not-offered"; a radius
// widened at a date reaches a service only from then on; deadlines follow the
// service's own policy, and the network's as it changes.
func TestDatedChanges(t *testing.T) {
	sc := mmc(2, 1, 24*30)
	sc.Services[0].Capacity = nil
	sc.Partners.DecideAfter = Dist{Kind: Exponential, Mean: 12}
	sc.Partners.Decline = []ReasonRate{{Reason: "not-eligible", P: 0.3}}
	sc.Policy.MaxRereferrals = 1
	sc.Services = append(sc.Services, Service{Name: "far pantry", Latitude: 42.15, Longitude: -87.63,
		Domains: []referral.Domain{referral.FoodInsecurity}, ServiceTime: Dist{Kind: Fixed, Value: 1},
		Policy: &ServicePolicy{AcknowledgeWithin: new(Duration(12 * time.Hour))}})
	sc.Policy.RadiusKM = 10
	sc.Policy.AcknowledgeWithin = Duration(48 * time.Hour)
	sc.Policy.SweepEvery = Duration(time.Hour)
	closed, reopened, widened, tightened := 5*24*time.Hour, 10*24*time.Hour, 15*24*time.Hour, 20*24*time.Hour
	sc.Changes = []Change{
		{At: sc.Start.Add(closed), Service: "pantry", Closed: new(true)},
		{At: sc.Start.Add(reopened), Service: "pantry", Closed: new(false)},
		{At: sc.Start.Add(widened), Policy: &PolicyChange{RadiusKM: new(50.0)}},
		{At: sc.Start.Add(tightened), Policy: &PolicyChange{AcknowledgeWithin: new(Duration(24 * time.Hour))}},
	}
	require.NoError(t, sc.Validate())
	var refs []referral.Referral
	inspect := func(_ int, st storage.Store, network referral.ID) error {
		page := storage.Page{Limit: storage.MaxLimit}
		for {
			got, next, err := st.ListReferrals(context.Background(), storage.ReferralQuery{Network: network, Page: page})
			if err != nil {
				return err
			}
			refs = append(refs, got...)
			if next.IsZero() {
				return nil
			}
			page.After = next
		}
	}
	rep, err := Run(context.Background(), sc, Options{Seed: 4, Replications: 1, Inspect: inspect})
	require.NoError(t, err)
	require.Equal(t, int(rep.ReferralsTotal.Mean), len(refs))
	names := map[string]int{}
	for _, s := range rep.Services {
		names[s.Name] = int(s.Referred.Mean)
	}
	require.Positive(t, names["far pantry"])
	notOffered := 0
	for _, r := range refs {
		at := r.Created.Sub(sc.Start)
		near := r.Service == refs[0].Service // the first referral goes to the near pantry
		switch {
		case near:
			require.False(t, at >= closed && at < reopened, "no referral to a closed service")
			if r.Status == referral.StatusRejected && r.Reason == "service-not-offered" {
				notOffered++
			}
		default:
			require.True(t, at >= closed && at < reopened || at >= widened, "the far pantry is reached while the near one is closed, or once the radius is wide")
			require.Equal(t, 12*time.Hour, r.AcknowledgeBy.Sub(r.Sent), "the service's own deadline")
			continue
		}
		want := 48 * time.Hour
		if at >= tightened {
			want = 24 * time.Hour
		}
		require.Equal(t, want, r.AcknowledgeBy.Sub(r.Sent), "the network's deadline then")
	}
	require.Positive(t, notOffered, "decisions pending at the closure are declined")
}

// TestCommonRandomNumbers: two runs with the same seed whose scenarios differ
// only in one service's capacity see the same arrivals, people and needs, and
// the same partner draws for the first referral of each need.
func TestCommonRandomNumbers(t *testing.T) {
	run := func(slots int) *sim {
		sc := small(t)
		sc.Services[0].Capacity.Slots = slots
		s, err := newSim(context.Background(), sc, 11)
		require.NoError(t, err)
		t.Cleanup(func() { s.store.Close() })
		require.NoError(t, s.run())
		return s
	}
	a, b := run(40), run(5)
	require.Equal(t, a.m.arrivals, b.m.arrivals)
	require.Equal(t, a.m.needs, b.m.needs)
	require.Equal(t, len(a.eps) > 0, true)
	firstAck := func(s *sim) map[uint64][2]int64 {
		out := map[uint64][2]int64{}
		for _, rf := range s.refs {
			e := s.eps[rf.ep]
			if e.depth == 0 && rf.prev < 0 { // the episode's first referral
				out[e.key] = [2]int64{rf.created, rf.milestone[1] - rf.milestone[0]}
			}
		}
		return out
	}
	ka, kb := firstAck(a), firstAck(b)
	same := 0
	for k, v := range ka {
		if w, ok := kb[k]; ok && w == v {
			same++
		}
	}
	t.Logf("%d of %d first referrals identical in time and acknowledgement", same, len(ka))
	require.Greater(t, float64(same), 0.9*float64(len(ka)))
	diff := a.result(11).Services[0].Served - b.result(11).Services[0].Served
	require.NotZero(t, diff, "the capacity still matters")
}

// TestEventLog: the per-referral event log holds every event the store
// appended, one row each, with status and reason in their own columns.
func TestEventLog(t *testing.T) {
	sc := small(t)
	sc.Duration = Duration(5 * 24 * time.Hour)
	var logs [2]*closingBuffer
	rep, err := Run(context.Background(), sc, Options{Seed: 1, Replications: 2, EventLog: func(i int) (ioWriteCloser, error) {
		logs[i] = &closingBuffer{}
		return logs[i], nil
	}})
	require.NoError(t, err)
	for i, l := range logs {
		require.True(t, l.closed)
		rows := readCSV(t, l.String())
		require.Equal(t, EventLogHeader, rows[0])
		events := 0
		for _, rf := range rep.Runs[i].ByStatus {
			events += rf
		}
		require.Greater(t, len(rows)-1, events, "several events per referral")
		created := 0
		for _, row := range rows[1:] {
			require.Equal(t, []string{sc.Name, "base", string(rune('0' + i))}, row[:3])
			if row[10] == "created" {
				created++
			}
		}
		require.Equal(t, rep.Runs[i].Referrals, created)
	}
}

func TestMatchingFullPolicyAndIntervalsStayInRange(t *testing.T) {
	sc := small(t)
	sc.Policy.WhenFull = matching.RankDown
	rep, err := Run(context.Background(), sc, Options{Seed: 6, Replications: 3})
	require.NoError(t, err)
	for _, rs := range rep.ByReason {
		require.GreaterOrEqual(t, rs.Count.Low, 0.0, "%s/%s", rs.Status, rs.Reason)
	}
	for _, s := range rep.Services {
		if s.Utilisation != nil {
			require.True(t, s.Utilisation.Low >= 0 && s.Utilisation.High <= 1)
		}
		if s.PWait != nil {
			require.True(t, s.PWait.Low >= 0 && s.PWait.High <= 1)
		}
	}
	require.True(t, rep.LoopClosureRate.Low >= 0 && rep.LoopClosureRate.High <= 1)
}

type ioWriteCloser = io.WriteCloser

// closingBuffer is an event log in memory that records being closed.
type closingBuffer struct {
	bytes.Buffer
	closed bool
}

func (b *closingBuffer) Close() error {
	b.closed = true
	return nil
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	require.NoError(t, err)
	return rows
}
