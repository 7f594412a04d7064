package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/refkit/refkit/internal/gctune"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/calibrate"
	"github.com/refkit/refkit/simulation/plot"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/postgres"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(&command{
		name:    "simulate",
		summary: "simulate a referral network from a scenario, or calibrate one from history",
		args:    "--scenario FILE --out DIR [flags]",
		about: `Simulate runs a scenario (JSON: population, screening, referring sites,
services with capacity, partner behaviour, policies, pathways and dated
changes; examples/simulation explains every field) through refkit's real
screening, matching and lifecycle code on a virtual clock, replications in
parallel, and writes metrics.json (means with 95% confidence intervals), tidy
CSV tables and, with --plots, PNG charts to --out. --set overrides a value of
the scenario by its path (policy.radius_km, services[2].capacity.slots, or by
name, 'services[name=Housing Help Desk].capacity.slots'; repeat it for
several). --events adds each replication's per-referral event log; --history
keeps the first replication's whole history in a SQLite database, which
'refkit simulate calibrate' reads back. The same scenario, overrides and seed
give the same files. A progress bar goes to standard error when it is a
terminal.`,
		examples: []string{
			"refkit simulate --scenario examples/simulation/scenario.json --out /tmp/sim",
			"refkit simulate --scenario examples/simulation/scenario.json --seed 1 --out /tmp/sim --replications 4 --plots",
			"refkit simulate --scenario examples/simulation/scenario.json --out /tmp/sim --set policy.radius_km=15 --set policy.accept_within=48h",
			"refkit simulate --scenario examples/simulation/scenario.json --out /tmp/sim --history /tmp/lake.db",
		},
		new:         func() runner { return &simulateCmd{} },
		subcommands: []*command{simulateCalibrate},
	})
}

type simulateCmd struct {
	scenario, out, history string
	seed                   uint64
	replications           int
	plots, events          bool
	sets                   setFlags
}

// setFlags collects repeated --set path=value flags.
type setFlags []simulation.Set

func (s *setFlags) String() string {
	parts := make([]string, len(*s))
	for i, x := range *s {
		parts[i] = x.String()
	}
	return strings.Join(parts, " ")
}

func (s *setFlags) Set(v string) error {
	set, err := simulation.ParseSet(v)
	if err != nil {
		return err
	}
	*s = append(*s, set)
	return nil
}

func (c *simulateCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.scenario, "scenario", "", "scenario JSON `FILE` (required)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed `N` of the first replication; replication i uses N+i")
	fs.StringVar(&c.out, "out", "", "output `DIR`, created if missing (required)")
	fs.IntVar(&c.replications, "replications", 1, "`N` replications, run in parallel")
	fs.BoolVar(&c.plots, "plots", false, "also write PNG charts: closure over time, occupancy and queues, utilisation, unmet needs")
	fs.Var(&c.sets, "set", "override a scenario value by its `path=value` (value is JSON or a string), e.g. policy.radius_km=15; repeatable")
	fs.BoolVar(&c.events, "events", false, "also write each replication's per-referral event log, events/replication-N.csv under --out")
	fs.StringVar(&c.history, "history", "", "also write the first replication's history to a new SQLite database `FILE`, for 'refkit simulate calibrate'")
}

// run runs a scenario's replications and writes the report to --out.
func (c *simulateCmd) run(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.err
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if c.scenario == "" {
		return errors.New("--scenario is required")
	}
	if c.out == "" {
		return errors.New("--out is required")
	}
	if c.history != "" {
		if _, err := os.Stat(c.history); err == nil {
			return fmt.Errorf("--history %s exists: give a new file", c.history)
		}
	}
	sc, err := simulation.Load(c.scenario, c.sets...)
	if err != nil {
		return err
	}
	defer tuneGC(os.Getenv, physicalMemory())()
	opt := simulation.Options{Seed: c.seed, Replications: c.replications}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := &progressBar{w: stderr}
		opt.Progress = bar.set
		defer bar.done()
	}
	if c.events {
		dir := filepath.Join(c.out, "events")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		opt.EventLog = func(i int) (io.WriteCloser, error) {
			return os.Create(filepath.Join(dir, fmt.Sprintf("replication-%04d.csv", i)))
		}
	}
	if c.history != "" {
		opt.Inspect = func(i int, st storage.Store, network referral.ID) error {
			if i != 0 {
				return nil
			}
			db, err := sqlite.Open(ctx, c.history, sqlite.Options{})
			if err != nil {
				return err
			}
			err = calibrate.CopyHistory(ctx, db, st, network)
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				fmt.Fprintf(stdout, "history of replication 0 (network %s) written to %s\n", network, c.history)
			}
			return err
		}
	}
	report, err := simulation.Run(ctx, sc, opt)
	if err != nil {
		return err
	}
	if err := report.Write(c.out); err != nil {
		return err
	}
	if c.plots {
		if err := plot.Write(c.out, report); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d replication(s): %.0f referrals, loop closure %.1f%% (95%% CI %.1f–%.1f%%); wrote %s\n",
		report.Replications, report.ReferralsTotal.Mean, 100*report.LoopClosureRate.Mean,
		100*report.LoopClosureRate.Low, 100*report.LoopClosureRate.High, c.out)
	return nil
}

