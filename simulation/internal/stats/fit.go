package stats

import (
	"cmp"
	"math"
	"slices"
)

// Family is a family of distributions a sample of durations can be fitted to.
type Family string

// Families Fit chooses among.
const (
	Fixed       Family = "fixed"
	Exponential Family = "exponential"
	LogNormal   Family = "lognormal"
	Gamma       Family = "gamma"
)

// Fitted is a distribution fitted to a sample by maximum likelihood, with how
// well it fits.
type Fitted struct {
	Family Family
	// Parameters, by family: Value (fixed), Mean (exponential), Median and Sigma
	// (lognormal), Shape and Scale (gamma).
	Value, Mean, Median, Sigma, Shape, Scale float64
	// N is the number of complete observations, Censored the number of
	// right-censored ones (known only to exceed a time).
	N, Censored int
	// LogLik is the log-likelihood at the estimate and AIC = 2k − 2 LogLik.
	LogLik, AIC float64
	// KS is the Kolmogorov-Smirnov distance between the fitted distribution
	// function and the sample's (the Kaplan-Meier estimate when some
	// observations are censored); PValue its approximate p-value.
	KS, PValue float64
}

// CDF is the fitted distribution function.
func (f Fitted) CDF(x float64) float64 {
	switch f.Family {
	case Fixed:
		if x < f.Value {
			return 0
		}
		return 1
	case Exponential:
		if x <= 0 {
			return 0
		}
		return 1 - math.Exp(-x/f.Mean)
	case LogNormal:
		if x <= 0 {
			return 0
		}
		return NormalCDF((math.Log(x) - math.Log(f.Median)) / f.Sigma)
	case Gamma:
		if x <= 0 {
			return 0
		}
		return GammaP(f.Shape, x/f.Scale)
	}
	return math.NaN()
}

// Fit fits each family that applies to a sample of non-negative durations
// (complete observations obs, and right-censored ones cens: durations known
// only to exceed the value) and returns the one with the smallest AIC, with
// its goodness of fit. A sample whose complete observations are all equal and
// not censored is Fixed. The lognormal and gamma families need positive
// observations: with a zero among them only the exponential is fitted. ok is
// false when there is no complete observation.
func Fit(obs, cens []float64) (best Fitted, ok bool) {
	if len(obs) == 0 {
		return Fitted{}, false
	}
	lo, hi := slices.Min(obs), slices.Max(obs)
	if lo == hi && len(cens) == 0 {
		f := Fitted{Family: Fixed, Value: lo, N: len(obs)}
		f.PValue = 1
		return f, true
	}
	candidates := []Fitted{FitExponential(obs, cens)}
	if lo > 0 {
		candidates = append(candidates, FitLogNormal(obs, cens), FitGamma(obs, cens))
	}
	best = candidates[0]
	for _, c := range candidates[1:] {
		if !math.IsNaN(c.AIC) && c.AIC < best.AIC {
			best = c
		}
	}
	best.KS = kmDistance(obs, cens, best.CDF)
	best.PValue = KSPValue(best.KS, len(obs))
	return best, true
}

// FitExponential is the maximum-likelihood exponential: total time over the
// number of complete observations.
func FitExponential(obs, cens []float64) Fitted {
	total := sum(obs) + sum(cens)
	mean := total / float64(len(obs))
	if mean <= 0 {
		mean = math.SmallestNonzeroFloat64
	}
	ll := -float64(len(obs))*math.Log(mean) - total/mean
	return Fitted{Family: Exponential, Mean: mean, N: len(obs), Censored: len(cens), LogLik: ll, AIC: 2 - 2*ll}
}

// FitLogNormal is the maximum-likelihood lognormal; with censoring the
// likelihood is maximized numerically from the complete observations' estimate.
func FitLogNormal(obs, cens []float64) Fitted {
	logs := make([]float64, len(obs))
	for i, x := range obs {
		logs[i] = math.Log(x)
	}
	mu := sum(logs) / float64(len(logs))
	ss := 0.0
	for _, l := range logs {
		ss += (l - mu) * (l - mu)
	}
	sigma := math.Sqrt(ss / float64(len(logs)))
	if sigma == 0 {
		sigma = 1e-6
	}
	ll := func(mu, sigma float64) float64 {
		v := 0.0
		for _, l := range logs {
			z := (l - mu) / sigma
			v += -0.5*z*z - math.Log(sigma) - l - 0.5*math.Log(2*math.Pi)
		}
		for _, c := range cens {
			if c <= 0 {
				continue // every positive duration exceeds 0
			}
			v += logSF((math.Log(c) - mu) / sigma)
		}
		return v
	}
	if len(cens) > 0 {
		p := minimize(func(p [2]float64) float64 { return -ll(p[0], math.Exp(p[1])) }, [2]float64{mu, math.Log(sigma)})
		mu, sigma = p[0], math.Exp(p[1])
	}
	l := ll(mu, sigma)
	return Fitted{Family: LogNormal, Median: math.Exp(mu), Sigma: sigma, N: len(obs), Censored: len(cens), LogLik: l, AIC: 4 - 2*l}
}

// logSF is log(1 − Φ(z)), accurate in the far tail.
func logSF(z float64) float64 {
	if z < 5 {
		return math.Log(0.5 * math.Erfc(z/math.Sqrt2))
	}
	// Mills' ratio: 1 − Φ(z) ≈ φ(z)/z (1 − 1/z² + 3/z⁴).
	return -0.5*z*z - math.Log(z) - 0.5*math.Log(2*math.Pi) + math.Log(1-1/(z*z)+3/(z*z*z*z))
}

