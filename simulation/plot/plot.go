// Package plot draws a simulation report's charts as PNG files: loop closure
// over time, utilisation per service and unmet needs by domain. It is apart from
// package simulation so that a program that runs simulations, or only writes
// their metrics.json and CSV tables, links no chart library.
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
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/refkit/refkit/simulation"
)

// Files written by Write.
const (
	ClosureFile     = "closure_over_time.png"
	UtilisationFile = "utilisation.png"
	UnmetFile       = "unmet_by_domain.png"
)

// maxLabels caps the bars of the utilisation chart: past a few dozen services
// the labels overlap and the chart says nothing the CSV does not.
const maxLabels = 40

// Write puts the report's PNG charts in dir, creating it: ClosureFile (the
// loop-closure rate by creation date), UtilisationFile (capacity-limited
// services, at most 40) and UnmetFile (mean unmet needs per replication by
// domain). A chart with no data is drawn with its axes only, so the set of
// files does not depend on the run.
func Write(dir string, r *simulation.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Closure rate over time.
	p := gonum.New()
	p.Title.Text = "Loop closure rate by creation date"
	p.X.Label.Text = "days from start"
	p.Y.Label.Text = "closure rate"
	var pts plotter.XYs
	for _, b := range r.ClosureOverTime {
		if b.ClosureRate.N > 0 {
			pts = append(pts, plotter.XY{X: b.Start.Sub(r.Start).Hours() / 24, Y: b.ClosureRate.Mean})
		}
	}
	if len(pts) > 0 {
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		p.Add(line)
	}
	if err := p.Save(8*vg.Inch, 4*vg.Inch, filepath.Join(dir, ClosureFile)); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	// Utilisation per service (capacity-limited services, at most maxLabels).
	var names []string
	var vals plotter.Values
	for _, s := range r.Services {
		if s.Utilisation != nil && len(names) < maxLabels {
			names, vals = append(names, s.Name), append(vals, s.Utilisation.Mean)
		}
	}
	if err := bars(filepath.Join(dir, UtilisationFile), "Utilisation per service", "utilisation", names, vals); err != nil {
		return err
	}
	names, vals = nil, nil
	for _, d := range slices.Sorted(maps.Keys(r.UnmetByDomain)) {
		names, vals = append(names, d), append(vals, r.UnmetByDomain[d].Mean)
	}
	return bars(filepath.Join(dir, UnmetFile), "Unmet needs by domain", "unmet needs (mean per replication)", names, vals)
}

func bars(path, title, ylabel string, names []string, vals plotter.Values) error {
	p := gonum.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	if len(vals) > 0 {
		b, err := plotter.NewBarChart(vals, vg.Points(14))
		if err != nil {
			return err
		}
		p.Add(b)
		p.NominalX(names...)
		p.X.Tick.Label.Rotation = 0.8
		p.X.Tick.Label.XAlign = -0.9
	}
	if err := p.Save(10*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
