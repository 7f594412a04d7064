// Package plot draws a simulation report's charts, and an experiment's, as
// PNG files meant to be read: every estimate with its 95% interval (a band
// around a line, whiskers on a bar), the warm-up marked, axes from zero where
// a quantity starts there (rates and probabilities from 0 to 1), services by
// name. It is apart from package simulation so that a program that runs
// simulations, or only writes their metrics.json and CSV tables, links no chart
// library.
//
// # Dependencies
//
// Outside the standard library, plot links gonum.org/v1/plot (and the fonts and
// image libraries it brings) and what refkit's simulation links:
// github.com/uber/h3-go/v4 (cgo), github.com/expr-lang/expr,
// github.com/qmuntal/stateless, github.com/google/uuid and
// the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace).
package plot

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/experiment"
)

// Files written by Write.
const (
	ClosureFile     = "closure_over_time.png"
	OccupancyFile   = "occupancy_over_time.png"
	UtilisationFile = "utilisation.png"
	WaitingFile     = "waiting.png"
	UnmetFile       = "unmet_by_domain.png"
)

// Files written by WriteExperiment.
const (
	ArmsFile        = "arms.png"
	DifferencesFile = "differences.png"
)

// TopServices is how many services the utilisation and waiting charts show:
// the busiest (or most waited for). Past a few dozen the bars say nothing the
// CSV does not.
const TopServices = 20

// Colours; the bands and the warm-up shade are translucent (NRGBA: not
// premultiplied by alpha).
var (
	blue       = color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	blueBand   = color.NRGBA{R: 31, G: 119, B: 180, A: 60}
	orange     = color.NRGBA{R: 230, G: 120, B: 20, A: 255}
	orangeBand = color.NRGBA{R: 230, G: 120, B: 20, A: 60}
	warmGrey   = color.NRGBA{R: 120, G: 120, B: 120, A: 45}
	barFill    = color.NRGBA{R: 140, G: 180, B: 215, A: 255}
)

// plainTicks labels ticks with as many digits as their values need ("2500",
// "0.5"), not the default fixed two decimals.
type plainTicks struct{}

// Ticks returns gonum's default ticks, relabelled.
func (plainTicks) Ticks(lo, hi float64) []gonum.Tick {
	ts := gonum.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

// newPlot is a plot with plain tick labels.
func newPlot() *gonum.Plot {
	p := gonum.New()
	p.X.Tick.Marker, p.Y.Tick.Marker = plainTicks{}, plainTicks{}
	return p
}

// Write puts the report's charts in dir, creating it: ClosureFile (the
// loop-closure rate by creation date), OccupancyFile (people in service and
// waiting over time, all services together), UtilisationFile and WaitingFile
// (the TopServices capacity-limited services by utilisation and by the
// probability of waiting) and UnmetFile (unmet needs per replication by
// domain). A chart with no data is drawn with its axes only, so the set of
// files does not depend on the run.
func Write(dir string, r *simulation.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, chart := range []struct {
		file string
		draw func(*simulation.Report) (*gonum.Plot, vg.Length, vg.Length, error)
	}{
		{ClosureFile, closure}, {OccupancyFile, occupancy}, {UtilisationFile, utilisation}, {WaitingFile, waiting}, {UnmetFile, unmet},
	} {
		p, w, h, err := chart.draw(r)
		if err != nil {
			return fmt.Errorf("plot: %s: %w", chart.file, err)
		}
		if err := p.Save(w, h, filepath.Join(dir, chart.file)); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}

func days(r *simulation.Report, b simulation.BucketStat) float64 {
	return b.Start.Sub(r.Start).Hours() / 24
}

// warmup shades the warm-up on a time chart from 0 to top.
func warmup(p *gonum.Plot, r *simulation.Report, top float64) error {
	if r.WarmupHours <= 0 {
		return nil
	}
	w := r.WarmupHours / 24
	shade, err := plotter.NewPolygon(plotter.XYs{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: top}, {X: 0, Y: top}})
	if err != nil {
		return err
	}
	shade.Color = warmGrey
	shade.LineStyle.Width = 0
	label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: w / 2, Y: top * 0.95}}, Labels: []string{"warm-up"}})
	if err != nil {
		return err
	}
	label.TextStyle[0].XAlign = draw.XCenter
	p.Add(shade, label)
	return nil
}

