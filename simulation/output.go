package simulation

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// MetricsFile is the name of the JSON file Write puts beside the CSV tables.
const MetricsFile = "metrics.json"

// AllServices names the total over all services in occupancy tables.
const AllServices = "(all services)"

// Table is one tidy CSV table: one observation per row, the run, arm (and
// replication) in columns of their own, so the tables of several runs or arms
// can be stacked as they are.
type Table struct {
	// Name is the file name, "services.csv".
	Name   string
	Header []string
	Rows   [][]string
}

// Write puts metrics.json and the report's tables (see Tables) in dir,
// creating it. The PNG charts are package simulation/plot's, so that programs
// not drawing them link no chart library.
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
	for _, t := range r.Tables() {
		if err := WriteTable(filepath.Join(dir, t.Name), t.Header, t.Rows); err != nil {
			return err
		}
	}
	return nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 10, 64) }

var statHeader = []string{"mean", "ci95_low", "ci95_high", "n"}

func statCells(s Stat) []string {
	return []string{num(s.Mean), num(s.Low), num(s.High), strconv.Itoa(s.N)}
}

// Tables returns the report's tables, each in long form with run and arm
// columns:
//
//	summary.csv                  metric, mean, ci95_low, ci95_high, n
//	by_status.csv                status, ...
//	by_reason.csv                status, reason, ...
//	services.csv                 service, slots, metric, ...
//	unmet_by_domain.csv          domain, ...
//	unmet_by_reason.csv          reason, ...
//	unmet_by_area.csv            h3_cell, ...
//	closure_over_time.csv        start, metric (created, closure_rate), ...
//	occupancy_over_time.csv      service, start, metric (busy, queue, peak_busy, peak_queue), ...
//	replications.csv             replication, seed, metric, value
//	services_by_replication.csv  replication, service, metric, value
//	reasons_by_replication.csv   replication, status, reason, count
func (r *Report) Tables() []Table {
	id := []string{r.Run, r.Arm}
	row := func(cells ...string) []string { return append(append([]string{}, id...), cells...) }
	statTable := func(name string, cols []string) Table {
		return Table{Name: name, Header: append(append([]string{"run", "arm"}, cols...), statHeader...)}
	}
	summary := statTable("summary.csv", []string{"metric"})
	add := func(metric string, s Stat) {
		summary.Rows = append(summary.Rows, row(append([]string{metric}, statCells(s)...)...))
	}
	add("arrivals", r.Arrivals)
	add("people_screened", r.Screened)
	add("needs_identified", r.Needs)
	add("pathway_needs", r.PathwayNeeds)
	add("referrals_total", r.ReferralsTotal)
	add("completed", r.Completed)
	add("loop_closure_rate", r.LoopClosureRate)
	add("rereferrals", r.Rereferrals)
	for _, tm := range []struct {
		name string
		t    TimeStats
	}{{"time_to_acknowledge", r.TimeToAcknowledge}, {"time_to_accept", r.TimeToAccept}, {"time_to_complete", r.TimeToComplete}} {
		add(tm.name+"_mean_hours", tm.t.Mean)
		add(tm.name+"_p50_hours", tm.t.P50)
		add(tm.name+"_p90_hours", tm.t.P90)
	}
	keyed := func(name, col string, m map[string]Stat) Table {
		t := statTable(name, []string{col})
		for _, k := range sortedKeys(m) {
			t.Rows = append(t.Rows, row(append([]string{k}, statCells(m[k])...)...))
		}
		return t
	}
	reasons := statTable("by_reason.csv", []string{"status", "reason"})
	for _, rs := range r.ByReason {
		reasons.Rows = append(reasons.Rows, row(append([]string{rs.Status, rs.Reason}, statCells(rs.Count)...)...))
	}
	area := statTable("unmet_by_area.csv", []string{"h3_cell"})
	for _, a := range r.UnmetByArea {
		area.Rows = append(area.Rows, row(append([]string{a.Cell}, statCells(a.Unmet)...)...))
	}
	services := statTable("services.csv", []string{"service", "slots", "metric"})
	for _, s := range r.Services {
		svc := func(metric string, st Stat) {
			services.Rows = append(services.Rows, row(append([]string{s.Name, strconv.Itoa(s.Slots), metric}, statCells(st)...)...))
		}
		svc("referred", s.Referred)
		svc("accepted", s.Accepted)
		svc("served", s.Served)
		svc("abandoned", s.Abandoned)
		svc("waitlist_expired", s.WaitlistExpired)
		if s.Utilisation != nil {
			svc("utilisation", *s.Utilisation)
		}
		if s.MeanWait.N > 0 {
			svc("mean_wait_hours", s.MeanWait)
		}
		if s.PWait != nil {
			svc("p_wait", *s.PWait)
			svc("p_abandon", *s.PAbandon)
		}
		svc("mean_queue", s.MeanQueue)
		svc("max_queue", s.MaxQueue)
		svc("max_busy", s.MaxBusy)
	}
	closure := statTable("closure_over_time.csv", []string{"start", "metric"})
	for _, b := range r.ClosureOverTime {
		at := b.Start.Format(time.RFC3339)
		closure.Rows = append(closure.Rows, row(append([]string{at, "created"}, statCells(b.Created)...)...))
		if b.ClosureRate.N > 0 {
			closure.Rows = append(closure.Rows, row(append([]string{at, "closure_rate"}, statCells(b.ClosureRate)...)...))
		}
	}
	occupancy := statTable("occupancy_over_time.csv", []string{"service", "start", "metric"})
	for _, o := range r.Occupancy {
		name := o.Service
		if name == "" {
			name = AllServices
		}
		for _, b := range o.Buckets {
			at := b.Start.Format(time.RFC3339)
			for _, m := range []struct {
				metric string
				s      Stat
			}{{"busy", b.Busy}, {"queue", b.Queue}, {"peak_busy", b.PeakBusy}, {"peak_queue", b.PeakQueue}} {
				occupancy.Rows = append(occupancy.Rows, row(append([]string{name, at, m.metric}, statCells(m.s)...)...))
			}
		}
	}
	reps := Table{Name: "replications.csv", Header: []string{"run", "arm", "replication", "seed", "metric", "value"}}
	svcReps := Table{Name: "services_by_replication.csv", Header: []string{"run", "arm", "replication", "service", "metric", "value"}}
	reasonReps := Table{Name: "reasons_by_replication.csv", Header: []string{"run", "arm", "replication", "status", "reason", "count"}}
	for i := range r.Runs {
		x := &r.Runs[i]
		rep := strconv.Itoa(i)
		for _, m := range x.Measures() {
			reps.Rows = append(reps.Rows, row(rep, strconv.FormatUint(x.Seed, 10), m.Metric, num(m.Value)))
		}
		for _, k := range r.serviceIndex {
			sr := &x.Services[k]
			for _, m := range sr.Measures() {
				svcReps.Rows = append(svcReps.Rows, row(rep, sr.Name, m.Metric, num(m.Value)))
			}
		}
		for _, rc := range x.ByReason {
			reasonReps.Rows = append(reasonReps.Rows, row(rep, rc.Status, rc.Reason, strconv.Itoa(rc.N)))
		}
	}
	return []Table{
		summary,
		keyed("by_status.csv", "status", r.ByStatus),
		reasons,
		services,
		keyed("unmet_by_domain.csv", "domain", r.UnmetByDomain),
		keyed("unmet_by_reason.csv", "reason", r.UnmetByReason),
		area,
		closure,
		occupancy,
		reps,
		svcReps,
		reasonReps,
	}
}

