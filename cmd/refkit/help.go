package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

func init() {
	register(&command{
		name:    "help",
		summary: "list the commands, or show one's help",
		args:    "[COMMAND [SUBCOMMAND]]",
		about: `Help with no argument lists the commands. With a command, it prints what the
command does, every flag it takes and examples: the same text as
'refkit COMMAND -h', on standard output.`,
		examples: []string{"refkit help", "refkit help simulate", "refkit help fhir apply"},
		new:      func() runner { return helpCmd{} },
	})
}

type helpCmd struct{ noFlags }

func (helpCmd) run(_ context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		writeOverview(std.out)
		return nil
	}
	path, rest, err := lookup(args)
	if err != nil {
		return fmt.Errorf("%w (run 'refkit help' for the list)", err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("refkit %s has no subcommand %q", pathName(path), rest[0])
	}
	writeHelp(std.out, path)
	return nil
}

// writeOverview prints the command list.
func writeOverview(w io.Writer) {
	fmt.Fprint(w, `usage: refkit COMMAND [arguments]

refkit drives the refkit library from a shell: screen a person, match needs to
services, exchange directories (Open Referral HSDS) and referrals (FHIR),
simulate a referral network, and play the bundled demo end to end.

commands:
`)
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'refkit help COMMAND' (or 'refkit COMMAND -h') for what a command does, its\nflags and examples.")
}

// writeHelp prints the help of the last command of path: its usage line, what
// it does, its flags (or subcommands) and examples.
func writeHelp(w io.Writer, path []*command) {
	c := path[len(path)-1]
	name := pathName(path)
	usage := "refkit " + name
	if c.args != "" {
		usage += " " + c.args
	}
	fmt.Fprintf(w, "usage: %s\n\n%s\n", usage, strings.TrimSpace(c.about))
	if c.subcommands != nil {
		fmt.Fprintln(w, "\nsubcommands:")
		for _, s := range c.subcommands {
			fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
		}
	}
	if c.new != nil {
		first := true
		newFlagSet(name, c.new()).VisitAll(func(f *flag.Flag) {
			if first {
				fmt.Fprintln(w, "\nflags:")
				first = false
			}
			value, text := flag.UnquoteUsage(f)
			if value != "" {
				value = " " + value
			}
			if !isZeroDefault(f) {
				text += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(w, "  --%s%s\n        %s\n", f.Name, value, text)
		})
	}
	fmt.Fprintln(w, "\nexamples:")
	for _, e := range examplesOf(c) {
		fmt.Fprintf(w, "  %s\n", e)
	}
	if c.subcommands != nil {
		fmt.Fprintf(w, "\nRun 'refkit help %s SUBCOMMAND' for a subcommand's flags.\n", name)
	}
}

// examplesOf returns a command's examples; a group shows its subcommands'
// first, after its own when it runs itself too.
func examplesOf(c *command) []string {
	if c.subcommands == nil {
		return c.examples
	}
	var out []string
	if c.new != nil {
		out = append(out, c.examples...)
	}
	for _, s := range c.subcommands {
		if len(s.examples) > 0 {
			out = append(out, s.examples[0])
		}
	}
	return out
}

// isZeroDefault reports whether a flag's default is its type's zero value, which
// help does not print.
func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false":
		return true
	}
	return false
}
