package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		db       string
		inMemory bool
	}{
		{"sqlite in a temporary directory", "", false},
		{"sqlite file kept", filepath.Join(t.TempDir(), "loop.db"), false},
		{"memory", "", true},
	}
	var first string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, info bytes.Buffer
			require.NoError(t, main1(context.Background(), &out, &info, tt.db, tt.inMemory))
			require.Contains(t, out.String(), "completed (got-help)")
			require.Contains(t, out.String(), "1 referral(s), 100% closed; acknowledged in 2h0m0s, accepted in 6h30m0s, completed in 56h30m0s")
			if first == "" {
				first = out.String()
			}
			require.Equal(t, first, out.String(), "every store tells the same story")
			if tt.db != "" {
				require.FileExists(t, tt.db)
				require.Contains(t, info.String(), "Kept "+tt.db+": network ")
			} else {
				require.Empty(t, info.String())
			}
		})
	}
}