// band adds a line for the means and a shaded band for their intervals.
func band(p *gonum.Plot, xs []float64, stats []simulation.Stat, line, fill color.Color, name string) error {
	if len(xs) == 0 {
		return nil
	}
	mean := make(plotter.XYs, len(xs))
	poly := make(plotter.XYs, 0, 2*len(xs))
	for i, x := range xs {
		mean[i] = plotter.XY{X: x, Y: stats[i].Mean}
		poly = append(poly, plotter.XY{X: x, Y: stats[i].Low})
	}
	for i := len(xs) - 1; i >= 0; i-- {
		poly = append(poly, plotter.XY{X: xs[i], Y: stats[i].High})
	}
	if len(xs) > 1 {
		b, err := plotter.NewPolygon(poly)
		if err != nil {
			return err
		}
		b.Color = fill
		b.LineStyle.Width = 0
		p.Add(b)
	}
	l, err := plotter.NewLine(mean)
	if err != nil {
		return err
	}
	l.Color = line
	l.Width = vg.Points(1.5)
	p.Add(l)
	if name != "" {
		p.Legend.Add(name+" (95% band)", l)
	}
	return nil
}

func closure(r *simulation.Report) (*gonum.Plot, vg.Length, vg.Length, error) {
	p := newPlot()
	p.Title.Text = "Loop closure rate by creation date (mean, 95% band)"
	p.X.Label.Text = "days from start"
	p.Y.Label.Text = "share of referrals completed"
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Min, p.X.Max = 0, r.DurationHours/24
	if err := warmup(p, r, 1); err != nil {
		return nil, 0, 0, err
	}
	var xs []float64
	var st []simulation.Stat
	for _, b := range r.ClosureOverTime {
		if b.ClosureRate.N > 0 {
			xs, st = append(xs, days(r, simulation.BucketStat{Start: b.Start})), append(st, b.ClosureRate)
		}
	}
	if err := band(p, xs, st, blue, blueBand, ""); err != nil {
		return nil, 0, 0, err
	}
	return p, 8 * vg.Inch, 4 * vg.Inch, nil
}

func occupancy(r *simulation.Report) (*gonum.Plot, vg.Length, vg.Length, error) {
	p := newPlot()
	p.Title.Text = "People in service and waiting, all services (time average per bucket)"
	p.X.Label.Text = "days from start"
	p.Y.Label.Text = "people"
	p.Y.Min = 0
	p.X.Min, p.X.Max = 0, r.DurationHours/24
	p.Legend.Top = true
	var xs []float64
	var busy, queue []simulation.Stat
	top := 1.0
	if len(r.Occupancy) > 0 {
		for _, b := range r.Occupancy[0].Buckets {
			xs = append(xs, b.Start.Sub(r.Start).Hours()/24)
			busy, queue = append(busy, b.Busy), append(queue, b.Queue)
			top = max(top, b.Busy.High, b.Queue.High)
		}
	}
	p.Y.Max = top * 1.1
	if err := warmup(p, r, p.Y.Max); err != nil {
		return nil, 0, 0, err
	}
	if err := band(p, xs, busy, blue, blueBand, "in service"); err != nil {
		return nil, 0, 0, err
	}
	if err := band(p, xs, queue, orange, orangeBand, "waiting"); err != nil {
		return nil, 0, 0, err
	}
	return p, 8 * vg.Inch, 4 * vg.Inch, nil
}

// bar is one labelled value with its interval.
type bar struct {
	name string
	s    simulation.Stat
}

