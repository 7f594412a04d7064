package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "play a fictional referral network end to end on SQLite and report loop closure",
		args:    "[flags]",
		about: `Demo loads the bundled fictional network around Columbus, Ohio (services with
eligibility rules, languages, capacity, hours and service areas) into a new
SQLite database, screens six people with AHC HRSN and PHQ-9, matches and refers
their needs with their consent, plays the receiving organizations over virtual
days (acknowledge, accept, decline and redirect, complete, one left to expire by
the deadline sweep) and prints the loop-closure report.

The database goes to a temporary directory removed at exit, unless --dir keeps
it; then the command also prints a 'refkit fhir export' line for one of its
referrals.`,
		examples: []string{
			"refkit demo",
			"refkit demo --json",
			"refkit demo --dir /tmp/refkit-demo --days 28",
		},
		new: func() runner { return &demoCmd{} },
	})
}

type demoCmd struct {
	dir    string
	asJSON bool
	days   int
}

func (c *demoCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", "", "keep refkit.db in `DIR`, created if missing (default: a temporary directory, removed at exit)")
	fs.BoolVar(&c.asJSON, "json", false, "print the report as JSON")
	fs.IntVar(&c.days, "days", 21, "`N` days of virtual time the receiving organizations play")
}

// run plays the bundled sample network (package demo) on a new SQLite database
// and prints the loop-closure report.
func (c *demoCmd) run(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.err
	if len(args) != 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if c.days < 1 {
		return fmt.Errorf("--days must be at least 1")
	}
	began := time.Now()
	dir := c.dir
	kept := dir != ""
	if kept {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	} else {
		tmp, err := os.MkdirTemp("", "refkit-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	path := filepath.Join(dir, "refkit.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	report, err := demo.Run(ctx, store, demo.Options{Days: c.days})
	if errors.Is(err, referral.ErrConflict) {
		return fmt.Errorf("%s: %w (the demo ran there before: remove the file or pass another --dir)", path, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if c.asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if kept {
		fmt.Fprintf(stderr, "\nKept %s (network %s).\n", path, report.NetworkID)
		if len(report.Referrals) > 0 {
			r := report.Referrals[0]
			fmt.Fprintf(stderr, "A referral as FHIR: refkit fhir export --db %s --network %s --org %s --referral %s\n",
				path, report.NetworkID, r.Receiver, r.Referral)
		}
	}
	fmt.Fprintf(stderr, "demo finished in %.1f s\n", time.Since(began).Seconds())
	return nil
}
