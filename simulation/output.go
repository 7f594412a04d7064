package simulation

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
)

// MetricsFile is the name of the JSON file Write puts beside the CSV tables.
const MetricsFile = "metrics.json"

// Write puts metrics.json and the CSV tables (summary, by_status, by_reason,
// services, unmet_by_domain, unmet_by_reason, unmet_by_area, closure_over_time,
// replications) in dir, creating it. The PNG charts are package
// simulation/plot's, so that programs not drawing them link no chart library.
func (r *Report) Write(dir string) error {
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
