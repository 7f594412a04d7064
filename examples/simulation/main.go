// Command simulation runs the scenario beside it (scenario.json: a county's food,
// housing and transport referral network; README.md explains every field) and
// prints what happens to people's needs: loop closure, the busiest services and
// where needs go unmet. Copy the scenario, change a capacity or a policy, and run
// it again to answer "what if".
//
//	go run ./examples/simulation [-scenario FILE] [-replications N] [-out DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/plot"
)

func main() {
	path := flag.String("scenario", "examples/simulation/scenario.json", "scenario file")
	reps := flag.Int("replications", 4, "replications")
	out := flag.String("out", "", "also write metrics.json, CSV tables and plots here")
	flag.Parse()
	sc, err := simulation.Load(*path)
	if err == nil {
		err = run(context.Background(), sc, *reps, *out, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulation:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sc *simulation.Scenario, reps int, out string, w io.Writer) error {
	report, err := simulation.Run(ctx, sc, simulation.Options{Seed: 1, Replications: reps})
	if err != nil {
		return err
	}
	if out != "" {
		if err := report.Write(out); err != nil {
			return err
		}
		if err := plot.Write(out, report); err != nil {
			return err
		}
	}
	ci := func(s simulation.Stat) string {
		return fmt.Sprintf("%.1f (95%% CI %.1f–%.1f)", s.Mean, s.Low, s.High)
	}
	fmt.Fprintf(w, "%s: %d replications of %v\n", report.Scenario, report.Replications, time.Duration(sc.Duration))
	fmt.Fprintf(w, "needs identified  %s\n", ci(report.Needs))
	fmt.Fprintf(w, "referrals         %s\n", ci(report.ReferralsTotal))
	cr := report.LoopClosureRate
	fmt.Fprintf(w, "loop closure      %.1f%% (95%% CI %.1f–%.1f%%)\n", 100*cr.Mean, 100*cr.Low, 100*cr.High)
	fmt.Fprintf(w, "hours to accept   median %.1f, p90 %.1f\n", report.TimeToAccept.P50.Mean, report.TimeToAccept.P90.Mean)
	fmt.Fprintln(w, "\nservice                   referred  utilisation  P(wait)  mean wait (h)")
	for _, s := range report.Services {
		u, pw := "unlimited", "-"
		if s.Utilisation != nil {
			u = fmt.Sprintf("%.0f%%", 100*s.Utilisation.Mean)
		}
		if s.PWait != nil {
			pw = fmt.Sprintf("%.0f%%", 100*s.PWait.Mean)
		}
		fmt.Fprintf(w, "%-25s %8.0f  %11s  %7s  %13.1f\n", s.Name, s.Referred.Mean, u, pw, s.MeanWait.Mean)
	}
	fmt.Fprintln(w, "\nunmet needs by domain")
	domains := make([]string, 0, len(report.UnmetByDomain))
	for d := range report.UnmetByDomain {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	for _, d := range domains {
		fmt.Fprintf(w, "  %-28s %s\n", d, ci(report.UnmetByDomain[d]))
	}
	return nil
}
