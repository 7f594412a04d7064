package calibrate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/calibrate"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

// known is the network whose parameters calibration must recover: two sites
// (one with hour and weekday profiles), a pantry and a housing desk whose
// partners behave differently (and a food bank taking the pantry's
// re-referrals), deadlines (the desk's own acknowledgement
// deadline shorter than the network's) and limited capacity.
func known() *simulation.Scenario {
	exp := func(mean float64) simulation.Dist { return simulation.Dist{Kind: simulation.Exponential, Mean: mean} }
	hourly := make([]float64, 24)
	for h := range hourly {
		hourly[h] = 0.3
		if h >= 8 && h < 20 {
			hourly[h] = 1.7
		}
	}
	waitlist := 10
	deskWaitlist := 5
	return &simulation.Scenario{
		Name: "known", Start: time.Date(2026, 1, 5, 0, 0, 0, 0, chicago), TimeZone: "America/Chicago",
		Duration: simulation.Duration(150 * 24 * time.Hour), Drain: simulation.Duration(60 * 24 * time.Hour),
		Population: simulation.Population{
			Size: 5000, Centres: []simulation.Centre{{Latitude: 41.88, Longitude: -87.63, SDKM: 3, Weight: 1, State: "IL"}},
			Age: simulation.Dist{Kind: simulation.Fixed, Value: 40}, HouseholdSize: simulation.Dist{Kind: simulation.Fixed, Value: 2},
		},
		Screening: simulation.Screening{Coverage: 1, Needs: []simulation.DomainRate{
			{Domain: referral.FoodInsecurity, P: 0.6}, {Domain: referral.HousingInstability, P: 0.3}}},
		Sites: []simulation.Site{
			{Name: "clinic", Latitude: 41.88, Longitude: -87.63, RatePerDay: 40, Hourly: hourly, Weekday: []float64{1.3, 1.2, 1.1, 1.1, 1, 0.7, 0.6}},
			{Name: "library", Latitude: 41.90, Longitude: -87.65, RatePerDay: 15},
		},
		Services: []simulation.Service{
			{Name: "pantry", Latitude: 41.89, Longitude: -87.62, Domains: []referral.Domain{referral.FoodInsecurity},
				Capacity: &simulation.Capacity{Slots: 6, Waitlist: &waitlist}, ServiceTime: simulation.Dist{Kind: simulation.Gamma, Shape: 2, Scale: 12}},
			{Name: "housing desk", Latitude: 41.87, Longitude: -87.64, Domains: []referral.Domain{referral.HousingInstability},
				Capacity: &simulation.Capacity{Slots: 3, Waitlist: &deskWaitlist}, ServiceTime: simulation.Dist{Kind: simulation.LogNormal, Median: 30, Sigma: 0.5},
				Partner: &simulation.Partners{
					AcknowledgeAfter: exp(20), DecideAfter: exp(30), ContactAfter: exp(12), Reach: 0.7, NoShow: 0.05,
					Decline: []simulation.ReasonRate{{Reason: "not-eligible", P: 0.2}},
				},
				Policy: &simulation.ServicePolicy{AcknowledgeWithin: new(simulation.Duration(24 * time.Hour))}},
			// Where the pantry's declines are re-referred.
			{Name: "food bank", Latitude: 41.95, Longitude: -87.70, Domains: []referral.Domain{referral.FoodInsecurity},
				ServiceTime: exp(10)},
		},
		Partners: simulation.Partners{
			AcknowledgeAfter: exp(8), DecideAfter: simulation.Dist{Kind: simulation.LogNormal, Median: 12, Sigma: 0.8},
			ContactAfter: exp(24), Reach: 0.8, NoShow: 0.1,
			Decline:  []simulation.ReasonRate{{Reason: "not-eligible", P: 0.1}, {Reason: "client-declined", P: 0.05}},
			Patience: new(exp(72)),
		},
		Policy: simulation.Policy{
			RadiusKM: 20, WhenFull: matching.RankDown, AcknowledgeWithin: simulation.Duration(48 * time.Hour),
			AcceptWithin: simulation.Duration(96 * time.Hour), SweepEvery: simulation.Duration(time.Hour), MaxRereferrals: 1,
		},
	}
}

// history simulates one replication of a scenario and calibrates from the
// history its store holds.
func history(t *testing.T, sc *simulation.Scenario, opt calibrate.Options) (*simulation.Scenario, *simulation.Report) {
	t.Helper()
	var got *simulation.Scenario
	rep, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 7, Replications: 1,
		Inspect: func(_ int, st storage.Store, network referral.ID) error {
			var err error
			got, err = calibrate.Calibrate(context.Background(), st, network, opt)
			return err
		}})
	require.NoError(t, err)
	return got, rep
}

