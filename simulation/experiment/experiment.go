// Package experiment compares policies on a simulated referral network: a base
// scenario, named arms that override some of its parameters (or a factorial
// grid of them), run with common random numbers, reported per arm and as
// paired differences from the first arm with 95% confidence intervals.
//
// A design is JSON:
//
//	{
//	  "name": "Lake County housing desk",
//	  "scenario": "scenario.json",          // relative to the design's file
//	  "seed": 1, "replications": 10,
//	  "streams": "common",                  // or "independent"
//	  "set": {"duration": "60d"},           // overrides every arm shares
//	  "arms": [
//	    {"name": "today"},                  // the first arm is the baseline
//	    {"name": "double the desk", "set": {"services[name=Housing Help Desk].capacity.slots": 20}},
//	    {"name": "48h to accept", "set": {"policy.accept_within": "48h"}}
//	  ]
//	}
//
// or, instead of arms, "factors": [{"name": "slots", "path": "...", "levels":
// [10, 20]}, ...], whose every combination is an arm (the first levels together
// the baseline). Paths and values are those of simulation.Set: a path must name
// a field the scenario format has, and a value must have its type, or the
// design is refused naming the arm and path.
//
// Common random numbers: every arm runs replication i with the same seed, and
// the simulation draws each random number from a stream keyed by the entity it
// is for (see package simulation), so the arms see the same people arrive at
// the same times with the same needs and the same partner behaviour wherever
// their parameters do not change it. The difference between two arms in
// replication i is then mostly the effect of the policy, and the interval of
// the mean difference over replications is narrower than with independent
// streams (a test shows it). With "streams": "independent" every arm gets
// seeds of its own, for comparison.
//
// Result.Write writes experiment.json (the design as run, the arms and the
// differences), the simulation's tidy tables with every arm's rows stacked
// (each row names its arm), differences.csv, and each arm's metrics.json under
// arms/; package simulation/plot draws the comparison charts.
//
// # Dependencies
//
// Outside the standard library, experiment links what package simulation
// links: github.com/uber/h3-go/v4 (cgo), github.com/expr-lang/expr,
// github.com/qmuntal/stateless, github.com/google/uuid and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace).
package experiment

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
)

// Limits on a design, which comes from a file.
const (
	MaxDesignBytes  = 1 << 20
	MaxArms         = 64
	MaxFactors      = 6
	MaxLevels       = 10
	MaxReplications = 10_000
)

// Streams settings.
const (
	// Common gives every arm the same seeds: paired comparisons.
	Common = "common"
	// Independent gives every arm seeds of its own.
	Independent = "independent"
)

// Design is an experiment: see the package doc for its JSON.
type Design struct {
	Name string `json:"name"`
	// Scenario is the base scenario's file, relative to the design's file.
	Scenario string `json:"scenario"`
	// Set overrides the base scenario for every arm.
	Set          map[string]json.RawMessage `json:"set,omitempty"`
	Seed         uint64                     `json:"seed"`
	Replications int                        `json:"replications"`
	// Streams is Common (the default when empty) or Independent.
	Streams string   `json:"streams,omitempty"`
	Arms    []Arm    `json:"arms,omitempty"`
	Factors []Factor `json:"factors,omitempty"`
}

// Arm is one policy: the base scenario with some values overridden.
type Arm struct {
	Name string                     `json:"name"`
	Set  map[string]json.RawMessage `json:"set,omitempty"`
}

// Factor is one dimension of a factorial grid: a path and the values it takes.
type Factor struct {
	Name   string            `json:"name"`
	Path   string            `json:"path"`
	Levels []json.RawMessage `json:"levels"`
}

// Plan is a validated design with its base scenario read: the arms' scenarios
// are built and checked before anything runs.
type Plan struct {
	Design *Design
	// Arms are the arms to run, the baseline first, each with its scenario.
	Arms []PlannedArm
}

// PlannedArm is one arm's name, overrides (the design's shared ones first)
// and scenario.
type PlannedArm struct {
	Name     string
	Sets     []simulation.Set
	Scenario *simulation.Scenario
}

// Load reads a design file (at most MaxDesignBytes), the base scenario it
// names, and builds every arm's scenario, so that a mistake in any arm is
// reported, naming it, before anything runs.
func Load(path string) (*Plan, error) {
	data, err := readBounded(path, MaxDesignBytes)
	if err != nil {
		return nil, err
	}
	d, err := Parse(data)
	if err != nil {
		return nil, err
	}
	scenario := d.Scenario
	if !filepath.IsAbs(scenario) {
		scenario = filepath.Join(filepath.Dir(path), scenario)
	}
	return d.plan(func(sets []simulation.Set) (*simulation.Scenario, error) { return simulation.Load(scenario, sets...) })
}

