package sqlite

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// FuzzOpen feeds Open arbitrary file contents: it never panics, refuses
// anything it does not accept with ErrNotDatabase (or a newer/older schema
// error), and leaves a refused file exactly as it was.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte("id,name\n1,example\n"))
	header := append([]byte("SQLite format 3\x00\x10\x00\x01\x01\x00\x40\x20\x20"), make([]byte, 4096)...)
	f.Add(header)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.db")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		s, err := Open(t.Context(), path, Options{QuickCheck: true})
		if err == nil {
			require.NoError(t, s.Close())
			return
		}
		if !errors.Is(err, ErrNotDatabase) && !errors.Is(err, storage.ErrNewerSchema) &&
			!errors.Is(err, referral.ErrConflict) {
			t.Fatalf("unexpected kind of error: %v", err)
		}
		after, rerr := os.ReadFile(path)
		require.NoError(t, rerr)
		require.True(t, bytes.Equal(data, after), "a refused file is left as it was")
	})
}

// FuzzNanos checks that the time column encoding keeps order for any two
// instants, including those outside the int64 nanosecond range.
func FuzzNanos(f *testing.F) {
	f.Add(int64(0), int64(0), int64(1), int64(0))
	f.Add(int64(-1<<40), int64(5), int64(1<<40), int64(7))
	f.Add(int64(1741000000), int64(999999999), int64(1741000001), int64(0))
	f.Fuzz(func(t *testing.T, s1, n1, s2, n2 int64) {
		a, b := time.Unix(s1, n1), time.Unix(s2, n2)
		if a.IsZero() || b.IsZero() {
			return // the zero time is unset, stored as NULL
		}
		ea, eb := nanos(a), nanos(b)
		require.True(t, ea.Valid && eb.Valid)
		if a.Before(b) {
			require.LessOrEqual(t, ea.Int64, eb.Int64)
		}
		if a.Equal(b) {
			require.Equal(t, ea.Int64, eb.Int64)
		}
		inRange := !a.Before(minNanos) && !a.After(maxNanos)
		if inRange {
			require.Equal(t, a.UnixNano(), ea.Int64)
		}
	})
}
