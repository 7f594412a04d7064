package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// TestRun plays the demo on the server CI starts (REFKIT_TEST_POSTGRES_URL)
// and checks it tells exactly the story the in-memory store tells.
func TestRun(t *testing.T) {
	url := os.Getenv("REFKIT_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("REFKIT_TEST_POSTGRES_URL is not set: start a server with .ci/postgres-server.sh")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("refkit_example_%d", time.Now().UnixNano())

	var got bytes.Buffer
	require.NoError(t, run(ctx, &got, url, schema, false, true))
	// A second run into the same schema is refused, not mixed in.
	err := run(ctx, &bytes.Buffer{}, url, schema, true, true)
	require.ErrorIs(t, err, referral.ErrConflict)
	require.ErrorContains(t, err, "pass -drop")
	// -drop removed it, so a run now starts afresh.
	require.NoError(t, run(ctx, &bytes.Buffer{}, url, schema, true, false))

	mem := memory.New()
	defer mem.Close()
	want, err := demo.Run(ctx, mem, demo.Options{})
	require.NoError(t, err)
	var report demo.Report
	require.NoError(t, json.Unmarshal(got.Bytes(), &report))
	require.Equal(t, want.Loop.ByStatus, report.Loop.ByStatus)
	require.Equal(t, want.Loop.ClosureRate, report.Loop.ClosureRate)
	require.Len(t, report.Referrals, len(want.Referrals))
	for i := range want.Referrals {
		require.Equal(t, want.Referrals[i].Referral, report.Referrals[i].Referral)
		require.Equal(t, want.Referrals[i].Status, report.Referrals[i].Status)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, url, schema, want string
	}{
		{"no url", "", "refkit_demo", "no server"},
		{"bad schema", "postgres://127.0.0.1:1/x", "Robert'); DROP", "-schema"},
		{"unreachable", "postgres://127.0.0.1:1/x?connect_timeout=1", "refkit_demo", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), &bytes.Buffer{}, tt.url, tt.schema, false, false)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
