package main

import (
	"context"
	"fmt"
	"io"

	"github.com/refkit/refkit/lifecycle"
)

func init() {
	register(&command{
		name:    "graph",
		summary: "print the referral state diagram as Graphviz DOT",
		about: `Graph prints the referral lifecycle's state machine (FHIR R4 Task statuses as
profiled by the SDOH Clinical Care IG, each business status a substate of its
status, and the commands that move a referral between them) as Graphviz DOT
source. docs/lifecycle.dot is its output and docs/lifecycle.svg is rendered
from it. It takes no flags and no arguments.`,
		examples: []string{"refkit graph > docs/lifecycle.dot && dot -Tsvg docs/lifecycle.dot > docs/lifecycle.svg"},
		new:      func() runner { return graphCmd{} },
	})
}

type graphCmd struct{ noFlags }

func (graphCmd) run(_ context.Context, args []string, std stdio) error {
	if len(args) != 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	_, err := io.WriteString(std.out, lifecycle.Graph())
	return err
}
