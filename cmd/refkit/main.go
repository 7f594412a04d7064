// Command refkit drives the refkit library from a shell: run the demo, screen a
// response, match a request against a directory, simulate a network. It is thin:
// each subcommand parses its flags, calls the library and prints the result.
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

// command is one subcommand. Each lives in its own file and registers itself in
// init, so subcommands can be added without touching this file.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
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
// 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "refkit: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0 // the flag set has printed the command's usage
	}
	if err != nil {
		// One line, so scripts can show it as is.
		fmt.Fprintf(stderr, "refkit %s: %s\n", c.name, strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	return 0
}

// isHelp reports whether a command-line word asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "help"
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

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: refkit <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'refkit <command> -h' for a command's flags")
}