// barsOf draws horizontal bars with 95% whiskers, the first bar at the top,
// the axis from 0 to at least max.
func barsOf(title, xlabel string, bars []bar, axisMax float64) (*gonum.Plot, vg.Length, vg.Length, error) {
	p := newPlot()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.X.Min, p.X.Max = 0, axisMax
	height := max(3*vg.Inch, 2*vg.Inch+vg.Length(len(bars))*vg.Points(18))
	if len(bars) == 0 {
		return p, 9 * vg.Inch, height, nil
	}
	n := len(bars)
	vals := make(plotter.Values, n)
	names := make([]string, n)
	pts := make(plotter.XYs, n)
	errs := make(plotter.XErrors, n)
	for i, b := range bars {
		j := n - 1 - i // the first bar on top
		vals[j], names[j] = b.s.Mean, b.name
		pts[j] = plotter.XY{X: b.s.Mean, Y: float64(j)}
		errs[j].Low, errs[j].High = math.Max(0, b.s.Mean-b.s.Low), math.Max(0, b.s.High-b.s.Mean)
		p.X.Max = math.Max(p.X.Max, b.s.High*1.05)
	}
	bc, err := plotter.NewBarChart(vals, vg.Points(12))
	if err != nil {
		return nil, 0, 0, err
	}
	bc.Horizontal = true
	bc.Color = barFill
	bc.LineStyle.Width = 0
	whiskers, err := plotter.NewXErrorBars(struct {
		plotter.XYs
		plotter.XErrors
	}{pts, errs})
	if err != nil {
		return nil, 0, 0, err
	}
	whiskers.CapWidth = vg.Points(6)
	p.Add(bc, whiskers)
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4 // room for the title above the top bar
	return p, 9 * vg.Inch, height, nil
}

func utilisation(r *simulation.Report) (*gonum.Plot, vg.Length, vg.Length, error) {
	var bars []bar
	for _, s := range r.Services {
		if s.Utilisation != nil {
			bars = append(bars, bar{s.Name, *s.Utilisation})
		}
	}
	slices.SortStableFunc(bars, func(a, b bar) int { return cmp.Compare(b.s.Mean, a.s.Mean) })
	bars = bars[:min(len(bars), TopServices)]
	return barsOf(fmt.Sprintf("Utilisation: the %d busiest services with limited capacity (95%% whiskers)", len(bars)),
		"share of slot time in use, after warm-up", bars, 1)
}

func waiting(r *simulation.Report) (*gonum.Plot, vg.Length, vg.Length, error) {
	var bars []bar
	for _, s := range r.Services {
		if s.PWait != nil {
			bars = append(bars, bar{s.Name, *s.PWait})
		}
	}
	slices.SortStableFunc(bars, func(a, b bar) int { return cmp.Compare(b.s.Mean, a.s.Mean) })
	bars = bars[:min(len(bars), TopServices)]
	return barsOf(fmt.Sprintf("Probability of waiting once reached: the %d services most waited for (95%% whiskers)", len(bars)),
		"share of people reached who joined the waitlist, after warm-up", bars, 1)
}

func unmet(r *simulation.Report) (*gonum.Plot, vg.Length, vg.Length, error) {
	var bars []bar
	for _, d := range slices.Sorted(maps.Keys(r.UnmetByDomain)) {
		bars = append(bars, bar{d, r.UnmetByDomain[d]})
	}
	return barsOf("Unmet needs by domain (mean per replication, 95% whiskers)", "needs that ended without service", bars, 1)
}