// WriteTable writes one CSV file: the header, then the rows.
func WriteTable(path string, header []string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.Write(header); err != nil {
		f.Close()
		return err
	}
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// EventLogHeader is the header of a replication's event log: one row per
// lifecycle event of every referral, in the order the store appended them.
// Times are RFC 3339 and hours since the scenario's start; the domain is the
// referral's need, the service its receiving service's name, the episode the
// need's number within the replication (re-referrals of one need share it).
var EventLogHeader = []string{"run", "arm", "replication", "referral", "episode", "domain", "service", "sequence", "at", "hours", "event", "from", "to", "reason"}

// writeEventLog writes the replication's event log, read back from its store's
// event feed: the history the real store holds. Notes are not written.
func (s *sim) writeEventLog(w io.Writer, run, arm string, replication int) error {
	byID := make(map[referral.ID]int32, len(s.refs))
	for i := range s.refs {
		byID[s.refs[i].id] = int32(i)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	if err := cw.Write(EventLogHeader); err != nil {
		return err
	}
	rep := strconv.Itoa(replication)
	row := make([]string, len(EventLogHeader))
	after := int64(0)
	for {
		events, err := s.store.Feed(s.ctx, storage.FeedQuery{Network: s.network, After: after, Limit: storage.MaxLimit})
		if err != nil {
			return err
		}
		for _, ev := range events {
			i, ok := byID[ev.Referral]
			if !ok {
				continue
			}
			rf := &s.refs[i]
			row = append(row[:0], run, arm, rep, ev.Referral.String(), strconv.Itoa(int(rf.ep)), string(s.needOf(&s.eps[rf.ep]).Domain),
				s.svcs[rf.svc].name, strconv.FormatInt(ev.Sequence, 10), ev.At.UTC().Format(time.RFC3339Nano),
				num(ev.At.Sub(s.start).Hours()), string(ev.Type), string(ev.From), string(ev.To), ev.Reason)
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		if len(events) < storage.MaxLimit {
			break
		}
		after = events[len(events)-1].Position
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