func service(t *testing.T, sc *simulation.Scenario, name string) *simulation.Service {
	t.Helper()
	for i := range sc.Services {
		if sc.Services[i].Name == name {
			return &sc.Services[i]
		}
	}
	require.Failf(t, "no service", "%s", name)
	return nil
}

func distMean(d simulation.Dist) float64 {
	switch d.Kind {
	case simulation.Exponential:
		return d.Mean
	case simulation.LogNormal:
		return d.Median * math.Exp(d.Sigma*d.Sigma/2)
	case simulation.Gamma:
		return d.Shape * d.Scale
	case simulation.Fixed:
		return d.Value
	}
	return math.NaN()
}

// TestRecoversKnownParameters simulates the known network for 150 days (about
// 7,400 referrals), calibrates from the history, and checks the estimates.
// Tolerances, stated here and sized at about three standard errors for the
// sample each estimate rests on:
//
//   - referral rate per site and domain (rate × need share): within 6%;
//   - hour-of-day and weekday multipliers within 3.5 standard errors of the
//     count each rests on (20% at night, 7% by day for the hours, 6-9% for
//     the days); the multiplicative profile is not rejected (chi-square p >
//     0.001);
//   - time families as simulated (exponential, lognormal, gamma); means within
//     8% (the desk's acknowledgement, 30% censored by its 24 h deadline,
//     within 12%), lognormal sigma and gamma shape within 15%;
//   - probabilities (decline reasons, reach, no-show) within 0.03 absolute;
//   - patience on the waitlist (censored by service): mean within 25%;
//   - slots exactly; deadlines exactly, the desk's own one too.
func TestRecoversKnownParameters(t *testing.T) {
	sc := known()
	got, rep := history(t, sc, calibrate.Options{TimeZone: "America/Chicago", Source: "test"})
	t.Logf("%.0f referrals simulated", rep.ReferralsTotal.Mean)
	require.NoError(t, got.Validate())
	rel := func(want, got, tol float64, what string) {
		t.Helper()
		require.InEpsilon(t, want, got, tol, "%s: want %.4f, got %.4f", what, want, got)
	}
	abs := func(want, got, tol float64, what string) {
		t.Helper()
		require.InDelta(t, want, got, tol, "%s: want %.4f, got %.4f", what, want, got)
	}

	// Arrivals: the referral rate of each site and domain.
	require.Len(t, got.Sites, 2)
	share := map[referral.Domain]float64{}
	for _, d := range got.Screening.Needs {
		share[d.Domain] = d.P
	}
	for i, s := range got.Sites {
		want := sc.Sites[i]
		require.Equal(t, want.Name, s.Name)
		for _, d := range sc.Screening.Needs {
			rel(want.RatePerDay*d.P, s.RatePerDay*share[d.Domain], 0.06, s.Name+" "+string(d.Domain))
		}
	}
	clinic := got.Sites[0]
	require.Len(t, clinic.Hourly, 24)
	// A multiplier rests on the referrals of its hour (or day): the tolerance
	// is 3.5 standard errors of that count, 1/√n relative.
	perDay := sc.Sites[0].RatePerDay * (1 - 0.4*0.7) * 150 // arrivals with a need at the clinic over the run
	for h, m := range clinic.Hourly {
		want := sc.Sites[0].Hourly[h] / mean(sc.Sites[0].Hourly)
		rel(want, m, 3.5/math.Sqrt(perDay/24*want), fmt.Sprintf("hour %d", h))
	}
	for d, m := range clinic.Weekday {
		want := sc.Sites[0].Weekday[d] / mean(sc.Sites[0].Weekday)
		rel(want, m, 3.5/math.Sqrt(perDay/7*want), fmt.Sprintf("weekday %d", d))
	}
	require.Greater(t, got.Calibration.Arrivals.PValue, 0.001, "chi-square %+v", got.Calibration.Arrivals)

	// Partners.
	pantry, desk := service(t, got, "pantry"), service(t, got, "housing desk")
	require.NotNil(t, pantry.Partner)
	require.NotNil(t, desk.Partner)
	pp, dp := pantry.Partner, desk.Partner
	decline := func(p *simulation.Partners, reason string) float64 {
		for _, d := range p.Decline {
			if d.Reason == reason {
				return d.P
			}
		}
		return 0
	}
	t.Logf("pantry: acknowledge %s mean %.2f h (KS p %.2f); decide %s median %.2f sigma %.3f; reach %.3f; no-show %.3f; service %s shape %.2f scale %.2f; slots %d",
		pp.AcknowledgeAfter.Kind, pp.AcknowledgeAfter.Mean, pp.AcknowledgeAfter.Fit.PValue, pp.DecideAfter.Kind, pp.DecideAfter.Median,
		pp.DecideAfter.Sigma, pp.Reach, pp.NoShow, pantry.ServiceTime.Kind, pantry.ServiceTime.Shape, pantry.ServiceTime.Scale, pantry.Capacity.Slots)
	t.Logf("desk: acknowledge mean %.2f h (%d of %d censored); reach %.3f; decline not-eligible %.3f",
		dp.AcknowledgeAfter.Mean, dp.AcknowledgeAfter.Fit.Censored, dp.AcknowledgeAfter.Fit.N+dp.AcknowledgeAfter.Fit.Censored, dp.Reach, decline(dp, "not-eligible"))
	require.Equal(t, simulation.Exponential, pp.AcknowledgeAfter.Kind)
	rel(8, pp.AcknowledgeAfter.Mean, 0.08, "pantry acknowledge")
	require.Equal(t, simulation.LogNormal, pp.DecideAfter.Kind)
	rel(12, pp.DecideAfter.Median, 0.08, "pantry decide median")
	rel(0.8, pp.DecideAfter.Sigma, 0.15, "pantry decide sigma")
	require.Equal(t, simulation.Exponential, dp.AcknowledgeAfter.Kind)
	rel(20, dp.AcknowledgeAfter.Mean, 0.12, "desk acknowledge (censored by its deadline)")
	require.Positive(t, dp.AcknowledgeAfter.Fit.Censored)
	rel(30, distMean(dp.DecideAfter), 0.08, "desk decide")
	rel(24, distMean(pp.ContactAfter), 0.08, "pantry contact")
	rel(12, distMean(dp.ContactAfter), 0.08, "desk contact")
	abs(0.1, decline(pp, "not-eligible"), 0.03, "pantry not-eligible")
	abs(0.05, decline(pp, "client-declined"), 0.03, "pantry client-declined")
	abs(0.2, decline(dp, "not-eligible"), 0.03, "desk not-eligible")
	abs(0.8, pp.Reach, 0.03, "pantry reach")
	abs(0.7, dp.Reach, 0.03, "desk reach")
	abs(0.1, pp.NoShow, 0.03, "pantry no-show")
	abs(0.05, dp.NoShow, 0.03, "desk no-show")
	require.NotNil(t, pp.Patience)
	rel(72, distMean(*pp.Patience), 0.25, "pantry patience")

	// Service times and capacity.
	require.Equal(t, simulation.Gamma, pantry.ServiceTime.Kind)
	rel(24, distMean(pantry.ServiceTime), 0.08, "pantry service time")
	rel(2, pantry.ServiceTime.Shape, 0.15, "pantry service shape")
	require.Equal(t, simulation.LogNormal, desk.ServiceTime.Kind)
	rel(30, desk.ServiceTime.Median, 0.08, "desk service median")
	require.Equal(t, 6, pantry.Capacity.Slots)
	require.Equal(t, 3, desk.Capacity.Slots)
	require.Positive(t, pantry.ServiceTime.Fit.N)

	// Policy.
	require.Equal(t, simulation.Duration(48*time.Hour), got.Policy.AcknowledgeWithin)
	require.Equal(t, simulation.Duration(96*time.Hour), got.Policy.AcceptWithin)
	require.NotNil(t, desk.Policy)
	require.Equal(t, simulation.Duration(24*time.Hour), *desk.Policy.AcknowledgeWithin)
	require.Equal(t, 1, got.Policy.MaxRereferrals)

	// The twin runs, and the calibrated scenario survives a round trip as JSON.
	data, err := json.Marshal(got)
	require.NoError(t, err)
	again, err := simulation.Parse(data)
	require.NoError(t, err)
	again.Duration = simulation.Duration(10 * 24 * time.Hour)
	again.Warmup = 0
	_, err = simulation.Run(context.Background(), again, simulation.Options{Seed: 1, Replications: 1})
	require.NoError(t, err)
	require.NotEmpty(t, got.Calibration.Estimates)
	require.NotEmpty(t, got.Calibration.Notes)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestCopyHistory: a history copied to another store calibrates the same.
func TestCopyHistory(t *testing.T) {
	sc := known()
	sc.Duration = simulation.Duration(20 * 24 * time.Hour)
	var direct, copied *simulation.Scenario
	_, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 2, Replications: 1,
		Inspect: func(_ int, st storage.Store, network referral.ID) error {
			ctx := context.Background()
			var err error
			if direct, err = calibrate.Calibrate(ctx, st, network, calibrate.Options{}); err != nil {
				return err
			}
			dst := memory.New()
			defer dst.Close()
			if err := calibrate.CopyHistory(ctx, dst, st, network); err != nil {
				return err
			}
			copied, err = calibrate.Calibrate(ctx, dst, network, calibrate.Options{})
			return err
		}})
	require.NoError(t, err)
	require.Equal(t, direct, copied)
}

