// Package stats holds the statistics the simulation, its experiments and its
// calibration share: confidence intervals that stay within the range of the
// quantity they describe, the distribution functions goodness-of-fit tests
// need, and small fitting routines. It is internal: what a caller sees is the
// simulation's own types.
package stats

import (
	"math"
	"slices"
)

// Z975 is the 0.975 quantile of the standard normal distribution.
const Z975 = 1.959963984540054

// t975 are the 0.975 quantiles of Student's t for 1 to 30 degrees of freedom.
var t975 = [...]float64{
	12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
}

// T975 returns the 0.975 quantile of Student's t with df degrees of freedom
// (df ≥ 1): tabulated to 30, then the Cornish-Fisher expansion around the
// normal, accurate to 1e-4 there.
func T975(df int) float64 {
	if df <= len(t975) {
		return t975[max(df, 1)-1]
	}
	z := Z975
	v := float64(df)
	return z + (z*z*z+z)/(4*v) + (5*z*z*z*z*z+16*z*z*z+3*z)/(96*v*v)
}

// Scale says which transformation an interval is computed on, so that it
// respects the range of its quantity.
type Scale uint8

// Scales.
const (
	// Linear is the plain Student t interval: for quantities of any sign, such as
	// the difference between two arms.
	Linear Scale = iota
	// Log is for quantities that cannot be negative (counts, times, lengths):
	// the interval is computed for the log of the mean by the delta method
	// (standard error of the mean over the mean) and transformed back, so its
	// lower end is above zero whenever the mean is.
	Log
	// Logit is for proportions: the interval is computed for the logit of the
	// mean by the delta method (standard error over mean × (1 − mean)) and
	// transformed back, so it stays within [0, 1].
	Logit
)

// maxDelta is the largest half-width, on the transformed scale, at which the
// delta method's linearization is trusted: a factor of e either side of the
// mean on the log scale. Beyond it (a few replications that differ
// wildly, counts of 0 and 1) the transformed interval balloons, and the plain
// interval cut at the range's ends is given instead.
const maxDelta = 1.0

