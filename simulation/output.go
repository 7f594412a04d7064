package simulation

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Files written by Write.
const (
	MetricsFile   = "metrics.json"
	PlotClosure   = "closure_over_time.png"
	PlotUtil      = "utilisation.png"
	PlotUnmet     = "unmet_by_domain.png"
	maxPlotLabels = 40
)

// Write puts metrics.json and the CSV tables (summary, by_status, by_reason,
// services, unmet_by_domain, unmet_by_reason, unmet_by_area, closure_over_time,
// replications) in dir, creating it, and with plots the PNG charts.
func (r *Report) Write(dir string, plots bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, MetricsFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	for name, rows := range r.tables() {
		if err := writeCSV(filepath.Join(dir, name), rows); err != nil {
			return err
		}
	}
	if plots {
		return r.plots(dir)
	}
	return nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 10, 64) }

func statRow(name string, s Stat) []string {
	return []string{name, num(s.Mean), num(s.Low), num(s.High), strconv.Itoa(s.N)}
}

var statHeader = []string{"mean", "ci95_low", "ci95_high", "n"}

func (r *Report) tables() map[string][][]string {
	t := map[string][][]string{}
	summary := [][]string{append([]string{"metric"}, statHeader...),
		statRow("arrivals", r.Arrivals), statRow("people_screened", r.Screened), statRow("needs_identified", r.Needs),
		statRow("referrals_total", r.ReferralsTotal), statRow("loop_closure_rate", r.LoopClosureRate),
		statRow("rereferrals", r.Rereferrals)}
	for _, tm := range []struct {
		name string
		t    TimeStats
	}{{"time_to_acknowledge", r.TimeToAcknowledge}, {"time_to_accept", r.TimeToAccept}, {"time_to_complete", r.TimeToComplete}} {
		summary = append(summary, statRow(tm.name+"_mean_hours", tm.t.Mean), statRow(tm.name+"_p50_hours", tm.t.P50), statRow(tm.name+"_p90_hours", tm.t.P90))
	}
	t["summary.csv"] = summary
	keyed := func(col string, m map[string]Stat) [][]string {
		rows := [][]string{append([]string{col}, statHeader...)}
		for _, k := range sortedKeys(m) {
			rows = append(rows, statRow(k, m[k]))
		}
		return rows
	}
	t["by_status.csv"] = keyed("status", r.ByStatus)
	t["by_reason.csv"] = keyed("status_reason", r.ByReason)
	t["unmet_by_domain.csv"] = keyed("domain", r.UnmetByDomain)
	t["unmet_by_reason.csv"] = keyed("reason", r.UnmetByReason)
	area := [][]string{append([]string{"h3_cell"}, statHeader...)}
	for _, a := range r.UnmetByArea {
		area = append(area, statRow(a.Cell, a.Unmet))
	}
	t["unmet_by_area.csv"] = area
	svc := [][]string{{"service", "slots", "referred_mean", "served_mean", "utilisation_mean", "utilisation_ci95_low", "utilisation_ci95_high", "mean_wait_hours", "mean_wait_ci95_low", "mean_wait_ci95_high"}}
	for _, s := range r.Services {
		u := []string{"", "", ""}
		if s.Utilisation != nil {
			u = []string{num(s.Utilisation.Mean), num(s.Utilisation.Low), num(s.Utilisation.High)}
		}
		svc = append(svc, append(append([]string{s.Name, strconv.Itoa(s.Slots), num(s.Referred.Mean), num(s.Served.Mean)}, u...),
			num(s.MeanWait.Mean), num(s.MeanWait.Low), num(s.MeanWait.High)))
	}
	t["services.csv"] = svc
	cl := [][]string{{"start", "created_mean", "closure_rate_mean", "closure_rate_ci95_low", "closure_rate_ci95_high"}}
	for _, b := range r.ClosureOverTime {
		cl = append(cl, []string{b.Start.Format("2006-01-02T15:04:05Z"), num(b.Created.Mean), num(b.ClosureRate.Mean), num(b.ClosureRate.Low), num(b.ClosureRate.High)})
	}
	t["closure_over_time.csv"] = cl
	reps := [][]string{{"replication", "seed", "arrivals", "needs_identified", "referrals_total", "completed", "loop_closure_rate", "rereferrals", "events"}}
	for i, x := range r.Runs {
		reps = append(reps, []string{strconv.Itoa(i), strconv.FormatUint(x.Seed, 10), strconv.Itoa(x.Arrivals), strconv.Itoa(x.Needs),
			strconv.Itoa(x.Referrals), strconv.Itoa(x.ByStatus["completed"]), num(x.ClosureRate), strconv.Itoa(x.Rereferrals), strconv.FormatUint(x.Events, 10)})
	}
	t["replications.csv"] = reps
	return t
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *Report) plots(dir string) error {
	// Closure rate over time.
	p := plot.New()
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
	if err := p.Save(8*vg.Inch, 4*vg.Inch, filepath.Join(dir, PlotClosure)); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	// Utilisation per service (capacity-limited services, at most maxPlotLabels).
	var names []string
	var vals plotter.Values
	for _, s := range r.Services {
		if s.Utilisation != nil && len(names) < maxPlotLabels {
			names, vals = append(names, s.Name), append(vals, s.Utilisation.Mean)
		}
	}
	if err := bars(filepath.Join(dir, PlotUtil), "Utilisation per service", "utilisation", names, vals); err != nil {
		return err
	}
	names, vals = nil, nil
	for _, d := range sortedKeys(r.UnmetByDomain) {
		names, vals = append(names, d), append(vals, r.UnmetByDomain[d].Mean)
	}
	return bars(filepath.Join(dir, PlotUnmet), "Unmet needs by domain", "unmet needs (mean per replication)", names, vals)
}

func bars(path, title, ylabel string, names []string, vals plotter.Values) error {
	p := plot.New()
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