func TestCalibrateRefuses(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	defer st.Close()
	network := referral.NewID()
	require.NoError(t, st.PutNetwork(ctx, referral.Network{ID: network, Name: "empty"}))
	_, err := calibrate.Calibrate(ctx, st, network, calibrate.Options{})
	require.ErrorIs(t, err, referral.ErrNotFound, "no referrals, nothing to calibrate")
	_, err = calibrate.Calibrate(ctx, st, referral.ID{}, calibrate.Options{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = calibrate.Calibrate(ctx, st, network, calibrate.Options{TimeZone: "Nowhere/Here"})
	require.ErrorIs(t, err, referral.ErrInvalid)

	// A history over the limit is refused, not read partly.
	sc := known()
	sc.Duration = simulation.Duration(5 * 24 * time.Hour)
	_, err = simulation.Run(ctx, sc, simulation.Options{Seed: 1, Replications: 1,
		Inspect: func(_ int, st storage.Store, network referral.ID) error {
			_, err := calibrate.Calibrate(ctx, st, network, calibrate.Options{MaxReferrals: 10})
			return err
		}})
	require.ErrorIs(t, err, referral.ErrInvalid)
}

// ExampleCalibrate simulates a month of a small network, calibrates a scenario
// from the history its store holds, as from any network's store, and reads
// the estimated parameters.
func ExampleCalibrate() {
	sc, err := simulation.Load("../../examples/simulation/scenario.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	sc.Duration = simulation.Duration(30 * 24 * time.Hour)
	var twin *simulation.Scenario
	_, err = simulation.Run(context.Background(), sc, simulation.Options{Seed: 1, Replications: 1,
		Inspect: func(_ int, st storage.Store, network referral.ID) error {
			twin, err = calibrate.Calibrate(context.Background(), st, network, calibrate.Options{MinSample: 50})
			return err
		}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range twin.Sites {
		fmt.Printf("site %s, %d hourly multipliers\n", s.Name, len(s.Hourly))
	}
	for _, s := range twin.Services {
		own := "the network's partners"
		if s.Partner != nil {
			own = "its own partner behaviour"
		}
		fmt.Printf("service %s: %s\n", s.Name, own)
	}
	// Output:
	// site Lakeside Family Clinic, 24 hourly multipliers
	// site Vista Emergency Department, 24 hourly multipliers
	// service North Shore Food Bank: its own partner behaviour
	// service Waukegan Pantry: its own partner behaviour
	// service Housing Help Desk: its own partner behaviour
	// service Ride Connect: its own partner behaviour
}

// TestPeriod: calibrating from part of the history reads only the referrals
// created in it, and the twin's arrival period is that part.
func TestPeriod(t *testing.T) {
	sc := known()
	sc.Duration = simulation.Duration(40 * 24 * time.Hour)
	from, to := sc.Start.Add(10*24*time.Hour), sc.Start.Add(25*24*time.Hour)
	var whole, part *simulation.Scenario
	_, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 3, Replications: 1,
		Inspect: func(_ int, st storage.Store, network referral.ID) error {
			var err error
			if whole, err = calibrate.Calibrate(context.Background(), st, network, calibrate.Options{}); err != nil {
				return err
			}
			part, err = calibrate.Calibrate(context.Background(), st, network, calibrate.Options{From: from, To: to})
			return err
		}})
	require.NoError(t, err)
	require.True(t, part.Start.Equal(from))
	require.Equal(t, simulation.Duration(15*24*time.Hour), part.Duration)
	require.Less(t, part.Calibration.Referrals, whole.Calibration.Referrals/2)
	require.InEpsilon(t, whole.Sites[1].RatePerDay, part.Sites[1].RatePerDay, 0.2, "the library's flat rate, from either period")
}
