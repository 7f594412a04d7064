package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/demo"
)

func TestDemo(t *testing.T) {
	ctx := context.Background()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"demo"}, nil, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "Loop closure: ")
	require.Contains(t, errOut.String(), "demo finished in ")
	require.NotContains(t, errOut.String(), "Kept ", "a temporary database is not kept")

	dir := filepath.Join(t.TempDir(), "kept")
	out.Reset()
	errOut.Reset()
	require.Equal(t, 0, run(ctx, []string{"demo", "--json", "--dir", dir}, nil, &out, &errOut), errOut.String())
	var report demo.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &report))
	require.NotEmpty(t, report.Referrals)
	require.Positive(t, report.Loop.ClosureRate)
	require.FileExists(t, filepath.Join(dir, "refkit.db"))
	require.Contains(t, errOut.String(), "Kept "+filepath.Join(dir, "refkit.db"))

	// The kept database answers the FHIR command the demo suggests.
	r := report.Referrals[0]
	out.Reset()
	errOut.Reset()
	require.Equal(t, 0, run(ctx, []string{"fhir", "export", "--db", filepath.Join(dir, "refkit.db"),
		"--network", report.NetworkID.String(), "--org", r.Receiver.String(), "--referral", r.Referral.String()}, nil, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), `"resourceType": "Bundle"`)
}

func TestDemoRefuses(t *testing.T) {
	used := t.TempDir()
	require.Equal(t, 0, run(context.Background(), []string{"demo", "--dir", used}, nil, &bytes.Buffer{}, &bytes.Buffer{}))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no days", []string{"demo", "--days", "0"}, "--days must be at least 1"},
		{"stray argument", []string{"demo", "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"demo", "--db", "x"}, "flag provided but not defined"},
		{"a database that already played", []string{"demo", "--dir", used}, "already holds the sample network: refkit: conflict (the demo ran there before: remove the file or pass another --dir)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.NotEqual(t, 0, run(context.Background(), tt.args, nil, &out, &errOut))
			require.Contains(t, errOut.String(), tt.want)
			require.Empty(t, out.String())
		})
	}
}
