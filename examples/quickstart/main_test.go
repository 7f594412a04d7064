package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	lines := regexp.MustCompile(`\n`).Split(out.String(), -1)
	require.Regexp(t, `^Referred María for food-insecurity to ".+" at .+: requested$`, lines[0])
	require.Equal(t, "  Mon 02 Mar 17:00  received", lines[1])
	require.Equal(t, "  Tue 03 Mar 15:00  accepted", lines[2])
	require.Equal(t, "  Thu 05 Mar 15:00  in-progress", lines[3])
	require.Equal(t, "  Thu 05 Mar 17:00  completed", lines[4])
	require.Equal(t, "Loop closure: 1 referral, 100% closed, completed 75h0m0s after sending", lines[5])

	// The same program prints the same thing every time.
	var again bytes.Buffer
	require.NoError(t, run(context.Background(), &again))
	require.Equal(t, out.String(), again.String())
}