// WriteExperiment puts an experiment's charts in dir, creating it: ArmsFile
// (each arm's loop-closure rate and unmet needs with their intervals) and
// DifferencesFile (each arm minus the baseline, paired by replication, with
// 95% intervals and zero marked: loop closure in percentage points, unmet
// needs, and hours from sending to completion).
func WriteExperiment(dir string, res *experiment.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var closure, unmet []bar
	for _, a := range res.Arms {
		closure = append(closure, bar{a.Name, a.Report.LoopClosureRate})
		var xs []float64
		for i := range a.Report.Runs {
			for _, m := range a.Report.Runs[i].Measures() {
				if m.Metric == "unmet_needs" {
					xs = append(xs, m.Value)
				}
			}
		}
		unmet = append(unmet, bar{a.Name, simulation.StatOf(xs, simulation.NonNegative)})
	}
	top, _, h1, err := barsOf("Loop closure rate by arm (95% whiskers)", "share of referrals completed", closure, 1)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	bottom, _, h2, err := barsOf("Unmet needs by arm (mean per replication, 95% whiskers)", "needs that ended without service", unmet, 1)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := stack(filepath.Join(dir, ArmsFile), 9*vg.Inch, []*gonum.Plot{top, bottom}, []vg.Length{h1, h2}); err != nil {
		return err
	}
	var plots []*gonum.Plot
	var heights []vg.Length
	for _, m := range []struct {
		metric, title, unit string
		scale               float64
	}{
		{"loop_closure_rate", "Loop closure", "percentage points", 100},
		{"unmet_needs", "Unmet needs", "needs per replication", 1},
		{"time_to_complete_mean_hours", "Mean time from sending to completion", "hours", 1},
	} {
		var bars []bar
		for _, a := range res.Arms[1:] {
			if d, ok := res.Find(a.Name, m.metric, ""); ok {
				s := d.Diff
				bars = append(bars, bar{a.Name, simulation.Stat{Mean: s.Mean * m.scale, Low: s.Low * m.scale, High: s.High * m.scale, N: s.N}})
			}
		}
		p, h, err := differences(fmt.Sprintf("%s: each arm minus %q (paired, 95%% interval)", m.title, res.Baseline), m.unit, bars)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		plots, heights = append(plots, p), append(heights, h)
	}
	return stack(filepath.Join(dir, DifferencesFile), 9*vg.Inch, plots, heights)
}

// differences draws points with whiskers around zero, marked by a line.
func differences(title, unit string, bars []bar) (*gonum.Plot, vg.Length, error) {
	p := newPlot()
	p.Title.Text = title
	p.X.Label.Text = "difference, " + unit
	height := 1.5*vg.Inch + vg.Length(max(len(bars), 1))*vg.Points(22)
	reach := 0.0
	for _, b := range bars {
		reach = math.Max(reach, math.Max(math.Abs(b.s.Low), math.Abs(b.s.High)))
	}
	if reach == 0 {
		reach = 1
	}
	p.X.Min, p.X.Max = -reach*1.1, reach*1.1
	n := len(bars)
	zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(max(n, 1)) - 0.5}})
	if err != nil {
		return nil, 0, err
	}
	zero.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(zero)
	if n == 0 {
		return p, height, nil
	}
	pts := make(plotter.XYs, n)
	errs := make(plotter.XErrors, n)
	names := make([]string, n)
	for i, b := range bars {
		j := n - 1 - i
		names[j] = b.name
		pts[j] = plotter.XY{X: b.s.Mean, Y: float64(j)}
		errs[j].Low, errs[j].High = math.Max(0, b.s.Mean-b.s.Low), math.Max(0, b.s.High-b.s.Mean)
	}
	whiskers, err := plotter.NewXErrorBars(struct {
		plotter.XYs
		plotter.XErrors
	}{pts, errs})
	if err != nil {
		return nil, 0, err
	}
	whiskers.CapWidth = vg.Points(8)
	whiskers.Width = vg.Points(1.5)
	dots, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, 0, err
	}
	dots.GlyphStyle.Radius = vg.Points(3.5)
	dots.GlyphStyle.Shape = draw.CircleGlyph{}
	dots.GlyphStyle.Color = blue
	p.Add(whiskers, dots)
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	return p, height, nil
}

// stack draws plots one above the other into one PNG file.
func stack(path string, width vg.Length, plots []*gonum.Plot, heights []vg.Length) error {
	total := vg.Length(0)
	for _, h := range heights {
		total += h
	}
	img := vgimg.New(width, total)
	dc := draw.New(img)
	top := total
	for i, p := range plots {
		c := draw.Canvas{Canvas: dc, Rectangle: vg.Rectangle{Min: vg.Point{X: 0, Y: top - heights[i]}, Max: vg.Point{X: width, Y: top}}}
		p.Draw(c)
		top -= heights[i]
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: %w", err)
	}
	return f.Close()
}
