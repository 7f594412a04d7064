// Command refkit drives the refkit library from a shell: run the demo, screen a
// response, match a request against a directory, exchange directories (HSDS) and
// referrals (FHIR), simulate a network. It is thin: each command parses its
// flags, calls the library and prints the result. `refkit help` lists the
// commands; `refkit help COMMAND` (or `refkit COMMAND -h`) says what one does,
// with its flags and examples.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
)

// command is one refkit command, or one subcommand of a group such as hsds.
// Each lives in its own file and registers itself in init, so commands can be
// added without touching this file. Everything its help prints comes from these
// fields and from the flags its runner defines, so help cannot fall behind the
// flags the command really parses.
type command struct {
	name string
	// summary is the line `refkit help` lists the command with.
	summary string
	// args is what follows the command's name in its usage line, e.g.
	// "--scenario FILE --out DIR [flags]".
	args string
	// about says what the command does: the body of its help.
	about string
	// examples are whole command lines a user can run as shown.
	examples []string
	// new returns a runner for one invocation; nil for a group.
	new func() runner
	// subcommands make the command a group: its first argument names one. A
	// command with both new and subcommands runs itself when no subcommand is
	// named (refkit simulate, refkit simulate calibrate).
	subcommands []*command
}

// runner is one invocation of a command: flags defines its flags, bound to the
// runner's fields, and run runs it with the arguments left after them.
type runner interface {
	flags(fs *flag.FlagSet)
	run(ctx context.Context, args []string, std stdio) error
}

// stdio is the command's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// noFlags is embedded by runners of commands that take no flags.
type noFlags struct{}

func (noFlags) flags(*flag.FlagSet) {}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("refkit: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code: 0 success,
// 1 failure, 2 usage error (no command, an unknown one, a flag that does not
// parse).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelpFlag(args[0]) {
		writeOverview(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	path, rest, err := lookup(args)
	if err != nil {
		fmt.Fprintf(stderr, "refkit: %s\n", err)
		writeOverview(stderr)
		return 2
	}
	c := path[len(path)-1]
	name := pathName(path)
	if c.subcommands != nil && c.new == nil {
		// A group: lookup stopped because no subcommand was named.
		writeHelp(stderr, path)
		if len(rest) > 0 && (isHelpFlag(rest[0]) || rest[0] == "help") {
			return 0
		}
		fmt.Fprintf(stderr, "refkit %s: want a subcommand: %s\n", name, subcommandNames(c, " or "))
		return 1
	}
	r := c.new()
	fs := newFlagSet(name, r)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stderr, path)
			return 0
		}
		fmt.Fprintf(stderr, "refkit %s: %s (run 'refkit help %s')\n", name, err, name)
		return 2
	}
	if err := r.run(ctx, fs.Args(), stdio{in: stdin, out: stdout, err: stderr}); err != nil {
		// One line, so scripts can show it as is.
		fmt.Fprintf(stderr, "refkit %s: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	return 0
}

// lookup finds the command args name, descending into groups while the next
// argument names a subcommand, and returns it (with the groups above it) and
// the arguments left. A group is returned as is when no subcommand follows it.
func lookup(args []string) (path []*command, rest []string, err error) {
	c, ok := commands[args[0]]
	if !ok {
		return nil, nil, fmt.Errorf("unknown command %q", args[0])
	}
	path, rest = []*command{c}, args[1:]
	for len(rest) > 0 {
		sub := c.subcommand(rest[0])
		if sub == nil {
			break
		}
		c = sub
		path, rest = append(path, c), rest[1:]
	}
	return path, rest, nil
}

func (c *command) subcommand(name string) *command {
	for _, s := range c.subcommands {
		if s.name == name {
			return s
		}
	}
	return nil
}

// newFlagSet returns the flag set of one invocation, with r's flags defined.
// It prints nothing itself: run prints the help, or a one-line error.
func newFlagSet(name string, r runner) *flag.FlagSet {
	fs := flag.NewFlagSet("refkit "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	r.flags(fs)
	return fs
}

// isHelpFlag reports whether a command-line word asks for help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help"
}

func pathName(path []*command) string {
	names := make([]string, len(path))
	for i, c := range path {
		names[i] = c.name
	}
	return strings.Join(names, " ")
}

func subcommandNames(c *command, sep string) string {
	names := make([]string, len(c.subcommands))
	for i, s := range c.subcommands {
		names[i] = s.name
	}
	return strings.Join(names, sep)
}

// sortedCommands returns the registered commands by name.
func sortedCommands() []*command {
	out := make([]*command, 0, len(commands))
	for _, c := range commands {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *command) int { return strings.Compare(a.name, b.name) })
	return out
}

// newEncoder returns the JSON encoder every command writes with. HTML
// escaping is off: the output is read by people and programs, not embedded in
// pages, and eligibility rules should read "age >= 60", not "age \u003e= 60".
func newEncoder(w io.Writer, indent bool) *json.Encoder {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	enc.SetEscapeHTML(false)
	return enc
}