// PlanWith builds the arms of a design over a base scenario given as JSON (a
// scenario with a points file needs Load).
func PlanWith(d *Design, scenario []byte) (*Plan, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d.plan(func(sets []simulation.Set) (*simulation.Scenario, error) { return simulation.Parse(scenario, sets...) })
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("design: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("design: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, referral.Invalid("design", "is larger than 1 MiB")
	}
	return data, nil
}

// Parse decodes a design strictly (unknown fields and trailing data are
// errors) and validates it.
func Parse(data []byte) (*Design, error) {
	if len(data) > MaxDesignBytes {
		return nil, referral.Invalid("design", "is larger than 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Design
	if err := dec.Decode(&d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, referral.Invalid(te.Field, "has the wrong type")
		}
		return nil, fmt.Errorf("design: %s: %w", err.Error(), referral.ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, referral.Invalid("design", "has data after the JSON object")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks the design's shape; the arms' scenarios are checked when
// the plan is built.
func (d *Design) Validate() error {
	if d.Name == "" || len(d.Name) > 200 {
		return referral.Invalid("name", "is required, at most 200 bytes")
	}
	if d.Scenario == "" {
		return referral.Invalid("scenario", "is required")
	}
	if d.Replications < 2 || d.Replications > MaxReplications {
		return referral.Invalid("replications", "must be between 2 and 10,000: differences need at least two")
	}
	switch d.Streams {
	case "", Common, Independent:
	default:
		return referral.Invalid("streams", "must be common or independent")
	}
	if err := checkSets("set", d.Set); err != nil {
		return err
	}
	switch {
	case len(d.Arms) > 0 && len(d.Factors) > 0:
		return referral.Invalid("factors", "cannot be combined with arms")
	case len(d.Factors) > 0:
		return d.validateFactors()
	case len(d.Arms) < 2 || len(d.Arms) > MaxArms:
		return referral.Invalid("arms", "needs between 2 and 64 arms (or factors)")
	}
	names := map[string]bool{}
	for i, a := range d.Arms {
		f := "arms[" + strconv.Itoa(i) + "]"
		if a.Name == "" || len(a.Name) > 200 {
			return referral.Invalid(f+".name", "is required, at most 200 bytes")
		}
		if names[a.Name] {
			return referral.Invalid(f+".name", "is used by another arm")
		}
		names[a.Name] = true
		if err := checkSets(f+".set", a.Set); err != nil {
			return err
		}
	}
	return nil
}

func (d *Design) validateFactors() error {
	if len(d.Factors) > MaxFactors {
		return referral.Invalid("factors", "has more than 6 factors")
	}
	arms := 1
	paths := map[string]any{}
	for i, f := range d.Factors {
		field := "factors[" + strconv.Itoa(i) + "]"
		if f.Name == "" || len(f.Name) > 100 {
			return referral.Invalid(field+".name", "is required, at most 100 bytes")
		}
		if f.Path == "" {
			return referral.Invalid(field+".path", "is required")
		}
		paths[f.Path] = nil
		if len(f.Levels) < 2 || len(f.Levels) > MaxLevels {
			return referral.Invalid(field+".levels", "needs between 2 and 10 levels")
		}
		arms *= len(f.Levels)
	}
	if arms > MaxArms {
		return referral.Invalid("factors", "make more than 64 arms")
	}
	if len(paths) < len(d.Factors) {
		return referral.Invalid("factors", "name one path twice")
	}
	return overlap("factors", slices.Collect(maps.Keys(paths)))
}

// checkSets refuses overrides whose paths overlap (one inside another), whose
// order would otherwise decide the result.
func checkSets(field string, sets map[string]json.RawMessage) error {
	if len(sets) > simulation.MaxSets {
		return referral.Invalid(field, "has more than 1,000 overrides")
	}
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	return overlap(field, keys)
}

func overlap(field string, paths []string) error {
	slices.Sort(paths)
	for i := 1; i < len(paths); i++ {
		a, b := paths[i-1], paths[i]
		if strings.HasPrefix(b, a) && (b[len(a)] == '.' || b[len(a)] == '[') {
			return referral.Invalid(field, "overrides "+a+" and "+b+", one inside the other")
		}
	}
	return nil
}

// sets turns an object of overrides into Sets in path order.
func sets(m map[string]json.RawMessage) []simulation.Set {
	out := make([]simulation.Set, 0, len(m))
	for p, v := range m {
		out = append(out, simulation.Set{Path: p, Value: v})
	}
	slices.SortFunc(out, func(a, b simulation.Set) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// arms lists the arms to run: the design's, or every combination of the
// factors' levels (the first factor varying slowest).
func (d *Design) arms() []Arm {
	if len(d.Factors) == 0 {
		return d.Arms
	}
	out := []Arm{{Set: map[string]json.RawMessage{}}}
	for _, f := range d.Factors {
		var next []Arm
		for _, a := range out {
			for _, level := range f.Levels {
				set := map[string]json.RawMessage{}
				for k, v := range a.Set {
					set[k] = v
				}
				set[f.Path] = level
				name := f.Name + "=" + compact(level)
				if a.Name != "" {
					name = a.Name + ", " + name
				}
				next = append(next, Arm{Name: name, Set: set})
			}
		}
		out = next
	}
	return out
}

func compact(v json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return string(v)
	}
	return strings.Trim(b.String(), `"`)
}

func (d *Design) plan(build func([]simulation.Set) (*simulation.Scenario, error)) (*Plan, error) {
	p := &Plan{Design: d}
	base := sets(d.Set)
	for i, a := range d.arms() {
		all := append(slices.Clone(base), sets(a.Set)...)
		sc, err := build(all)
		if err != nil {
			field := "arms[" + strconv.Itoa(i) + "]"
			if len(d.Factors) > 0 {
				field = "factors"
			}
			return nil, fmt.Errorf("%s (%s): %w", field, a.Name, err)
		}
		p.Arms = append(p.Arms, PlannedArm{Name: a.Name, Sets: all, Scenario: sc})
	}
	return p, nil
}

// Options control a run of a plan.
type Options struct {
	// Replications and Seed, when not zero, replace the design's.
	Replications int
	Seed         uint64
	// Workers bounds how many replications of an arm run at once (0:
	// GOMAXPROCS).
	Workers int
	// Progress, if set, is called with the fraction of the whole experiment
	// done (0 to 1).
	Progress func(done float64)
}

// Result is what an experiment found.
type Result struct {
	Name         string `json:"name"`
	Seed         uint64 `json:"seed"`
	Replications int    `json:"replications"`
	Streams      string `json:"streams"`
	// Baseline is the first arm's name: differences are from it.
	Baseline    string       `json:"baseline"`
	Arms        []ArmResult  `json:"arms"`
	Differences []Difference `json:"differences"`
}

// ArmResult is one arm's overrides and report.
type ArmResult struct {
	Name     string               `json:"name"`
	Set      []simulation.Set     `json:"set"`
	Seed     uint64               `json:"seed"`
	Report   *simulation.Report   `json:"-"`
	Dir      string               `json:"dir"`
	Scenario *simulation.Scenario `json:"-"`
}

// Difference is the mean paired difference of one measure between an arm and
// the baseline (arm minus baseline), over the replications that measured it in
// both, with its 95% interval (Student t on the differences, which may be of
// either sign). Service is empty for network-wide measures.
type Difference struct {
	Arm     string          `json:"arm"`
	Metric  string          `json:"metric"`
	Service string          `json:"service,omitempty"`
	Diff    simulation.Stat `json:"difference"`
}

// Run runs every arm of the plan, one after another (each arm's replications
// in parallel), and computes the differences from the baseline.
func Run(ctx context.Context, p *Plan, opt Options) (*Result, error) {
	d := p.Design
	reps, seed := d.Replications, d.Seed
	if opt.Replications != 0 {
		reps = opt.Replications
	}
	if opt.Seed != 0 {
		seed = opt.Seed
	}
	if reps < 2 || reps > MaxReplications {
		return nil, referral.Invalid("replications", "must be between 2 and 10,000")
	}
	streams := cmp.Or(d.Streams, Common)
	res := &Result{Name: d.Name, Seed: seed, Replications: reps, Streams: streams, Baseline: p.Arms[0].Name}
	for i, a := range p.Arms {
		armSeed := seed
		if streams == Independent {
			// Seeds far apart: replication r of arm i uses armSeed + r.
			armSeed = seed + uint64(i)<<32
		}
		so := simulation.Options{Seed: armSeed, Replications: reps, Workers: opt.Workers, Run: d.Name, Arm: a.Name}
		if opt.Progress != nil {
			done, n := float64(i), float64(len(p.Arms))
			so.Progress = func(f float64) { opt.Progress((done + f) / n) }
		}
		rep, err := simulation.Run(ctx, a.Scenario, so)
		if err != nil {
			return nil, fmt.Errorf("arm %q: %w", a.Name, err)
		}
		res.Arms = append(res.Arms, ArmResult{Name: a.Name, Set: a.Sets, Seed: armSeed, Report: rep, Scenario: a.Scenario, Dir: "arms/" + slug(i, a.Name)})
	}
	base := res.Arms[0]
	for _, a := range res.Arms[1:] {
		res.Differences = append(res.Differences, differences(base, a)...)
	}
	return res, nil
}

// differences pairs replication i of arm a with replication i of the baseline.
func differences(base, a ArmResult) []Difference {
	var out []Difference
	pair := func(metric, service string, of func(r *simulation.Replication) (float64, bool)) {
		var ds []float64
		for i := range min(len(base.Report.Runs), len(a.Report.Runs)) {
			x, ok1 := of(&a.Report.Runs[i])
			y, ok2 := of(&base.Report.Runs[i])
			if ok1 && ok2 && !math.IsNaN(x) && !math.IsNaN(y) {
				ds = append(ds, x-y)
			}
		}
		if len(ds) > 0 {
			out = append(out, Difference{Arm: a.Name, Metric: metric, Service: service, Diff: simulation.StatOf(ds, simulation.Unbounded)})
		}
	}
	if len(base.Report.Runs) == 0 {
		return nil
	}
	for _, m := range base.Report.Runs[0].Measures() {
		pair(m.Metric, "", func(r *simulation.Replication) (float64, bool) { return measure(r.Measures(), m.Metric) })
	}
	// Services of the scenario, by name, in the baseline's order.
	for _, svc := range base.Scenario.Services {
		kb := slices.IndexFunc(base.Report.Runs[0].Services, func(s simulation.ServiceResult) bool { return s.Name == svc.Name })
		ka := slices.IndexFunc(a.Report.Runs[0].Services, func(s simulation.ServiceResult) bool { return s.Name == svc.Name })
		if kb < 0 || ka < 0 {
			continue
		}
		names := map[string]bool{}
		var metrics []string
		for i := range base.Report.Runs {
			for _, m := range base.Report.Runs[i].Services[kb].Measures() {
				if !names[m.Metric] {
					names[m.Metric] = true
					metrics = append(metrics, m.Metric)
				}
			}
		}
		for _, metric := range metrics {
			var ds []float64
			for i := range min(len(base.Report.Runs), len(a.Report.Runs)) {
				x, ok1 := measure(a.Report.Runs[i].Services[ka].Measures(), metric)
				y, ok2 := measure(base.Report.Runs[i].Services[kb].Measures(), metric)
				if ok1 && ok2 {
					ds = append(ds, x-y)
				}
			}
			if len(ds) > 0 {
				out = append(out, Difference{Arm: a.Name, Metric: metric, Service: svc.Name, Diff: simulation.StatOf(ds, simulation.Unbounded)})
			}
		}
	}
	return out
}

func measure(ms []simulation.Measure, metric string) (float64, bool) {
	for _, m := range ms {
		if m.Metric == metric {
			return m.Value, true
		}
	}
	return 0, false
}

// slug names an arm's directory: its position and its name's letters and
// digits.
func slug(i int, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%02d-", i)
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 3 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// Files written by Write besides the simulation's tables.
const (
	ResultFile      = "experiment.json"
	DifferencesFile = "differences.csv"
)

// Write puts the experiment's files in dir, creating it: ResultFile, the
// simulation's tables with every arm's rows stacked (see simulation.Report.Tables),
// DifferencesFile, and each arm's metrics.json and tables under arms/.
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ResultFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	stacked := map[string]*simulation.Table{}
	var order []string
	for _, a := range r.Arms {
		if err := a.Report.Write(filepath.Join(dir, filepath.FromSlash(a.Dir))); err != nil {
			return err
		}
		for _, t := range a.Report.Tables() {
			if s, ok := stacked[t.Name]; ok {
				s.Rows = append(s.Rows, t.Rows...)
				continue
			}
			t := t
			stacked[t.Name] = &t
			order = append(order, t.Name)
		}
	}
	for _, name := range order {
		t := stacked[name]
		if err := simulation.WriteTable(filepath.Join(dir, name), t.Header, t.Rows); err != nil {
			return err
		}
	}
	return simulation.WriteTable(filepath.Join(dir, DifferencesFile), DifferencesHeader, r.differenceRows())
}

// DifferencesHeader is the header of DifferencesFile.
var DifferencesHeader = []string{"run", "arm", "baseline", "metric", "service", "mean_difference", "ci95_low", "ci95_high", "n"}

func (r *Result) differenceRows() [][]string {
	rows := make([][]string, 0, len(r.Differences))
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 10, 64) }
	for _, d := range r.Differences {
		rows = append(rows, []string{r.Name, d.Arm, r.Baseline, d.Metric, d.Service, f(d.Diff.Mean), f(d.Diff.Low), f(d.Diff.High), strconv.Itoa(d.Diff.N)})
	}
	return rows
}

// Find returns the difference of a network-wide (service "") or service
// measure for an arm.
func (r *Result) Find(arm, metric, service string) (Difference, bool) {
	for _, d := range r.Differences {
		if d.Arm == arm && d.Metric == metric && d.Service == service {
			return d, true
		}
	}
	return Difference{}, false
}
