package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/refkit/refkit/simulation"
)

func init() {
	register(command{name: "simulate", summary: "simulate a referral network from a scenario", run: runSimulate})
}

// runSimulate runs a scenario's replications and writes metrics.json, CSV tables
// and optionally PNG plots to --out. A progress bar goes to stderr when it is a
// terminal.
func runSimulate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenarioPath := fs.String("scenario", "", "scenario JSON file (required)")
	seed := fs.Uint64("seed", 1, "seed of the first replication (replication i uses seed+i)")
	out := fs.String("out", "", "output directory (required)")
	reps := fs.Int("replications", 1, "number of replications, run in parallel")
	plots := fs.Bool("plots", false, "also write PNG charts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *scenarioPath == "" {
		return errors.New("--scenario is required")
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	sc, err := simulation.Load(*scenarioPath)
	if err != nil {
		return err
	}
	opt := simulation.Options{Seed: *seed, Replications: *reps}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := &progressBar{w: stderr}
		opt.Progress = bar.set
		defer bar.done()
	}
	report, err := simulation.Run(ctx, sc, opt)
	if err != nil {
		return err
	}
	if err := report.Write(*out, *plots); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d replication(s): %.0f referrals, loop closure %.1f%% (95%% CI %.1f–%.1f%%); wrote %s\n",
		report.Replications, report.ReferralsTotal.Mean, 100*report.LoopClosureRate.Mean,
		100*report.LoopClosureRate.Low, 100*report.LoopClosureRate.High, *out)
	return nil
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
