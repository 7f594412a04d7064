// Command experiment runs the experiment of design.json beside it: three
// policies for a county's food, housing and money network (today; twice the
// housing desk's slots; 48 hours to accept instead of 96), with common random
// numbers, and prints each arm's loop closure and unmet needs, and each
// policy's paired difference from today with its 95% interval. README.md
// explains the design, the scenario's new fields and the charts.
//
//	go run ./examples/experiment [-design FILE] [-replications N] [-out DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/refkit/refkit/simulation/experiment"
	"github.com/refkit/refkit/simulation/plot"
)

func main() {
	design := flag.String("design", "examples/experiment/design.json", "experiment design file")
	reps := flag.Int("replications", 0, "replications per arm (0: the design's)")
	out := flag.String("out", "", "also write the tables and charts here")
	flag.Parse()
	plan, err := experiment.Load(*design)
	if err == nil {
		err = run(context.Background(), plan, *reps, *out, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "experiment:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, plan *experiment.Plan, reps int, out string, w io.Writer) error {
	res, err := experiment.Run(ctx, plan, experiment.Options{Replications: reps})
	if err != nil {
		return err
	}
	if out != "" {
		if err := res.Write(out); err != nil {
			return err
		}
		if err := plot.WriteExperiment(out, res); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%s: %d arms, %d replications each, %s random numbers\n\n", res.Name, len(res.Arms), res.Replications, res.Streams)
	fmt.Fprintf(w, "%-26s %-22s %s\n", "arm", "loop closure", "unmet needs per replication")
	for _, a := range res.Arms {
		cr := a.Report.LoopClosureRate
		unmet := 0.0
		for _, r := range a.Report.Runs {
			for _, m := range r.Measures() {
				if m.Metric == "unmet_needs" {
					unmet += m.Value / float64(len(a.Report.Runs))
				}
			}
		}
		fmt.Fprintf(w, "%-26s %4.1f%% (%4.1f–%4.1f%%)  %6.0f\n", a.Name, 100*cr.Mean, 100*cr.Low, 100*cr.High, unmet)
	}
	fmt.Fprintf(w, "\ndifference from %q, paired by replication (95%% interval)\n", res.Baseline)
	for _, a := range res.Arms[1:] {
		fmt.Fprintf(w, "%s\n", a.Name)
		for _, m := range []struct {
			metric, label string
			scale         float64
		}{{"loop_closure_rate", "loop closure, points", 100}, {"unmet_needs", "unmet needs", 1}, {"time_to_complete_mean_hours", "hours to complete", 1}} {
			if d, ok := res.Find(a.Name, m.metric, ""); ok {
				fmt.Fprintf(w, "  %-22s %+8.2f (%+.2f to %+.2f)\n", m.label, m.scale*d.Diff.Mean, m.scale*d.Diff.Low, m.scale*d.Diff.High)
			}
		}
		if d, ok := res.Find(a.Name, "mean_wait_hours", "Housing Help Desk"); ok {
			fmt.Fprintf(w, "  %-22s %+8.2f (%+.2f to %+.2f)\n", "desk wait, hours", d.Diff.Mean, d.Diff.Low, d.Diff.High)
		}
	}
	return nil
}
