package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/refkit/refkit/simulation/experiment"
	"github.com/refkit/refkit/simulation/plot"
)

func init() {
	register(&command{
		name:    "experiment",
		summary: "compare policies on a simulated network, with common random numbers",
		args:    "--design FILE --out DIR [flags]",
		about: `Experiment runs a design (JSON: a base scenario, overrides every arm shares,
and named arms that override some of its values, or a factorial grid of
them; examples/experiment explains it) with common random numbers: every arm
sees the same people arrive at the same times with the same needs and the same
partner behaviour wherever its parameters do not change that. It writes
experiment.json, the simulation's tidy CSV tables with every arm's rows
stacked, differences.csv (each arm minus the first, paired by replication,
with 95% intervals), each arm's own files under arms/ and, with --plots, the
comparison charts to --out. Every arm's scenario is built and checked before
anything runs: a bad override is reported naming its arm and path.`,
		examples: []string{
			"refkit experiment --design examples/experiment/design.json --out /tmp/experiment",
			"refkit experiment --design examples/experiment/design.json --out /tmp/experiment --replications 20 --plots",
		},
		new: func() runner { return &experimentCmd{} },
	})
}

type experimentCmd struct {
	design, out  string
	replications int
	seed         uint64
	plots        bool
}

func (c *experimentCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.design, "design", "", "experiment design JSON `FILE` (required)")
	fs.StringVar(&c.out, "out", "", "output `DIR`, created if missing (required)")
	fs.IntVar(&c.replications, "replications", 0, "`N` replications per arm, at least 2 (default: the design's)")
	fs.Uint64Var(&c.seed, "seed", 0, "seed `N` of the first replication of every arm (default: the design's)")
	fs.BoolVar(&c.plots, "plots", false, "also write PNG charts comparing the arms")
}

func (c *experimentCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if c.design == "" {
		return errors.New("--design is required")
	}
	if c.out == "" {
		return errors.New("--out is required")
	}
	plan, err := experiment.Load(c.design)
	if err != nil {
		return err
	}
	defer tuneGC(os.Getenv, physicalMemory())()
	opt := experiment.Options{Replications: c.replications, Seed: c.seed}
	if f, ok := std.err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := &progressBar{w: std.err}
		opt.Progress = bar.set
		defer bar.done()
	}
	res, err := experiment.Run(ctx, plan, opt)
	if err != nil {
		return err
	}
	if err := res.Write(c.out); err != nil {
		return err
	}
	if c.plots {
		if err := plot.WriteExperiment(c.out, res); err != nil {
			return err
		}
	}
	fmt.Fprintf(std.out, "%s: %d arms × %d replications, %s random numbers\n", res.Name, len(res.Arms), res.Replications, res.Streams)
	for _, a := range res.Arms {
		cr := a.Report.LoopClosureRate
		line := fmt.Sprintf("  %-32s loop closure %5.1f%% (%.1f–%.1f%%)", a.Name, 100*cr.Mean, 100*cr.Low, 100*cr.High)
		if d, ok := res.Find(a.Name, "loop_closure_rate", ""); ok {
			line += fmt.Sprintf("  vs %s %+.1f points (%+.1f to %+.1f)", res.Baseline, 100*d.Diff.Mean, 100*d.Diff.Low, 100*d.Diff.High)
		}
		fmt.Fprintln(std.out, line)
	}
	fmt.Fprintf(std.out, "wrote %s\n", c.out)
	return nil
}
