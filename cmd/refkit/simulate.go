package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/plot"
)

func init() {
	register(&command{
		name:    "simulate",
		summary: "simulate a referral network from a scenario",
		args:    "--scenario FILE --out DIR [flags]",
		about: `Simulate runs a scenario (JSON: population, screening, referring sites,
services with capacity, partner behaviour and policies; examples/simulation
explains every field) through refkit's real screening, matching and lifecycle
code on a virtual clock, replications in parallel, and writes metrics.json (means
with 95% confidence intervals), CSV tables and, with --plots, PNG charts to
--out. The same scenario and seed give the same files. A progress bar goes to
standard error when it is a terminal.`,
		examples: []string{
			"refkit simulate --scenario examples/simulation/scenario.json --out /tmp/sim",
			"refkit simulate --scenario examples/simulation/scenario.json --seed 1 --out /tmp/sim --replications 4 --plots",
		},
		new: func() runner { return &simulateCmd{} },
	})
}

type simulateCmd struct {
	scenario, out string
	seed          uint64
	replications  int
	plots         bool
}

func (c *simulateCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.scenario, "scenario", "", "scenario JSON `FILE` (required)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed `N` of the first replication; replication i uses N+i")
	fs.StringVar(&c.out, "out", "", "output `DIR`, created if missing (required)")
	fs.IntVar(&c.replications, "replications", 1, "`N` replications, run in parallel")
	fs.BoolVar(&c.plots, "plots", false, "also write PNG charts: closure over time, utilisation, unmet needs")
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
	sc, err := simulation.Load(c.scenario)
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

// simGCPercent is the collector's growth target while simulating (Go's default
// is 100).
const simGCPercent = 400

// tuneGC sets the garbage collector for a simulation, unless GOGC or GOMEMLIMIT
// in env says otherwise, and returns a function restoring the settings it found.
//
// Why: a simulation's heap is mostly long-lived and growing (the memory store
// keeps every referral and event until the replication ends), while its garbage
// is short-lived per-search and per-transition memory. Collector work is about
// (bytes allocated) x 100/GOGC, each cycle marking the whole store again, so at
// the default a 1,000,000-referral run spent a quarter of its CPU marking.
// GOGC=400 lets the heap grow to five times the live data before a cycle,
// cutting that work fourfold; the memory limit (half the machine's memory) caps
// the price: near it the collector runs as often as it must instead of letting
// the heap grow. Without a known memory size the default is kept.
func tuneGC(env func(string) string, memory uint64) (restore func()) {
	if env("GOGC") != "" || env("GOMEMLIMIT") != "" || memory == 0 {
		return func() {}
	}
	limit := int64(min(memory/2, uint64(1)<<62))
	prevLimit := debug.SetMemoryLimit(limit)
	prevPercent := debug.SetGCPercent(simGCPercent)
	return func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	}
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
