// Command postgres plays the same end-to-end flow as `refkit demo` (package
// demo: screening, matching, referrals with consent, the receiving side,
// redirects, an expiry and the loop-closure report) on PostgreSQL instead of
// the embedded SQLite store. Only the store changes: every other line of a
// host's code stays the same.
//
//	export REFKIT_POSTGRES_URL=$(.ci/postgres-server.sh)   # or any server you own
//	go run ./examples/postgres                             # or -url postgres://...
//	.ci/postgres-server.sh stop
//
// The demo writes its sample network into its own schema (-schema, created on
// first use) so it never mixes with other data; a schema that already holds
// the sample is refused, and -drop removes the schema at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/postgres"
)

func main() {
	url := flag.String("url", os.Getenv("REFKIT_POSTGRES_URL"), "PostgreSQL URL (default: $REFKIT_POSTGRES_URL)")
	schema := flag.String("schema", "refkit_demo", "schema to create the demo's tables in")
	drop := flag.Bool("drop", false, "drop the schema when the demo is done")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *url, *schema, *drop, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "postgres:", err)
		os.Exit(1)
	}
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

func run(ctx context.Context, out io.Writer, url, schema string, drop, asJSON bool) (err error) {
	if url == "" {
		return errors.New("no server: pass -url or set REFKIT_POSTGRES_URL (.ci/postgres-server.sh starts a throwaway one)")
	}
	if !identifier.MatchString(schema) {
		return fmt.Errorf("-schema %q: %w", schema, referral.ErrInvalid)
	}
	store, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		return err
	}
	defer store.Close()
	if drop {
		defer func() { err = errors.Join(err, dropSchema(ctx, url, schema)) }()
	}
	report, err := demo.Run(ctx, store, demo.Options{})
	if errors.Is(err, referral.ErrConflict) {
		return fmt.Errorf("%w (schema %s was used before: pass -drop, or another -schema)", err, schema)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return report.WriteJSON(out)
	}
	return report.WriteText(out)
}

// dropSchema removes the demo's schema and everything in it. The store has no
// such call (a library should not drop a host's data), so the example uses
// its own connection.
func dropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