// FitGamma is the maximum-likelihood gamma: Newton's method on the shape for
// complete samples (from the Choi-Wette starting value), then, with censoring,
// a numerical maximization of the full likelihood from there.
func FitGamma(obs, cens []float64) Fitted {
	n := float64(len(obs))
	mean := sum(obs) / n
	logMean := 0.0
	for _, x := range obs {
		logMean += math.Log(x)
	}
	logMean /= n
	s := math.Log(mean) - logMean
	k := 1.0
	if s > 0 {
		k = (3 - s + math.Sqrt((s-3)*(s-3)+24*s)) / (12 * s)
		for range 50 {
			step := (math.Log(k) - Digamma(k) - s) / (1/k - Trigamma(k))
			next := k - step
			if next <= 0 {
				next = k / 2
			}
			if math.Abs(next-k) < 1e-12*k {
				k = next
				break
			}
			k = next
		}
	} else {
		k = 1e6 // no spread: a very peaked gamma
	}
	theta := mean / k
	ll := func(k, theta float64) float64 {
		lg, _ := math.Lgamma(k)
		v := 0.0
		for _, x := range obs {
			v += (k-1)*math.Log(x) - x/theta - lg - k*math.Log(theta)
		}
		for _, c := range cens {
			if c > 0 {
				v += math.Log(max(GammaQ(k, c/theta), 1e-300))
			}
		}
		return v
	}
	if len(cens) > 0 {
		p := minimize(func(p [2]float64) float64 { return -ll(math.Exp(p[0]), math.Exp(p[1])) }, [2]float64{math.Log(k), math.Log(theta)})
		k, theta = math.Exp(p[0]), math.Exp(p[1])
	}
	l := ll(k, theta)
	return Fitted{Family: Gamma, Shape: k, Scale: theta, N: len(obs), Censored: len(cens), LogLik: l, AIC: 4 - 2*l}
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// kmDistance is the largest distance between the Kaplan-Meier estimate of the
// distribution function (the empirical one when nothing is censored) and cdf,
// looked at on both sides of each jump.
func kmDistance(obs, cens []float64, cdf func(float64) float64) float64 {
	type point struct {
		t     float64
		event bool
	}
	pts := make([]point, 0, len(obs)+len(cens))
	for _, x := range obs {
		pts = append(pts, point{x, true})
	}
	for _, x := range cens {
		pts = append(pts, point{x, false})
	}
	// Events before censorings at the same time: a censored duration exceeded it.
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		if a.event == b.event {
			return 0
		}
		if a.event {
			return -1
		}
		return 1
	})
	at := len(pts)
	surv, d := 1.0, 0.0
	for i := 0; i < len(pts); {
		j, deaths := i, 0
		for j < len(pts) && pts[j].t == pts[i].t && pts[j].event {
			deaths++
			j++
		}
		if deaths > 0 {
			f := cdf(pts[i].t)
			before := 1 - surv
			surv *= 1 - float64(deaths)/float64(at)
			d = max(d, math.Abs(f-before), math.Abs(f-(1-surv)))
		}
		for j < len(pts) && pts[j].t == pts[i].t {
			j++ // censorings at this time
		}
		at -= j - i
		i = j
	}
	return d
}

// minimize finds a local minimum of f by the Nelder-Mead simplex method from x0.
func minimize(f func([2]float64) float64, x0 [2]float64) [2]float64 {
	simplex := [3][2]float64{x0, {x0[0] + 0.1, x0[1]}, {x0[0], x0[1] + 0.1}}
	var fv [3]float64
	for i := range simplex {
		fv[i] = f(simplex[i])
	}
	for range 1000 {
		// Order best, middle, worst.
		idx := [3]int{0, 1, 2}
		slices.SortFunc(idx[:], func(a, b int) int { return cmp.Compare(fv[a], fv[b]) })
		simplex = [3][2]float64{simplex[idx[0]], simplex[idx[1]], simplex[idx[2]]}
		fv = [3]float64{fv[idx[0]], fv[idx[1]], fv[idx[2]]}
		if math.Abs(fv[2]-fv[0]) < 1e-10*(1+math.Abs(fv[0])) {
			break
		}
		var c [2]float64
		for k := range 2 {
			c[k] = (simplex[0][k] + simplex[1][k]) / 2
		}
		at := func(t float64) [2]float64 {
			return [2]float64{c[0] + t*(simplex[2][0]-c[0]), c[1] + t*(simplex[2][1]-c[1])}
		}
		r := at(-1)
		fr := f(r)
		switch {
		case fr < fv[0]:
			e := at(-2)
			if fe := f(e); fe < fr {
				simplex[2], fv[2] = e, fe
			} else {
				simplex[2], fv[2] = r, fr
			}
		case fr < fv[1]:
			simplex[2], fv[2] = r, fr
		default:
			t := 0.5
			if fr < fv[2] {
				t = -0.5
			}
			k := at(t)
			if fk := f(k); fk < min(fr, fv[2]) {
				simplex[2], fv[2] = k, fk
				continue
			}
			for i := 1; i < 3; i++ {
				for d := range 2 {
					simplex[i][d] = simplex[0][d] + 0.5*(simplex[i][d]-simplex[0][d])
				}
				fv[i] = f(simplex[i])
			}
		}
	}
	best := 0
	for i := range fv {
		if fv[i] < fv[best] {
			best = i
		}
	}
	return simplex[best]
}
