package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimit(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name         string
		live, memory uint64
		want         int64
	}{
		{"small heap: the floor", 1 * gib, 24 * gib, Floor},
		{"large heap: headroom over it", 4 * gib, 24 * gib, 6 * gib},
		{"never above half the machine", 10 * gib, 24 * gib, 12 * gib},
		{"a small machine: half of it", 0, 4 * gib, 2 * gib},
		{"an absurd heap and machine", 1 << 63, math.MaxUint64, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Limit(tc.live, tc.memory))
		})
	}
}

// TestStartFollowsTheLiveHeap starts the tuner with a small floor, holds a
// live heap above it, and sees the limit rise to 3/2 of that heap;
// stopping restores the collector's settings.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	prevPct := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetGCPercent(prevPct)
	defer debug.SetMemoryLimit(prevLimit)

	const floor = 16 << 20
	stop := start(1<<40, floor, time.Millisecond)
	require.Equal(t, Percent, debug.SetGCPercent(-1))
	live := make([]byte, 64<<20)
	for i := range live {
		live[i] = byte(i)
	}
	require.Eventually(t, func() bool {
		runtime.GC()
		return debug.SetMemoryLimit(-1) >= int64(len(live)/HeadroomDen*HeadroomNum)
	}, 10*time.Second, 10*time.Millisecond)
	runtime.KeepAlive(live)
	stop()
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
	require.Equal(t, 100, debug.SetGCPercent(-1))
}

func TestStartUnknownMemory(t *testing.T) {
	prevPct := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prevPct)
	stop := Start(0)
	require.Equal(t, 100, debug.SetGCPercent(-1))
	stop()
}
