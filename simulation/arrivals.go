package simulation

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// arrivals generates one site's arrival times: a Poisson process whose rate is
// constant within each local hour and between dated rate changes. It draws by
// inversion: each arrival takes one unit exponential from the site's own
// stream and walks the rate's integral forward until it is spent. So every
// arrival costs one draw whatever the profile, a site's arrivals never depend
// on other sites', and two arms whose rates differ see arrivals moved, not
// reshuffled.
type arrivals struct {
	start time.Time
	loc   *time.Location
	end   int64 // ns since start: no arrival at or after
	// perNs is the base rate per nanosecond; steps change it at their times.
	perNs  float64
	steps  []rateStep
	hourly [24]float64
	wday   [7]float64 // Monday first
	month  [12]float64
	trend  float64 // per nanosecond: the rate × (1 + trend × t)
	// flat is true when nothing varies the rate, so an arrival is one
	// exponential gap.
	flat bool
	r    *rand.Rand
}

// rateStep sets the base rate from a time on.
type rateStep struct {
	at    int64
	perNs float64
}

const nsPerDay = float64(24 * time.Hour)

func newArrivals(sc *Scenario, site int, loc *time.Location, r *rand.Rand) *arrivals {
	st := &sc.Sites[site]
	a := &arrivals{
		start: sc.Start, loc: loc, end: int64(sc.Duration), perNs: st.RatePerDay / nsPerDay,
		trend: st.TrendPerYear / (365 * nsPerDay), r: r,
	}
	fill := func(dst []float64, src []float64) {
		for i := range dst {
			dst[i] = 1
			if len(src) > 0 {
				dst[i] = src[i]
			}
		}
	}
	fill(a.hourly[:], st.Hourly)
	fill(a.wday[:], st.Weekday)
	fill(a.month[:], st.Monthly)
	for _, c := range sc.Changes {
		if c.Site == st.Name && c.RatePerDay != nil {
			a.steps = append(a.steps, rateStep{at: int64(c.At.Sub(sc.Start)), perNs: *c.RatePerDay / nsPerDay})
		}
	}
	slices.SortStableFunc(a.steps, func(x, y rateStep) int { return cmp.Compare(x.at, y.at) })
	a.flat = len(st.Hourly)+len(st.Weekday)+len(st.Monthly) == 0 && st.TrendPerYear == 0 && len(a.steps) == 0
	return a
}

// next returns the first arrival after t (ns since start), or false when there
// is none before the end.
func (a *arrivals) next(t int64) (int64, bool) {
	e := a.r.ExpFloat64()
	if a.flat {
		t += int64(e / a.perNs)
		return t, t < a.end
	}
	for t < a.end {
		segEnd, rate := a.segment(t)
		if rate > 0 {
			if gap := e / rate; float64(t)+gap < float64(segEnd) {
				return t + int64(gap), true
			}
			e -= rate * float64(segEnd-t)
		}
		t = segEnd
	}
	return 0, false
}

// segment returns the end of the stretch from t over which the rate is
// constant (the next local hour, rate change or the end) and that rate per ns.
func (a *arrivals) segment(t int64) (int64, float64) {
	local := a.start.Add(time.Duration(t)).In(a.loc)
	into := time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	end := t + int64(time.Hour-into)
	hourStart := t - int64(into)
	base := a.perNs
	for _, s := range a.steps {
		if s.at > t {
			end = min(end, s.at)
			break
		}
		base = s.perNs
	}
	end = min(end, a.end)
	rate := base * a.hourly[local.Hour()] * a.wday[(int(local.Weekday())+6)%7] * a.month[local.Month()-1] *
		math.Max(0, 1+a.trend*float64(max(hourStart, 0)))
	return end, rate
}
