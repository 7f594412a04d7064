package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	require.Contains(t, out.String(), "completed (got-help)")
	require.Contains(t, out.String(), "1 referral(s), 100% closed; acknowledged in 2h0m0s, accepted in 6h30m0s, completed in 56h30m0s")
}
