// Command refkit-load drives full referral loops through a running refkit
// serve and reports throughput and latency per endpoint; it also makes the
// signing key and tokens a test setup needs.
//
//	refkit-load keygen --out DIR      # DIR/signing-key.pem and DIR/jwks.json (ES256)
//	refkit-load token --key DIR/signing-key.pem --network ID --role admin --organization ID
//	refkit-load id                    # a new record id (UUIDv7), as refkit's records take
//	refkit-load run --base http://127.0.0.1:8080 --key DIR/signing-key.pem --clients 8 --duration 10s
//
// run starts by creating its own networks (an admin token per network), two
// organizations in each, and a person with a consent per client; then every
// client repeats the loop create (sent) → acknowledge → accept → start →
// complete, reading the referral and its history between, until --duration
// or --loops. It reports requests and lifecycle commands per second and, per
// endpoint, the count, p50 and p99 latency. It sends traffic only to --base,
// which should be a server on this machine, and stops by itself.
//
// The tokens it mints are for test servers: the key never leaves DIR.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: refkit-load keygen|token|id|run [flags] (refkit-load COMMAND -h for its flags)")
		return 2
	}
	var err error
	switch args[0] {
	case "keygen":
		err = keygenCmd(args[1:], stdout)
	case "token":
		err = tokenCmd(args[1:], stdout)
	case "run":
		err = runCmd(ctx, args[1:], stdout)
	case "id":
		err = idCmd(args[1:], stdout)
	default:
		fmt.Fprintf(stderr, "refkit-load: unknown command %q: want keygen, token, id or run\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "refkit-load %s: %s\n", args[0], err)
		return 1
	}
	return 0
}
