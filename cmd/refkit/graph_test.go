package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGraphCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"prints dot", []string{"graph"}, 0, "digraph"},
		{"rejects arguments", []string{"graph", "extra"}, 1, ""},
		{"unknown command", []string{"nope"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			require.Equal(t, tc.code, code, errOut.String())
			require.True(t, strings.HasPrefix(out.String(), tc.out))
		})
	}
}
