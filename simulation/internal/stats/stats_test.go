package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFunctionsAgainstKnownValues(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"t 1 df", T975(1), 12.706, 1e-9},
		{"t 60 df", T975(60), 2.000298, 1e-4},
		{"t 1000 df", T975(1000), 1.962339, 1e-4},
		{"P(1, x) is the exponential cdf", GammaP(1, 2.5), 1 - math.Exp(-2.5), 1e-13},
		{"P(1/2, x) is erf(√x)", GammaP(0.5, 3), math.Erf(math.Sqrt(3)), 1e-13},
		{"P(5, 2) by the series", GammaP(5, 2), 0.052653017343711125, 1e-13},
		{"Q(5, 12) by the fraction", GammaQ(5, 12), 0.007600390681067, 1e-13},
		{"chi-square 1 df at 3.841", ChiSquareSF(3.841458820694124, 1), 0.05, 1e-10},
		{"chi-square 10 df at 18.307", ChiSquareSF(18.307038053275146, 10), 0.05, 1e-10},
		{"Kolmogorov at 1.3581", KolmogorovSF(1.358098), 0.05, 1e-5},
		{"Kolmogorov at 1.6276", KolmogorovSF(1.627624), 0.01, 1e-5},
		{"digamma(1) = −γ", Digamma(1), -0.5772156649015329, 1e-12},
		{"digamma(0.5)", Digamma(0.5), -1.9635100260214235, 1e-12},
		{"trigamma(1) = π²/6", Trigamma(1), math.Pi * math.Pi / 6, 1e-12},
		{"trigamma(3.5) = π²/2 − 4(1 + 1/9 + 1/25)", Trigamma(3.5), math.Pi*math.Pi/2 - 4*(1+1.0/9+1.0/25), 1e-12},
		{"normal cdf at 1.96", NormalCDF(Z975), 0.975, 1e-12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, tc.got, tc.tol)
		})
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		name           string
		k, n           int
		wantLo, wantHi float64
	}{
		// Reference values from the closed form (Newcombe 1998, table I).
		{"81 of 263", 81, 263, 0.2553, 0.3662},
		{"none of 10", 0, 10, 0, 0.2775},
		{"all of 10", 10, 10, 0.7225, 1},
		{"no trials", 0, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := Wilson(tc.k, tc.n)
			require.InDelta(t, tc.wantLo, lo, 1e-4)
			require.InDelta(t, tc.wantHi, hi, 1e-4)
		})
	}
}

func TestMeanRespectsTheRange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		xs    []float64
		scale Scale
		lo    float64
		hi    float64
	}{
		{"counts near zero stay above zero", []float64{0, 0, 1, 0, 3}, Log, 0, math.Inf(1)},
		{"proportions near zero stay in [0,1]", []float64{0, 0.01, 0, 0.02}, Logit, 0, 1},
		{"proportions near one stay in [0,1]", []float64{1, 0.99, 1, 0.97}, Logit, 0, 1},
		{"differences may be negative", []float64{-2, 1, -3, 0.5}, Linear, math.Inf(-1), math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, lo, hi := Mean(tc.xs, tc.scale)
			require.LessOrEqual(t, lo, m)
			require.GreaterOrEqual(t, hi, m)
			require.GreaterOrEqual(t, lo, tc.lo)
			require.LessOrEqual(t, hi, tc.hi)
			require.Less(t, lo, hi)
		})
	}
	// Two replications of 0 and 1: the log interval would span five orders of
	// magnitude; the plain interval cut at zero is given.
	m, lo, hi := Mean([]float64{0, 1}, Log)
	require.Equal(t, 0.5, m)
	require.Equal(t, 0.0, lo)
	require.InDelta(t, 0.5+12.706*0.5, hi, 1e-9)
	m, lo, hi = Mean([]float64{0.01, 0, 0.02, 0}, Logit)
	require.InDelta(t, 0.0075, m, 1e-12)
	require.Equal(t, 0.0, lo, "near 0 with spread: cut at 0")
	require.Less(t, hi, 0.05)
	m, lo, hi = Mean([]float64{0, 0, 0}, Log)
	require.Equal(t, [3]float64{0, 0, 0}, [3]float64{m, lo, hi}, "all zero: no spread to show")
	m, lo, hi = Mean([]float64{4}, Linear)
	require.Equal(t, [3]float64{4, 4, 4}, [3]float64{m, lo, hi})
}

