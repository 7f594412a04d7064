package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/refkit/refkit/lifecycle"
)

func init() {
	register(command{name: "graph", summary: "print the referral state diagram as Graphviz DOT", run: runGraph})
}

// runGraph prints the lifecycle's DOT source; docs/lifecycle.svg is rendered from
// it with `refkit graph | dot -Tsvg`.
func runGraph(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	_, err := io.WriteString(stdout, lifecycle.Graph())
	return err
}
