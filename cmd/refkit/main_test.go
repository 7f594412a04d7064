package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// everyCommand returns the path to every registered command and subcommand,
// groups included.
func everyCommand() [][]*command {
	var out [][]*command
	var walk func(path []*command)
	walk = func(path []*command) {
		out = append(out, path)
		for _, s := range path[len(path)-1].subcommands {
			walk(append(append([]*command{}, path...), s))
		}
	}
	for _, c := range sortedCommands() {
		walk([]*command{c})
	}
	return out
}

func words(path []*command) []string { return strings.Fields(pathName(path)) }

func runLine(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCommandHelp: asking any command for help prints its help and succeeds.
func TestCommandHelp(t *testing.T) {
	for _, path := range everyCommand() {
		for _, h := range []string{"-h", "--help"} {
			t.Run(pathName(path)+" "+h, func(t *testing.T) {
				code, out, errOut := runLine(append(words(path), h)...)
				require.Equal(t, 0, code, errOut)
				require.True(t, strings.HasPrefix(errOut, "usage: refkit "+pathName(path)), "the help goes to stderr:\n%s", errOut)
				require.NotContains(t, errOut, "help requested")
				require.Empty(t, out)
			})
		}
	}
}

// TestHelpDescribesEveryCommand: every command's help says what it does, gives
// at least one example that parses with the command's own flags, and describes
// every flag the command defines.
func TestHelpDescribesEveryCommand(t *testing.T) {
	for _, path := range everyCommand() {
		c := path[len(path)-1]
		t.Run(pathName(path), func(t *testing.T) {
			_, help, _ := runLine(append([]string{"help"}, words(path)...)...)
			require.NotEmpty(t, c.summary)
			require.GreaterOrEqual(t, len(strings.Fields(c.about)), 20, "the help says what the command does")
			require.Contains(t, help, strings.TrimSpace(c.about))
			examples := examplesOf(c)
			require.NotEmpty(t, examples, "the help shows an example")
			for _, e := range examples {
				require.Contains(t, help, "\n  "+e+"\n")
				requireExampleParses(t, e)
			}
			for _, s := range c.subcommands {
				require.Contains(t, help, "  "+s.name)
			}
			if c.new == nil {
				return // a group runs its subcommands only
			}
			fs := newFlagSet(pathName(path), c.new())
			fs.VisitAll(func(f *flag.Flag) {
				require.NotEmpty(t, strings.TrimSpace(f.Usage), "--%s has no description", f.Name)
				value, text := flag.UnquoteUsage(f)
				if value != "" {
					value = " " + value
				}
				require.Contains(t, help, "  --"+f.Name+value+"\n        "+text, "the help lists --%s", f.Name)
			})
		})
	}
}

// requireExampleParses finds the refkit invocation in a shell line (it may sit
// in a pipe or have redirections) and checks that it names a command and that
// its flags parse with that command's flag set.
func requireExampleParses(t *testing.T, line string) {
	t.Helper()
	var args []string
	for _, segment := range strings.Split(line, " | ") {
		if fields := strings.Fields(segment); len(fields) > 0 && fields[0] == "refkit" {
			args = fields[1:]
		}
	}
	require.NotEmpty(t, args, "%q runs no refkit command", line)
	for i, a := range args {
		if a == "<" || a == ">" || a == ">>" {
			args = args[:i]
			break
		}
	}
	path, rest, err := lookup(args)
	require.NoError(t, err, line)
	c := path[len(path)-1]
	require.NotNil(t, c.new, "%q names a group, not a command", line)
	require.NoError(t, newFlagSet(pathName(path), c.new()).Parse(rest), line)
}

// TestHelpCommand: refkit help COMMAND prints, on stdout, what refkit COMMAND -h
// prints on stderr; refkit help lists the commands.
func TestHelpCommand(t *testing.T) {
	for _, path := range everyCommand() {
		t.Run(pathName(path), func(t *testing.T) {
			code, out, errOut := runLine(append([]string{"help"}, words(path)...)...)
			require.Equal(t, 0, code, errOut)
			require.Empty(t, errOut)
			_, _, dashH := runLine(append(words(path), "-h")...)
			require.Equal(t, dashH, out)
		})
	}
	code, out, errOut := runLine("help")
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.HasPrefix(out, "usage: refkit COMMAND"))
	for _, c := range sortedCommands() {
		require.Contains(t, out, "\n  "+c.name+" ")
		require.Contains(t, out, c.summary)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nope"}, `refkit help: unknown command "nope" (run 'refkit help' for the list)`},
		{[]string{"help", "graph", "extra"}, `refkit help: refkit graph has no subcommand "extra"`},
		{[]string{"help", "hsds", "convert"}, `refkit help: refkit hsds has no subcommand "convert"`},
	} {
		code, out, errOut := runLine(tc.args...)
		require.Equal(t, 1, code)
		require.Empty(t, out)
		require.Equal(t, tc.want+"\n", errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, 2, []string{"usage: refkit COMMAND", "\n  demo "}},
		{"top-level help flag", []string{"-h"}, 0, []string{"usage: refkit COMMAND", "\n  version "}},
		{"unknown command", []string{"nope"}, 2, []string{`refkit: unknown command "nope"`, "\n  demo "}},
		{"unknown flag", []string{"match", "--nope"}, 2, []string{"refkit match: flag provided but not defined: -nope (run 'refkit help match')"}},
		{"bad flag value", []string{"simulate", "--seed", "x"}, 2, []string{`refkit simulate: invalid value "x" for flag -seed`}},
		{"group without subcommand", []string{"hsds"}, 1, []string{"usage: refkit hsds", "refkit hsds: want a subcommand: import or export"}},
		{"group with an unknown subcommand", []string{"fhir", "import"}, 1, []string{"usage: refkit fhir", "refkit fhir: want a subcommand: export or apply"}},
		{"group help word", []string{"fhir", "help"}, 0, []string{"usage: refkit fhir", "\n  apply "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runLine(tc.args...)
			require.Equal(t, tc.code, code, errOut)
			require.Empty(t, out)
			for _, w := range tc.want {
				require.Contains(t, errOut, w)
			}
		})
	}
}