// TestMeanCoverage checks that the transformed intervals keep their promise:
// over many independent experiments of 8 replications each, about 95% of the
// intervals contain the true mean. 4,000 experiments give a standard error of
// 0.34 percentage points on the coverage.
func TestMeanCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		scale Scale
		truth float64
		draw  func() float64
	}{
		{"Poisson counts, mean 40", Log, 40, func() float64 { return float64(poisson(r, 40)) }},
		{"exponential times, mean 3", Log, 3, func() float64 {
			s := 0.0
			for range 50 {
				s += 3 * r.ExpFloat64()
			}
			return s / 50
		}},
		{"binomial proportions, p 0.1 of 400", Logit, 0.1, func() float64 {
			k := 0
			for range 400 {
				if r.Float64() < 0.1 {
					k++
				}
			}
			return float64(k) / 400
		}},
		{"normal differences", Linear, -1, func() float64 { return -1 + 2*r.NormFloat64() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const trials, reps = 4000, 8
			covered := 0
			xs := make([]float64, reps)
			for range trials {
				for i := range xs {
					xs[i] = tc.draw()
				}
				_, lo, hi := Mean(xs, tc.scale)
				if lo <= tc.truth && tc.truth <= hi {
					covered++
				}
			}
			coverage := float64(covered) / trials
			t.Logf("coverage %.4f", coverage)
			require.InDelta(t, 0.95, coverage, 0.015)
		})
	}
}

func poisson(r *rand.Rand, mean float64) int {
	// Knuth's method: fine for the moderate means used here.
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func TestKSDetectsTheWrongDistribution(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([]float64, 2000)
	for i := range xs {
		xs[i] = r.ExpFloat64()
	}
	right := KS(append([]float64(nil), xs...), func(x float64) float64 { return 1 - math.Exp(-x) })
	wrong := KS(append([]float64(nil), xs...), func(x float64) float64 { return 1 - math.Exp(-x/1.3) })
	require.Greater(t, KSPValue(right, len(xs)), 0.01)
	require.Less(t, KSPValue(wrong, len(xs)), 1e-6)
}

func TestFitRecoversParameters(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	gamma := func(k, theta float64) float64 {
		// Marsaglia and Tsang, shape ≥ 1.
		d := k - 1.0/3
		c := 1 / math.Sqrt(9*d)
		for {
			x := r.NormFloat64()
			v := 1 + c*x
			if v <= 0 {
				continue
			}
			v = v * v * v
			u := r.Float64()
			if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
				return d * v * theta
			}
		}
	}
	for _, tc := range []struct {
		name   string
		draw   func() float64
		censor float64 // observations above this are censored there; 0: none
		want   Fitted
		tol    float64
	}{
		{"exponential", func() float64 { return 12 * r.ExpFloat64() }, 0, Fitted{Family: Exponential, Mean: 12}, 0.05},
		{"exponential censored at 20", func() float64 { return 12 * r.ExpFloat64() }, 20, Fitted{Family: Exponential, Mean: 12}, 0.05},
		{"lognormal", func() float64 { return 12 * math.Exp(0.8*r.NormFloat64()) }, 0, Fitted{Family: LogNormal, Median: 12, Sigma: 0.8}, 0.05},
		{"lognormal censored at 30", func() float64 { return 12 * math.Exp(0.8*r.NormFloat64()) }, 30, Fitted{Family: LogNormal, Median: 12, Sigma: 0.8}, 0.05},
		{"gamma", func() float64 { return gamma(3, 4) }, 0, Fitted{Family: Gamma, Shape: 3, Scale: 4}, 0.08},
		{"gamma censored at 20", func() float64 { return gamma(3, 4) }, 20, Fitted{Family: Gamma, Shape: 3, Scale: 4}, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obs, cens []float64
			for range 5000 {
				x := tc.draw()
				if tc.censor > 0 && x > tc.censor {
					cens = append(cens, tc.censor)
					continue
				}
				obs = append(obs, x)
			}
			got, ok := Fit(obs, cens)
			require.True(t, ok)
			require.Equal(t, tc.want.Family, got.Family)
			rel := func(want, got float64) { require.InEpsilon(t, want, got, tc.tol) }
			switch got.Family {
			case Exponential:
				rel(tc.want.Mean, got.Mean)
			case LogNormal:
				rel(tc.want.Median, got.Median)
				rel(tc.want.Sigma, got.Sigma)
			case Gamma:
				rel(tc.want.Shape, got.Shape)
				rel(tc.want.Scale, got.Scale)
			}
			require.Equal(t, len(obs), got.N)
			require.Equal(t, len(cens), got.Censored)
			require.Greater(t, got.PValue, 0.001, "KS %.4f", got.KS)
		})
	}
	fixed, ok := Fit([]float64{2, 2, 2}, nil)
	require.True(t, ok)
	require.Equal(t, Fitted{Family: Fixed, Value: 2, N: 3, PValue: 1}, fixed)
	_, ok = Fit(nil, []float64{1})
	require.False(t, ok)
	withZero, ok := Fit([]float64{0, 1, 2, 3}, nil)
	require.True(t, ok)
	require.Equal(t, Exponential, withZero.Family, "a zero rules out the lognormal and gamma")
}
