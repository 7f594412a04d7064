package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(command{name: "demo", summary: "play a fictional referral network end to end on SQLite and report loop closure", run: runDemo})
}

// runDemo plays the bundled sample network (package demo) on a new SQLite
// database and prints the loop-closure report. The database goes to a
// temporary directory removed at exit unless --dir names one to keep it in.
func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to create refkit.db in and keep it (default: a temporary directory, removed at exit)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	days := fs.Int("days", 21, "days of virtual time the receiving organizations play")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *days < 1 {
		return fmt.Errorf("--days must be at least 1")
	}
	began := time.Now()
	kept := *dir != ""
	if kept {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return err
		}
	} else {
		tmp, err := os.MkdirTemp("", "refkit-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	path := filepath.Join(*dir, "refkit.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	report, err := demo.Run(ctx, demo.Config{Store: store, Days: *days})
	if errors.Is(err, referral.ErrConflict) {
		return fmt.Errorf("%s: %w (the demo ran there before: remove the file or pass another --dir)", path, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if *asJSON {
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
