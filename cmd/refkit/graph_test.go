package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
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

// TestDiagramIsCurrent: docs/lifecycle.dot is what graph prints now, so the
// rendered docs/lifecycle.svg shows the lifecycle as it is (regenerate both
// with: go run ./cmd/refkit graph > docs/lifecycle.dot && dot -Tsvg
// docs/lifecycle.dot > docs/lifecycle.svg).
func TestDiagramIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "lifecycle.dot"))
	require.NoError(t, err)
	require.Equal(t, lifecycle.Graph(), string(committed))
	svg, err := os.ReadFile(filepath.Join("..", "..", "docs", "lifecycle.svg"))
	require.NoError(t, err)
	for _, node := range []string{"requested / acknowledged", "accepted / cancel-requested", "confirm-cancel"} {
		require.Contains(t, strings.ReplaceAll(string(svg), "&#45;", "-"), node, "the rendered diagram shows the current lifecycle")
	}
}