// Mean returns the mean of xs and a 95% confidence interval for it on the
// given scale, from the values' own spread (Student t with len(xs)−1 degrees
// of freedom). With fewer than two values, or values that do not vary, the
// interval is the mean itself. The values are the replications of one
// quantity, which are independent. On the Log and Logit scales the interval
// is transformed (see Scale) while the delta method holds (half-width at most
// maxDelta on the transformed scale); otherwise, and at the boundary (a mean
// of 0, or of 0 or 1 for a proportion), it is the plain interval cut at the
// ends of the range, which drops only values the quantity cannot take.
func Mean(xs []float64, scale Scale) (mean, low, high float64) {
	n := len(xs)
	if n == 0 {
		return 0, 0, 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	mean = sum / float64(n)
	if n == 1 {
		return mean, mean, mean
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	se := math.Sqrt(ss / float64(n-1) / float64(n))
	if se == 0 || math.IsNaN(se) {
		return mean, mean, mean
	}
	t := T975(n - 1)
	low, high = mean-t*se, mean+t*se
	switch scale {
	case Log:
		if h := t * se / mean; mean > 0 && h <= maxDelta {
			f := math.Exp(h)
			return mean, mean / f, mean * f
		}
		return mean, max(0, low), high
	case Logit:
		if mean > 0 && mean < 1 {
			if h := t * se / (mean * (1 - mean)); h <= maxDelta {
				l := math.Log(mean / (1 - mean))
				return mean, logistic(l - h), logistic(l + h)
			}
		}
		return mean, max(0, low), min(1, high)
	}
	return mean, low, high
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Wilson returns the Wilson score interval at 95% for k successes in n
// independent trials; [0, 1] when n is 0.
func Wilson(k, n int) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	z := Z975
	p := float64(k) / float64(n)
	nf := float64(n)
	d := 1 + z*z/nf
	c := (p + z*z/(2*nf)) / d
	h := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / d
	return max(0, c-h), min(1, c+h)
}

// NormalCDF is the standard normal distribution function.
func NormalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// GammaP is the regularized lower incomplete gamma function P(a, x) for a > 0,
// x ≥ 0: the distribution function of a gamma variable of shape a and scale 1.
// A series converges for x < a+1 and a continued fraction (modified Lentz)
// beyond, each to about 1e-14.
func GammaP(a, x float64) float64 {
	switch {
	case a <= 0 || math.IsNaN(x):
		return math.NaN()
	case x <= 0:
		return 0
	case math.IsInf(x, 1):
		return 1
	case x < a+1:
		return gammaSeries(a, x)
	}
	return 1 - gammaFraction(a, x)
}

// GammaQ is 1 − GammaP(a, x), computed without cancellation in the tail.
func GammaQ(a, x float64) float64 {
	switch {
	case a <= 0 || math.IsNaN(x):
		return math.NaN()
	case x <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	case x < a+1:
		return 1 - gammaSeries(a, x)
	}
	return gammaFraction(a, x)
}

func logPrefix(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	return a*math.Log(x) - x - lg
}

func gammaSeries(a, x float64) float64 {
	term := 1 / a
	sum := term
	for n := 1; n < 10_000; n++ {
		term *= x / (a + float64(n))
		sum += term
		if math.Abs(term) < math.Abs(sum)*1e-15 {
			break
		}
	}
	return sum * math.Exp(logPrefix(a, x))
}

func gammaFraction(a, x float64) float64 {
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10_000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		h *= delta
		if math.Abs(delta-1) < 1e-15 {
			break
		}
	}
	return math.Exp(logPrefix(a, x)) * h
}

// ChiSquareSF is the probability that a chi-square variable with df degrees of
// freedom exceeds x: the p-value of a chi-square statistic.
func ChiSquareSF(x float64, df int) float64 {
	if df <= 0 {
		return math.NaN()
	}
	return GammaQ(float64(df)/2, x/2)
}

// KolmogorovSF is the limiting probability that √n times the Kolmogorov-Smirnov
// statistic exceeds lambda: 2 Σ (−1)^(k−1) exp(−2 k² λ²).
func KolmogorovSF(lambda float64) float64 {
	if lambda <= 0 {
		return 1
	}
	if lambda < 0.2 {
		return 1 // the series converges slowly here, and the value is 1 to 1e-9
	}
	sum := 0.0
	sign := 1.0
	for k := 1; k <= 100; k++ {
		term := sign * math.Exp(-2*float64(k*k)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-16 {
			break
		}
		sign = -sign
	}
	return min(1, max(0, 2*sum))
}

// KSPValue is the approximate p-value of a Kolmogorov-Smirnov statistic d from
// n observations, with Stephens' small-sample correction. With parameters
// estimated from the same data the test is conservative: the p-value is an
// upper bound.
func KSPValue(d float64, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	sn := math.Sqrt(float64(n))
	return KolmogorovSF((sn + 0.12 + 0.11/sn) * d)
}

// KS returns the Kolmogorov-Smirnov statistic of a sample against the
// distribution function cdf: the largest distance between the sample's
// empirical distribution function and cdf. It sorts xs.
func KS(xs []float64, cdf func(float64) float64) float64 {
	slices.Sort(xs)
	n := float64(len(xs))
	d := 0.0
	for i, x := range xs {
		f := cdf(x)
		d = max(d, float64(i+1)/n-f, f-float64(i)/n)
	}
	return d
}

// Digamma is the derivative of log Γ, for x > 0.
func Digamma(x float64) float64 {
	r := 0.0
	for x < 10 {
		r -= 1 / x
		x++
	}
	f := 1 / (x * x)
	return r + math.Log(x) - 0.5/x - f*(1.0/12-f*(1.0/120-f*(1.0/252-f*(1.0/240-f/132))))
}

// Trigamma is the derivative of Digamma, for x > 0.
func Trigamma(x float64) float64 {
	r := 0.0
	for x < 10 {
		r += 1 / (x * x)
		x++
	}
	f := 1 / (x * x)
	return r + 1/x + f/2 + f/x*(1.0/6-f*(1.0/30-f*(1.0/42-f/30)))
}
