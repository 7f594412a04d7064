package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommandHelp: asking any command for help prints its usage and succeeds.
func TestCommandHelp(t *testing.T) {
	for name := range commands {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				var out, errOut bytes.Buffer
				code := run(context.Background(), []string{name, flag}, nil, &out, &errOut)
				require.Equal(t, 0, code, errOut.String())
				require.NotEmpty(t, errOut.String(), "the usage goes to stderr")
				require.NotContains(t, errOut.String(), "help requested")
				require.Empty(t, out.String())
			})
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"nope"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), `unknown command "nope"`)
	require.Contains(t, errOut.String(), "demo ")
}