var simulateCalibrate = &command{
	name:    "calibrate",
	summary: "build a scenario (a digital twin) from a network's stored history",
	args:    "--db FILE | --postgres URL --network ID --out FILE [flags]",
	about: `Calibrate reads a network's referral history from a refkit store (the
event feed, the referrals and the directory; no personal data) and writes a
scenario that reproduces it: sites with arrival rates by hour and weekday,
needs, each service's partner behaviour (time distributions fitted by maximum
likelihood with their goodness of fit, decline reasons, reach, no-show,
patience), capacity and deadlines. The scenario's calibration block lists every
estimate with its 95% interval and notes what the history cannot show (where
people live, the search radius), which you then set. Run the result with
'refkit simulate'.`,
	examples: []string{
		"refkit simulate calibrate --db /tmp/lake.db --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --out /tmp/twin.json",
		"refkit simulate calibrate --postgres postgres://localhost/refkit --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --time-zone America/Chicago --out twin.json",
	},
	new: func() runner { return &calibrateCmd{} },
}

type calibrateCmd struct {
	db, pg, network, out, from, to, zone string
	population, minSample                int
	radius                               float64
}

func (c *calibrateCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", "", "read a refkit SQLite database `FILE` (or --postgres)")
	fs.StringVar(&c.pg, "postgres", "", "read a refkit PostgreSQL database at `URL` (or --db)")
	fs.StringVar(&c.network, "network", "", "the network's `ID` (required)")
	fs.StringVar(&c.out, "out", "", "write the scenario JSON to `FILE` (required)")
	fs.StringVar(&c.from, "from", "", "read referrals created from `DATE` on (RFC 3339 or YYYY-MM-DD); default: the first")
	fs.StringVar(&c.to, "to", "", "read referrals created before `DATE`, and events until then; default: everything")
	fs.StringVar(&c.zone, "time-zone", "", "IANA `ZONE` of the arrival profiles' hours and weekdays (default UTC)")
	fs.IntVar(&c.population, "population", 0, "`N` people in the twin's population (default: one per arrival, 1,000 to 1,000,000)")
	fs.IntVar(&c.minSample, "min-sample", 30, "`N` observations a service needs for estimates of its own")
	fs.Float64Var(&c.radius, "radius-km", 25, "the twin's search radius in `KM`, which the history does not show")
}

func parseDate(flagName, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q is not a date (RFC 3339 or YYYY-MM-DD)", flagName, v)
}

func (c *calibrateCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if (c.db == "") == (c.pg == "") {
		return errors.New("give one of --db and --postgres")
	}
	if c.network == "" {
		return errors.New("--network is required")
	}
	if c.out == "" {
		return errors.New("--out is required")
	}
	network, err := referral.ParseID(c.network)
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	opt := calibrate.Options{TimeZone: c.zone, Population: c.population, MinSample: c.minSample, RadiusKM: c.radius}
	if opt.From, err = parseDate("from", c.from); err != nil {
		return err
	}
	if opt.To, err = parseDate("to", c.to); err != nil {
		return err
	}
	var st storage.Store
	switch {
	case c.db != "":
		if _, err := os.Stat(c.db); err != nil {
			return fmt.Errorf("--db: %w", err)
		}
		db, err := sqlite.Open(ctx, c.db, sqlite.Options{})
		if err != nil {
			return err
		}
		st, opt.Source = db, "sqlite:"+filepath.Base(c.db)
	default:
		db, err := postgres.Open(ctx, c.pg, postgres.Options{})
		if err != nil {
			return err
		}
		st, opt.Source = db, "postgres"
	}
	defer st.Close()
	sc, err := calibrate.Calibrate(ctx, st, network, opt)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fit := ""
	if a := sc.Calibration.Arrivals; a != nil {
		fit = fmt.Sprintf("; arrival profiles chi-square %.1f on %d df, p %s", a.Statistic, a.DF, strconv.FormatFloat(a.PValue, 'g', 3, 64))
	}
	fmt.Fprintf(std.out, "calibrated from %d referrals (%s to %s): %d sites, %d services, %d estimates, %d notes%s; wrote %s\n",
		sc.Calibration.Referrals, sc.Calibration.From.Format("2006-01-02"), sc.Calibration.To.Format("2006-01-02"),
		len(sc.Sites), len(sc.Services), len(sc.Calibration.Estimates), len(sc.Calibration.Notes), fit, c.out)
	return nil
}

// tuneGC sets the garbage collector for a simulation (package
// internal/gctune: GOGC=400 under a memory limit that keeps a
// 1,000,000-referral replication under 4 GiB and follows a larger live heap),
// unless GOGC or GOMEMLIMIT in env says otherwise, and returns a function
// restoring the settings it found. Without a known memory size the default
// is kept.
func tuneGC(env func(string) string, memory uint64) (restore func()) {
	if env("GOGC") != "" || env("GOMEMLIMIT") != "" {
		return func() {}
	}
	return gctune.Start(memory)
}

// physicalMemory returns the machine's memory in bytes from /proc/meminfo, or 0
// where there is none (not Linux) or it cannot be read.
func physicalMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return memTotal(string(data))
}

// memTotal parses the MemTotal line of /proc/meminfo ("MemTotal: 24589840 kB");
// 0 when there is none.
func memTotal(meminfo string) uint64 {
	for line := range strings.Lines(meminfo) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || kb > 1<<52 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// progressBar redraws one line on a terminal, at most once per percent.
type progressBar struct {
	w    io.Writer
	last int
}

func (b *progressBar) set(done float64) {
	pct := int(done * 100)
	if pct == b.last {
		return
	}
	b.last = pct
	const width = 40
	n := pct * width / 100
	fmt.Fprintf(b.w, "\r[%s%s] %3d%%", strings.Repeat("#", n), strings.Repeat(" ", width-n), pct)
}

func (b *progressBar) done() { fmt.Fprintln(b.w) }
